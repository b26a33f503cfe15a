"""Auth probes against a real bearer-token server on 127.0.0.1, in-process: every auth case
and endpoint in one batch, unset or empty tokens sending nothing, a redirect to a login page,
no session cookie carried from the token request to the anonymous one."""

from pathlib import Path

import pytest

from smokegate.config import AuthEntry, Defaults, Endpoint, EnvConfig, LoadedEnv
from smokegate.gather.http import HttpGatherer, auth_request
from smokegate.gather.probe import Prober
from smokegate.rules.auth import check_auth
from smokegate.targets import AuthCase, anonymous_cases, forbidden_cases, token_cases
from tests.support.auth_server import SESSION_COOKIE, auth_server

TOKENS = {"good-token-1": 200, "readonly-token-1": 403}


@pytest.fixture
def server():
    with auth_server(TOKENS) as running:
        yield running


@pytest.fixture
def tokens(monkeypatch):
    monkeypatch.setenv("SG_API_TOKEN", "good-token-1")
    monkeypatch.setenv("SG_READONLY_TOKEN", "readonly-token-1")
    monkeypatch.delenv("SG_UNSET_TOKEN", raising=False)


def loaded(*entries: AuthEntry, endpoints: tuple[Endpoint, ...] = ()) -> LoadedEnv:
    config = EnvConfig(auth=list(entries), endpoints=list(endpoints))
    return LoadedEnv(name="t", path=Path("t.yaml"), root=Path("."), config=config)


def test_all_auth_cases_and_endpoints_go_out_in_one_batch(server, tokens):
    entry = AuthEntry(
        name="api",
        url=server.url("/api"),
        token_env="SG_API_TOKEN",
        forbidden=[{"token_env": "SG_READONLY_TOKEN"}],
    )
    env = loaded(entry, endpoints=(Endpoint(name="open", url=server.url("/open")),))
    cases = [
        *anonymous_cases(env.config),
        *token_cases(env.config),
        *forbidden_cases(env.config),
    ]
    targets = [*env.config.endpoints, *cases]
    gatherer = HttpGatherer(Defaults(), lambda: targets)
    try:
        verdicts = [check_auth(case, gatherer.auth(case)) for case in cases]
        assert gatherer.endpoint(env.config.endpoints[0]).status == 200
    finally:
        gatherer.close()
    assert gatherer.probes.batches == [4]  # 3 auth requests + 1 endpoint, one concurrent batch
    assert [v.passed for v in verdicts] == [True, True, True]
    sent = sorted(r["authorization"] for r in server.seen if r["path"] == "/api")
    assert sent == ["", "Bearer good-token-1", "Bearer readonly-token-1"]


def test_unset_token_sends_nothing_and_fails_naming_the_variable(server, tokens):
    case = AuthCase(
        AuthEntry(url=server.url("/api"), token_env="SG_UNSET_TOKEN"),
        "SG_UNSET_TOKEN",
        200,
        "token",
    )
    assert auth_request(case, Defaults()) is None
    gatherer = HttpGatherer(Defaults(), lambda: [case])
    try:
        verdict = check_auth(case, gatherer.auth(case))
    finally:
        gatherer.close()
    assert "SG_UNSET_TOKEN is not set" in verdict.message
    assert server.seen == []


def test_empty_token_counts_as_unset(monkeypatch, server):
    monkeypatch.setenv("SG_EMPTY_TOKEN", "")
    entry = AuthEntry(url=server.url("/api"), token_env="SG_EMPTY_TOKEN")
    assert auth_request(AuthCase(entry, "SG_EMPTY_TOKEN", 200, "token"), Defaults()) is None


def test_redirect_to_login_is_seen_as_the_redirect(server, tokens):
    entry = AuthEntry(url=server.url("/login"), token_env="SG_API_TOKEN")
    case = AuthCase(entry, None, 401, "anonymous")
    gatherer = HttpGatherer(Defaults(), lambda: [case])
    try:
        verdict = check_auth(case, gatherer.auth(case))
    finally:
        gatherer.close()
    assert verdict.problems == ("got 302 without credentials (expected 401)",)


def test_a_session_cookie_from_the_token_request_is_not_reused_anonymously(server, tokens):
    entry = AuthEntry(url=server.url("/api"), token_env="SG_API_TOKEN")
    prober = Prober()
    try:
        with_token = prober.probe(
            auth_request(AuthCase(entry, "SG_API_TOKEN", 200, "t"), Defaults())
        )
        anonymous = prober.probe(auth_request(AuthCase(entry, None, 401, "a"), Defaults()))
    finally:
        prober.close()
    assert with_token.status == 200
    assert with_token.headers["Set-Cookie"] == SESSION_COOKIE
    assert anonymous.status == 401
    assert server.seen[-1]["cookie"] == ""
