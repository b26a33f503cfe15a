"""What a run of the checks refuses before anything runs, what pytest's own usage errors
may print, and the facts about where the answers come from that every report states.

Refused (a usage error, exit 4), for runs of the checks only (the suite's own tests are
free to use any of them):

- options that stop checks from really running: `--trace` and `--pdb` hand each check to a
  debugger prompt; with stdin closed, as in CI, the debugger quits at once and the check
  returns without judging its target, which reads as a pass; `--pdbcls` names another
  debugger for the same prompts; xdist's `-f/--looponfail` waits for file changes
  forever. A gate run is judged unattended: debug a rule through its unit test;
- pytest-html's `--css`: the file is put into report.html as it is (`/proc/self/environ`
  would put the environment in the report; `</style><script>` runs in it);
- `@FILE` arguments: pytest reads them from a file and echoes them in its errors ("file or
  directory not found: <the file's contents>"); a gate takes its arguments as given;
- `-p no:metadata` (pytest-html needs pytest-metadata; it crashes without it), `-p no:python`
  (nothing could collect the checks), a report folder or path holding control or invisible
  formatting characters (C0, C1, bidi; pytest prints it raw), and pytest's ini option that
  prints test ids unescaped (an id holds a target's or an IAM user's name);
- under the full gate, `-o smokegate_*=...`: the env files and the checks come from the
  folders the project's ini file names;
- ini values smokegate reads that it cannot use (a waiver horizon of millions of days, a
  checks folder whose name is no path).

pytest prints its usage errors itself, after smokegate's hooks ran or before they could
(an unknown option, an invalid choice, `-k` that does not parse, a path that does not
exist). `install_usage_error_scrubber` makes that printer mask every secret smokegate knows
(the env's, reading the env file named on the command line if the run did not get that
far, the AWS ones, every variable named like a credential) and escape control characters.
When the arguments came from an `@FILE`, pytest's message is not repeated at all.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tomllib
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import iniconfig
import pytest

from smokegate.config import IamConfig, LoadedEnv, load_env
from smokegate.facts.iam import AuditRoute
from smokegate.gather.local_limits import open_file_limit_problem
from smokegate.pytest_plugin.early_guard import fifo_problem, terminal_control_problem
from smokegate.pytest_plugin.shards import durations_problem
from smokegate.redact import (
    Scrubber,
    excerpt,
    process_scrubber,
    secret_variables,
    shown_endpoint,
)
from smokegate.targets import blank_free_env_names, cleartext_credentials, secret_env_names

FULL_GATE_VAR = "SMOKEGATE_FULL_GATE"
MAX_WAIVER_DAYS = 36_500  # a century: past that a waiver horizon is a typo

_DEBUGGERS = (
    ("trace", "--trace"),
    ("usepdb", "--pdb"),
    ("usepdb_cls", "--pdbcls"),
    ("looponfail", "-f/--looponfail"),
)
# pytest's own opt-out of escaping non-ASCII and control characters in test ids.
_RAW_IDS = "disable_test_id_escaping_and_forfeit_all_rights_to_community_support"


def full_gate(config: pytest.Config) -> bool:
    """--full-gate, or SMOKEGATE_FULL_GATE set to 1/true/yes/on. `--full-gate` is also
    looked for among the raw arguments: a `--help` before it (PYTEST_ADDOPTS and the ini's
    addopts come first) stops pytest's parsing, and the option is then never set."""
    if getattr(config.option, "smokegate_full_gate", False):
        return True
    if os.environ.get(FULL_GATE_VAR, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return "--full-gate" in raw_arguments(config)


def raw_arguments(config: pytest.Config) -> list[str]:
    """The arguments as given, before pytest expands `@FILE`s: the command line,
    PYTEST_ADDOPTS and the ini file's addopts."""
    args = [str(a) for a in config.invocation_params.args]
    with contextlib.suppress(ValueError):
        args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    with contextlib.suppress(ValueError, KeyError):
        args += [str(a) for a in config.getini("addopts")]
    return args


def argument_files(config: pytest.Config) -> list[str]:
    return [arg for arg in raw_arguments(config) if arg.startswith("@")]


def refuse_unsafe_options(config: pytest.Config) -> None:
    """The usage error for a run of the checks with an option it cannot be judged with."""
    option = config.option
    problems: list[str] = []
    debuggers = [flag for dest, flag in _DEBUGGERS if getattr(option, dest, None)]
    if debuggers:
        problems.append(
            f"{', '.join(debuggers)} hands the checks to a debugger or a loop: with stdin "
            "closed (CI) a debugger quits at once and each check returns without judging "
            "its target, which reads as a pass. A gate run is judged unattended: debug a "
            "rule through its unit test"
        )
    if getattr(option, "css", None):
        problems.append(
            "--css puts a file into report.html as it is (a script, or /proc/self/environ, "
            "would be in the report): report.html has smokegate's own stylesheet"
        )
    files = argument_files(config)
    if files:
        problems.append(
            f"{excerpt(files[0], 80)}: pytest reads arguments from a file and repeats them in "
            "its errors (a token file's contents would be on screen): give the arguments "
            "themselves"
        )
    if config.pluginmanager.is_blocked("metadata") and config.pluginmanager.hasplugin("html"):
        problems.append(
            "-p no:metadata disables pytest-metadata, which the HTML report needs "
            "(its environment table)"
        )
    if config.pluginmanager.is_blocked("python"):
        problems.append(
            "-p no:python disables pytest's python plugin, which collects the checks (the "
            "test functions of checks/): none of them would run"
        )
    if config.pluginmanager.is_blocked("skipping"):
        problems.append(
            "-p no:skipping disables pytest's skip and xfail marks, which a check of an empty "
            "section and a waived case are reported with: the checks would not collect"
        )
    if ini_flag(config, _RAW_IDS):
        problems.append(
            f"-o {_RAW_IDS} prints test ids raw: an id is a target's or an IAM user's name, "
            "which an env file or an AWS endpoint could fill with terminal control that erases "
            "the verdict and prints another"
        )
    durations = durations_problem(config)
    if durations:
        problems.append(durations)
    files = open_file_limit_problem()
    if files:
        problems.append(files)
    _refuse(problems + unsafe_paths(config))


def refuse_unsafe_paths(config: pytest.Config) -> None:
    """For any run, the checks' or not: see `unsafe_paths`."""
    _refuse(unsafe_paths(config))


def _refuse(problems: list[str]) -> None:
    if problems:
        raise pytest.UsageError("smokegate: " + "\nsmokegate: ".join(problems))


# Texts of logging's options that pytest writes to the terminal around every log line, or
# prints as a path (round 14: an ESC in `--log-format` or the `--debug` path, printed after
# smokegate's block, could erase it and print a verdict of its own).
_LOG_TEXTS = (
    "log_file",
    "log_format",
    "log_date_format",
    "log_cli_format",
    "log_cli_date_format",
    "log_file_format",
    "log_file_date_format",
)


def _option_or_ini(config: pytest.Config, name: str) -> Any:
    value = getattr(config.option, name, None)
    if value is None:
        try:
            value = config.getini(name)
        except ValueError:
            return None
    return value


def unsafe_paths(config: pytest.Config) -> list[str]:
    """Paths pytest prints raw (its header's root and ini file, the junit line, the report
    folder) that hold terminal control: a `--rootdir` from PYTEST_ADDOPTS would otherwise
    erase lines and print a verdict of its own, whether or not the run is of the checks."""
    option = config.option
    problems = []
    for what, value in (
        ("--reports-dir", getattr(option, "smokegate_reports_dir", None)),
        ("--html", getattr(option, "htmlpath", None)),
        ("--junitxml", getattr(option, "xmlpath", None)),
        ("--rootdir", getattr(option, "rootdir", None)),
        ("-c/--config-file", getattr(option, "inifilename", None)),
        ("--debug", getattr(option, "debug", None)),  # "wrote pytest debug information to"
        *((f"--{name.replace('_', '-')}", _option_or_ini(config, name)) for name in _LOG_TEXTS),
    ):
        problem = terminal_control_problem(what, value)
        if problem:
            problems.append(problem)
    # opened by pytest's logging plugin when it configures, after smokegate (trylast)
    fifo = fifo_problem("--log-file", _option_or_ini(config, "log_file"))
    if fifo:
        problems.append(fifo)
    # round 25a: pytest-metadata copies a JSON file whole into report.html's environment
    # table and the -v header (a runner's .credentials_rsaparams, a docker config.json), and
    # reads it at configure: a FIFO hung the run, /dev/zero took gigabytes, bad JSON was an
    # INTERNALERROR. `--metadata KEY VALUE` says the same, one value at a time.
    for flag, dest in (
        ("--metadata-from-json-file", "metadata_from_json_file"),
        ("--metadata-from-json", "metadata_from_json"),
    ):
        if getattr(option, dest, None) not in (None, "", "{}"):  # "{}": the option's default
            problems.append(
                f"{flag} copies a file's or a variable's JSON, unchecked, into report.html "
                "and the console header (a credentials file would be in the report): give "
                "each value with --metadata KEY VALUE"
            )
    return problems


def refuse_printed_secrets(config: pytest.Config, scrubber: Scrubber) -> None:
    _refuse(printed_option_secrets(config, scrubber))


def printed_option_secrets(config: pytest.Config, scrubber: Scrubber) -> list[str]:
    """Options whose values pytest or a plugin prints or writes as they are (paths of the
    reports and the debug file, log formats around every log line, the JUnit prefix in
    every classname, `--metadata` keys in the console header) and that hold a known secret
    or a piece of one: GitLab expands `$CI_JOB_TOKEN` inside PYTEST_ADDOPTS, and each was
    shown whole (round 28a). Named, never quoted."""
    option = config.option
    printed: list[tuple[str, Any]] = [
        ("--reports-dir", getattr(option, "smokegate_reports_dir", None)),
        ("--html", getattr(option, "htmlpath", None)),
        ("--junitxml", getattr(option, "xmlpath", None)),
        ("--junit-prefix", getattr(option, "junitprefix", None)),
        ("--rootdir", getattr(option, "rootdir", None)),
        ("-c/--config-file", getattr(option, "inifilename", None)),
        ("--debug", getattr(option, "debug", None)),
        *((f"--{name.replace('_', '-')}", _option_or_ini(config, name)) for name in _LOG_TEXTS),
    ]
    for pair in getattr(option, "metadata", None) or ():
        if isinstance(pair, list | tuple) and pair:
            printed.append(("a --metadata key", pair[0]))
    holding = []
    for what, value in printed:
        text = value if isinstance(value, str) else ""
        leaks = bool(text) and (scrubber.leaks(text) or scrubber.mask_fragments(text) != text)
        if leaks and what not in holding:
            holding.append(what)
    if not holding:
        return []
    return [
        f"{', '.join(holding)} hold(s) a secret of this run (a credential variable's value, "
        "or a piece of one), which pytest prints or writes as it is: keep secrets out of "
        "command-line options and PYTEST_ADDOPTS"
    ]


def ini_flag(config: pytest.Config, name: str) -> bool:
    """An ini option's value as a flag; False when the plugin that registers it is not
    loaded (`-p no:python` takes `_RAW_IDS` away: getini then raises)."""
    try:
        return bool(config.getini(name))
    except (ValueError, KeyError):
        return False


def waiver_horizon(config: pytest.Config) -> int:
    value = str(config.getini("smokegate_max_waiver_days")).strip()
    if not value.isdigit() or len(value) > 6 or int(value) > MAX_WAIVER_DAYS:
        raise pytest.UsageError(
            f"smokegate: smokegate_max_waiver_days = '{excerpt(value, 40)}' in the ini file "
            f"(or -o): a number of days, at most {MAX_WAIVER_DAYS}"
        )
    return int(value)


def refuse_informational_full_gate(config: pytest.Config, informational: str) -> None:
    """A run that judges nothing (`--help`, `--version`, `--collect-only`, ...) under
    --full-gate is refused before anything else looks at the arguments: pytest stops
    parsing at `--help`, so such a run may know neither its env nor its checks folder."""
    if informational and full_gate(config):
        raise pytest.UsageError(
            f"smokegate: --full-gate (or {FULL_GATE_VAR}) runs the whole gate, and {informational}"
        )


_OVERRIDE_FLAGS = ("-o", "--override-ini")


def ini_overrides(config: pytest.Config) -> list[str]:
    """Every `-o NAME=VALUE` of the run: as pytest parsed them, and as the raw arguments
    (command line, PYTEST_ADDOPTS, addopts) give them, in each of argparse's spellings."""
    found = [str(v) for v in getattr(config.option, "override_ini", None) or ()]
    args = raw_arguments(config)
    for index, arg in enumerate(args):
        if arg in _OVERRIDE_FLAGS and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--override-ini="):
            found.append(arg.removeprefix("--override-ini="))
        elif arg.startswith("-o") and not arg.startswith("--"):
            found.append(arg[2:].removeprefix("="))  # cut-ok: `-oNAME=VALUE`
    return found


def refuse_smokegate_overrides(config: pytest.Config) -> None:
    """--full-gate: what `env_choice_problem` and `override_problem` find is a usage error."""
    if not full_gate(config):
        return
    # the env's choice first: before the env named through PYTEST_ADDOPTS is even loaded
    problem = env_choice_problem(config) or override_problem(config)
    if problem:
        raise pytest.UsageError(problem)


def override_problem(config: pytest.Config) -> str:
    """--full-gate: smokegate's own ini options (where the env files and the checks are,
    the waiver horizon) come from the project's ini file only. `-o smokegate_envs_dir=DIR`
    in a PYTEST_ADDOPTS would load another `prod.yaml`, and `-o smokegate_checks_dir=DIR` (a
    crafted copy of checks/) would hide a deselected case from the partial-run count: either
    makes a failing gate pass. '' when nothing does."""
    names = sorted(
        {
            name
            for value in ini_overrides(config)
            # cut-ok: an ini option's name, quoted through excerpt below
            if (name := value.partition("=")[0].strip()).lower().startswith("smokegate_")
        }
    )
    if names:
        shown = ", ".join(f"-o {excerpt(name, 60)}=..." for name in names)
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): {shown} overrides smokegate's own "
            "ini option: the gate reads its env files and checks from the folders the project's "
            "ini file names, never from a folder an option (PYTEST_ADDOPTS) points at. Remove it "
            "from the command line, PYTEST_ADDOPTS and addopts"
        )
    # Another ini file (or another root, where pytest looks for one) names other folders the
    # same way: `-c /tmp/x/pytest.ini` with its own smokegate_envs_dir would load its prod.yaml.
    chosen = [
        flag
        for flag, dest in (("-c/--config-file", "inifilename"), ("--rootdir", "rootdir"))
        if getattr(config.option, dest, None)
    ]
    if chosen:
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): {' and '.join(chosen)} chooses "
            "another ini file or root than the project's, where smokegate's own ini options "
            "(the env files' and the checks' folders) could name other folders. Run the gate "
            "from the project's folder without it"
        )
    started_in = Path(config.invocation_params.dir).resolve()
    ini = config.inipath.resolve() if config.inipath else None
    if config.rootpath.resolve() != started_in or (ini is not None and ini.parent != started_in):
        # A path argument outside the project (PYTEST_ADDOPTS='/tmp') moves pytest's root
        # and ini search to a common parent, whose pytest.ini could name other folders.
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): pytest's root "
            f"({excerpt(str(config.rootpath), 200)}) or ini file is not the folder the gate "
            "started in: a path argument outside the project (PYTEST_ADDOPTS) moves them to a "
            "common parent, whose ini file could name other env and checks folders. Run the "
            "gate from the project's folder with paths inside it"
        )
    outside = _paths_outside_checks(config)
    if outside:
        # The full gate runs the checks folder, nothing else: another folder's tests would be
        # counted in, and pytest has loaded its conftest.py (code we cannot undo: docs).
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): '{excerpt(outside[0], 200)}' is "
            "not in the checks folder: the full gate runs the checks and nothing else, and "
            "pytest loads the conftest.py of every folder it is given. Give only the checks "
            "folder (the CI examples: pytest checks/)"
        )
    return ""


