"""pytest glue for `waivers:`: every check of the suite, not only IAM, can be waived.

A failing case matched by a valid waiver is reported as skipped ("waived until DATE:
reason"), so it stays visible and does not gate. A case matched only by an expired waiver
still fails, and its message says the waiver expired. Which waivers were used travels on
the report (`report.smokegate_waiver`, an int that survives xdist), so the process that
sees every report (serial run or xdist controller) can name the stale ones at the end
(`RunState.stale_waivers()`, shown by the console and summary.md renderers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from smokegate.config import Waiver
from smokegate.pytest_plugin.keys import case_identity
from smokegate.waivers import StaleWaiver, WaiverMatch, find_waiver, stale_waivers


def _today() -> date:
    return datetime.now(UTC).date()


class WaiverPlugin:
    """Registered by the plugin for every run with an env; inert when `waivers:` is empty."""

    def __init__(self, waivers: Sequence[Waiver], today: Callable[[], date] = _today) -> None:
        self.waivers = tuple(waivers)
        self.today = today
        self.used: set[int] = set()
        self.checks_run: set[str] = set()

    def _match(self, item: pytest.Item) -> WaiverMatch | None:
        check, target = case_identity(item)
        return find_waiver(self.waivers, check, target, self.today())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        match = None
        failing = (
            call.when == "call"
            and call.excinfo is not None
            and not call.excinfo.errisinstance(pytest.skip.Exception)
        )
        if failing and self.waivers:
            match = self._match(item)
            if match is not None and match.expired:
                _append_to_failure(call, match.expired_note)
        report: pytest.TestReport = yield
        facts = getattr(report, "smokegate", None)
        if match is not None and isinstance(facts, dict) and facts.get("unverified"):
            # No token, no audit data, an error: a waiver is for a known finding, and must
            # never turn a check that looked at nothing into a pass.
            facts["message"] = facts.get("message", "") + (
                f"; not waived by waivers[{match.index}]: the check verified nothing"
            )
            report.smokegate_waiver = match.index
            match = None
        if match is not None and report.failed and not hasattr(report, "wasxfail"):
            report.smokegate_waiver = match.index
            if match.expired and isinstance(facts, dict) and facts.get("message"):
                # the one-line reason summary.md shows: say the waiver expired there too
                facts["message"] += f"; waiver expired on {match.waiver.expires.isoformat()}"
            if not match.expired:
                path, line = item.reportinfo()[:2]  # cut-ok: a tuple
                report.outcome = "skipped"
                report.longrepr = (str(path), (line or 0) + 1, match.skip_reason)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            data = getattr(report, "smokegate", None)
            # cut-ok: a node id's function name, never a server's text
            check = data["check"] if data else report.nodeid.split("::")[-1].split("[")[0]
            self.checks_run.add(check.removeprefix("test_"))
        index = getattr(report, "smokegate_waiver", None)
        if isinstance(index, int):
            self.used.add(index)

    def stale(self) -> list[StaleWaiver]:
        return stale_waivers(self.waivers, self.used, self.checks_run, self.today())


def _append_to_failure(call: pytest.CallInfo[None], note: str) -> None:
    """Add a line to the failure before pytest renders it (message and full text alike)."""
    if call.excinfo is None:
        return
    error = call.excinfo.value
    if isinstance(error, pytest.fail.Exception):
        error.msg = f"{error.msg}\n{note}"
    else:
        error.add_note(note)
