"""Auth rule: each status gets the explanation the person on call needs."""

import pytest

from smokegate.config import AuthEntry
from smokegate.facts.http import Headers, ProbeResult
from smokegate.rules.auth import check_auth, explain_status
from smokegate.targets import AuthCase

ENTRY = AuthEntry(name="user-api", url="https://api.example.com/user", token_env="API_TOKEN")


def result(status: int | None, body: bytes = b"", **headers: str) -> ProbeResult:
    return ProbeResult(
        key="k",
        url=ENTRY.url,
        status=status,
        latency_ms=12.0,
        body=body,
        headers=Headers(headers),
        error=None if status else "connection refused by api.example.com",
    )


ANONYMOUS = AuthCase(ENTRY, None, 401, "anonymous")
TOKEN = AuthCase(ENTRY, "API_TOKEN", 200, "token")
FORBIDDEN = AuthCase(ENTRY, "READONLY_TOKEN", 403, "forbidden")


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        (ANONYMOUS, 200, "got 200 without credentials: the endpoint is open (expected 401)"),
        (ANONYMOUS, 404, "got 404 without credentials (expected 401)"),
        (
            TOKEN,
            403,
            "got 403 with API_TOKEN: token accepted as identity but lacks permission "
            "(expected 200)",
        ),
        (TOKEN, 401, "got 401 with API_TOKEN: token rejected (expired or wrong?) (expected 200)"),
        (TOKEN, 500, "got 500 with API_TOKEN (expected 200)"),
        (
            FORBIDDEN,
            200,
            "got 200 with READONLY_TOKEN: the token is let in (expected 403)",
        ),
        (
            FORBIDDEN,
            401,
            "got 401 with READONLY_TOKEN: token rejected (expired or wrong?) (expected 403)",
        ),
    ],
)
def test_unexpected_status_is_explained(case, status, message):
    verdict = check_auth(case, result(status))
    assert verdict.problems == (message,)
    assert verdict.measured == f"{status} · 12 ms"


@pytest.mark.parametrize(("case", "status"), [(ANONYMOUS, 401), (TOKEN, 200), (FORBIDDEN, 403)])
def test_expected_status_passes(case, status):
    verdict = check_auth(case, result(status))
    assert verdict.passed
    assert verdict.measured == f"{status} · 12 ms"


def test_custom_expected_statuses_are_honoured():
    entry = ENTRY.model_copy(update={"anonymous_status": 302})
    assert check_auth(AuthCase(entry, None, 302, "anonymous"), result(302)).passed
    assert not check_auth(AuthCase(entry, None, 302, "anonymous"), result(401)).passed


def test_unset_token_fails_naming_the_variable():
    verdict = check_auth(TOKEN, None)
    assert not verdict.passed
    assert "environment variable API_TOKEN is not set" in verdict.message
    assert verdict.measured == "not run"


def test_no_response_reports_the_probe_error():
    verdict = check_auth(TOKEN, result(None))
    assert verdict.problems == ("connection refused by api.example.com",)
    assert verdict.verified  # a refused connection is a finding about the target


def test_a_request_never_sent_verified_nothing():
    unsent = ProbeResult(key="k", url=ENTRY.url, error="request failed: not mocked", sent=False)
    for case in (ANONYMOUS, TOKEN, FORBIDDEN):
        verdict = check_auth(case, unsent)
        assert not verdict.passed
        assert not verdict.verified