def _paths_outside_checks(config: pytest.Config) -> list[str]:
    """The path arguments (command line and PYTEST_ADDOPTS) that are not in the checks
    folder; a node id (`checks/test_x.py::test_y`) counts by its file."""
    try:
        checks = (config.rootpath / str(config.getini("smokegate_checks_dir"))).resolve()
    except (ValueError, OSError):
        return []
    started_in = Path(config.invocation_params.dir)
    outside = []
    for arg in getattr(config, "args", None) or []:
        path = (started_in / str(arg).split("::")[0]).resolve()  # cut-ok: a node id's file
        if path != checks and checks not in path.parents:
            outside.append(str(arg))
    return outside


def refuse_for_full_gate(config: pytest.Config, env: LoadedEnv, informational: str) -> None:
    """--full-gate: the run must be the deploy gate itself."""
    if not full_gate(config):
        return
    if informational:
        raise pytest.UsageError(
            f"smokegate: --full-gate (or {FULL_GATE_VAR}) runs the whole gate, and {informational}"
        )
    problem = full_gate_problem(config, env)
    if problem:
        raise pytest.UsageError(problem)


def full_gate_problem(config: pytest.Config, env: LoadedEnv) -> str:
    """Why this run is not the deploy gate `--full-gate` asks for ('' when it is), whether
    or not it was asked: a shard job runs without the flag, and records this for the
    merge's --full-gate to judge (round 42b F3: `-c other.ini` in PYTEST_ADDOPTS lowered a
    sharded gate through the other file's --fail-on)."""
    chosen = env_choice_problem(config)
    if chosen:
        return chosen
    if env.mock_dir is not None:
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): {env.shown} has mock: "
            f"{excerpt(str(env.config.mock), 200)}: a mocked world answers instead of the "
            "real targets, so no real target would be checked"
        )
    if _given_through_addopts("--fail-on"):
        # round 25b: `PYTEST_ADDOPTS=--fail-on critical` lowered a gate that relied on the
        # default threshold, unseen in the job's own command line
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): --fail-on is given through "
            "PYTEST_ADDOPTS, a variable that would lower the deploy gate's threshold "
            "unseen: write --fail-on on the gate job's own command line"
        )
    # round 37b: `PYTEST_ADDOPTS='-o addopts=--fail-on=critical'` (an override of the ini's
    # addopts, in any of argparse's spellings) lowered it too: the threshold in force must be
    # the one the job's own command line and the project's ini file say
    said = fail_on_said(config)
    if config.option.smokegate_fail_on != said:
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): the run's --fail-on is "
            f"{config.option.smokegate_fail_on}, while the gate job's own command line and "
            f"the project's ini file say {said}: it came from PYTEST_ADDOPTS or an override "
            "of addopts (-o addopts=...), which would lower the deploy gate's threshold "
            "unseen: write --fail-on on the gate job's own command line"
        )
    return override_problem(config)


