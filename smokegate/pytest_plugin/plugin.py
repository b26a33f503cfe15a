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
import urllib.request
from dataclasses import replace
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
    env_name_problem,
    load_env,
    shown_file_name,
)
from smokegate.gather.credentials import register_known_secrets
from smokegate.gather.tunnel import proxy_url_problem
from smokegate.pytest_plugin import html, iam, junit, shards
from smokegate.pytest_plugin.console_notes import RepeatedFacts
from smokegate.pytest_plugin.coverage import CoveragePlugin
from smokegate.pytest_plugin.guard import (
    full_gate,
    install_usage_error_scrubber,
    refuse_for_full_gate,
    refuse_informational_full_gate,
    refuse_printed_secrets,
    refuse_smokegate_overrides,
    refuse_unsafe_options,
    refuse_unsafe_paths,
    run_notices,
    waiver_horizon,
)
from smokegate.pytest_plugin.keys import (
    CASE_KEY,
    ENV_KEY,
    IAM_KEY,
    OWN_FAILURE_KEY,
    STATE_KEY,
    UNVERIFIED_KEY,
    VERDICT_KEY,
    case_identity,
    deselect_without_targets,
    informational_run,
)
from smokegate.pytest_plugin.late_streams import refuse_late_streams, rescrub_files
from smokegate.pytest_plugin.outputs import prepare_reports
from smokegate.pytest_plugin.redact import (
    ScrubPlugin,
    install_trace_scrubber,
    scrub_debug_file,
    scrubbed_for_debug,
)
from smokegate.pytest_plugin.run import ReportWriteGuard, RunEndRecorder, RunState
from smokegate.pytest_plugin.written_secrets import written_secret_problems
from smokegate.pytest_plugin.xdist import XdistPlan, is_worker
from smokegate.redact import (
    configure_secret_variables,
    escape_control,
    excerpt,
    process_scrubber,
    protect_own_facts,
    register_target_hosts,
    register_userinfo_secrets,
    shown_endpoint,
)
from smokegate.report.provenance import suite_revision, suite_version
from smokegate.severity import Severity
from smokegate.shares import auto_workers
from smokegate.targets import (
    ENV_TARGETS,
    MARKERS,
    TARGET_KINDS,
    all_credentials,
    blank_free_env_names,
    estimated_cases,
    secret_env_names,
    section_severity,
    target_hosts,
)

pytest_plugins = ["smokegate.pytest_plugin.fixtures"]

REASON_CHARS = 2000  # a failure's one-line reason in summary.md and the console block


def _add_options(parser: pytest.Parser) -> None:
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
        type=str.lower,  # `--fail-on High` as the env file's `severity: High` is read
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
    group.addoption(
        "--full-gate",
        dest="smokegate_full_gate",
        action="store_true",
        default=False,
        help="this run is the deploy gate: a partial run (fewer cases than the env defines: "
        "-k, -m, --deselect, --ignore, ...) is NOT EVALUATED and exits non-zero; a mocked "
        "env or an informational option (--collect-only, ...) is a usage error. Also "
        "$SMOKEGATE_FULL_GATE=1. The CI examples use it",
    )
    parser.addini("smokegate_envs_dir", "folder holding <env>.yaml files", default="envs")
    parser.addini("smokegate_checks_dir", "folder holding the checks", default="checks")
    parser.addini(
        "smokegate_max_waiver_days",
        "how far ahead a waiver's expires: may be, in days (default 365)",
        default=str(WAIVER_HORIZON_DAYS),
    )


def _runs_checks(config: pytest.Config) -> bool:
    """True when the collection reaches the checks folder (so an env is required). A
    checks folder or an argument that is no usable path (a NUL in it, a name too long) is a
    usage error, never a traceback; neither is quoted whole."""
    try:
        checks = (config.rootpath / config.getini("smokegate_checks_dir")).resolve()
        checks.is_dir()  # a name no file system takes raises here, not deep in a glob later
    except (OSError, ValueError, RuntimeError) as exc:
        raise pytest.UsageError(
            "smokegate: smokegate_checks_dir = "
            f"'{excerpt(str(config.getini('smokegate_checks_dir')), 80)}' is no usable folder "
            f"({excerpt(type(exc).__name__ + ': ' + str(exc), 120)})"
        ) from None
    for arg in config.args:
        try:
            path = (config.invocation_params.dir / arg.split("::")[0]).resolve()  # cut-ok: path
        except (OSError, ValueError, RuntimeError) as exc:
            raise pytest.UsageError(
                f"smokegate: an argument, '{excerpt(arg, 80)}', is no usable path "
                f"({excerpt(type(exc).__name__, 40)}{': a NUL in it' if chr(0) in arg else ''})"
            ) from None
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


