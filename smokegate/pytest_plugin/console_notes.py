"""A fact repeated under every failure is said once, in the console only.

The IAM rules add the credential report's age to each failure they find ("credential
report of unknown age; AWS reuses a report for up to 4 h ..."): right in the HTML and JUnit,
where a failure is read alone, but five identical lines in a console where the failures are
read one after another. When pytest writes its terminal summary, every report file is
already written (the terminal summary runs after every `pytest_sessionfinish`): the
failures pytest is about to print are then shown without those lines, and the smokegate
block says each of them once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable
from typing import Any

import pytest

from smokegate.pytest_plugin.keys import STATE_KEY
from smokegate.report.console import repeated_lines


class RepeatedFacts:
    """Registered by the plugin for a run with an env."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None]:
        # tryfirst wrapper: before pytest's own reporter prints the failures
        state = self.config.stash.get(STATE_KEY, None)
        reports = [r for r in terminalreporter.stats.get("failed", []) if _is_rule_failure(r)]
        repeated = repeated_lines(str(r.longrepr) for r in reports)
        if state is not None and repeated:
            texts = [str(r.longrepr).splitlines() for r in reports]
            state.run_notes += [
                f"{line.strip()} (said once; it applies to {n} failures above: "
                f"{_named(r for r, text in zip(reports, texts, strict=True) if line in text)})"
                for line, n in sorted(repeated.items())
            ]
            for report in reports:
                report.longrepr = WithoutLines(report.longrepr, set(repeated))
        return (yield)


def _named(reports: Iterable[Any], shown: int = 4) -> str:
    """`test_console_mfa[carol], ...`: which failures a note said once belongs to."""
    names = [str(r.nodeid).rsplit("::", 1)[-1] for r in reports]  # cut-ok: an id
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more  # cut-ok: case ids, already shown above


def _is_rule_failure(report: Any) -> bool:
    """A check's failure written by `enforce` (its message, no traceback)."""
    traceback = getattr(report.longrepr, "reprtraceback", None)
    return (
        getattr(report, "smokegate", None) is not None
        and report.when == "call"
        and getattr(traceback, "style", None) == "value"
    )


class WithoutLines:
    """A failure's text for the terminal, less the lines said once for the run. Keeps the
    crash line pytest's short summary reads (`FAILED ... - [high] ...`), less the same
    lines: on CI (`CI` or `BUILD_NUMBER` set) pytest prints that message whole, not cut to
    the terminal's width."""

    def __init__(self, original: Any, drop: set[str]) -> None:
        self.reprcrash = _without_lines_in_crash(getattr(original, "reprcrash", None), drop)
        self.text = _without(str(original), drop)

    def toterminal(self, out: Any) -> None:
        for line in self.text.splitlines():
            out.line(line)

    def __str__(self) -> str:
        return self.text


def _without(text: str, drop: set[str]) -> str:
    return "\n".join(line for line in text.splitlines() if line not in drop)


def _without_lines_in_crash(crash: Any, drop: set[str]) -> Any:
    """pytest's `ReprFileLocation` (a dataclass) with its message less the dropped lines."""
    message = getattr(crash, "message", None)
    if not isinstance(message, str) or not dataclasses.is_dataclass(crash):
        return crash
    stripped = {line.strip() for line in drop}
    kept = [line for line in message.splitlines() if line.strip() not in stripped]
    return dataclasses.replace(crash, message="\n".join(kept))