def _given_through_addopts(option: str) -> bool:
    """Whether PYTEST_ADDOPTS (a CI variable anyone with a pipeline's settings may set)
    gives the option, in either of argparse's spellings; False when it does not parse
    (pytest says so itself)."""
    with contextlib.suppress(ValueError):
        added = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
        return any(a == option or a.startswith(f"{option}=") for a in added)
    return False


def env_choice_problem(config: pytest.Config) -> str:
    """--full-gate: the env judged is the one the gate job's own command line, the project's
    ini file or SMOKEGATE_ENV names. `PYTEST_ADDOPTS='--env staging'` (a CI variable) made
    `SMOKEGATE_ENV=prod pytest checks/ --full-gate` judge staging and pass, its reports under
    reports/staging/ (round 43b F2); `-o addopts=--env=...` would do the same through the
    ini's addopts. '' when the env is the one they name."""
    if _given_through_addopts("--env"):
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): --env is given through "
            "PYTEST_ADDOPTS, a variable that would have the deploy gate judge another env "
            "file than its job names, unseen: write --env on the gate job's own command "
            "line (or set SMOKEGATE_ENV)"
        )
    said = _env_said(config)
    given = getattr(config.option, "smokegate_env", None) or None
    if given != said:
        named, chosen = (f"'{excerpt(n, 200)}'" if n else "none" for n in (said, given))
        return (
            f"smokegate: --full-gate (or {FULL_GATE_VAR}): the run's --env is {chosen}, while "
            f"the gate job's own command line and the project's ini file say {named}: an "
            "override of addopts (-o addopts=...) changed it, which would have the deploy gate "
            "judge another env file, unseen: write --env on the gate job's own command line"
        )
    return ""


