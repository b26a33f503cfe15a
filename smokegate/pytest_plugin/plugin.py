"""The plugin's entry point: `--env`, parametrization from the env file, case facts on every
report, and the registration of the run's other plugins.

It turns the env file into test cases (`smokegate.targets` declares what each check
argument is parametrized over), gives every case its facts (check, target, severity,
location) and records them on the report so they survive xdist. The gate, the exit code
and summary.md are `run`; the scrubber `redact`; waivers, IAM collection, HTML and JUnit
have a module each.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
from pathlib import Path
from typing import Any

import pytest
from _pytest.compat import NOTSET

from smokegate.cases import CaseInfo, case_facts, resolve_severity
from smokegate.config import (
    WAIVER_HORIZON_DAYS,
    ConfigError,
    LoadedEnv,
    available_envs,
    load_env,
)
from smokegate.gather.credentials import register_known_secrets
from smokegate.pytest_plugin import html, iam, junit, shards
from smokegate.pytest_plugin.console_notes import RepeatedFacts
from smokegate.pytest_plugin.keys import (
    CASE_KEY,
    ENV_KEY,
    STATE_KEY,
    UNVERIFIED_KEY,
    VERDICT_KEY,
    case_identity,
)
from smokegate.pytest_plugin.redact import ScrubPlugin
from smokegate.pytest_plugin.run import RunEndRecorder, RunState
from smokegate.pytest_plugin.xdist import XdistPlan, is_worker
from smokegate.redact import Scrubber
from smokegate.report.provenance import suite_revision, suite_version
from smokegate.severity import Severity
from smokegate.shares import auto_workers
from smokegate.targets import (
    ENV_TARGETS,
    MARKERS,
    TARGET_KINDS,
    all_credentials,
    estimated_cases,
    secret_env_names,
    section_severity,
)

pytest_plugins = ["smokegate.pytest_plugin.fixtures"]


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
    parser.addini(
        "smokegate_max_waiver_days",
        "how far ahead a waiver's expires: may be, in days (default 365)",
        default=str(WAIVER_HORIZON_DAYS),
    )


def _runs_checks(config: pytest.Config) -> bool:
    """True when the collection reaches the checks folder (so an env is required)."""
    checks = (config.rootpath / config.getini("smokegate_checks_dir")).resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == checks or checks in path.parents or path in checks.parents:
            return True
    return False


def _register_markers(config: pytest.Config) -> None:
    """The check kinds of `smokegate.targets`, and the checks' own default severity."""
    for marker, description in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {description}")
    config.addinivalue_line(
        "markers",
        "default_severity(level): the check's own severity, when neither the entry, its "
        "section (iam.severity) nor defaults.severity sets one",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    envs_dir = config.rootpath / config.getini("smokegate_envs_dir")
    runs_checks = _runs_checks(config)
    # $SMOKEGATE_ENV is for runs of the checks: a pipeline that exports it and also runs the
    # suite's own tests must not have them rewrite that env's reports.
    name = config.option.smokegate_env or (os.environ.get("SMOKEGATE_ENV") if runs_checks else None)
    named_by = "" if config.option.smokegate_env else "SMOKEGATE_ENV"
    if not name:
        if runs_checks:
            known = ", ".join(available_envs(envs_dir)) or "none found"
            raise pytest.UsageError(
                "smokegate: no env given. Run `pytest checks/ --env NAME` (or set SMOKEGATE_ENV). "
                f"Known envs in {envs_dir.name}/: {known}"
            )
        return
    try:
        env = load_env(
            name,
            envs_dir,
            config.rootpath,
            named_by=named_by,
            waiver_horizon_days=_waiver_horizon(config),
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"smokegate: {exc}") from None
    reports_root = Path(config.option.smokegate_reports_dir or config.rootpath / "reports")
    shard = shards.shard_of(config)
    reports_name = env.name if shard is None else f"{env.name}-{shard.suffix}"
    state = RunState(config, env, reports_root / reports_name)
    _reject_unknown_waiver_checks(config, env)
    config.stash[ENV_KEY] = env
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "smokegate.run")
    config.pluginmanager.register(RunEndRecorder(state), "smokegate.run-end")
    config.pluginmanager.register(RepeatedFacts(config), "smokegate.console-notes")
    # The scrubber first, so nothing of this run is reported before it is in place.
    scrubber = Scrubber(secret_env_names(env.config))
    register_known_secrets(all_credentials(env.config))  # Basic encodings, before any request
    config.pluginmanager.register(ScrubPlugin(config, scrubber), "smokegate.redact")
    config.pluginmanager.register(state.waivers, "smokegate.waivers")
    iam_plugin = iam.register(config, env)
    if shard is not None:
        # now, before pytest-split's own pytest_configure registers its splitter: see
        # shards.HoldBackIam for why the order matters
        shards.register(config, iam_plugin.drop)
    if not is_worker(config):
        config.pluginmanager.register(XdistPlan(config), "smokegate.xdist")
    _default_report_paths(config, state.reports_dir)
    if env.mock_dir is not None:
        # Imported here for start-up cost: responses and moto load only for mocked envs.
        from smokegate.mock.http import start_http_world
        from smokegate.mock.iam import start_iam_world

        try:
            # before the HTTP world: see its docstring
            aws = start_iam_world(env.mock_dir, required=env.config.iam is not None)
            if aws is not None:
                state.stoppers.append(aws)
            mock = start_http_world(env.mock_dir)
        except ConfigError as exc:
            raise pytest.UsageError(f"smokegate: {exc}") from None
        state.stoppers.append(mock.stop)
    if config.pluginmanager.hasplugin("html"):
        html.register(config)
    config.pluginmanager.register(junit, "smokegate.report_junit")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` for `pytest checks/`: one process already probes every target at once, so
    workers only pay off when there are enough cases for their start-up (shares.py).
    Called before `pytest_configure`, so the env file is read here too; any problem with
    it is left for `pytest_configure` to report."""
    if not _runs_checks(config):
        return None
    name = config.option.smokegate_env or os.environ.get("SMOKEGATE_ENV")
    if not name:
        return None
    try:
        env = load_env(name, config.rootpath / config.getini("smokegate_envs_dir"), config.rootpath)
    except ConfigError:
        return None
    return auto_workers(estimated_cases(env.config), os.cpu_count() or 1)


def _waiver_horizon(config: pytest.Config) -> int:
    value = str(config.getini("smokegate_max_waiver_days")).strip()
    if not value.isdigit():
        raise pytest.UsageError(
            f"smokegate: smokegate_max_waiver_days = {value!r} in the ini file: a number of days"
        )
    return int(value)


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


# -- parametrization and collection ----------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize each check argument that names an env-file target kind; the IAM kinds are
    parametrized by `smokegate.pytest_plugin.iam` once the audit is gathered."""
    env = metafunc.config.stash.get(ENV_KEY, None)
    for kind in ENV_TARGETS:
        if kind.fixture in metafunc.fixturenames:
            if env is None:
                raise pytest.UsageError(
                    f"smokegate: {metafunc.function.__name__} needs an env: pass --env NAME"
                )
            values = kind.entries(env.config)
            metafunc.parametrize(kind.fixture, values, ids=[kind.case_id(v) for v in values])


def _case_for(item: pytest.Item, env: LoadedEnv) -> CaseInfo:
    check, case_id = case_identity(item)
    callspec = getattr(item, "callspec", None)
    marker = item.get_closest_marker("default_severity")
    check_default = Severity(marker.args[0]) if marker else None
    target: object = None
    location = ""
    for fixture, value in callspec.params.items() if callspec is not None else ():
        kind_of_target = TARGET_KINDS.get(fixture)
        # an empty section (e.g. an IAM-only env) parametrizes with pytest's placeholder
        if kind_of_target is not None and value is not NOTSET:
            target, location = value, kind_of_target.location(value)
            break
    kind = next((k for k in MARKERS if item.get_closest_marker(k)), "other")
    severity = resolve_severity(
        target,
        section_severity(env.config, kind),
        env.config.defaults.severity,
        check_default,
    )
    account, where = iam.case_account(item)
    location = location or where
    return CaseInfo(
        check=check,
        target=case_id,
        severity=severity,
        kind=kind,
        location=location,
        account=account,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return
    _drop_empty_checks(config, items, env)
    for item in items:
        item.stash[CASE_KEY] = _case_for(item, env)


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
    env = session.config.stash.get(ENV_KEY, None)
    if env is not None:
        gc.freeze()
        option = session.config.option
        informational = option.collectonly or getattr(option, "setupplan", False)
        if not informational and not getattr(option, "setuponly", False):
            # imported here: pytest imports (and assertion-rewrites) it as a plugin first
            from smokegate.pytest_plugin.fixtures import start_probes

            start_probes(session, env)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from smokegate.pytest_plugin.fixtures import close_gatherers

    close_gatherers(session)


def _drop_empty_checks(config: pytest.Config, items: list[pytest.Item], env: LoadedEnv) -> None:
    """A check with no targets in this env (no `tls:` section, ...) is not a case at all: drop
    pytest's "empty parameter set" placeholder instead of reporting it as skipped (and count
    it as deselected, so pytest's "selected" figure matches what runs)."""
    empty = {kind.fixture for kind in ENV_TARGETS if not kind.entries(env.config)}
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


# -- every case's facts on its report --------------------------------------------------------


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
                item.stash[UNVERIFIED_KEY] = True
        if report.when == "teardown":
            # JUnit writes the teardown's properties: what `python -m smokegate.merge` reads
            report.user_properties = [
                *report.user_properties,
                *((k, v) for k, v in facts.items() if v),
                *_outcome_properties(item),
            ]
    return report


def _outcome_properties(item: pytest.Item) -> list[tuple[str, str]]:
    """What the merge of a sharded run needs beyond the JUnit outcome: whether a failure
    verified nothing, and the one-line reason summary.md shows (already folded by this
    process's `RunState` when the teardown is reported)."""
    properties = [("unverified", "yes")] if item.stash.get(UNVERIFIED_KEY, False) else []
    state = item.config.stash.get(STATE_KEY, None)
    result = state.results.cases.get(item.nodeid) if state is not None else None
    if result is not None and result.outcome != "passed" and result.message:
        properties.append(("why", result.message))
    return properties


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
