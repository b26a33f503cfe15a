"""The shipped demo env end to end, as a new user meets it: both outcomes in the reports,
its auth entry without tokens, with them and with a low-privilege token that gets in, and
its security headers."""

import pytest

from tests.support.e2e import ROOT, run_checks

DEMO = ROOT / "envs" / "demo.yaml"


def test_demo_env_runs_and_reports_both_outcomes(tmp_path):
    run = run_checks(tmp_path, DEMO)
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    assert outcomes["test_endpoint[api-health]"] == "passed"
    assert outcomes["test_endpoint[billing-health]"] == "failed"
    assert run.html_path.is_file()
    assert run.junit().find(".//testsuite").get("name") == "smokegate-demo"


@pytest.mark.parametrize("on_ci", ["", "true"], ids=["terminal", "ci"])
def test_demo_console_says_a_run_wide_fact_once(tmp_path, on_ci):
    # on CI (CI or BUILD_NUMBER non-empty) pytest prints each short-summary message whole
    run = run_checks(tmp_path, DEMO, "-m", "iam", env_vars={"CI": on_ci, "BUILD_NUMBER": ""})
    note = "AWS reuses a report for up to 4 h, so a fix made since then shows in a later report"
    assert run.stdout.count(note) == 1, run.stdout
    assert "(said once; it applies to 4 failures above: test_user_age[bob], " in run.stdout
    assert "password_policy password_policy" not in run.stdout
    assert "[medium] password_policy: minimum password length 8" in run.stdout
    # the JUnit file keeps it with each failure, where a CI page shows one at a time
    message = run.testcases()["test_console_mfa[carol]"].find("failure").get("message")
    assert note in message


def test_demo_without_tokens_fails_naming_the_variables(tmp_path):
    run = run_checks(tmp_path, DEMO, env_vars={"DEMO_API_TOKEN": "", "DEMO_READONLY_TOKEN": ""})
    outcomes = run.outcomes()
    assert outcomes["test_rejects_anonymous[account-api]"] == "passed"
    assert outcomes["test_accepts_token[account-api]"] == "failed"
    # made in the real token's shape: without it, nothing is sent (round 30c)
    assert outcomes["test_rejects_invalid_token[account-api]"] == "failed"
    assert outcomes["test_forbids_low_privilege[account-api-DEMO_READONLY_TOKEN]"] == "failed"
    assert "environment variable DEMO_API_TOKEN is not set" in run.output
    assert "environment variable DEMO_READONLY_TOKEN is not set" in run.output
    assert outcomes["test_security_headers[web-home]"] == "failed"
    assert "Server 'nginx/1.25.3' reveals a version" in run.output
    assert "Referrer-Policy missing" in run.output
    assert run.returncode == 1


def test_demo_with_tokens_passes_its_auth_cases(tmp_path):
    tokens = {"DEMO_API_TOKEN": "demo-token-1", "DEMO_READONLY_TOKEN": "demo-readonly-1"}
    run = run_checks(tmp_path, DEMO, "-m", "auth", env_vars=tokens)
    assert run.outcomes() == {
        "test_rejects_anonymous[account-api]": "passed",
        "test_accepts_token[account-api]": "passed",
        "test_rejects_invalid_token[account-api]": "passed",
        "test_forbids_low_privilege[account-api-DEMO_READONLY_TOKEN]": "passed",
    }
    assert run.returncode == 0, run.output
    html = run.html_path.read_text(encoding="utf-8")
    assert "demo-token-1" not in html and "demo-token-1" not in run.output


def test_a_low_privilege_token_that_gets_in_fails(tmp_path):
    same = {"DEMO_API_TOKEN": "demo-token-1", "DEMO_READONLY_TOKEN": "demo-token-1"}
    run = run_checks(tmp_path, DEMO, "-m", "auth", env_vars=same)
    assert run.outcomes()["test_forbids_low_privilege[account-api-DEMO_READONLY_TOKEN]"] == "failed"
    assert "got 200 with DEMO_READONLY_TOKEN: the token is let in (expected 403)" in run.output