def _env_said(config: pytest.Config) -> str | None:
    """The --env of the ini file's own addopts and then the job's own command line, the
    last one winning as in pytest; None when neither gives one (SMOKEGATE_ENV then)."""
    said = None
    args = [*_ini_file_addopts(config), *(str(a) for a in config.invocation_params.args)]
    for index, arg in enumerate(args):
        if arg == "--env" and index + 1 < len(args):
            said = args[index + 1]
        elif arg.startswith("--env="):
            said = arg.removeprefix("--env=")
    return said or None


def fail_on_said(config: pytest.Config) -> str:
    """The --fail-on of the ini file's own addopts (as the file holds it, before any `-o`)
    and then the job's own command line, the last one winning as in pytest; the default
    when neither gives one."""
    said = "low"
    args = [*_ini_file_addopts(config), *(str(a) for a in config.invocation_params.args)]
    for index, arg in enumerate(args):
        if arg == "--fail-on" and index + 1 < len(args):
            said = args[index + 1].lower()
        elif arg.startswith("--fail-on="):
            said = arg.removeprefix("--fail-on=").lower()
    return said


def _ini_file_addopts(config: pytest.Config) -> list[str]:
    """`addopts` as the project's ini file holds it: pytest's own reading is overridden by
    `-o addopts=...` wherever that came from."""
    path = config.inipath
    if path is None:
        return []
    try:
        if path.suffix == ".toml":
            with path.open("rb") as handle:
                tool = tomllib.load(handle).get("tool", {}).get("pytest", {})
            value = tool.get("ini_options", {}).get("addopts", tool.get("addopts", ""))
        else:
            ini = iniconfig.IniConfig(str(path))
            section = "pytest" if "pytest" in ini else "tool:pytest"
            value = ini.get(section, "addopts", "") if section in ini else ""
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    except (OSError, ValueError, AttributeError, iniconfig.ParseError, tomllib.TOMLDecodeError):
        return []


