"""The gate and the reports end to end, on a mocked world written by the test: --fail-on,
summary.md (and $GITHUB_STEP_SUMMARY), the console block, JUnit against an XSD, the user's
own report paths, xdist giving the same verdicts, runs that stop early, select nothing or
only collect, checks that verified nothing, and a worker that crashes mid-check."""

import pytest
import xmlschema
import yaml

from tests.support.e2e import ROOT, run_checks
from tests.support.env_files import waiver_expiry

REPORT_FILES = ("report.html", "junit.xml", "summary.md")

XSD = ROOT / "tests" / "data" / "junit.xsd"


@pytest.fixture
def mixed_env(tmp_path):
    """Failures at medium and low only, a critical and a high case that pass."""
    world = tmp_path / "world"
    world.mkdir()
    routes = [
        {"url": "https://core.test/health", "json": {"status": "ok"}},
        {"url": "https://api.test/health", "json": {"status": "ok"}},
        {"url": "https://reports.test/health", "status": 500, "body": "boom"},
        {"url": "https://docs.test/", "body": "old docs"},
    ]
    (world / "http.yaml").write_text(yaml.safe_dump({"routes": routes}))
    return {
        "mock": str(world),
        "endpoints": [
            {"name": "core", "url": "https://core.test/health", "severity": "critical"},
            {"name": "api", "url": "https://api.test/health", "json": {"status": "ok"}},
            {"name": "reports", "url": "https://reports.test/health", "severity": "medium"},
            {"name": "docs", "url": "https://docs.test/", "body_contains": "v2", "severity": "low"},
        ],
    }


@pytest.mark.parametrize(
    ("fail_on", "expected_exit"),
    [("critical", 0), ("high", 0), ("medium", 1), ("low", 1)],
)
def test_fail_on_gates_only_at_or_above_the_threshold(tmp_path, mixed_env, fail_on, expected_exit):
    run = run_checks(tmp_path, mixed_env, "--fail-on", fail_on)
    assert run.returncode == expected_exit, run.output
    # Below-gate failures stay failures in every report.
    assert run.outcomes() == {
        "test_endpoint[core]": "passed",
        "test_endpoint[api]": "passed",
        "test_endpoint[reports]": "failed",
        "test_endpoint[docs]": "failed",
    }
    verdict = "PASSED" if expected_exit == 0 else "FAILED"
    counted = {  # what gates first, then what is below the gate, each once
        "critical": "nothing gates; 2 below the gate (1 medium, 1 low)",
        "high": "nothing gates; 2 below the gate (1 medium, 1 low)",
        "medium": "1 medium; 1 below the gate (1 low)",
        "low": "1 medium, 1 low",
    }[fail_on]
    assert f"gate {verdict} (--fail-on {fail_on}): {counted}" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert f"gate {verdict} (--fail-on {fail_on})" in summary


def test_default_gate_is_low(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env)
    assert run.returncode == 1
    assert "gate FAILED (--fail-on low)" in run.stdout


def test_invalid_fail_on_is_a_usage_error(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env, "--fail-on", "severe")
    assert run.returncode == 4
    assert "--fail-on" in run.stderr and "critical" in run.stderr
    assert "Traceback" not in run.output


