"""No pass on a run that did not really check (attack round 1 on issue 10: C1-C3, C5, H5).

- Options that hand the checks to a debugger or a loop are refused for runs of the checks.
- A run is partial whenever fewer cases were collected than the env defines, whatever
  removed them; its verdict reads "PASSED (partial)" in every report, and `--full-gate`
  (or SMOKEGATE_FULL_GATE=1) makes it NOT EVALUATED with a non-zero exit.
- A mocked world, a proxy and a redirect to another host are said in every report.

The env: `up` (200) and `down` (503) endpoints, one auth entry whose URL answers 401 to
everyone (its anonymous case passes, its token case fails): the full gate FAILS, and every
narrowing below leaves only passing cases.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.e2e import ROOT, Run, run_checks
from tests.support.hostile_server import HostileServer
from tests.support.servers import LocalServer

DEMO = ROOT / "envs" / "demo.yaml"
TOKEN = f"nfp-{secrets.token_hex(10)}"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def gate_env(server: LocalServer) -> dict[str, object]:
    return {
        "endpoints": [
            {"name": "up", "url": server.url("/ok")},
            {"name": "down", "url": server.url("/status/503"), "severity": "critical"},
        ],
        "auth": [{"name": "api", "url": server.url("/status/401"), "token_env": "NFP_TOKEN"}],
    }


def run(tmp_path, server, *args: str, env_vars: dict[str, str] | None = None) -> Run:
    return run_checks(
        tmp_path, gate_env(server), *args, env_vars={"NFP_TOKEN": TOKEN, **(env_vars or {})}
    )


def verdicts(result: Run) -> dict[str, str]:
    """The verdict as each report words it."""
    block = result.stdout.split("smokegate ===")[1]
    summary = (result.reports_dir / "summary.md").read_text()
    return {
        "console": next(line for line in block.splitlines() if line.startswith("gate ")),
        "summary": next(line for line in summary.splitlines() if "**gate " in line),
        "junit": _suite_gate(result),
        "html": result.html_path.read_text(),
    }


def suite_properties(result: Run) -> list[tuple[str, str]]:
    suite = result.junit().find("testsuite")
    assert suite is not None
    return [(p.get("name", ""), p.get("value", "")) for p in suite.findall("properties/property")]


def _suite_gate(result: Run) -> str:
    props = dict(suite_properties(result))
    return f"{props.get('gate')} | {props.get('partial')} | {props.get('coverage')}"


def test_the_full_gate_fails(tmp_path, server):
    result = run(tmp_path, server)
    assert result.returncode == 1, result.output
    assert "gate FAILED (--fail-on low)" in result.stdout
    assert _suite_gate(result).startswith("FAILED |  | complete")


@pytest.mark.parametrize(
    "flags",
    [
        ["--trace"],
        ["--pdb"],
        ["--pdbcls=pdb:Pdb"],
        ["-f"],
        ["-n", "2", "--trace"],
        ["--pdb", "--trace"],
    ],
    ids=lambda f: " ".join(f),
)
def test_debuggers_and_loops_are_refused(tmp_path, server, flags):
    """--trace with stdin closed returned from every check as a pass (C1); -f waited for
    file changes forever (H5). Both as arguments and through PYTEST_ADDOPTS."""
    for args, env_vars in ((flags, {}), ((), {"PYTEST_ADDOPTS": " ".join(flags)})):
        result = run(tmp_path, server, *args, env_vars=env_vars)
        assert result.returncode == 4, result.output
        assert "hands the checks to a debugger or a loop" in result.output
        assert "passed" not in result.stdout


NARROWINGS = [
    [
        "--ignore=checks/test_health.py",
        "--deselect",
        "checks/test_auth.py::test_accepts_token[api]",
    ],
    ["--ignore-glob=*health*", "-k", "not accepts"],
    ["-o", "python_files=test_auth.py", "-k", "rejects"],
    ["-o", "python_functions=test_rejects*"],
    ["--deselect", "checks/test_health.py::test_endpoint[down]", "-k", "not accepts"],
    ["-k", "up or rejects"],
    ["-k", "not down and not accepts"],
    ["-m", "auth", "-k", "rejects"],
]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize("narrowing", NARROWINGS, ids=lambda n: " ".join(n))
def test_fewer_cases_than_the_env_defines_is_a_partial_run_in_every_report(
    tmp_path, server, narrowing, workers
):
    result = run(tmp_path, server, *narrowing, *workers)
    assert result.returncode == 0, result.output
    said = verdicts(result)
    assert said["console"].startswith("gate PASSED (partial, --fail-on low)"), said["console"]
    assert "gate PASSED (partial, --fail-on low)" in said["summary"]
    gate, partial, coverage = said["junit"].split(" | ")
    assert gate == "PASSED (partial)" and partial and coverage != "complete", said["junit"]
    assert "cases collected" in coverage
    assert "Partial run" in said["html"] and "PASSED (partial)" in said["html"]
    assert "cases collected" in result.stdout.split("smokegate ===")[1]


@pytest.mark.parametrize(
    "full_gate", [["--full-gate"], []], ids=["--full-gate", "SMOKEGATE_FULL_GATE"]
)
def test_with_full_gate_a_partial_run_is_not_evaluated_and_exits_non_zero(
    tmp_path, server, full_gate
):
    env_vars = {} if full_gate else {"SMOKEGATE_FULL_GATE": "1"}
    result = run(
        tmp_path,
        server,
        "--ignore-glob=*health*",
        "-k",
        "not accepts",
        *full_gate,
        env_vars=env_vars,
    )
    assert result.returncode == 1, result.output
    assert "gate NOT EVALUATED (--fail-on low): a partial run (" in result.stdout
    assert _suite_gate(result).startswith("NOT EVALUATED |")


def test_with_full_gate_the_full_gate_is_judged_as_usual(tmp_path, server):
    result = run(tmp_path, server, "--full-gate")
    assert result.returncode == 1 and "gate FAILED (--fail-on low)" in result.stdout


@pytest.mark.parametrize("args", [["--co"], ["--fixtures"], ["--setup-plan"]])
def test_with_full_gate_an_informational_run_is_a_usage_error(tmp_path, server, args):
    result = run(tmp_path, server, *args, "--full-gate")
    assert result.returncode == 4 and "--full-gate" in result.output, result.output
    plain = run(tmp_path, server, *args)  # the documented behaviour, without the flag
    assert plain.returncode == 0 and "gate NOT EVALUATED" in plain.stdout


@pytest.mark.parametrize("addopts", ["--help", "-h", "--version", "-o addopts=--help", "--co"])
@pytest.mark.parametrize("how", ["--full-gate", "SMOKEGATE_FULL_GATE"])
def test_with_full_gate_an_informational_option_before_the_arguments_is_refused(
    tmp_path, server, addopts, how
):
    """PYTEST_ADDOPTS comes before the command line, and pytest stops parsing at --help:
    the run then knows neither its env nor its checks folder, and must still not exit 0."""
    env_vars = {"PYTEST_ADDOPTS": addopts}
    if how == "SMOKEGATE_FULL_GATE":
        env_vars["SMOKEGATE_FULL_GATE"] = "1"
    result = run(tmp_path, server, *([how] if how == "--full-gate" else []), env_vars=env_vars)
    assert result.returncode == 4, result.output
    assert "--full-gate (or SMOKEGATE_FULL_GATE) runs the whole gate" in result.output
    assert not result.reports_dir.exists()


def test_a_selection_that_keeps_every_case_is_the_full_gate(tmp_path, server):
    result = run(tmp_path, server, "-k", "up or down or api")
    assert result.returncode == 1 and "gate FAILED (--fail-on low)" in result.stdout
    assert _suite_gate(result).startswith("FAILED |  | complete")


def test_a_mocked_world_is_named_beside_the_verdict_in_every_report(tmp_path):
    result = run_checks(tmp_path, DEMO, "-m", "health")
    said = "Mocked: no real target was contacted"
    block = result.stdout.split("smokegate ===")[1].splitlines()
    gate = next(i for i, line in enumerate(block) if line.startswith("gate "))
    assert block[gate + 1].startswith("mocked: no real target was contacted"), block[:5]
    assert f"> {said}" in (result.reports_dir / "summary.md").read_text()
    assert said in result.html_path.read_text()
    notices = [value for name, value in suite_properties(result) if name == "notice"]
    assert notices and notices[0].startswith(said)


def test_full_gate_refuses_a_mocked_world(tmp_path):
    result = run_checks(tmp_path, DEMO, "--full-gate")
    assert result.returncode == 4 and "a mocked world answers instead" in result.output


def test_a_redirect_to_another_host_and_a_proxy_are_said_in_every_report(tmp_path, server):
    with HostileServer(max_seconds=10) as hostile:
        port = hostile.url("/ok").split(":")[2].split("/")[0]
        env = {
            "endpoints": [
                {"name": "moved", "url": hostile.url(f"/redirect-to?to=http://localhost:{port}/ok")}
            ]
        }
        result = run_checks(
            tmp_path,
            env,
            env_vars={"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "127.0.0.1,localhost"},
        )
    assert result.returncode == 0, result.output
    summary = (result.reports_dir / "summary.md").read_text()
    for text in (result.stdout, summary, result.html_path.read_text()):
        assert f"moved] by localhost:{port}" in text
        assert "go through http://proxy.invalid:3128" in text
    notices = [value for name, value in suite_properties(result) if name == "notice"]
    assert len(notices) == 2, notices


@pytest.mark.parametrize(
    "args",
    [
        ["--rootdir=/tmp"],
        ["-o", "smokegate_checks_dir=tests/unit"],
        ["-o", "smokegate_checks_dir=docs"],
    ],
    ids=["rootdir", "checks-dir-elsewhere", "checks-dir-empty"],
)
def test_a_checks_folder_moved_elsewhere_never_makes_a_narrowed_run_whole(tmp_path, server, args):
    """What the folder defines is what is counted: pointed at a folder without the checks
    (or with other tests), a run is partial, never the full gate; under the full gate an
    `-o smokegate_checks_dir` or `--rootdir` is refused outright (attack round 8b F0)."""
    result = run(tmp_path, server, *args, "-k", "up or rejects")
    assert result.returncode == 0, result.output
    assert "gate PASSED (partial, --fail-on low)" in result.stdout, result.output
    strict = run(tmp_path, server, *args, "-k", "up or rejects", "--full-gate")
    assert strict.returncode == 4, strict.output
    if args[0] == "-o":
        assert "-o smokegate_checks_dir=... overrides smokegate's own ini" in strict.output
    else:
        assert "--rootdir chooses another ini file or root" in strict.output


def test_with_full_gate_a_shard_alone_is_not_the_gate(tmp_path, server):
    """`--splits 2 --group 1` slipped into a single job's PYTEST_ADDOPTS: its merge is the
    gate of a sharded run, so with --full-gate a shard on its own is NOT EVALUATED."""
    result = run(
        tmp_path, server, "--full-gate", env_vars={"PYTEST_ADDOPTS": "--splits 2 --group 1"}
    )
    assert result.returncode == 1, result.output
    assert "gate NOT EVALUATED" in result.stdout and "shard 1 of 2" in result.stdout


def test_a_runner_short_of_open_files_is_refused_or_fits_its_probes_to_it(tmp_path):
    """Rounds 26c, 27c: with every probe on a socket of its own, a runner's `ulimit -n` ran
    out, and "Too many open files" (or, looking `localhost` up, a stale "Device or resource
    busy") was a [high] finding against each target never contacted: below the gate under
    --fail-on critical, which then passed. A limit too low for any run is a usage error; a
    low one gets as many workers as fit, and every target is really checked."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with LocalServer() as server:
        slow = [{"name": f"e{i}", "url": server.url(f"/hold/100/e{i}")} for i in range(200)]
        env = {"endpoints": slow, "tls": [{"host": "localhost", "port": server.port}]}
        refused = run_checks(tmp_path / "a", env, "--fail-on", "critical", open_files=48)
        fitted = run_checks(
            tmp_path / "b", {"endpoints": slow}, "--fail-on", "critical", open_files=160
        )
    assert refused.returncode == 4, refused.output
    assert "the runner's open-file limit is 48 (ulimit -n), below the 128" in refused.output
    assert fitted.returncode == 0, fitted.output
    assert "200 passed" in fitted.stdout and "verified nothing" not in fitted.stdout


@pytest.mark.parametrize(
    ("answer", "case"),
    [
        ("shorter-than-content-length", "test_accepts_token[cut]"),
        ("chunked-invalid-size", "test_accepts_token[cut]"),
        ("401-shorter-than-content-length", "test_rejects_anonymous[cut]"),
        ("401-chunked-invalid-size", "test_rejects_anonymous[cut]"),
    ],
)
def test_an_auth_answer_that_did_not_arrive_whole_never_passes(tmp_path, answer, case):
    """Round 28c: the auth checks judged the status line alone, so a 200 (or 401) whose
    body was cut short or misframed passed `accepts_token` (`rejects_anonymous`), while the
    health check failed the same answer: a streaming app that refuses a token inside its
    body cuts the answer after its 200."""
    with HostileServer(max_seconds=5) as hostile:
        env = {"auth": [{"name": "cut", "url": hostile.url(f"/raw/{answer}"), "token_env": "T"}]}
        result = run_checks(tmp_path, env, env_vars={"T": TOKEN})
    assert result.returncode == 1, result.output
    assert result.outcomes()[case] == "failed"
    assert "but the answer did not arrive whole" in result.output
    assert "gate FAILED" in result.output