# -- pytest's own usage errors ---------------------------------------------------------------

_current: dict[str, pytest.Config] = {}


def _env_named(args: list[str]) -> str | None:
    name = None
    for index, arg in enumerate(args):
        if arg == "--env" and index + 1 < len(args):
            name = args[index + 1]
        elif arg.startswith("--env="):
            name = arg.removeprefix("--env=")
    return name or os.environ.get("SMOKEGATE_ENV") or None


def _scrubber_for(config: pytest.Config | None) -> Scrubber:
    """The run's scrubber; before the env was loaded, one that knows the env file's
    variables too (read here, from the `--env` of the arguments)."""
    if secret_variables() or config is None:
        return process_scrubber()
    try:
        name = _env_named(raw_arguments(config))
        if name:
            envs_dir = config.rootpath / str(config.getini("smokegate_envs_dir"))
            env = load_env(name, envs_dir, config.rootpath)
            names, free = secret_env_names(env.config), blank_free_env_names(env.config)
            return Scrubber(names, blank_free=free)
    except Exception:  # the env's own problem is reported where it is loaded
        pass
    return process_scrubber()


def clean_usage_error(message: str, config: pytest.Config | None) -> str:
    """A usage error as it may be printed: secrets masked, no control character; when the
    arguments came from an @FILE, pytest's own message is not repeated."""
    if config is not None and not message.startswith("smokegate:"):
        files = argument_files(config)
        if files:
            return (
                f"pytest refused its arguments, which include {excerpt(files[0], 80)} "
                "(arguments read from a file): its message is not shown, since it would "
                "repeat what the file holds. Give the arguments themselves"
            )
    return excerpt(message, 20_000, one_line=False, scrubber=_scrubber_for(config))