def test_summary_lists_totals_failures_and_below_gate_marks(tmp_path, mixed_env):
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    run = run_checks(
        tmp_path,
        mixed_env,
        "--fail-on",
        "high",
        env_vars={"GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    summary = (run.reports_dir / "summary.md").read_text()
    assert summary.startswith("# smokegate · e2e · ")
    assert "| health | 2 | 2 | 0 | 0 |" in summary
    assert "| medium | 1 | no (below --fail-on) |" in summary
    assert "| critical | 0 | yes |" in summary
    reports_row = next(line for line in summary.splitlines() if "reports.test" in line)
    assert reports_row.startswith("| medium (below gate) | endpoint | reports")
    assert "status 500, expected 200" in reports_row
    assert "500 · " in reports_row
    assert "hint: the service answers with a server error" in reports_row  # as the HTML says
    docs_row = next(line for line in summary.splitlines() if "docs.test" in line)
    assert "body does not contain 'v2'" in docs_row
    appended = step_summary.read_text()
    assert appended.startswith("earlier step\n# smokegate · e2e")


def test_console_block_names_env_verdict_and_report_paths(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env)
    block = run.stdout.split(" smokegate ", 1)[1]
    assert "env e2e: 2 passed, 2 failed" in block
    assert "[medium] endpoint reports: status 500, expected 200" in block
    for name in ("report.html", "junit.xml", "summary.md"):
        assert str(run.reports_dir / name) in block


def test_junit_validates_and_carries_case_facts(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env)
    xmlschema.XMLSchema(XSD).validate(run.junit_path)
    suite = run.junit().find("testsuite")
    assert suite.get("name") == "smokegate-e2e"
    props = run.properties("test_endpoint[reports]")
    assert {k: props[k] for k in ("check", "target", "severity", "kind", "location")} == {
        "check": "endpoint",
        "target": "reports",
        "severity": "medium",
        "kind": "health",
        "location": "https://reports.test/health",
    }
    assert props["measured"].startswith("500 · ")
    assert "server error" in props["hint"]
    case = run.testcases()["test_endpoint[reports]"]
    message = case.find("failure").get("message")
    assert message.startswith(
        "Failed: [medium] endpoint reports (https://reports.test/health): status 500, expected 200"
    )
    system_out = case.find("system-out").text
    assert "severity: medium" in system_out and "target: reports" in system_out
    passing_out = run.testcases()["test_endpoint[core]"].find("system-out").text
    assert "measured: 200 · " in passing_out


def test_user_paths_win_over_default_reports(tmp_path, mixed_env):
    own_xml = tmp_path / "own" / "results.xml"
    own_html = tmp_path / "own" / "page.html"
    run = run_checks(tmp_path, mixed_env, f"--junitxml={own_xml}", f"--html={own_html}")
    assert own_xml.is_file() and own_html.is_file()
    assert not run.junit_path.exists() and not run.html_path.exists()
    assert (run.reports_dir / "summary.md").is_file()


def test_xdist_gives_the_same_outcomes_and_complete_reports(tmp_path, mixed_env):
    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    serial = run_checks(tmp_path / "serial", mixed_env)
    parallel = run_checks(tmp_path / "parallel", mixed_env, "-n", "2")
    assert parallel.returncode == serial.returncode == 1
    assert parallel.outcomes() == serial.outcomes()
    assert len(parallel.testcases()) == 4
    html = parallel.html_path.read_text()
    for name in ("core", "api", "reports", "docs"):
        assert f"test_endpoint[{name}]" in html
    summary = (parallel.reports_dir / "summary.md").read_text()
    assert "| **all** | **2** | **2** |" in summary


def _many_failures_env(tmp_path, n):
    world = tmp_path / "many"
    world.mkdir()
    routes = [{"url": f"https://svc{i}.test/health", "status": 503} for i in range(n)]
    (world / "http.yaml").write_text(yaml.safe_dump({"routes": routes}))
    endpoints = [{"name": f"svc{i}", "url": f"https://svc{i}.test/health"} for i in range(n)]
    return {"mock": str(world), "endpoints": endpoints}


def test_many_failures_skip_pytests_quadratic_detail_but_list_every_failure(tmp_path):
    env = _many_failures_env(tmp_path, 120)
    run = run_checks(tmp_path, env)
    assert run.returncode == 1
    assert "_ test_endpoint[svc7] _" not in run.stdout  # no per-failure detail block
    assert "120 failures: per-failure detail omitted from the console" in run.stdout
    assert run.stdout.count("FAILED checks/test_health.py::test_endpoint[svc") == 120
    assert sum(1 for o in run.outcomes().values() if o == "failed") == 120


def test_an_explicit_tb_wins_over_the_many_failures_shortcut(tmp_path):
    env = _many_failures_env(tmp_path, 120)
    run = run_checks(tmp_path, env, "--tb=short")
    assert "_ test_endpoint[svc7] _" in run.stdout
    assert "per-failure detail omitted" not in run.stdout


def test_an_unset_token_gates_even_below_the_threshold(tmp_path, mixed_env):
    mixed_env["auth"] = [
        {
            "name": "docs-api",
            "url": "https://docs.test/",
            "token_env": "SMOKEGATE_TEST_UNSET",
            "severity": "low",
        }
    ]
    run = run_checks(tmp_path, mixed_env, "--fail-on", "critical", "-m", "auth")
    assert run.returncode == 1, run.output
    assert "verified nothing (gates at any --fail-on)" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "| low (verified nothing) | accepts_token | docs-api" in summary


def test_a_run_stopped_early_is_not_evaluated_and_keeps_its_failure_exit(tmp_path, mixed_env):
    # docs (low) fails first; -x stops before any later case could run.
    mixed_env["endpoints"] = [mixed_env["endpoints"][3], mixed_env["endpoints"][0]]
    run = run_checks(tmp_path, mixed_env, "--fail-on", "critical", "-x")
    assert run.returncode == 1, run.output
    assert "gate NOT EVALUATED (--fail-on critical): the run stopped early" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "gate NOT EVALUATED" in summary and "✅" not in summary


def test_no_case_selected_is_exit_5_and_not_a_pass(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env, "-k", "no-such-target")
    assert run.returncode == 5
    summary = (run.reports_dir / "summary.md").read_text()
    assert "gate NOT EVALUATED (--fail-on low): no check ran (pytest exit 5)" in summary


def test_collect_only_lists_without_a_verdict_and_leaves_the_last_reports(tmp_path, mixed_env):
    first = run_checks(tmp_path, mixed_env)
    assert first.returncode == 1, first.output
    before = {name: (first.reports_dir / name).read_bytes() for name in REPORT_FILES}
    listing = run_checks(tmp_path, mixed_env, "--collect-only", "-q")
    assert listing.returncode == 0, listing.output
    assert "test_endpoint[api]" in listing.stdout
    assert "gate NOT EVALUATED (--fail-on low): --collect-only lists the cases" in listing.stdout
    assert "gate PASSED" not in listing.stdout and "gate FAILED" not in listing.stdout
    assert "summary.md" not in listing.stdout  # not written, so not listed
    after = {name: (first.reports_dir / name).read_bytes() for name in REPORT_FILES}
    assert after == before


def test_a_waiver_naming_no_check_is_a_usage_error(tmp_path, mixed_env):
    mixed_env["waivers"] = [
        {"check": "test_endpoint", "target": "docs", "reason": "r", "expires": waiver_expiry()}
    ]
    run = run_checks(tmp_path, mixed_env)
    assert run.returncode == 4
    assert "waivers[0].check: unknown check 'test_endpoint' (did you mean 'endpoint'?)" in (
        run.stderr
    )
    assert "Traceback" not in run.output


def test_a_waiver_never_hides_a_check_that_verified_nothing(tmp_path, mixed_env):
    mixed_env["auth"] = [
        {"name": "docs-api", "url": "https://docs.test/", "token_env": "SMOKEGATE_TEST_UNSET"}
    ]
    mixed_env["waivers"] = [
        {"check": "accepts_token", "target": "docs-api", "reason": "r", "expires": waiver_expiry()}
    ]
    run = run_checks(tmp_path, mixed_env, "-m", "auth")
    assert run.outcomes()["test_accepts_token[docs-api]"] == "failed"
    assert run.returncode == 1
    summary = (run.reports_dir / "summary.md").read_text()
    assert "not waived by waivers[0]: the check verified nothing" in summary


def test_checks_without_targets_count_as_deselected(tmp_path, mixed_env):
    run = run_checks(tmp_path, mixed_env)
    # no auth:, tls: or iam: in this env: only the four endpoint cases are selected and run
    assert "deselected / 4 selected" in run.stdout
    assert "2 failed, 2 passed" in run.stdout


def test_a_worker_that_crashes_mid_check_fails_the_run_once(tmp_path, mixed_env):
    plugin = tmp_path / "crash_in_api.py"
    plugin.write_text(
        "import os\n"
        "def pytest_runtest_call(item):\n"
        "    if item.nodeid.endswith('[api]'):\n"
        "        os._exit(1)  # stands in for an OOM kill or a segfault\n"
    )
    run = run_checks(
        tmp_path,
        mixed_env,
        "-n",
        "2",
        "-p",
        "crash_in_api",
        "--fail-on",
        "critical",
        env_vars={"PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode == 1, run.output
    assert "1 verified nothing (gates at any --fail-on)" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    api_row = next(line for line in summary.splitlines() if "| api " in line)
    assert api_row.startswith("| high (verified nothing) | endpoint | api")
    assert "crashed" in api_row


_CRASH_PLUGINS = {
    # gw1 dies in its collection, after gw0 sent its own: no case ever ran (round 25b, H1)
    "in-collection": (
        "import os, time\n"
        "def pytest_collection_modifyitems(config, items):\n"
        "    if getattr(config, 'workerinput', {}).get('workerid') == 'gw1':\n"
        "        time.sleep(1.0)\n"
        "        os._exit(1)\n"
    ),
    # the worker running `api` dies with its other cases still queued (round 25b, M1)
    "mid-run": (
        "import os\n"
        "def pytest_runtest_call(item):\n"
        "    if item.nodeid.endswith('[api]'):\n"
        "        os._exit(1)\n"
    ),
}


@pytest.mark.parametrize("when", sorted(_CRASH_PLUGINS))
def test_cases_a_dead_worker_left_unreported_are_never_a_pass(tmp_path, mixed_env, when):
    """Round 25b: with `--max-worker-restart 0`, a worker killed in its collection ended
    the run with no case run and `gate PASSED`, exit 0 (--full-gate too); killed
    mid-run, its queued cases were not mentioned. Collected cases that never reported a
    result make the run NOT EVALUATED."""
    (tmp_path / "crash_plugin.py").write_text(_CRASH_PLUGINS[when])
    mixed_env["endpoints"] = [
        {"name": name, "url": f"https://{name}.test/health", "security_headers": True}
        for name in ("core", "api")
    ]
    run = run_checks(
        tmp_path,
        mixed_env,
        "-n",
        "2",
        "--max-worker-restart",
        "0",
        "-p",
        "crash_plugin",
        env_vars={"PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode == 1, run.output  # pytest's 0 made non-zero: never a pass
    assert "gate NOT EVALUATED" in run.stdout
    assert "cases collected never reported a result (a worker that crashed" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "gate NOT EVALUATED" in summary and "gate PASSED" not in summary


def test_a_check_that_returns_without_a_verdict_verified_nothing(tmp_path, mixed_env):
    """Round 25b, M4: a case whose check never called `enforce` (its body skipped by a
    plugin here, a check that forgot the call, a conftest that replaced it) passed."""
    (tmp_path / "skip_bodies.py").write_text(
        "def pytest_pyfunc_call(pyfuncitem):\n    return True  # 'called', never run\n"
    )
    run = run_checks(
        tmp_path, mixed_env, "-p", "skip_bodies", env_vars={"PYTHONPATH": str(tmp_path)}
    )
    assert run.returncode == 1, run.output
    assert set(run.outcomes().values()) == {"failed"}
    assert "the check returned without a verdict (it never called enforce)" in run.stdout
    assert "4 verified nothing (gates at any --fail-on)" in run.stdout
