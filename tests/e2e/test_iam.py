"""`pytest checks/ --env <env> -m iam` in a subprocess against a seeded moto server on
127.0.0.1 (reached through AWS_ENDPOINT_URL, as a user would), read back from the JUnit."""

from __future__ import annotations

import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from smokegate.mock.iam import iam_backend, seed
from tests.support.e2e import ROOT, run_checks
from tests.support.env_files import waiver_expiry
from tests.support.moto_helpers import (
    IAM_WORLD,
    AwsProxy,
    Fault,
    aws_env,
    error_xml,
    moto_server,
    reset_moto,
)

# What IAM_WORLD (tests/support/moto_helpers.py) must give, case by case.
EXPECTED = {
    "test_iam_audit": "passed",
    "test_user_age[alice]": "passed",
    "test_user_age[old]": "failed",
    "test_user_age[nomfa]": "passed",
    "test_user_age[twokeys]": "passed",
    "test_user_age[stale]": "passed",
    "test_user_age[nocreds]": "passed",
    "test_access_key_age[alice:key1]": "passed",
    "test_access_key_age[twokeys:key1]": "passed",
    "test_access_key_age[twokeys:key2]": "passed",
    "test_access_key_age[stale:key1]": "failed",
    "test_unused_credentials[alice]": "passed",
    "test_unused_credentials[old]": "passed",
    "test_unused_credentials[nomfa]": "passed",
    "test_unused_credentials[twokeys]": "passed",
    "test_unused_credentials[stale]": "failed",
    "test_console_mfa[alice]": "passed",
    "test_console_mfa[old]": "passed",
    "test_console_mfa[nomfa]": "failed",
    "test_active_keys[alice]": "passed",
    "test_active_keys[twokeys]": "failed",
    "test_active_keys[stale]": "passed",
    "test_root_access_keys": "passed",
    "test_root_mfa": "passed",
    "test_password_policy": "passed",
}


@pytest.fixture(scope="module")
def server():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(server, monkeypatch):
    """The seeded account behind a counting proxy. The subprocess inherits this process's
    environment, so a shell's AWS_PROFILE or real keys are removed from it first."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_moto(server)
    seed(IAM_WORLD, iam_backend())
    with AwsProxy(server) as proxy:
        yield proxy


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_url():
    """A real health endpoint on 127.0.0.1 (a mocked world cannot sit beside a moto server:
    an env with mock: and iam: must have the mocked account too)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def iam_env(**iam):
    return {"iam": iam}


def test_iam_cases_against_a_seeded_moto_server(tmp_path, aws):
    run = run_checks(tmp_path, iam_env(), "-m", "iam", env_vars=aws_env(aws.url))
    assert run.outcomes() == EXPECTED, run.output
    assert run.returncode == 1
    assert aws.requests <= 10
    case = run.testcases()["test_access_key_age[stale:key1]"]
    message = case.find("failure").get("message")
    assert "[medium] access_key_age stale:key1" in message
    assert "key1 last rotated 212 days ago (" in message
    assert "), limit 90" in message
    assert "credential report generated " in message  # dated when asked (round 21c)
    assert "; AWS reuses a report for up to 4 h" in message
    props = run.properties("test_access_key_age[stale:key1]")
    assert props["severity"] == "medium"
    assert props["location"] == "arn:aws:iam::123456789012:user/stale"
    assert props["measured"] == "key1 212 days"
    assert run.properties("test_console_mfa[nomfa]")["severity"] == "high"
    assert run.properties("test_user_age[old]")["severity"] == "low"
    assert run.properties("test_root_mfa")["severity"] == "critical"
    audit = run.properties("test_iam_audit")["measured"]
    assert audit.startswith("account 123456789012 · 6 users · report ")


def test_fail_on_gates_by_the_iam_severities(tmp_path, aws):
    run = run_checks(
        tmp_path, iam_env(), "-m", "iam", "--fail-on", "critical", env_vars=aws_env(aws.url)
    )
    assert run.returncode == 0, run.output  # failures are medium/high/low only
    assert run.outcomes()["test_console_mfa[nomfa]"] == "failed"


def test_iam_severity_and_null_thresholds(tmp_path, aws):
    env = iam_env(
        severity="critical",
        max_user_age_days=None,
        require_console_mfa=False,
        max_active_keys_per_user=None,
        password_policy=None,
    )
    run = run_checks(tmp_path, env, "-m", "iam", env_vars=aws_env(aws.url))
    names = set(run.outcomes())
    for off in ("test_user_age", "test_console_mfa", "test_active_keys", "test_password_policy"):
        assert not any(n.startswith(off) for n in names), (off, names)
    assert "test_access_key_age[stale:key1]" in names
    assert run.properties("test_access_key_age[stale:key1]")["severity"] == "critical"