def install_usage_error_scrubber(manager: pytest.PytestPluginManager) -> None:
    """Wrap pytest's printer of usage errors (`_pytest.config.print_usage_error`, called
    by `pytest.main` for every UsageError: argument parsing, collection, smokegate's own)."""
    import _pytest.config as pytest_config

    config = manager.get_plugin("pytestconfig")
    if config is not None:
        _current["config"] = config
    original = getattr(pytest_config, "print_usage_error", None)
    if original is None or getattr(original, "smokegate", False):
        return

    def print_usage_error(error: pytest.UsageError, file: Any) -> None:
        try:
            messages = [clean_usage_error(str(m), _current.get("config")) for m in error.args]
        except Exception:  # never lose the error itself to a problem of the cleaning
            messages = ["pytest reported a usage error smokegate could not show safely"]
        original(pytest.UsageError(*messages), file)

    print_usage_error.smokegate = True  # type: ignore[attr-defined]
    pytest_config.print_usage_error = print_usage_error


# -- where the answers come from -------------------------------------------------------------


def run_notices(env: LoadedEnv) -> list[str]:
    """What every report says beside the verdict about where the answers came from."""
    if env.mock_dir is not None:
        return [
            f"Mocked: no real target was contacted: the mocked world "
            f"{excerpt(_shown_path(env.mock_dir, env.root), 200)} (mock: in {env.shown}) "
            "stands in for every target; a URL it does not list fails as not mocked"
        ]
    notices: list[str] = []
    has_http = bool(env.config.endpoints or env.config.auth)
    has_tls = bool(env.config.tls)
    # the IAM audit's https requests take the https proxy too (botocore reads the same
    # variables): an IAM-only env named no proxy, and one answered the audit (round 44b F2)
    has_iam = env.config.iam is not None
    ca_bundles = aws_ca_bundles(env.config.iam) if env.config.iam is not None else []
    proxies = urllib.request.getproxies()
    for scheme in ("http", "https", "all"):
        tunnelled = scheme != "http"
        parts = [
            "requests" if has_http or (has_tls and tunnelled) else "",
            "TLS checks" if has_tls and tunnelled else "",  # their tunnel, as HTTPS's
            "the IAM audit" if has_iam and tunnelled else "",
        ]
        through = " and ".join(part for part in parts if part)
        if through and proxies.get(scheme):
            # what the proxy sees: an http:// request whole, its credentials too; an
            # https:// one only as a tunnel's host and port (round 21c: "credentials
            # included" read as "the proxy URL holds credentials"), unless the audit trusts
            # a CA bundle of the proxy's
            tunnel = "in CONNECT tunnels: it sees hosts and ports, not the requests"
            if ca_bundles:
                tunnel += ", unless it holds a key of a CA bundle the IAM audit trusts"
            sees = {
                "http": "it sees each request whole, its credentials too",
                "https": tunnel,
            }.get(scheme, "it sees http:// requests whole, https:// ones as tunnels")
            notices.append(
                f"Proxy: {scheme} {through} go through {shown_endpoint(proxies[scheme])} "
                f"({scheme.upper()}_PROXY or {scheme}_proxy; {sees}); "
                f"NO_PROXY: {excerpt(proxies.get('no', '') or 'not set', 200)}"
            )
    if env.config.iam is not None:
        notices += aws_endpoint_notices(env.config.iam)
        notices += [aws_trust_notice(bundle) for bundle in ca_bundles]
    return notices + cleartext_notices(env)


