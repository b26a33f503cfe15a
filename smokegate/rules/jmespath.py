"""`jmespath:` assertions on a JSON body: each expression's value against its predicates.

Expressions were compiled and the predicates type-checked when the env file was loaded
(`smokegate.http_spec.compile_jmespath`), so here only the response can be wrong. Each unmet
line is listed with the expression, the value found and what was wanted, and every line is
judged: one run shows everything that is off.
"""

from __future__ import annotations

import json
from typing import Any

from smokegate.http_spec import JmesCheck, holds, json_type
from smokegate.redact import MASK, excerpt, path_names_credential

_SHORT_CHARS = 80
_REASON_CHARS = 200


def jmespath_problems(checks: tuple[JmesCheck, ...], document: Any) -> list[str]:
    problems = []
    for check in checks:
        try:
            found = check.search(document)
        except RecursionError:
            raise  # the caller says "nested too deeply"
        except Exception as exc:  # JMESPath's own type errors: the body's shape, not a bug
            # (`length(orders)` on a number), said as a problem of this line, never a
            # traceback that would quote the whole document under -l
            reason = excerpt(str(exc), _REASON_CHARS)
            problems.append(
                f"jmespath {check.expression} cannot be evaluated on this body: {reason}"
            )
            continue
        unmet = [
            _wanted(name, expected)
            for name, expected in check.predicates
            if not holds(name, expected, found)
        ]
        if unmet:
            shown = MASK if path_names_credential(check.expression) else describe(found)
            problems.append(
                f"jmespath {check.expression} is {shown}, expected {' and '.join(unmet)}"
            )
    return problems


def _wanted(name: str, expected: Any) -> str:
    symbols = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if name == "equals":
        return _short(expected)
    if name == "not_equals":
        return f"a value other than {_short(expected)}"
    if name in symbols:
        return f"{symbols[name]} {_short(expected)}"
    if name == "matches":
        return f"to match /{expected}/"
    if name == "contains":
        return f"to contain {_short(expected)}"
    if name == "exists":
        return "to exist" if expected else "not to exist"
    return f"type {expected}"


def describe(found: Any) -> str:
    """The value found, as JSON, with a missing path said in words."""
    if found is None:
        return "null (not found)"
    text = _short(found)
    return f"{text} ({json_type(found)})" if isinstance(found, list | dict) else text


def _short(value: Any) -> str:
    """A value as a message shows it: scrubbed, then cut (`excerpt`)."""
    return excerpt(dumped_start(value), _SHORT_CHARS)


# How much of a JSON value is rendered to be quoted: far past what a message shows, so the
# scrubber sees any secret whole (and `excerpt` masks a fragment cut at the end).
RENDERED_CHARS = 64 * 1024


def dumped_start(value: Any, limit: int = RENDERED_CHARS) -> str:
    """The start of `json.dumps(value)`, rendered lazily and stopped past `limit`: a
    parsed body of 64 MiB (`[{},{},...]`) dumped whole to quote 80 characters of it took
    gigabytes in chunks (attack round 8b, F7)."""
    parts: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(default=str).iterencode(value):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return "".join(parts)
