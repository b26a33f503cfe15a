"""A run that selected part of the suite (`-k`, `-m`, a module, a node id) writes the same
reports to the same folder as the full gate: each of them says which selection ran. An
`-m` naming no marker of the checks says which markers exist. (The HTML banner: test_html_browser;
the JUnit suite property: test_junit_consumer.)"""

from __future__ import annotations

import pytest

from tests.support.e2e import ROOT, assert_usage_error, run_checks, run_pytest

DEMO = ROOT / "envs" / "demo.yaml"


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["-m", "health"], "-m health"),
        (["-k", "billing or search"], "-k 'billing or search'"),
    ],
    ids=["marker", "keyword"],
)
def test_every_report_names_the_selection(tmp_path, args, shown):
    run = run_checks(tmp_path, DEMO, *args)
    summary = (run.reports_dir / "summary.md").read_text()
    assert f"> Partial run: only \\`{shown}\\` was selected; not the full gate." in summary
    block = run.stdout.split("smokegate ===")[1]
    assert f"partial run: only {shown} was selected; not the full gate" in block


def test_a_module_named_beside_the_checks_folder_is_still_the_full_gate(tmp_path):
    """`pytest checks/ checks/test_health.py` collects every check: what was collected
    decides, not the arguments (a module given alone: tests/e2e/test_no_false_pass.py)."""
    run = run_checks(tmp_path, DEMO, "checks/test_health.py")
    assert "Partial run" not in (run.reports_dir / "summary.md").read_text()
    assert "(partial)" not in run.stdout


def test_the_full_gate_says_nothing_about_a_selection(tmp_path):
    run = run_checks(tmp_path, DEMO)
    assert "Partial run" not in (run.reports_dir / "summary.md").read_text()
    assert "partial run" not in run.stdout


def test_a_marker_that_matches_no_check_lists_the_known_ones(tmp_path):
    run = run_checks(tmp_path, DEMO, "-m", "helth")
    assert run.returncode == 5, run.output
    expected = (
        "gate NOT EVALUATED (--fail-on low): no check ran (pytest exit 5): -m helth: 'helth' "
        "is no marker of the checks; the known markers are health, auth, tls, iam"
    )
    assert expected in run.stdout
    assert expected in (run.reports_dir / "summary.md").read_text()


def test_an_unknown_marker_beside_a_known_one_is_named(tmp_path):
    run = run_checks(tmp_path, DEMO, "-m", "iam or helth")
    block = run.stdout.split("smokegate ===")[1]
    assert "partial run: only -m 'iam or helth' (" in block
    assert "'helth' is no marker of the checks" in block


@pytest.mark.parametrize("given", ["--fail-on critical", "--fail-on=critical"])
def test_the_full_gate_takes_its_threshold_from_its_own_command_line(tmp_path, given):
    """Round 25b, L1: `PYTEST_ADDOPTS=--fail-on critical` lowered a full gate that relied on
    the default threshold, unseen in the job's command line."""
    env = tmp_path / "real.yaml"
    env.write_text("endpoints:\n  - {name: a, url: 'http://127.0.0.1:9/'}\n")
    run = run_checks(tmp_path, env, "--full-gate", env_vars={"PYTEST_ADDOPTS": given})
    assert run.returncode == 4, run.output
    assert "--fail-on is given through PYTEST_ADDOPTS" in run.output
    written = run_checks(tmp_path, env, "--full-gate", "--fail-on", "critical")
    assert written.returncode != 4 and "--fail-on is given through" not in written.output


@pytest.mark.parametrize(
    "given",
    [
        "-o addopts=--fail-on=critical",
        "-o 'addopts=--fail-on critical'",
        "--override-ini=addopts=--fail-on=critical",
        "-oaddopts=--fail-on=critical",
        "-qo addopts=--fail-on=critical",
    ],
)
def test_the_full_gate_s_threshold_cannot_come_from_an_addopts_override(tmp_path, given):
    """Round 37b r01: an override of the ini's addopts in PYTEST_ADDOPTS set --fail-on
    critical past the check for `--fail-on` in PYTEST_ADDOPTS, and a high failure passed."""
    env = tmp_path / "real.yaml"
    env.write_text("endpoints:\n  - {name: a, url: 'http://127.0.0.1:9/', severity: high}\n")
    run = run_checks(tmp_path, env, "--full-gate", env_vars={"PYTEST_ADDOPTS": given})
    assert run.returncode == 4, run.output
    assert (
        "the run's --fail-on is critical, while the gate job's own command line and the "
        "project's ini file say low" in run.output
    )


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ("--env {other}", "--env is given through PYTEST_ADDOPTS"),
        ("--env={other}", "--env is given through PYTEST_ADDOPTS"),
        (
            "-o addopts=--env={other}",
            "while the gate job's own command line and the project's ini file say none",
        ),
    ],
)
def test_the_full_gate_judges_the_env_its_own_job_names(tmp_path, given, refusal):
    """Round 43b F2: `SMOKEGATE_ENV=prod pytest checks/ --full-gate` with a CI variable
    `PYTEST_ADDOPTS='--env staging'` judged the healthy staging, and passed (exit 0) on a
    prod whose high endpoint fails. One usage error, and nothing of either env reported."""
    prod = tmp_path / "prod.yaml"
    prod.write_text("endpoints:\n  - {name: a, url: 'http://127.0.0.1:9/', severity: high}\n")
    other = tmp_path / "staging.yaml"
    other.write_text("endpoints: []\n")
    reports = tmp_path / "reports"
    gate = ["checks/", "--full-gate", "--reports-dir", str(reports)]
    done = run_pytest(
        *gate,
        env_vars={"SMOKEGATE_ENV": str(prod), "PYTEST_ADDOPTS": given.format(other=other)},
    )
    assert_usage_error(done.returncode, done.stdout + done.stderr, [refusal])
    assert not reports.exists()
    control = run_pytest(*gate, env_vars={"SMOKEGATE_ENV": str(prod), "PYTEST_ADDOPTS": ""})
    assert control.returncode == 1, control.stdout + control.stderr
    assert "gate FAILED (--fail-on low): 1 high" in control.stdout