def cleartext_notices(env: LoadedEnv) -> list[str]:
    """One notice per host sent a credential over plain http:// (not this machine)."""
    return [
        f"Cleartext: credentials go over plain http:// to {excerpt(host, 100)} "
        f"({excerpt('; '.join(entries), 300)}): anyone on the path reads them; use https://"
        for host, entries in cleartext_credentials(env.config).items()
    ]


def aws_trust_notice(ca_bundle: str, services: str = "") -> str:
    """The notice of a CA bundle the IAM audit trusts (of its requests to `services`)."""
    which = f"the IAM audit's requests to {services} trust" if services else "the IAM audit trusts"
    return (
        f"AWS trust: {which} the certificates of {excerpt(ca_bundle, 200)} "
        "(AWS_CA_BUNDLE or ca_bundle in the AWS config file), not the system's: a server or "
        "proxy holding a key of that CA answers for AWS"
    )


def aws_route_notices(routes: Iterable[AuditRoute], said: Sequence[str]) -> list[str]:
    """Where the IAM audit's requests went, as botocore sent them, when not to AWS's own
    endpoints with the system's certificates: what a notice said at the start (from a
    request built to ask botocore, before the audit) is what the audit's own requests
    confirm, or not (round 45b F1: a rule set sent only the audit's signed requests, or
    only some operations, to another server). Said once, unless a start notice said it."""
    elsewhere: dict[str, list[str]] = {}
    trusted: dict[str, list[str]] = {}
    for route in routes:
        if not route.aws_own:
            services = elsewhere.setdefault(route.origin, [])
            services += [route.service] * (route.service not in services)
        if route.ca_bundle:
            services = trusted.setdefault(route.ca_bundle, [])
            services += [route.service] * (route.service not in services)
    before = "\n".join(said)
    notices = []
    order = ["IAM", "STS", "Organizations"]
    for origin, services in elsewhere.items():
        shown = shown_endpoint(origin)
        services.sort(key=lambda s: order.index(s) if s in order else len(order))
        # said already only when the start named this host for these very services: for
        # STS alone, and the audit's IAM requests went there too (round 46b F4)
        if f"asked {shown} for {', '.join(services)}, " not in before:
            notices.append(
                f"AWS endpoint: the IAM audit's requests to {', '.join(services)} went to "
                f"{shown} (as botocore sent them), not AWS's own endpoint"
            )
    for bundle, services in trusted.items():
        if aws_trust_notice(bundle) not in said:
            notices.append(aws_trust_notice(bundle, ", ".join(services)))
    return notices


