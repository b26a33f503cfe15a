"""Attack round 8 through a real `pytest checks/ --env <file>` run: smokegate's own ini
options cannot be re-pointed under the full gate, and every report names the env file it
loaded (8b F0); numbers and long values in an env file are usage errors in bounded time
(8b F1, F2, F9); an env name or a reports path with control or format characters never
reaches the terminal (8a F3); pytest's own plugins disabled are said or refused (8a F6, 8b
F11); a symlinked reports folder is refused (8a F7).

Every server is local (127.0.0.1); every env file is written by the test.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest
import yaml

from tests.support.e2e import assert_one_usage_error, passing_env, run_checks
from tests.support.env_files import write, write_env
from tests.support.paths import ROOT
from tests.support.servers import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


# -- 8b F0: -o smokegate_* under the full gate; the env file named in every report -----------


@pytest.mark.parametrize(
    "override",
    [
        ["-o", "smokegate_envs_dir=/tmp"],
        ["-o", "smokegate_checks_dir=tests"],
        ["-osmokegate_checks_dir=tests"],
        ["--override-ini=smokegate_envs_dir=/tmp"],
        ["--override-ini", "smokegate_max_waiver_days=3650"],
    ],
    ids=["o-envs", "o-checks", "o-glued", "override-ini=", "override-ini"],
)
@pytest.mark.parametrize("route", ["PYTEST_ADDOPTS", "command line"])
def test_the_full_gate_refuses_an_override_of_smokegates_ini_options(
    tmp_path, server, override, route
):
    args = ["--full-gate"]
    env_vars = {}
    if route == "PYTEST_ADDOPTS":
        env_vars["PYTEST_ADDOPTS"] = shlex.join(override)
    else:
        args += override
    run = run_checks(tmp_path, passing_env(server), *args, env_vars=env_vars)
    name = override[-1].removeprefix("-o").removeprefix("--override-ini=").partition("=")[0]
    assert_one_usage_error(run, "--full-gate", f"-o {name}=...", "overrides smokegate's own ini")
    assert not run.reports_dir.exists()


@pytest.mark.parametrize("option", ["-c", "--config-file", "--rootdir"])
def test_the_full_gate_refuses_another_ini_file_or_root(tmp_path, server, option):
    """An ini file of the attacker's naming sets smokegate_envs_dir like `-o` does: its
    prod.yaml (all passing) would be the gate's. Refused, whichever way it is chosen."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "envs").mkdir(parents=True)
    (elsewhere / "pytest.ini").write_text("[pytest]\nsmokegate_envs_dir = envs\n")
    chosen = str(elsewhere / "pytest.ini") if option != "--rootdir" else str(elsewhere)
    run = run_checks(
        tmp_path,
        passing_env(server),
        "--full-gate",
        env_vars={"PYTEST_ADDOPTS": f"{option} {chosen}"},
    )
    assert_one_usage_error(run, "--full-gate", "another ini file or root")
    assert not run.reports_dir.exists()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_the_full_gate_from_the_project_folder_runs(tmp_path, server, workers):
    run = run_checks(tmp_path, passing_env(server), "--full-gate", *workers)
    assert run.returncode == 0, run.output
    assert "gate PASSED (--fail-on low)" in run.stdout


def test_smokegate_full_gate_variable_refuses_the_override_too(tmp_path, server):
    run = run_checks(
        tmp_path,
        passing_env(server),
        env_vars={"SMOKEGATE_FULL_GATE": "1", "PYTEST_ADDOPTS": "-o smokegate_envs_dir=/tmp"},
    )
    assert_one_usage_error(run, "SMOKEGATE_FULL_GATE", "-o smokegate_envs_dir=...")


def test_outside_the_full_gate_an_ini_override_still_works(tmp_path, server):
    run = run_checks(tmp_path, passing_env(server), "-o", "smokegate_max_waiver_days=30")
    assert run.returncode == 0, run.output
    assert "gate PASSED" in run.stdout


def test_every_report_names_the_env_file_relative_to_the_project(tmp_path):
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml")
    block = run.stdout.split("smokegate ==")[-1]
    assert "\nenv file: envs/demo.yaml\nreport: " in block, block
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "> Env file: envs/demo.yaml" in summary
    html = run.html_path.read_text(encoding="utf-8")
    assert "envs/demo.yaml" in html
    assert str(ROOT / "envs" / "demo.yaml") not in html  # the metadata's "Env file" too


def test_an_env_file_outside_the_project_is_named_by_its_path(tmp_path, server):
    run = run_checks(tmp_path, passing_env(server))
    assert f"env file: {tmp_path / 'e2e.yaml'}" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert f"Env file: {tmp_path / 'e2e.yaml'}" in summary