def test_minus_m_health_never_talks_to_aws(tmp_path, aws, health_url):
    env = {"endpoints": [{"name": "ok", "url": health_url}]}
    env.update(iam_env())
    run = run_checks(tmp_path, env, "-m", "health", env_vars=aws_env(aws.url))
    assert run.outcomes() == {"test_endpoint[ok]": "passed"}
    assert aws.requests == 0


def test_minus_m_health_under_xdist_never_talks_to_aws_either(tmp_path, aws, health_url):
    env = {"endpoints": [{"name": "ok", "url": health_url}]}
    env.update(iam_env())
    run = run_checks(tmp_path, env, "-m", "health", "-n", "2", env_vars=aws_env(aws.url))
    assert run.outcomes() == {"test_endpoint[ok]": "passed"}
    assert aws.requests == 0


def test_xdist_workers_share_the_controllers_one_audit(tmp_path, aws):
    run = run_checks(tmp_path, iam_env(), "-m", "iam", "-n", "3", env_vars=aws_env(aws.url))
    assert run.outcomes() == EXPECTED, run.output
    assert aws.actions["GetCredentialReport"] == 1  # not once per worker
    html = run.html_path.read_text()
    assert "AWS account&#34;: &#34;123456789012&#34;" in html  # gathered on the controller


def test_access_denied_is_one_failing_case_and_http_checks_still_run(tmp_path, aws, health_url):
    aws.faults["GenerateCredentialReport"] = Fault(
        403, error_xml("AccessDenied", "not authorized to perform: iam:GenerateCredentialReport")
    )
    env = {"endpoints": [{"name": "ok", "url": health_url}]}
    env.update(iam_env())
    run = run_checks(tmp_path, env, "--fail-on", "critical", env_vars=aws_env(aws.url))
    assert run.outcomes() == {"test_endpoint[ok]": "passed", "test_iam_audit": "failed"}
    message = run.testcases()["test_iam_audit"].find("failure").get("message")
    assert "[critical (verified nothing)] iam_audit" in message
    assert "access denied: iam:GenerateCredentialReport is not allowed" in message
    assert run.returncode == 1  # an audit that could not run gates even --fail-on critical
    assert "Traceback" not in run.output