def test_failure_detail_quotes_the_challenge_and_a_body_excerpt():
    body = b'{"error": "invalid_token", "error_description": "expired"}' + b" x" * 300
    verdict = check_auth(
        TOKEN, result(401, body, **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    )
    lines = verdict.detail.splitlines()
    assert lines[0] == 'WWW-Authenticate: Bearer error="invalid_token"'
    assert lines[1].startswith('response body: {"error": "invalid_token"')
    assert len(lines[1]) == len("response body: ") + 200
    assert lines[1].endswith("…")


def test_explain_status_without_credentials_only_calls_2xx_open():
    assert explain_status(204, None).endswith("the endpoint is open")
    assert explain_status(302, None) == "got 302 without credentials"


INVALID = AuthCase(ENTRY, "API_TOKEN", 401, "invalid", ENTRY.auth)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_an_invented_token_refused_any_way_passes(status):
    assert check_auth(INVALID, result(status)).passed


def test_an_invented_token_let_in_says_the_endpoint_checks_only_presence():
    verdict = check_auth(INVALID, result(200))
    assert verdict.problems == (
        "got 200 with a token nobody issued (of the real one's shape, invented by smokegate): "
        "the endpoint lets in any token: it checks that one is sent, not that it is valid "
        "(expected a refusal: 400, 401, 403; if test_rejects_anonymous fails too, it lets in "
        "anyone)",
    )
    assert verdict.verified


def test_an_invented_token_refused_as_the_entry_refuses_anonymous_visitors_passes():
    login = AuthEntry(
        name="app", url="https://app.example.com/", token_env="APP_TOKEN", anonymous_status=302
    )
    case = AuthCase(login, "APP_TOKEN", 302, "invalid", login.auth)
    assert check_auth(case, result(302)).passed
    said = check_auth(case, result(500)).problems
    assert said == ("got 500 with a token nobody issued (expected a refusal: 302, 400, 401, 403)",)


@pytest.mark.parametrize("authenticated", [400, 401, 403])
def test_the_real_tokens_own_status_is_no_refusal_of_an_invented_one(authenticated):
    """Round 33c F2: `authenticated_status: 400` (a POST probed with an empty body, so
    nothing is created) made the invented token's 400 a refusal, and a server letting in
    any token passed every case. Its 400 now verifies nothing; another refusal passes."""
    post = AuthEntry(
        name="deploy",
        url="https://api.example.com/deploy",
        token_env="DEPLOY_TOKEN",
        method="POST",
        authenticated_status=authenticated,
        anonymous_status=401 if authenticated != 401 else 403,
    )
    case = AuthCase(post, "DEPLOY_TOKEN", post.anonymous_status, "invalid", post.auth)
    verdict = check_auth(case, result(authenticated))
    assert not verdict.passed and not verdict.verified
    (problem,) = verdict.problems
    assert problem.startswith(
        f"got {authenticated} with a token nobody issued, the status the real one gets "
        f"(authenticated_status {authenticated}): a refusal cannot be told from being let in"
    )
    others = sorted({400, 401, 403, post.anonymous_status} - {authenticated})
    assert f"(expected a refusal: {', '.join(map(str, others))})" in problem
    for refusal in others:
        assert check_auth(case, result(refusal)).passed


def test_basic_credentials_invented_say_credentials():
    basic = AuthEntry(
        name="b",
        url="https://b.example.com/",
        credentials={"basic": {"username": "svc", "password_env": "B_PASSWORD"}},
    )
    case = AuthCase(basic, "B_PASSWORD", 401, "invalid", basic.auth)
    (problem,) = check_auth(case, result(204)).problems
    assert problem.startswith("got 204 with credentials nobody issued (of the real one's shape")
    assert "lets in any credentials: it checks that some are sent" in problem


def test_an_answer_cut_after_its_status_is_no_pass_for_any_auth_case():
    """Round 28c-2: the status alone passed an answer the health check fails."""
    cut = ProbeResult(
        key="k",
        url=ENTRY.url,
        status=200,
        latency_ms=12.0,
        body=b"no",
        headers=Headers({}),
        error="the body is shorter than its Content-Length announced",
    )
    for case in (TOKEN, INVALID, ANONYMOUS):
        (problem,) = check_auth(case, cut).problems
        assert problem.startswith("status 200, but the answer did not arrive whole: the body is")


def test_a_let_in_answer_from_a_cache_says_so():
    """Round 29c: nginx's proxy_cache, keyed without Authorization, handed a token holder's
    answer to the anonymous request: "the endpoint is open" blamed a backend that verifies
    tokens."""
    cached = result(200, **{"X-Cache-Status": "HIT"})
    verdict = check_auth(ANONYMOUS, cached)
    assert "the answer came from a cache (X-Cache-Status: HIT)" in verdict.detail
    assert "its key must hold the Authorization header" in verdict.detail
    assert "from a cache" not in check_auth(ANONYMOUS, result(200)).detail


def test_a_rate_limit_says_nothing_about_the_credentials():
    """Round 30c: a 429 (the run's burst, or a lockout after the invented token's failed
    login) read as "got 429 without credentials (expected 401)"."""
    for case in (ANONYMOUS, TOKEN, INVALID):
        verdict = check_auth(case, result(429))
        assert not verdict.verified
        assert verdict.problems[0].startswith("got 429 Too Many Requests: the server rate-limits")
