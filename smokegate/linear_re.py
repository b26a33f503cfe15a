"""Regular expressions for text smokegate does not control, in linear time: RE2.

Server bodies and headers, exception texts, env-file values and CI variables may be
written by an attacker. Python's `re` backtracks: a pattern as plain as `\\d+\\.\\d+`
searched over a megabyte of digits takes hours, and a scrubber that stalls is a gate that
never answers. RE2 (Google's engine, the `google-re2` package) runs every pattern as an
automaton, in time linear in the text whatever the pattern and the input, which is why
every pattern applied to such text is compiled here (`tests/unit/test_linear_time.py`
fails on a backtracking `re` pattern anywhere else but the allowlisted modules that only
read smokegate's own files).

RE2 has no lookaround and no backreferences (they are what makes backtracking
necessary); `\\d`, `\\w`, `\\s` and `\\b` are ASCII. A user's `body_regex:` or `matches:`
that needs more is refused when the env file is loaded, with RE2's reason.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

# Large enough that RE2 keeps its fast DFA for the scrubber's alternation of every secret
# form; errors are raised as exceptions, never logged to stderr behind the run's back.
_MAX_MEM = 64 << 20


def _options() -> Any:
    options = re2.Options()
    options.max_mem = _MAX_MEM
    options.log_errors = False
    return options


class PatternError(ValueError):
    """RE2 refused the pattern (invalid, or a construct it cannot run in linear time)."""


@functools.lru_cache(maxsize=512)
def compile(pattern: str) -> Any:
    """The pattern compiled by RE2; PatternError with RE2's reason when it cannot be.

    Inline flags work as in Python: `(?i)`, `(?s)`, `(?m)`.
    """
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


def escape(text: str) -> str:
    return str(re2.escape(text))


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` (compiled now, RE2) occurs in `text`."""
    return compile(pattern).search(text) is not None
