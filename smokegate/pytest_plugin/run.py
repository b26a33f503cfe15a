"""One run's bookkeeping, registered as a plugin: every case's outcome, the gate, the exit
code, summary.md and the console block.

Every report tells the same story as the exit code because all of them are written from
this one fold of the run's reports (`RunResults`) and this one gate (`evaluate_gate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from smokegate.cases import CaseInfo
from smokegate.config import LoadedEnv
from smokegate.facts.iam import UNLISTED_ACCOUNTS, routes_from_text
from smokegate.gate import (
    FULL_GATE_NO_PROBLEM,
    FULL_GATE_PROPERTY,
    GateResult,
    evaluate_gate,
)
from smokegate.pytest_plugin import junit
from smokegate.pytest_plugin.coverage import CoveragePlugin
from smokegate.pytest_plugin.guard import aws_route_notices, fail_on_said, full_gate_problem
from smokegate.pytest_plugin.keys import (
    IAM_KEY,
    NO_TARGETS_KEY,
    informational_run,
    skip_reason,
)
from smokegate.pytest_plugin.report_delivery import StagedReports, normal_path
from smokegate.pytest_plugin.selection import marker_advice, selection_text
from smokegate.pytest_plugin.shards import shard_of
from smokegate.pytest_plugin.waivers import WaiverPlugin
from smokegate.pytest_plugin.xdist import is_worker
from smokegate.redact import escape_control, excerpt, process_scrubber
from smokegate.report.console import render_console
from smokegate.report.html_page import RunView, verdict_word
from smokegate.report.provenance import ci_run
from smokegate.report.standing import Standing, standing_of
from smokegate.report.summary import render_summary, scrubbed_lines
from smokegate.report.summary_files import append_step_summary, write_summary_file
from smokegate.report.waiver_notes import WaiverNote, waiver_notes
from smokegate.results import CaseResult, RunResults
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
        if not is_worker(session.config) and not informational_run(session.config):
            # before the JUnit file is written: the controller alone sees every case (the
            # record_testsuite_property fixture is lost under xdist: pytest #7767)
            junit.add_suite_properties(session.config, self.state.suite_properties())


class ReportWriteGuard:
    """A report writer that fails (a full disk: pytest's junitxml and pytest-html raise
    OSError) ended a passing run in a traceback, with no verdict, and took the other
    report with it. As the innermost wrapper of sessionfinish, this has both write into
    a staging folder and delivers each on its own afterwards (`report_delivery`); a writer
    that still raises is caught, what it skipped (the gate, summary.md) is finished, and
    each report not written is named. The console block and the exit code are the gate's."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        if is_worker(session.config) or informational_run(session.config):
            return (yield)
        delivery = StagedReports()
        delivery.stage(session.config)
        failure: OSError | UnicodeError | None = None
        try:
            result = yield
        except (OSError, UnicodeError) as exc:  # a full disk; a text no UTF-8 writer takes
            failure, result = exc, None
        finally:
            scrubbing = session.config.pluginmanager.get_plugin("smokegate.redact")
            late = bool(scrubbing is not None and scrubbing.learnt_late())
            self.state.output_problems += delivery.deliver(spreads=late)
            self.state.undelivered |= delivery.undelivered
        if failure is not None:
            self.state.report_write_failed(session, failure, delivery)
        return result


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
        # the cases this run collected (a serial run's items; under xdist, what the workers
        # said they collected) and those any report came for: a worker that died in its
        # collection or with cases queued left cases that never reported, and the gate
        # passed on the ones that did (round 25b)
        self.collected: set[str] | None = None
        self.reported: set[str] = set()
        self.run_notes: list[str] = []  # facts said once for the run (see console_notes)
        self.output_problems: list[str] = []  # reports smokegate could not write, and why
        self.undelivered: set[str] = set()  # report paths (as given) that were not written
        self.finished = False  # this run's sessionfinish ran (gate judged, summary written)
        self.coverage: CoveragePlugin | None = None  # what was collected of the env's cases
        # --full-gate / SMOKEGATE_FULL_GATE: a run that is not the full gate is NOT EVALUATED
        self.full_gate = False
        # Facts about where the answers came from, said in every report beside the verdict:
        # a mocked world, a proxy, another AWS endpoint (known at start); cases answered by
        # another host after a redirect are added from the results (`notices`).
        self.static_notices: list[str] = []

    @property
    def threshold(self) -> Severity:
        return Severity(self.config.option.smokegate_fail_on)

    def stale_waivers(self) -> list[StaleWaiver]:
        """Waivers that matched no failing case of a check that ran."""
        return self.waivers.stale()

    def waiver_notes(self) -> list[WaiverNote]:
        """Stale waivers (with the closest case id) and expired ones still matching failures."""
        return waiver_notes(
            self.env.config.waivers,
            self.stale_waivers(),
            self.results.cases.values(),
            self.waivers.today(),
        )

    def waiver_lines(self) -> list[str]:
        return [
            ("stale waiver (matched no failing case): " if n.stale else "expired waiver: ")
            + n.describe()
            for n in self.waiver_notes()
        ]

    def standing(self, result: CaseResult) -> Standing:
        return standing_of(result, self.threshold)

    def selection(self) -> str:
        """The options that narrowed the run, and an unknown marker; scrubbed (a `-k` or a
        `--deselect` may hold a secret) and without control characters."""
        text = selection_text(self.config)
        advice = marker_advice(self.config)
        text = f"{text} ({advice})" if text and advice else text
        return escape_control(process_scrubber().scrub(text), one_line=True) if text else ""

    def notices(self) -> list[str]:
        """Where the answers came from, when that is not simply the targets themselves."""
        elsewhere = [
            (r.nodeid.split("::")[-1], r.case.answered_by)  # cut-ok: a node id's last part
            for r in self.results.cases.values()
            if r.case.answered_by
        ]
        notices = list(self.static_notices)
        if elsewhere:
            shown = ", ".join(f"{c} by {h}" for c, h in elsewhere[:5])  # cut-ok: a list
            more = f", and {len(elsewhere) - 5} more" if len(elsewhere) > 5 else ""
            notices.append(
                f"Redirected: {len(elsewhere)} case{'s were' if len(elsewhere) > 1 else ' was'} "
                f"answered by another host than its URL's, after a redirect: {shown}{more}"
            )
        if self.env.mock_dir is not None:  # no AWS was asked: the mocked notice says so
            return notices
        # every IAM case of a process carries the same text: each distinct one read once
        texts = {r.case.aws_routes for r in self.results.cases.values() if r.case.aws_routes}
        routes = {route for text in texts for route in routes_from_text(text)}
        return notices + aws_route_notices(sorted(routes), notices)

    def env_file_note(self) -> str:
        """Which env file was loaded (relative to the project root when inside it): an env
        name alone does not say which `prod.yaml` the verdict is about."""
        return f"Env file: {self.env.shown}"

    def coverage_text(self) -> str:
        """'' when every case the env defines was collected; else how many were (or that
        nobody reported it)."""
        if informational_run(self.config) or self.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            return ""
        coverage = self.coverage.result() if self.coverage is not None else None
        if coverage is None:
            return "which cases were collected is unknown: no process reported its collection"
        return coverage.describe()

    def partial(self) -> str:
        """Why this run is not the full gate of the env ('' when it is): fewer cases
        collected than the env defines (whatever the cause), or one shard of several."""
        parts = [self.coverage_text()]
        shard = shard_of(self.config)
        if shard is not None:
            parts.append(f"shard {shard.group} of {shard.splits}")
        if not any(parts):
            return ""
        return "; ".join([p for p in [self.selection()] if p] + [p for p in parts if p])

    def partial_notes(self) -> list[str]:
        """The partial run as summary.md and the console say it."""
        if not self.partial():
            return []
        selection, coverage = self.selection(), self.coverage_text()
        notes = [f"Partial run: only `{selection}` was selected; not the full gate."] * bool(
            selection
        )
        if coverage:  # "not the full gate" once: after the selection when there is one
            notes.append(
                f"{coverage}." if selection else f"Partial run: {coverage}; not the full gate."
            )
        if not notes:
            notes.append(f"Partial run: {self.partial()}; not the full gate.")
        return notes

    def run_view(self) -> RunView:
        """What the HTML report says: this run's fold, gate, selection and waivers."""
        return RunView(
            env=self.env.name,
            env_file=self.env.shown,
            gate=self.evaluate_gate(),
            results=self.results,
            selection=self.selection() if self.partial() else "",
            partial=self.partial(),
            notices=tuple(self.notices()),
            waiver_notes=self.waiver_notes(),
        )

    def no_targets_note(self) -> list[str]:
        names = sorted(self.config.stash.get(NO_TARGETS_KEY, set()))
        if not names:
            return []
        return [
            f"{len(names)} check(s) deselected: this env has no targets for them "
            f"({', '.join(names)})"
        ]

    def _dealt_none(self) -> str:
        """Why a shard ran nothing when pytest-split dealt it none of the env's cases: a
        matrix of more jobs than cases said "no check ran", and the merge "did not
        complete", naming no cause (round 28b)."""
        shard = shard_of(self.config)
        defined = self.split_cases()
        if shard is None or not defined:
            return ""
        said = (
            f"pytest-split dealt shard {shard.group} of {shard.splits} none of the env's "
            f"{defined} case(s)"
        )
        if defined < shard.splits:
            return f"{said}: the matrix has more jobs than cases to split; use at most {defined}"
        return f"{said} (its splitting algorithm and durations file left this group empty)"

    def split_cases(self) -> int | None:
        """The env's cases outside the IAM audit, for a shard's merge (see coverage)."""
        if shard_of(self.config) is None or self.coverage is None:
            return None
        return self.coverage.split_cases()

    def suite_properties(self) -> list[tuple[str, str]]:
        """The JUnit suite's properties: the gate's verdict as every other report says it,
        and the run's shape, from which `python -m smokegate.merge` folds the shards of a CI
        matrix (`splits` says how many shards it must find)."""
        gate = self.evaluate_gate()
        shard = shard_of(self.config)
        return [
            ("env", self.env.name),
            ("gate", verdict_word(gate)),
            ("fail_on", gate.threshold.value),
            # what the job's own command line and the ini file say, and whether a mocked
            # world answered: the merge's --full-gate judges the shards by them as a single
            # run's --full-gate judges itself (round 41b F2, F3)
            ("fail_on_said", fail_on_said(self.config)),
            ("mocked", "yes" if self.env.mock_dir is not None else "no"),
            *(
                ("full_gate_refusal", p)
                for p in [full_gate_problem(self.config, self.env) if shard else ""]
                if p
            ),
            # every run, whole or shard, says whether --full-gate would take it: the merge's
            # --full-gate took a whole run's file, which said nothing, as "shard 1 of 1" and
            # passed a run that `-c other.ini` had lowered (round 43b F1); it reads a file
            # without this property as one that does not say how it was run
            (FULL_GATE_PROPERTY, full_gate_problem(self.config, self.env) or FULL_GATE_NO_PROBLEM),
            ("gate_detail", gate.describe()),
            ("selection", self.selection() or "full: every check of the env"),
            ("partial", self.partial()),
            ("coverage", self.coverage_text() or "complete"),
            *(("notice", notice) for notice in self.notices()),
            ("splits", str(shard.splits if shard else 1)),
            ("group", str(shard.group if shard else 1)),
            *(("split_cases", str(n)) for n in [self.split_cases()] if n is not None),
            *(("accounts_dealt", d) for d in [self.accounts_dealt()] if d and shard),
            *(("env_digest", self.env.digest) for _ in [shard] if shard and self.env.digest),
            *(("ci_run", run) for run in [ci_run()] if shard and run),
            ("unattributed", str(self.unattributed)),
            ("waivers_used", ",".join(str(i) for i in sorted(self.waivers.used))),
            *(("stale_waiver", w.describe()) for w in self.stale_waivers()),
        ]

    def accounts_dealt(self) -> str | None:
        """The listing a shard dealt its AWS accounts from (see `iam.accounts_fingerprint`)."""
        iam = self.config.stash.get(IAM_KEY, None)
        return iam.accounts_dealt if iam is not None else None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):
            return  # an xdist controller collects nothing: its workers say what they did
        self.collected = {item.nodeid for item in session.items}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected = (self.collected or set()) | set(ids)

    def never_reported(self) -> list[str]:
        """Cases collected that no report came for, in order."""
        return sorted((self.collected or set()) - self.reported)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # tryfirst: folded before the JUnit writer reads the report, so the case's standing
        # can go into its properties (under xdist too: this runs on the controller)
        self.reported.add(report.nodeid)
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
        if report.when == "teardown" and not is_worker(self.config):
            standing = self.standing(self.results.cases[report.nodeid])
            report.user_properties = [*report.user_properties, ("gate", standing.value)]

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

    def report_write_failed(
        self, session: pytest.Session, exc: OSError | UnicodeError, delivery: StagedReports
    ) -> None:
        """A report writer raised (see `ReportWriteGuard`), its reports already delivered."""
        if not self.finished:  # the writer's error skipped this run's own sessionfinish
            self.pytest_sessionfinish(session, session.exitstatus)
        filename = getattr(exc, "filename", None)
        filename = str(filename) if filename else None
        filename = delivery.staged_destination(filename) or filename
        where = f" ({excerpt(filename, 300)})" if filename else ""
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        self.output_problems.append(f"a report could not be written{where}: {reason}")
        option = self.config.option
        for path, name in (
            (getattr(option, "htmlpath", None), "report.html"),
            (getattr(option, "xmlpath", None), "junit.xml"),
        ):
            if path and normal_path(path) not in self.undelivered and not Path(path).exists():
                self.undelivered.add(normal_path(path))
                self.output_problems.append(f"{name} was not written ({excerpt(path, 300)})")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if is_worker(self.config):
            return  # the xdist controller sees every report and decides
        if informational_run(self.config):
            return  # a listing judges nothing: pytest's exit code, and no summary.md
        self.finished = True
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
        has_junit = self.config.pluginmanager.hasplugin("junitxml")
        paths = [
            getattr(option, "htmlpath", None),
            getattr(option, "xmlpath", None) if has_junit else None,
            None if informational_run(self.config) else str(self.summary_path),
        ]
        shown = [str(p) for p in paths if p and normal_path(str(p)) not in self.undelivered]
        if not has_junit:
            shown.insert(
                0,
                "(no junit.xml: pytest's junitxml plugin is disabled by -p no:junitxml; remove "
                "it from the command line, PYTEST_ADDOPTS and addopts to have it)",
            )
        if not self.config.pluginmanager.hasplugin("html"):
            shown.insert(
                0,
                "(no report.html: pytest-html is not loaded, by -p no:html or "
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD; add -p pytest_html to have it)",
            )
        return shown

    @property
    def summary_path(self) -> Path:
        return self.reports_dir / "summary.md"

    def _write_summary(self, gate: GateResult) -> None:
        """summary.md, and a copy appended to $GITHUB_STEP_SUMMARY. A write that fails is
        said in the console block and on stderr; it does not change the exit code, which is
        the gate's verdict on the target (and the reason is printed beside it)."""
        notes = [*self.notices(), *self.partial_notes(), self.env_file_note()]
        text = render_summary(
            self.env.name,
            self.results,
            gate,
            reports=self.report_paths(),
            stale_waivers=self.waiver_lines(),
            notes=notes,
        )
        # every byte written passes the scrubber, and no control character of a server or
        # an env file reaches a CI page or a terminal that cats it
        text = scrubbed_lines(text)
        problems = [write_summary_file(self.summary_path, text)]
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            problems.append(append_step_summary(step_summary, text))
        self.output_problems += [p for p in problems if p]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_worker(self.config):
            return
        terminalreporter.section("smokegate", sep="=", bold=True)
        gate = self.evaluate_gate()
        reports = self.report_paths()
        lines = render_console(
            self.env.name,
            self.results,
            gate,
            reports,
            self.waiver_lines(),
            selection=self.selection() if self.partial() else "",
            partial=[n for n in self.partial_notes() if not n.startswith("Partial run: only")],
            notices=self.notices(),
            notes=[*self.run_notes, *self.no_targets_note()],
        )
        # which file the verdict is about, beside the reports' paths (what the run read, then
        # what it wrote); the lines right under the verdict say where the answers came from
        lines.insert(len(lines) - len(reports), f"env file: {self.env.shown}")
        if self.console_note:
            lines.append(self.console_note)
        lines += [f"smokegate: {problem}" for problem in self.output_problems]
        scrubber = process_scrubber()
        for line in lines:
            # the block quotes servers and env files: scrubbed, and no control character
            # reaches the terminal (a body cannot erase lines and print a verdict of its own);
            # the pieces of a secret learnt after a case's excerpt was cut too (round 54a F1)
            line = scrubber.mask_late_pieces(scrubber.scrub(line))
            line = escape_control(line, one_line=True)
            terminalreporter.write_line(
                line,
                red=not gate.passed and line.startswith("gate"),
                green=gate.passed and line.startswith("gate"),
            )

    def evaluate_gate(self) -> GateResult:
        """The gate over every case reported so far (all of them once the session ends)."""
        threshold = self.threshold
        failures = self.results.failures
        unverified = sum(1 for r in failures if r.gates_regardless) + self.unattributed
        if self.exitstatus == pytest.ExitCode.TESTS_FAILED and not failures and not unverified:
            unverified = 1  # pytest saw a failure that no report explained: never a pass
        return evaluate_gate(
            (r.case.severity for r in failures if not r.gates_regardless),
            threshold,
            unverified=unverified,
            incomplete=self._incomplete_reason(),
            partial=self.partial(),
        )

    def _incomplete_reason(self) -> str:
        informational = informational_run(self.config)
        if informational:
            return informational
        if self.exitstatus is None:
            # the run-end recorder tells how pytest ended; without it nothing says the run
            # completed, so it is never judged as if it had
            return "smokegate's run-end recorder did not run: how the run ended is unknown"
        dealt = self.accounts_dealt() or ""
        if dealt.startswith(UNLISTED_ACCOUNTS):
            return (
                "this shard could not list the organization's AWS accounts, so which of them "
                f"are its own to audit is unknown ({dealt.removeprefix(UNLISTED_ACCOUNTS)})"
            )
        if self.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            dealt_none = self._dealt_none()
            if dealt_none:
                return dealt_none
            advice = marker_advice(self.config)
            markexpr = self.config.option.markexpr
            return "no check ran (pytest exit 5)" + (f": -m {markexpr}: {advice}" if advice else "")
        if self.exitstatus not in (None, pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"the run did not complete (pytest exit {self.exitstatus})"
        if self.stopped_early:
            return "the run stopped early (-x / --maxfail): not every check ran"
        missing = self.never_reported()
        if missing:
            return (
                f"{len(missing)} of the {len(self.collected or ())} cases collected never "
                f"reported a result (a worker that crashed, a run cut short), such as "
                f"{excerpt(missing[0], 200)}"
            )
        if self.full_gate and self.partial():
            return (
                f"a partial run ({self.partial()}), and --full-gate (or SMOKEGATE_FULL_GATE) "
                "asks for every check of the env"
            )
        return ""

    def close(self) -> None:
        for stop in reversed(self.stoppers):
            stop()