# Every part of smokegate a run registers, and what the gate loses without it. `-p no:<name>`
# (on the command line, in PYTEST_ADDOPTS or addopts) would silently take one away: the
# scrubber (secrets on screen and disk), the run-end recorder (a run stopped by -x judged
# as complete), the waivers, the IAM audit. A run with any of them blocked is refused.
PARTS = {
    "smokegate.pytest_plugin.plugin": "smokegate itself",
    "smokegate.pytest_plugin.fixtures": "the checks' fixtures",
    "smokegate.redact": "the secret scrubber",
    "smokegate.run": "the gate and summary.md",
    "smokegate.run-end": "the run-end recorder (how the run ended: -x, --maxfail, errors)",
    "smokegate.waivers": "the waivers",
    "smokegate.iam": "the IAM audit",
    "smokegate.iam_fixtures": "the IAM audit's fixtures",
    "smokegate.report_html": "the HTML report's gate banner",
    "smokegate.report_junit": "the JUnit suite name",
}


def _blocked_parts(config: pytest.Config) -> list[str]:
    manager = config.pluginmanager
    blocked = [name for name in PARTS if manager.is_blocked(name)]
    registry = getattr(manager, "_name2plugin", {})  # pluggy keeps a blocked name as None
    blocked += [
        name
        for name, plugin in registry.items()
        if plugin is None and name.startswith("smokegate") and name not in blocked
    ]
    return blocked


def _refuse_blocked_parts(config: pytest.Config) -> None:
    blocked = _blocked_parts(config)
    if blocked:
        what = "; ".join(
            f"-p no:{name} disables {PARTS.get(name, 'a part of smokegate')}" for name in blocked
        )
        raise pytest.UsageError(
            f"smokegate: {what}. The gate depends on every part of smokegate and refuses to "
            "run without one: remove it from the command line, PYTEST_ADDOPTS and addopts"
        )


def _refuse_taken_names(config: pytest.Config) -> None:
    """`-p smokegate.redact` registers the module of that name as a plugin, under the name
    smokegate's scrubber is registered with: refused, as any other name of its parts."""
    taken = [
        name
        for name in (*PARTS, "smokegate.console-notes", "smokegate.xdist", "smokegate.coverage")
        if name not in ("smokegate.pytest_plugin.plugin", "smokegate.pytest_plugin.fixtures")
        and config.pluginmanager.get_plugin(name) is not None
    ]
    if taken:
        raise pytest.UsageError(
            f"smokegate: -p {taken[0]}: that name is one of smokegate's own parts, which "
            "smokegate registers itself; remove it from the command line, PYTEST_ADDOPTS and "
            "addopts"
        )


def config_strings(config: Any) -> list[str]:
    """Every text an env file's model holds (names, URLs, hosts, expectations): an env file
    holds no secret (a credential-shaped value is refused at load), so each is the run's own."""
    found: list[str] = []
    stack: list[Any] = [config.model_dump(mode="json")]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def refuse_odd_proxy_urls(proxies: dict[str, str]) -> None:
    """A proxy variable that requests and the TLS checks would read two ways is a usage
    error, before any request: one check would pass through the proxy and the other fail,
    or go elsewhere (`tunnel.proxy_url_problem`)."""
    for scheme, value in proxies.items():
        if scheme == "no":
            continue
        problem = proxy_url_problem(value)
        if problem:
            raise pytest.UsageError(
                f"smokegate: the {scheme} proxy ({scheme.upper()}_PROXY or {scheme}_proxy, "
                f"{excerpt(shown_endpoint(value.strip()), 200)}) {problem}"
            )