def test_a_moved_root_names_the_env_file_it_really_loaded(tmp_path, server):
    """Outside the full gate `--rootdir=DIR` may load DIR/envs/<env>.yaml; named relative to
    that root, the console read `envs/<env>.yaml` exactly as the project's own run does
    (attack round 9, F1). Named from the folder the run started in, it is DIR's file."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "envs").mkdir(parents=True)
    (elsewhere / "checks").symlink_to(ROOT / "checks")
    env_file = elsewhere / "envs" / "lookalike.yaml"
    env_file.write_text(yaml.safe_dump(passing_env(server)), encoding="utf-8")
    run = run_checks(tmp_path, env_file, "--rootdir", str(elsewhere))
    assert f"env file: {env_file}" in run.stdout, run.output
    assert "env file: envs/lookalike.yaml" not in run.stdout


# -- 8b F1, F2, F9: numbers and long values ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (":".join(["1"] * 1_280_000), "defaults.timeout_s: should be a number"),
        ("9" * 5000, "line 2: a number 5000 characters long"),
    ],
    ids=["base-60-2.5MB", "5000-digits"],
)
def test_a_hostile_number_is_a_usage_error(tmp_path, value, fragment):
    run = run_checks(tmp_path, write(tmp_path, f"defaults:\n  timeout_s: {value}\n"))
    assert_one_usage_error(run, fragment)
    assert len(run.output) < 20_000


@pytest.mark.parametrize("field", ["url", "name"])
def test_a_15_mb_url_or_name_is_a_usage_error_quoted_shortly(tmp_path, field):
    long = "x" * (15 * 1024 * 1024)
    entry = {"name": "api", "url": "https://a.example/"}
    entry[field] = f"https://a.example/{long}" if field == "url" else long
    run = run_checks(tmp_path, {"endpoints": [entry]})
    assert_one_usage_error(run, f".{field}: ")
    assert len(run.output) < 20_000


# -- 8a F3: control and format characters in an env name or a reports path ---------------------


@pytest.mark.parametrize(
    "name",
    [
        "x\r\n=== smokegate ===\ngate PASSED (--fail-on low): no failures\n\x1b[8m",
        "prod\u202e",
        "p\x9b",
    ],
    ids=["esc-crlf", "rlo", "c1-csi"],
)
def test_an_env_named_with_control_characters_is_refused_escaped(tmp_path, server, name):
    env_file = write_env(tmp_path, passing_env(server), name)
    run = run_checks(tmp_path, env_file)
    assert_one_usage_error(run, "holds control characters or invisible formatting characters")
    for raw in ("\x1b", "\r", "\u202e", "\x9b", "gate PASSED (--fail-on low)\n"):
        assert raw not in run.output, repr(run.output)


@pytest.mark.parametrize("folder", ["reports\u202eevil", "reports\x9b2J", "reports\u200b"])
def test_a_reports_dir_with_c1_or_format_characters_is_refused(tmp_path, server, folder):
    run = run_checks(tmp_path, passing_env(server), "--reports-dir", str(tmp_path / folder))
    assert_one_usage_error(
        run, "--reports-dir", "control characters or invisible formatting characters"
    )
    assert not (tmp_path / folder).exists()


# -- 8a F6 / 8b F11: pytest's own plugins disabled --------------------------------------------


def test_without_the_junitxml_plugin_the_console_says_there_is_no_junit_xml(tmp_path, server):
    run = run_checks(tmp_path, passing_env(server), "-p", "no:junitxml")
    assert run.returncode == 0, run.output
    assert "(no junit.xml: pytest's junitxml plugin is disabled by -p no:junitxml" in run.stdout
    assert "report: " + str(run.junit_path) not in run.stdout
    assert not run.junit_path.exists()
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "no junit.xml" in summary


@pytest.mark.parametrize("plugin", ["python", "skipping"])  # skipping: attack round 12
@pytest.mark.parametrize("route", ["PYTEST_ADDOPTS", "command line"])
def test_without_pytests_collecting_plugins_the_run_is_a_usage_error(
    tmp_path, server, route, plugin
):
    args, env_vars = (), {}
    if route == "PYTEST_ADDOPTS":
        env_vars["PYTEST_ADDOPTS"] = f"-p no:{plugin}"
    else:
        args = ("-p", f"no:{plugin}")
    run = run_checks(tmp_path, passing_env(server), *args, env_vars=env_vars)
    assert_one_usage_error(run, f"-p no:{plugin} disables pytest's")


# -- 8a F7: a symlinked reports folder --------------------------------------------------------


def test_a_symlinked_env_reports_folder_is_refused_and_its_target_untouched(tmp_path, server):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "junit.xml").write_text("kept")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "e2e").symlink_to(elsewhere, target_is_directory=True)
    run = run_checks(tmp_path, passing_env(server))
    assert_one_usage_error(run, "is a symlink", "--reports-dir")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["junit.xml"]
    assert (elsewhere / "junit.xml").read_text() == "kept"


@pytest.mark.parametrize("option", ["--rootdir", "-c"])
def test_a_root_or_ini_path_with_terminal_control_is_refused(tmp_path, server, option):
    """pytest prints the root and the ini file in its header and in the junit line, raw
    (attack round 9, F5): a path with ESC is refused before anything is printed."""
    hostile = tmp_path / "r\x1b[2K\x1b[1Agate PASSED"
    hostile.mkdir()
    chosen = hostile if option == "--rootdir" else hostile / "pytest.ini"
    if option == "-c":
        chosen.write_text("[pytest]\n")
    run = run_checks(
        tmp_path, passing_env(server), env_vars={"PYTEST_ADDOPTS": f"{option} '{chosen}'"}
    )
    assert_one_usage_error(run, f"{'--rootdir' if option == '--rootdir' else '-c/--config-file'} '")
    assert "\x1b" not in run.output


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("--debug={path}", "--debug '"),
        ("--log-format=x\x1b[2K\x1b[1Agate PASSED %(message)s", "--log-format '"),
        ("--log-cli-format=\r\x1b[2Kgate PASSED", "--log-cli-format '"),
        ("-olog_file_format=\x1b]0;x\x07%(message)s", "--log-file-format '"),
        ("--log-file={path}", "--log-file '"),
    ],
)
def test_a_debug_path_or_log_format_with_terminal_control_is_refused(
    tmp_path, server, option, named
):
    """pytest prints `wrote pytest debug information to <path>` after smokegate's block,
    and a log format around every live log line, raw: an ESC there could erase the verdict
    and print a green one of its own (attack round 14)."""
    path = tmp_path / "d\x1b[2K\x1b[1Agate PASSED.log"
    run = run_checks(tmp_path, passing_env(server), option.format(path=path))
    assert_one_usage_error(run, named)
    # --debug: refused by the entry-point guard before pytest prints the path at all
    assert "\x1b" not in run.output and "\r" not in run.output.replace("\r\n", "\n")


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy"])
def test_a_proxy_password_too_short_to_mask_is_refused(tmp_path, server, variable):
    """It would go out in Proxy-Authorization, and a proxy's 407 may quote it back, where
    the scrubber could not mask it (attack round 10, F3): refused, as a short token is."""
    run = run_checks(
        tmp_path,
        passing_env(server),
        env_vars={variable: "http://proxyuser:hunt3r2@127.0.0.1:9", "NO_PROXY": ""},
    )
    assert_one_usage_error(run, "the password of proxy http://***@127.0.0.1:9 holds 7")
    assert "hunt3r2" not in run.output and not run.reports_dir.exists()


def test_the_full_gate_refuses_a_folder_outside_the_checks(tmp_path, server):
    """A folder named in PYTEST_ADDOPTS adds its tests to the gate's. (Its conftest.py is
    imported by pytest before any plugin runs: code execution, out of reach, documented.)"""
    other = tmp_path / "other"
    other.mkdir()
    (other / "test_other.py").write_text("def test_other():\n    pass\n")
    run = run_checks(
        tmp_path, passing_env(server), "--full-gate", env_vars={"PYTEST_ADDOPTS": str(other)}
    )
    assert_one_usage_error(run, "is not in the checks folder")
    assert not run.reports_dir.exists()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("http://127.0.0.1:0", "has port 0"),
        ("http://svcuser:Pr0xyPassw0rd@127.0.0.%31:9", "a host name that is not one"),
        ("svcuser:Pr0xyPassw0rd@127.0.0.1:9", "has credentials but no scheme"),
        ("http://svcuser:Pr0xyPassw0rd@127.0.0.1:99999", "has no valid port"),
        ("http://svcuser:12/Passw0rdPr0xy@127.0.0.1:9", "unencoded / # ? in its password"),
        # round 22c: urllib3 ends the authority at a backslash, urlsplit does not
        ("http://127.0.0.1:8\\Passw0rdPr0xy@127.0.0.1:9", "holds a backslash"),
        ("http://svcuser:Pa\\ssw0rdPr0xy@127.0.0.1:9", "holds a backslash"),
    ],
)
def test_a_proxy_url_the_two_checks_would_read_two_ways_is_refused(tmp_path, server, value, said):
    """urllib3 (the HTTPS checks) and the TLS checks' CONNECT read `:0`, `%31` in the host
    and a scheme-less URL with credentials differently: one passed through the proxy while
    the other failed or went elsewhere (round 19c). Refused before any request, the
    password masked."""
    run = run_checks(tmp_path, passing_env(server), env_vars={"HTTPS_PROXY": value, "NO_PROXY": ""})
    assert_one_usage_error(run, "the https proxy (HTTPS_PROXY or https_proxy")
    assert said in run.output
    assert "Passw0rd" not in run.output
    assert not run.reports_dir.exists()
