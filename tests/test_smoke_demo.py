"""The shipped demo env runs end to end and shows both outcomes."""

from tests.e2e import ROOT, run_checks


def test_demo_env_runs_and_reports_both_outcomes(tmp_path):
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml")
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    assert outcomes["test_endpoint[api-health]"] == "passed"
    assert outcomes["test_endpoint[billing-health]"] == "failed"
    assert run.html_path.is_file()
    assert run.junit().find(".//testsuite").get("name") == "smokegate-demo"