def test_no_credentials_fails_the_audit_case(tmp_path, aws):
    env_vars = aws_env(aws.url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env_vars.pop(name)
    run = run_checks(tmp_path, iam_env(), "-m", "iam", env_vars=env_vars, name="nocreds")
    assert run.outcomes() == {"test_iam_audit": "failed"}
    assert "no AWS credentials found" in run.testcases()["test_iam_audit"].find("failure").get(
        "message"
    )
    assert aws.requests == 0


def test_waivers_on_iam_cases(tmp_path, aws):
    iam_backend().account_summary._account_mfa_enabled = 0  # root without MFA this time
    env, until = iam_env(), waiver_expiry()
    env["waivers"] = [
        {"check": "root_mfa", "target": "*", "reason": "OPS-4", "expires": until},
        {
            "check": "access_key_age",
            "target": "stale:*",
            "reason": "OPS-1",
            "expires": until,
        },
        {"check": "console_mfa", "target": "nomfa", "reason": "OPS-2", "expires": "2020-01-31"},
        {"check": "user_age", "target": "alice", "reason": "OPS-3", "expires": until},
    ]
    run = run_checks(tmp_path, env, "-m", "iam", env_vars=aws_env(aws.url))
    outcomes = run.outcomes()
    assert outcomes["test_access_key_age[stale:key1]"] == "skipped"
    skipped = run.testcases()["test_access_key_age[stale:key1]"].find("skipped")
    assert skipped.get("message") == f"waived until {until}: OPS-1"
    assert outcomes["test_console_mfa[nomfa]"] == "failed"
    failure = run.testcases()["test_console_mfa[nomfa]"].find("failure").get("message")
    assert "waiver expired on 2020-01-31" in failure
    assert outcomes["test_root_mfa"] == "skipped"
    assert "stale waiver (matched no failing case): waivers[3] check user_age" in run.stdout


def test_xdist_collects_and_judges_like_a_serial_run(tmp_path, aws):
    run = run_checks(tmp_path, iam_env(), "-m", "iam", "-n", "2", env_vars=aws_env(aws.url))
    assert run.outcomes() == EXPECTED, run.output


def test_a_mocked_env_with_iam_but_no_mocked_account_is_a_usage_error(tmp_path, aws):
    world = tmp_path / "world"
    world.mkdir()
    (world / "http.yaml").write_text("routes: []\n")
    run = run_checks(tmp_path, {"mock": str(world), "iam": {}}, env_vars=aws_env(aws.url))
    assert run.returncode == 4
    assert "has no iam.yaml" in run.output
    assert aws.requests == 0


def test_demo_env_iam_section(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # A mocked world sends no real traffic, even with an endpoint override in the shell
    # (port 9 on loopback: nothing listens there).
    bundle = tmp_path / "ca.pem"  # a bundle of the runner's own: said only where AWS is asked
    bundle.write_text("")
    env_vars = aws_env("http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1", AWS_CA_BUNDLE=str(bundle))
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", "-m", "iam", env_vars=env_vars)
    outcomes = run.outcomes()
    assert outcomes["test_iam_audit"] == "passed"
    # the audit's requests are noted as botocore sends them, to moto in this process: no
    # notice of an endpoint or a trust that no request left the process for (stop 25's
    # new-user trial: "AWS trust" in every report of the demo)
    assert "AWS endpoint" not in run.output and "AWS trust" not in run.output
    for planted in (
        "test_user_age[bob]",
        "test_console_mfa[carol]",
        "test_active_keys[dave]",
        "test_unused_credentials[legacy-bot]",
        "test_password_policy",
    ):
        assert outcomes[planted] == "failed", planted
    # The demo's waiver has a fixed expiry: skipped until then, a failure saying so after.
    waiver = yaml.safe_load((ROOT / "envs" / "demo.yaml").read_text())["waivers"][0]
    waived = "test_access_key_age[legacy-bot:key1]"
    if date.today() <= waiver["expires"]:
        assert outcomes[waived] == "skipped"
    else:
        assert outcomes[waived] == "failed"
        assert "expired" in run.testcases()[waived].find("failure").get("message")
    assert outcomes["test_console_mfa[alice]"] == "passed"
    assert "test_access_key_age[erin:key1]" not in outcomes  # inactive key: no case
    html = run.html_path.read_text()
    assert "AWS account&#34;: &#34;123456789012&#34;" in html  # the environment section


def _signed_only_rule_sets(folder, url: str):
    """botocore data files whose endpoint rule sets send a request to `url` only when its
    client has an account id from its credentials (every signed request, with
    AWS_ACCOUNT_ID set) and to AWS otherwise: a request built unsigned to ask where the
    audit goes is told AWS."""
    import json

    real = {"iam": "https://iam.amazonaws.com", "sts": "https://sts.us-east-1.amazonaws.com"}
    parameters = {
        "Region": {"builtIn": "AWS::Region", "required": False, "type": "String"},
        "Endpoint": {"builtIn": "SDK::Endpoint", "required": False, "type": "String"},
        "AccountId": {"builtIn": "AWS::Auth::AccountId", "required": False, "type": "String"},
    }
    for flag, builtin in (("UseDualStack", "AWS::UseDualStack"), ("UseFIPS", "AWS::UseFIPS")):
        parameters[flag] = {
            "builtIn": builtin,
            "required": True,
            "default": False,
            "type": "Boolean",
        }

    def endpoint(at: str, service: str) -> dict:
        scheme = {"name": "sigv4", "signingName": service, "signingRegion": "us-east-1"}
        return {"url": at, "headers": {}, "properties": {"authSchemes": [scheme]}}

    for service, version in (("iam", "2010-05-08"), ("sts", "2011-06-15")):
        where = folder / service / version
        where.mkdir(parents=True)
        signed = [{"fn": "isSet", "argv": [{"ref": "AccountId"}]}]
        rules = [
            {"conditions": signed, "type": "endpoint", "endpoint": endpoint(url, service)},
            {"conditions": [], "type": "endpoint", "endpoint": endpoint(real[service], service)},
        ]
        ruleset = {"version": "1.0", "parameters": parameters, "rules": rules}
        (where / "endpoint-rule-set-1.json").write_text(json.dumps(ruleset), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "workers",
    [[], ["-n", "2"], ["-k", "not test_iam_audit"]],
    ids=["serial", "xdist", "without-the-audit-case"],
)
def test_reports_name_where_the_audit_s_own_requests_went(tmp_path, aws, workers):
    """Round 45b F1: the start-of-run notice asks botocore with a request of its own,
    unsigned and without arguments; a rule set that sends only signed requests elsewhere
    told it AWS, and the whole audit answered by another server passed unnamed. Each report
    names where the audit's own requests went."""
    data = _signed_only_rule_sets(tmp_path / "data", aws.url)
    env_vars = aws_env(None, AWS_DATA_PATH=str(data), AWS_ACCOUNT_ID="123456789012")
    run = run_checks(tmp_path, iam_env(), "-m", "iam", *workers, env_vars=env_vars)
    # every IAM case carries the routes: a run without test_iam_audit's names them too
    # (round 46b F3)
    expected = {k: v for k, v in EXPECTED.items() if "-k" not in workers or k != "test_iam_audit"}
    assert run.outcomes() == expected, run.output
    assert aws.actions["GetCredentialReport"] == 1  # the audit was answered through the proxy
    said = (
        f"AWS endpoint: the IAM audit's requests to IAM, STS went to {aws.url} (as botocore "
        "sent them), not AWS's own endpoint"
    )
    assert said in run.output
    assert said in (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "AWS endpoint: botocore" not in run.output  # the start notice was told AWS
    # the route record is the controller's carrier, not a JUnit fact (round 46a F2)
    assert "aws_routes" not in run.properties("test_user_age[old]")