def aws_ca_bundles(settings: IamConfig) -> list[str]:
    """The CA bundles botocore trusts for the audit; none when unknown (botocore refuses
    the settings: the endpoint notice says so)."""
    from smokegate.gather.aws_endpoints import audit_ca_bundles

    try:
        return audit_ca_bundles(settings)
    except Exception:
        return []


def aws_endpoint_notices(settings: IamConfig) -> list[str]:
    """The endpoint each AWS client of the audit resolves to, where it is not AWS's own, as
    botocore resolves it and whatever chose it (round 43b F3: a fixed list of three
    variables left AWS_ENDPOINT_URL_ORGANIZATIONS and the config file's endpoint_url
    unsaid). A notice, as any endpoint setting is: the audit's own answers say whether it
    could be read. boto3 is imported here, on first use: runs without IAM never load it."""
    from smokegate.gather.aws_endpoints import audit_endpoints

    try:
        found = audit_endpoints(settings)
    except Exception as exc:  # botocore refuses the settings: the audit fails on them too
        return [
            "AWS endpoint: which endpoint the IAM audit asks is unknown: botocore refused "
            f"its settings ({excerpt(str(exc), 300)})"
        ]
    return [
        f"AWS endpoint: {e.chosen_by}: the IAM audit asked {shown_endpoint(e.url)} for "
        f"{', '.join(e.services)}, not AWS's own endpoint"
        for e in found
    ]


def _shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)
