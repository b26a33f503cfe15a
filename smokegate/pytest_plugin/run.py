"""One run's bookkeeping, registered as a plugin: every case's outcome, the gate, the exit
code, summary.md and the console block.

Every report tells the same story as the exit code because all of them are written from
this one fold of the run's reports (`RunResults`) and this one gate (`evaluate_gate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smokegate.cases import CaseInfo
from smokegate.config import LoadedEnv
from smokegate.gate import GateResult, evaluate_gate
from smokegate.pytest_plugin.keys import informational_run, skip_reason
from smokegate.pytest_plugin.outputs import append_step_summary, write_summary_file
from smokegate.pytest_plugin.waivers import WaiverPlugin
from smokegate.pytest_plugin.xdist import is_worker
from smokegate.redact import escape_control, process_scrubber
from smokegate.report.console import render_console
from smokegate.report.summary import render_summary
from smokegate.results import RunResults
from smokegate.severity import Severity
from smokegate.waivers import StaleWaiver

FAILURE_DETAIL_LIMIT = 100


class RunEndRecorder:
    """Tells the run state how the session ended, first of every sessionfinish hook."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.state.record_end(session, exitstatus)


class RunState:
    """One run's bookkeeping, registered as a plugin: mocks to stop, failed cases, the gate."""

    def __init__(self, config: pytest.Config, env: LoadedEnv, reports_dir: Path) -> None:
        self.config = config
        self.env = env
        self.reports_dir = reports_dir
        self.stoppers: list[Callable[[], None]] = []
        self.console_note = ""
        self.results = RunResults()
        self.waivers = WaiverPlugin(env.config.waivers)
        self.unattributed = 0  # failed reports that belong to no smokegate case
        self.exitstatus: int | None = None
        self.stopped_early = False
        self.output_problems: list[str] = []  # reports smokegate could not write, and why

    def stale_waivers(self) -> list[StaleWaiver]:
        """Waivers that matched no failing case of a check that ran (`.describe()` each)."""
        return self.waivers.stale()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "smokegate", None)
        if data is None:
            if report.failed:  # e.g. an xdist worker crash, reported by the controller
                self._record_foreign_failure(report)
            return
        message = skip_reason(report) or data.get("message", "")
        self.results.record(
            report.nodeid,
            report.when,
            report.outcome,
            CaseInfo.from_dict(data),
            message,
            verified=not data.get("unverified"),
        )

    def _record_foreign_failure(self, report: pytest.TestReport) -> None:
        """A failure reported without smokegate's facts: on a known case (a worker that
        crashed during it), that case errored; otherwise it is counted on its own."""
        known = self.results.cases.get(report.nodeid)
        if known is None:
            self.unattributed += 1
            return
        lines = [line for line in report.longreprtext.splitlines() if line.strip()]
        # the last line: under xdist, "worker 'gw1' crashed while running ..."
        reason = lines[-1].strip() if lines else "failed outside its check"
        self.results.record(
            report.nodeid, report.when, "failed", known.case, reason, verified=False
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a check module that does not import checks nothing
            self.unattributed += 1

    def record_end(self, session: pytest.Session, exitstatus: int) -> None:
        """How pytest ended, recorded before any report (HTML included) is written from it."""
        self.exitstatus = int(exitstatus)
        self.stopped_early = bool(session.shouldfail or session.shouldstop)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if is_worker(self.config):
            return  # the xdist controller sees every report and decides
        if informational_run(self.config):
            return  # a listing judges nothing: pytest's exit code, and no summary.md
        gate = self.evaluate_gate()
        if exitstatus == pytest.ExitCode.TESTS_FAILED and gate.passed:
            session.exitstatus = pytest.ExitCode.OK
        elif exitstatus == pytest.ExitCode.OK and not gate.passed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._write_summary(gate)
        self._shorten_console_for_many_failures()

    def _shorten_console_for_many_failures(self) -> None:
        """Past FAILURE_DETAIL_LIMIT failures, skip pytest's per-failure detail blocks.

        pytest rescans every report for each failure it details (quadratic: minutes for a
        5 000-user IAM audit with thousands of findings). The short summary below still
        lists every failure on one line, and the reports hold every detail. Only pytest's
        default --tb=auto is changed; a --tb the user gave wins.
        """
        failures = len(self.results.failures)
        if failures > FAILURE_DETAIL_LIMIT and self.config.option.tbstyle == "auto":
            self.config.option.tbstyle = "no"
            self.console_note = (
                f"{failures} failures: per-failure detail omitted from the console "
                f"(more than {FAILURE_DETAIL_LIMIT}; pass --tb=short to see it); "
                "every detail is in the reports"
            )

    def report_paths(self) -> list[str]:
        option = self.config.option
        paths = [
            getattr(option, "htmlpath", None),
            getattr(option, "xmlpath", None),
            None if informational_run(self.config) else str(self.summary_path),
        ]
        return [str(p) for p in paths if p]

    @property
    def summary_path(self) -> Path:
        return self.reports_dir / "summary.md"

    def _write_summary(self, gate: GateResult) -> None:
        """summary.md, and a copy appended to $GITHUB_STEP_SUMMARY. A write that fails is
        said in the console block and on stderr; it does not change the exit code, which is
        the gate's verdict on the target (and the reason is printed beside it)."""
        text = render_summary(
            self.env.name,
            self.results,
            gate,
            reports=self.report_paths(),
            stale_waivers=[w.describe() for w in self.stale_waivers()],
        )
        # every byte written passes the scrubber, and no control character of a server or
        # an env file reaches a CI page or a terminal that cats it
        text = escape_control(process_scrubber().scrub(text))
        problems = [write_summary_file(self.summary_path, text)]
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            problems.append(append_step_summary(step_summary, text))
        self.output_problems = [p for p in problems if p]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_worker(self.config):
            return
        terminalreporter.section("smokegate", sep="=", bold=True)
        gate = self.evaluate_gate()
        stale = [w.describe() for w in self.stale_waivers()]
        lines = render_console(self.env.name, self.results, gate, self.report_paths(), stale)
        if self.console_note:
            lines.append(self.console_note)
        lines += [f"smokegate: {problem}" for problem in self.output_problems]
        scrub = process_scrubber().scrub
        for line in lines:
            # the block quotes servers and env files: scrubbed, and no control character
            # reaches the terminal (a body cannot erase lines and print a verdict of its own)
            line = escape_control(scrub(line), one_line=True)
            terminalreporter.write_line(
                line,
                red=not gate.passed and line.startswith("gate"),
                green=gate.passed and line.startswith("gate"),
            )

    def evaluate_gate(self) -> GateResult:
        """The gate over every case reported so far (all of them once the session ends)."""
        threshold = Severity(self.config.option.smokegate_fail_on)
        failures = self.results.failures
        unverified = sum(1 for r in failures if r.gates_regardless) + self.unattributed
        if self.exitstatus == pytest.ExitCode.TESTS_FAILED and not failures and not unverified:
            unverified = 1  # pytest saw a failure that no report explained: never a pass
        return evaluate_gate(
            (r.case.severity for r in failures if not r.gates_regardless),
            threshold,
            unverified=unverified,
            incomplete=self._incomplete_reason(),
        )

    def _incomplete_reason(self) -> str:
        informational = informational_run(self.config)
        if informational:
            return informational
        if self.exitstatus is None:
            # the run-end recorder tells how pytest ended; without it nothing says the run
            # completed, so it is never judged as if it had
            return "smokegate's run-end recorder did not run: how the run ended is unknown"
        if self.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            return "no check ran (pytest exit 5)"
        if self.exitstatus not in (None, pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"the run did not complete (pytest exit {self.exitstatus})"
        if self.stopped_early:
            return "the run stopped early (-x / --maxfail): not every check ran"
        return ""

    def close(self) -> None:
        for stop in reversed(self.stoppers):
            stop()
