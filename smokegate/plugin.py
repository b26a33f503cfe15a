"""pytest wiring: `--env`, parametrization from the env file, verdict recording and the gate.

This is the only module (with `report_*`) that knows pytest. It turns the env file
into test cases, hands the checks their gatherers, records each verdict on the
report (so it survives xdist), and decides the exit code with `--fail-on`.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.compat import NOTSET

from smokegate.auth import token_env_names
from smokegate.cases import (
    CaseInfo,
    case_facts,
    case_identity,
    failure_message,
    resolve_severity,
)
from smokegate.config import ConfigError, LoadedEnv, available_envs, load_env
from smokegate.gate import GateResult, evaluate_gate
from smokegate.gather_http import HttpGatherer
from smokegate.provenance import suite_revision, suite_version
from smokegate.redact import Scrubber, ScrubPlugin
from smokegate.report_console import render_console
from smokegate.report_summary import render_summary
from smokegate.results import RunResults
from smokegate.security_params import SECURITY_PARAMETERS
from smokegate.severity import Severity
from smokegate.verdict import Verdict
from smokegate.waiver_plugin import WaiverPlugin
from smokegate.waivers import StaleWaiver

if TYPE_CHECKING:
    from smokegate.tls import TlsGatherer

ENV_KEY = pytest.StashKey[LoadedEnv]()
STATE_KEY = pytest.StashKey["RunState"]()
CASE_KEY = pytest.StashKey[CaseInfo]()
VERDICT_KEY = pytest.StashKey[Verdict]()

# fixture name -> (the env's entries for it, the case id of an entry, what the target is)
Parameter = tuple[Callable[[LoadedEnv], list[Any]], Callable[[Any], str], Callable[[Any], str]]
PARAMETERS: dict[str, Parameter] = {
    "endpoint": (lambda env: env.config.endpoints, lambda e: e.name, lambda e: e.url),
}
PARAMETERS.update(SECURITY_PARAMETERS)  # auth, tls, security headers (issue 3)


CHECK_KINDS = ("health", "auth", "tls", "iam")
FAILURE_DETAIL_LIMIT = 100


class _EndRecorder:
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
        if hasattr(self.config, "workerinput"):
            return  # the xdist controller sees every report and decides
        if self.config.option.collectonly:
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
            None if option.collectonly else str(self.summary_path),
        ]
        return [str(p) for p in paths if p]

    @property
    def summary_path(self) -> Path:
        return self.reports_dir / "summary.md"

    def _write_summary(self, gate: GateResult) -> None:
        text = render_summary(
            self.env.name,
            self.results,
            gate,
            reports=self.report_paths(),
            stale_waivers=[w.describe() for w in self.stale_waivers()],
        )
        self.summary_path.parent.mkdir(parents=True, exist_ok=True)
        self.summary_path.write_text(text, encoding="utf-8")
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        terminalreporter.section("smokegate", sep="=", bold=True)
        gate = self.evaluate_gate()
        stale = [w.describe() for w in self.stale_waivers()]
        lines = render_console(self.env.name, self.results, gate, self.report_paths(), stale)
        if self.console_note:
            lines.append(self.console_note)
        for line in lines:
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
        if self.config.option.collectonly:
            return "--collect-only lists the cases and runs none"
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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smokegate")
    group.addoption(
        "--env",
        dest="smokegate_env",
        default=None,
        metavar="NAME",
        help="environment to check: envs/NAME.yaml, or a path to an env file "
        "(default: $SMOKEGATE_ENV; required when collecting checks/)",
    )
    group.addoption(
        "--fail-on",
        dest="smokegate_fail_on",
        default="low",
        choices=Severity.names(),
        metavar="SEVERITY",
        help="lowest severity whose failures fail the run: critical, high, medium, low "
        "(default: low, every failure gates)",
    )
    group.addoption(
        "--reports-dir",
        dest="smokegate_reports_dir",
        default=None,
        metavar="DIR",
        help="where reports/<env>/ is written (default: reports/ in the project root)",
    )
    parser.addini("smokegate_envs_dir", "folder holding <env>.yaml files", default="envs")
    parser.addini("smokegate_checks_dir", "folder holding the checks", default="checks")


def _runs_checks(config: pytest.Config) -> bool:
    """True when the collection reaches the checks folder (so an env is required)."""
    checks = (config.rootpath / config.getini("smokegate_checks_dir")).resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == checks or checks in path.parents or path in checks.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    envs_dir = config.rootpath / config.getini("smokegate_envs_dir")
    runs_checks = _runs_checks(config)
    # $SMOKEGATE_ENV is for runs of the checks: a pipeline that exports it and also runs the
    # suite's own tests must not have them rewrite that env's reports.
    name = config.option.smokegate_env or (os.environ.get("SMOKEGATE_ENV") if runs_checks else None)
    if not name:
        if runs_checks:
            known = ", ".join(available_envs(envs_dir)) or "none found"
            raise pytest.UsageError(
                "smokegate: no env given. Run `pytest checks/ --env NAME` (or set SMOKEGATE_ENV). "
                f"Known envs in {envs_dir.name}/: {known}"
            )
        return
    try:
        env = load_env(name, envs_dir, config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(f"smokegate: {exc}") from None
    reports_root = Path(config.option.smokegate_reports_dir or config.rootpath / "reports")
    state = RunState(config, env, reports_root / env.name)
    _reject_unknown_waiver_checks(config, env)
    config.stash[ENV_KEY] = env
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "smokegate.run")
    config.pluginmanager.register(_EndRecorder(state), "smokegate.run-end")
    # The scrubber first, so nothing of this run is reported before it is in place.
    scrubber = Scrubber(token_env_names(env))
    config.pluginmanager.register(ScrubPlugin(config, scrubber), "smokegate.redact")
    config.pluginmanager.register(state.waivers, "smokegate.waivers")
    # Imported here, not at the top: `pytest tests/` and runs without an env pay for none of
    # them, and the mocked worlds (responses, moto) load only for mocked envs.
    from smokegate import iam_plugin

    iam_plugin.register(config, env)
    _default_report_paths(config, state.reports_dir)
    if env.mock_dir is not None:
        from smokegate.mock.http_world import start_http_world
        from smokegate.mock.iam_world import start_iam_world

        try:
            # before the HTTP world: see its docstring
            aws = start_iam_world(env.mock_dir, required=env.config.iam is not None)
            if aws is not None:
                state.stoppers.append(aws)
            mock = start_http_world(env.mock_dir)
        except ConfigError as exc:
            raise pytest.UsageError(f"smokegate: {exc}") from None
        state.stoppers.append(mock.stop)
    from smokegate import report_html, report_junit

    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(report_html, "smokegate.report_html")
    config.pluginmanager.register(report_junit, "smokegate.report_junit")


def _default_report_paths(config: pytest.Config, reports_dir: Path) -> None:
    """Reports go to reports/<env>/ unless the user named their own paths. A --collect-only
    run checks nothing: it leaves the last run's reports as they are."""
    if config.option.collectonly:
        return
    if getattr(config.option, "htmlpath", "missing") is None:
        config.option.htmlpath = str(reports_dir / "report.html")
        config.option.self_contained_html = True
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(reports_dir / "junit.xml")
    reports_dir.mkdir(parents=True, exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    env = metafunc.config.stash.get(ENV_KEY, None)
    for fixture, (entries, case_id, _) in PARAMETERS.items():
        if fixture in metafunc.fixturenames:
            if env is None:
                raise pytest.UsageError(
                    f"smokegate: {metafunc.function.__name__} needs an env: pass --env NAME"
                )
            values = entries(env)
            metafunc.parametrize(fixture, values, ids=[case_id(v) for v in values])


def _case_for(item: pytest.Item, env: LoadedEnv) -> CaseInfo | None:
    check, case_id = case_identity(item)
    callspec = getattr(item, "callspec", None)
    marker = item.get_closest_marker("default_severity")
    check_default = Severity(marker.args[0]) if marker else None
    target: object = None
    location = ""
    if callspec is not None:
        for fixture, (_, _, where) in PARAMETERS.items():
            if fixture in callspec.params:
                target = callspec.params[fixture]
                # an empty section (e.g. an IAM-only env) parametrizes with pytest's placeholder
                location = where(target) if target is not NOTSET else ""
    severity = resolve_severity(target, env.config.defaults.severity, check_default)
    kind = next((k for k in CHECK_KINDS if item.get_closest_marker(k)), "other")
    return CaseInfo(check=check, target=case_id, severity=severity, kind=kind, location=location)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return
    _drop_empty_checks(config, items, env)
    for item in items:
        case = _case_for(item, env)
        if case is not None:
            item.stash[CASE_KEY] = case


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection built out of the cyclic garbage collector's sight (`gc.freeze`).

    The imported modules, the env model and the items live until the run ends, yet every
    automatic full collection during the checks, and pytest's own at exit, would walk them
    all again: about a fifth of a 500-endpoint run's CPU. Frozen objects are still freed by
    reference counting. Cycles among them, including those that are already garbage (left
    by imports), stay until the process exits: no collection first, since that costs
    20-50 ms and the demo's peak memory measured the same either way.
    """
    if session.config.stash.get(ENV_KEY, None) is not None:
        gc.freeze()


def _drop_empty_checks(config: pytest.Config, items: list[pytest.Item], env: LoadedEnv) -> None:
    """A check with no targets in this env (no `tls:` section, ...) is not a case at all: drop
    pytest's "empty parameter set" placeholder instead of reporting it as skipped (and count
    it as deselected, so pytest's "selected" figure matches what runs)."""
    empty = {fixture for fixture, (entries, _, _) in PARAMETERS.items() if not entries(env)}
    if not empty:
        return
    kept, dropped = [], []
    for item in items:
        params = set(getattr(getattr(item, "callspec", None), "params", {}))
        (dropped if empty & params else kept).append(item)
    if dropped:
        items[:] = kept
        config.hook.pytest_deselected(items=dropped)


_CHECK_DEF = re.compile(r"^def test_(\w+)\(", re.MULTILINE)


def check_names(checks_dir: Path) -> set[str]:
    """Every check of the suite: the test functions of checks/, without `test_`."""
    return {
        name
        for module in checks_dir.glob("test_*.py")
        for name in _CHECK_DEF.findall(module.read_text(encoding="utf-8"))
    }


def _reject_unknown_waiver_checks(config: pytest.Config, env: LoadedEnv) -> None:
    """A waiver naming no check would silently waive nothing, and never look stale."""
    known = check_names(config.rootpath / config.getini("smokegate_checks_dir"))
    for index, waiver in enumerate(env.config.waivers):
        if waiver.check in known:
            continue
        bare = waiver.check.removeprefix("test_")
        close = [bare] if bare in known else difflib.get_close_matches(bare, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise pytest.UsageError(
            f"smokegate: {env.shown}: waivers[{index}].check: unknown check '{waiver.check}'"
            f"{hint}; a check is a test function of checks/ without 'test_': "
            f"{', '.join(sorted(known))}"
        )


def _queued_items(session: pytest.Session) -> list[pytest.Item]:
    """The items this process will still run: all of them, or an xdist worker's queue.

    xdist has no public API for a worker's queue, so this reads its `WorkerInteractor`
    (pytest-xdist 3.x). Should that change shape, every collected item is returned: each
    worker then probes all targets, which costs requests but never a result.
    """
    interactor = next(
        (
            p
            for p in session.config.pluginmanager.get_plugins()
            if type(p).__name__ == "WorkerInteractor"
        ),
        None,
    )
    queue = getattr(interactor, "torun", None)
    upcoming = getattr(interactor, "nextitem_index", None)
    if not callable(getattr(queue, "lock", None)):
        return list(session.items)
    with queue.lock() as queued:
        indices = [i for i in queued if isinstance(i, int)]
    if isinstance(upcoming, int):
        indices.insert(0, upcoming)
    return [session.items[i] for i in indices if 0 <= i < len(session.items)]


def _pending_targets(session: pytest.Session) -> Iterator[object]:
    for item in _queued_items(session):
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            yield from callspec.params.values()


@pytest.fixture(scope="session")
def smokegate_env(request: pytest.FixtureRequest) -> LoadedEnv:
    """The validated env file of this run."""
    env = request.config.stash.get(ENV_KEY, None)
    if env is None:
        pytest.fail("smokegate: no env loaded; run with --env NAME", pytrace=False)
    return env


@pytest.fixture(scope="session")
def http_results(
    request: pytest.FixtureRequest, smokegate_env: LoadedEnv
) -> Iterator[HttpGatherer]:
    """HTTP results of the run; the first check that asks probes every pending target at once."""
    session = request.session
    gatherer = HttpGatherer(
        smokegate_env.config.defaults,
        lambda: _pending_targets(session),
        verify=smokegate_env.ca_bundle or True,
    )
    yield gatherer
    gatherer.close()


@pytest.fixture(scope="session")
def tls_results(request: pytest.FixtureRequest, smokegate_env: LoadedEnv) -> TlsGatherer:
    """Certificates of the run; the first TLS check that asks inspects every pending target."""
    session = request.session
    defaults = smokegate_env.config.defaults
    from smokegate.tls import TlsGatherer  # cryptography loads only for runs with tls: checks

    return TlsGatherer(
        lambda: _pending_targets(session),
        ca_bundle=smokegate_env.ca_bundle,
        timeout_s=defaults.timeout_s,
        max_workers=defaults.max_workers,
    )


@pytest.fixture
def enforce(request: pytest.FixtureRequest) -> Callable[[Verdict], None]:
    """Record a rule's verdict on this case and fail it, with the full message, when it fails."""
    item = request.node

    def _enforce(verdict: Verdict) -> None:
        item.stash[VERDICT_KEY] = verdict
        case = item.stash.get(CASE_KEY, None)
        if case is not None:
            case = case.with_verdict(verdict)
            item.stash[CASE_KEY] = case
        if not verdict.passed:
            message = failure_message(case, verdict) if case else verdict.message
            pytest.fail(message, pytrace=False)

    return _enforce


def skip_reason(report: pytest.TestReport) -> str:
    """A skipped report's reason ("waived until 2027-01-31: ..."), or "" for any other."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return ""


def _failure_reason(item: pytest.Item, report: pytest.TestReport) -> str:
    """Why the case failed, in one line: the rule's words, or the error's last line."""
    verdict = item.stash.get(VERDICT_KEY, None)
    if report.when == "call" and verdict is not None and not verdict.passed:
        return verdict.message
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return f"{report.when} error: {crash.message.splitlines()[0]}"
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    return lines[0] if lines else f"{report.when} failed"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    case = item.stash.get(CASE_KEY, None)
    if case is not None and call.when == "teardown":
        # Captured-stdout text is what GitLab, GitHub reporters and Jenkins all show per case.
        item.add_report_section("call", "stdout", case_facts(case))
    report = yield
    if case is not None:
        facts = case.to_dict()
        report.smokegate = facts
        if report.failed:
            report.smokegate["message"] = _failure_reason(item, report)
            verdict = item.stash.get(VERDICT_KEY, None)
            found_by_rule = report.when == "call" and verdict is not None and not verdict.passed
            if not (found_by_rule and verdict.verified):
                report.smokegate["unverified"] = "yes"
        if report.when == "teardown":
            report.user_properties = [
                *report.user_properties,
                *((k, v) for k, v in facts.items() if v),
            ]
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_metadata(metadata: dict[str, Any], config: pytest.Config) -> None:
    """The HTML report's environment table: which env, which suite, which gate."""
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return
    metadata["smokegate env"] = env.name
    metadata["Env file"] = str(env.path)
    metadata["Suite version"] = suite_version()
    metadata["Suite git sha"] = suite_revision(config.rootpath)
    metadata["Fail on"] = config.option.smokegate_fail_on
    if env.mock_dir is not None:
        metadata["Mocked world"] = str(env.mock_dir)