def _register(config: pytest.Config, plugin: object, name: str) -> None:
    """Register one of smokegate's parts; one that cannot be (blocked) stops the run."""
    if config.pluginmanager.get_plugin(name) is not None:
        _refuse_taken_names(config)
    if config.pluginmanager.register(plugin, name) is None:
        _refuse_blocked_parts(config)
        raise pytest.UsageError(f"smokegate: {name} could not be registered")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    install_trace_scrubber(pluginmanager)  # PYTEST_DEBUG tracing, from here on
    install_usage_error_scrubber(pluginmanager)  # pytest's own argument errors, from here on
    _add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before anything runs (xdist's -f loop starts here, before pytest_configure): a run of
    the checks with an option it cannot be judged with is refused (`guard`)."""
    refuse_informational_full_gate(config, informational_run(config))
    refuse_smokegate_overrides(config)
    if _runs_checks(config) and not _describes_only(config):
        refuse_unsafe_options(config)
    else:
        refuse_unsafe_paths(config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    install_trace_scrubber(config.pluginmanager)
    envs_dir = config.rootpath / config.getini("smokegate_envs_dir")
    runs_checks = _runs_checks(config)
    # $SMOKEGATE_ENV is for runs of the checks: a pipeline that exports it and also runs the
    # suite's own tests must not have them rewrite that env's reports.
    name = config.option.smokegate_env or (os.environ.get("SMOKEGATE_ENV") if runs_checks else None)
    named_by = "" if config.option.smokegate_env else "SMOKEGATE_ENV"
    if not name:
        if runs_checks and not _describes_only(config):
            known = excerpt(", ".join(available_envs(envs_dir)), 2000) or "none found"
            raise pytest.UsageError(
                "smokegate: no env given. Run `pytest checks/ --env NAME` (or set SMOKEGATE_ENV). "
                f"Known envs in {envs_dir.name}/: {known}"
            )
        return
    _refuse_blocked_parts(config)
    _refuse_taken_names(config)
    refuse_smokegate_overrides(config)  # again: an xdist worker has no pytest_cmdline_main
    try:
        env = load_env(
            name,
            envs_dir,
            config.rootpath,
            named_by=named_by,
            waiver_horizon_days=waiver_horizon(config),
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"smokegate: {exc}") from None
    refuse_for_full_gate(config, env, informational_run(config))
    if not informational_run(config):
        refuse_late_streams(config)
    # The scrubber first, so nothing of this run is reported before it knows the secrets:
    # rules and gatherers quote server text through it long before any report exists.
    configure_secret_variables(
        secret_env_names(env.config), blank_free=blank_free_env_names(env.config)
    )
    written = written_secret_problems(env.config, os.environ)
    if written:  # said before anything is sent or printed: the place and variable only
        raise pytest.UsageError(
            f"smokegate: {env.shown}: {'; '.join(written)}: a credential goes in a "
            "credentials: block (or token_env:), never in a URL, a host, a name or any "
            "other text of the env file, which is sent and quoted in every report"
        )
    register_target_hosts(target_hosts(env.config))
    scrubber = process_scrubber()
    register_known_secrets(all_credentials(env.config))  # Basic encodings, before any request
    proxies = urllib.request.getproxies()
    proxy_problems = register_userinfo_secrets(proxies.values())  # first: the refusal shows it
    refuse_odd_proxy_urls(proxies)
    if proxy_problems:  # Proxy-Authorization that a proxy's answer could quote unmasked
        raise pytest.UsageError(
            f"smokegate: {'; '.join(proxy_problems)}: set a longer one in the proxy variable "
            "(HTTP_PROXY, HTTPS_PROXY, ALL_PROXY)"
        )
    refuse_printed_secrets(config, scrubber)  # before pytest prints any of them
    _register(config, ScrubPlugin(config, scrubber), "smokegate.redact")
    scrub_debug_file(config)
    # and once more at the very end, with the secrets learnt meanwhile (late_streams); by
    # the controller only, which ends last: a worker replacing the log file under the
    # controller's open handle would lose the lines written after
    if not is_worker(config):
        config.add_cleanup(lambda: rescrub_files(config, scrubbed_for_debug))
    shard = shards.shard_of(config)
    reports_dir = _reports_dir(config, env)
    if shard is not None:
        reports_dir = reports_dir.with_name(f"{env.name}-{shard.suffix}")
    _refuse_symlinked(reports_dir, "the env's reports folder")
    protect_own_facts(
        [env.name, str(env.path), env.shown, str(reports_dir), *config_strings(env.config)]
        + [str(reports_dir / name) for name in ("report.html", "junit.xml", "summary.md")]
    )
    state = RunState(config, env, reports_dir)
    _reject_unknown_waiver_checks(config, env)
    config.stash[ENV_KEY] = env
    config.stash[STATE_KEY] = state
    _register(config, state, "smokegate.run")
    _register(config, RunEndRecorder(state), "smokegate.run-end")
    _register(config, ReportWriteGuard(state), "smokegate.report-writes")
    _register(config, RepeatedFacts(config), "smokegate.console-notes")
    _register(config, state.waivers, "smokegate.waivers")
    iam_plugin = iam.register(config, env)
    state.full_gate = full_gate(config)
    # said by the controller's reports only: a worker writes none, and asking botocore for
    # the audit's endpoints costs each process about half a second
    state.static_notices = [] if is_worker(config) else run_notices(env)
    if not informational_run(config):
        # before the shard's plugins (and so before pytest-split's splitter): a shard counts
        # what it collected before the split (see coverage)
        state.coverage = CoveragePlugin(config, env, iam_plugin, shard=shard is not None)
        _register(config, state.coverage, "smokegate.coverage")
    if shard is not None:
        # now, before pytest-split's own pytest_configure registers its splitter: see
        # shards.HoldBackIam for why the order matters
        shards.register(config, iam_plugin.drop)
    if not is_worker(config):
        _register(config, XdistPlan(config), "smokegate.xdist")
    if not informational_run(config):
        prepare_reports(config, state.reports_dir)
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
    _register(config, junit, "smokegate.report_junit")


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


def _describes_only(config: pytest.Config) -> bool:
    """--help, --version and --markers describe pytest and smokegate, not an env: they
    need none."""
    option = config.option
    return bool(
        getattr(option, "help", False)
        or getattr(option, "version", False)
        or getattr(option, "markers", False)
    )


def _reports_dir(config: pytest.Config, env: LoadedEnv) -> Path:
    """reports/<env>/ (or --reports-dir/<env>/): one folder inside the reports root, whatever
    the env file is called (`...yaml` has the stem `..`)."""
    root = Path(config.option.smokegate_reports_dir or config.rootpath / "reports")
    problem = env_name_problem(env.name)  # load_env refused these already: the one rule
    if problem:
        raise pytest.UsageError(
            f"smokegate: {excerpt(env.shown, 200)}: an env file named "
            f"'{shown_file_name(env.path.name)}' {problem} inside "
            f"{excerpt(str(root), 500)}: rename the file (letters, digits, '-', '_', '.')"
        )
    if not config.option.smokegate_reports_dir:
        _refuse_symlinked(root, "the reports root (reports/)")
    return root / env.name


def _refuse_symlinked(folder: Path, what: str) -> None:
    """A reports folder that is a symlink (one committed with `git add -f`, say) would have
    the run delete and write report.html, junit.xml and summary.md wherever it points. The
    env's folder is always checked; the root only when it is the default reports/: a
    --reports-dir the user names is taken as given, symlink or not."""
    if folder.is_symlink():
        raise pytest.UsageError(
            f"smokegate: {what}, {excerpt(str(folder), 500)}, is a symlink: the run would "
            "delete and write its reports where it points. Remove the link, or name the real "
            "folder with --reports-dir"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()
    helps = bool(getattr(config.option, "help", False))  # parses no path: config.args is []
    if _describes_only(config) and (helps or _runs_checks(config)) and not is_worker(config):
        # --help and --markers end before any session, and so before the smokegate block:
        # say as the other informational runs do that nothing was judged
        flag = "--help" if helps else "--markers"
        print(f"smokegate: gate NOT EVALUATED: {flag} lists, it runs no check")


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
            # pytest writes ids in its own console lines, which smokegate does not scrub: a
            # name or host holding a secret is shown masked there as in the reports (48a F2)
            ids = [iam.shown_label(kind.case_id(v)) for v in values]
            metafunc.parametrize(kind.fixture, values, ids=ids)


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
    # a location is one line: an ARN from a credential report is an endpoint's text, and a
    # line break in it printed a verdict block of its own under the failure (round 16)
    # and masked as the case id is, pieces of a secret too (round 50a F3: the id masked a
    # piece of the token in a URL's path, the location beside it quoted it whole)
    location = iam.shown_label(escape_control(location or where, one_line=True))
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
        items[:] = kept  # cut-ok: pytest's item list
        deselect_without_targets(config, dropped)


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
            f"smokegate: {env.shown}: waivers[{index}].check: unknown check "
            f"'{excerpt(waiver.check, 100)}'"
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
    text = crash.message if crash is not None else report.longreprtext
    # scrubbed whole before its first line is taken: a secret spanning lines is never halved
    line = excerpt(text, REASON_CHARS, first_line=True)
    if crash is not None:
        return f"{report.when} error: {line}"
    return line or f"{report.when} failed"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    case = item.stash.get(CASE_KEY, None)
    if case is not None and call.when == "teardown":
        # Captured-stdout text is what GitLab, GitHub reporters and Jenkins all show per case.
        item.add_report_section("call", "stdout", case_facts(case))
    report = yield
    # round 25b: a check that returned without calling `enforce` (a new check that forgot
    # it, a conftest that replaced it) passed: it verified nothing
    unjudged = report.when == "call" and report.passed and VERDICT_KEY not in item.stash
    if case is not None and unjudged:
        report.outcome = "failed"
        report.longrepr = (
            f"{case.check} {case.target}: the check returned without a verdict (it never "
            "called enforce), so nothing was verified"
        )
    if case is not None and case.kind == "iam" and not case.aws_routes:
        plugin = item.config.stash.get(IAM_KEY, None)
        routes = plugin.routes_text() if plugin is not None else ""
        if routes:
            case = replace(case, aws_routes=routes)
    if case is not None:
        facts = case.to_dict()
        report.smokegate = facts
        if report.failed:
            report.smokegate["message"] = _failure_reason(item, report)
            if report.when == "call" and item.stash.get(OWN_FAILURE_KEY, False):
                report.smokegate["own_text"] = "yes"  # see ScrubPlugin.scrub_report
            verdict = item.stash.get(VERDICT_KEY, None)
            found_by_rule = report.when == "call" and verdict is not None and not verdict.passed
            if not (found_by_rule and verdict.verified):
                report.smokegate["unverified"] = "yes"
                item.stash[UNVERIFIED_KEY] = True
        if report.when == "teardown":
            # JUnit writes the teardown's properties: what `python -m smokegate.merge` reads
            report.user_properties = [
                *report.user_properties,
                # aws_routes is the controller's carrier of where the audit went, said in
                # the notices (masked there); raw, a CA bundle path held a piece of a
                # secret (round 46a F2)
                *((k, v) for k, v in facts.items() if v and k != "aws_routes"),
                *_outcome_properties(item),
            ]
    return report


def _outcome_properties(item: pytest.Item) -> list[tuple[str, str]]:
    """What the merge of a sharded run needs beyond the JUnit outcome: whether a failure
    verified nothing, and the one-line reason summary.md shows (already folded by this
    process's `RunState` when the teardown is reported)."""
    properties = [("case", shards.merge_key(item))] if shards.shard_of(item.config) else []
    if item.stash.get(UNVERIFIED_KEY, False):
        properties.append(("unverified", "yes"))
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
    metadata["Env file"] = env.shown  # the file loaded, relative to the project when inside
    metadata["Suite version"] = suite_version()
    metadata["Suite git sha"] = suite_revision(config.rootpath)
    metadata["Fail on"] = config.option.smokegate_fail_on
    if env.mock_dir is not None:
        metadata["Mocked world"] = str(env.mock_dir)
