"""`pytest checks/ --env <file>` end to end against real local servers: auth, TLS, headers."""

import pytest

from tests.support.auth_server import auth_server
from tests.support.e2e import run_checks
from tests.support.tls_servers import tls_world

TOKENS = {"good-token-1": 200, "readonly-token-1": 403}
TOKEN_VARS = {
    "SG_API_TOKEN": "good-token-1",
    "SG_READONLY_TOKEN": "readonly-token-1",
    "SG_EXPIRED_TOKEN": "expired-token-1",
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with auth_server(TOKENS) as auth, tls_world(tmp_path_factory.mktemp("tls")) as tls:
        yield auth, tls


def failure_text(run, name: str) -> str:
    failure = run.testcases()[name].find("failure")
    assert failure is not None, f"{name} did not fail"
    return f"{failure.get('message', '')}\n{failure.text or ''}"


@pytest.fixture(scope="module")
def run(servers, tmp_path_factory):
    auth, tls = servers
    env = {
        "defaults": {"timeout_s": 5},
        "ca_bundle": str(tls.ca_bundle),
        "endpoints": [
            # HTTPS through the private CA: ca_bundle applies to every HTTPS call
            {
                "name": "https-valid",
                "url": f"https://localhost:{tls.ports['valid']}/",
                "security_headers": ["x-content-type-options", "server"],
            },
        ],
        "auth": [
            {
                "name": "api",
                "url": auth.url("/api"),
                "token_env": "SG_API_TOKEN",
                "forbidden": [
                    {"token_env": "SG_READONLY_TOKEN"},
                    {"token_env": "SG_EXPIRED_TOKEN"},
                ],
            },
            {"name": "open", "url": auth.url("/open"), "token_env": "SG_API_TOKEN"},
            {"name": "lowpriv", "url": auth.url("/api"), "token_env": "SG_READONLY_TOKEN"},
            {"name": "expired", "url": auth.url("/api"), "token_env": "SG_EXPIRED_TOKEN"},
            {
                "name": "unset",
                "url": auth.url("/api"),
                "token_env": "SG_UNSET_TOKEN",
                "severity": "low",
            },
        ],
        "tls": [
            {"host": "127.0.0.1", "port": port, "server_name": "localhost"}
            for port in tls.ports.values()
        ],
    }
    return run_checks(tmp_path_factory.mktemp("e2e"), env, env_vars=TOKEN_VARS)


def test_outcomes_of_every_case(run, servers):
    _, tls = servers
    outcomes = run.outcomes()
    expected = {
        "test_rejects_anonymous[api]": "passed",
        "test_accepts_token[api]": "passed",
        "test_forbids_low_privilege[api-SG_READONLY_TOKEN]": "passed",
        "test_forbids_low_privilege[api-SG_EXPIRED_TOKEN]": "failed",
        "test_rejects_anonymous[open]": "failed",
        "test_accepts_token[lowpriv]": "failed",
        "test_accepts_token[expired]": "failed",
        "test_accepts_token[unset]": "failed",
        "test_endpoint[https-valid]": "passed",
        "test_security_headers[https-valid]": "failed",
        **{
            f"test_certificate[127.0.0.1:{port}]": "passed" if kind == "valid" else "failed"
            for kind, port in tls.ports.items()
        },
    }
    assert {name: outcomes.get(name) for name in expected} == expected, run.output
    assert run.returncode == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("test_rejects_anonymous[open]", "got 200 without credentials: the endpoint is open"),
        (
            "test_accepts_token[lowpriv]",
            "got 403 with SG_READONLY_TOKEN: token accepted as identity but lacks permission",
        ),
        (
            "test_accepts_token[expired]",
            "got 401 with SG_EXPIRED_TOKEN: token rejected (expired or wrong?)",
        ),
        (
            "test_forbids_low_privilege[api-SG_EXPIRED_TOKEN]",
            "got 401 with SG_EXPIRED_TOKEN: token rejected (expired or wrong?) (expected 403)",
        ),
        ("test_accepts_token[unset]", "environment variable SG_UNSET_TOKEN is not set"),
        (
            "test_security_headers[https-valid]",
            "X-Content-Type-Options missing (want nosniff)",
        ),
    ],
)
def test_failure_messages(run, name, message):
    assert message in failure_text(run, name)


def test_unset_token_fails_and_never_skips(run):
    assert run.outcomes()["test_accepts_token[unset]"] == "failed"
    assert run.properties("test_accepts_token[unset]")["severity"] == "low"


def test_tls_messages_and_days_left_in_the_reports(run, servers):
    _, tls = servers
    expected = {
        "valid": (90, None),
        "expiring": (5, "certificate expires in 5 days"),
        "expired": (-3, "certificate expired 3 days ago"),
        "wrong-name": (90, "wrong host name: the certificate is for other.example"),
        "self-signed": (90, "self-signed certificate ('self-signed.test')"),
    }
    for kind, (days, message) in expected.items():
        name = f"test_certificate[127.0.0.1:{tls.ports[kind]}]"
        props = run.properties(name)
        assert props["measured"] == f"{days} days left", name
        assert props["severity"] == "high"
        assert props["check"] == "certificate"
        if message:
            assert message in failure_text(run, name)
    html = run.html_path.read_text(encoding="utf-8")
    assert "certificate expired 3 days ago" in html
    assert "-3 days left" in html


def test_auth_measured_status_and_default_severity(run):
    props = run.properties("test_rejects_anonymous[api]")
    assert props["measured"].startswith("401 · ")
    assert props["severity"] == "high"
    assert run.properties("test_security_headers[https-valid]")["severity"] == "medium"


def test_markers_select_auth_or_tls_alone(servers, tmp_path):
    auth, tls = servers
    env = {
        "auth": [{"name": "api", "url": auth.url("/api"), "token_env": "SG_API_TOKEN"}],
        "tls": [{"host": "127.0.0.1", "port": tls.ports["valid"], "server_name": "localhost"}],
        "ca_bundle": str(tls.ca_bundle),
    }
    only_tls = run_checks(tmp_path, env, "-m", "tls", env_vars=TOKEN_VARS)
    assert only_tls.outcomes() == {f"test_certificate[127.0.0.1:{tls.ports['valid']}]": "passed"}
    assert only_tls.returncode == 0, only_tls.output
