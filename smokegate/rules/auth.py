"""Auth expectations judged on one response: is it closed, does the token work, is a
low-privilege token kept out.

The status alone is ambiguous to the person on call; the message says what the
difference means (a 200 without credentials is an open endpoint, a 401 with a token
means the token itself was refused, a 403 means it was accepted but lacks rights).
"""

from __future__ import annotations

from dataclasses import replace

from smokegate.facts.http import ProbeResult, unset_variable
from smokegate.redact import excerpt
from smokegate.rules.health import measured_http, no_response
from smokegate.targets import AuthCase
from smokegate.verdict import Verdict

BODY_EXCERPT_CHARS = 200


def explain_status(status: int, token_env: str | None, scheme: str = "bearer") -> str:
    """What getting `status` means, phrased for the credentials that were sent: `token_env`
    names them in messages (`Credentials.describe()`), `scheme` says what they are."""
    what = "token" if scheme in ("bearer", "oauth2") else "credentials"
    if token_env is None:
        if 200 <= status < 300:
            return f"got {status} without credentials: the endpoint is open"
        return f"got {status} without credentials"
    if status == 401:
        return f"got 401 with {token_env}: {what} rejected (expired or wrong?)"
    if status == 403:
        return f"got 403 with {token_env}: {what} accepted as identity but lacks permission"
    if 200 <= status < 300:
        verb = "is" if what == "token" else "are"
        return f"got {status} with {token_env}: the {what} {verb} let in"
    return f"got {status} with {token_env}"


def unset_token(token_env: str) -> Verdict:
    """A missing token fails (never skips): a skipped auth check in prod is a silent pass."""
    return Verdict(problems=(unset_variable(token_env),), measured="not run", verified=False)


def check_auth(case: AuthCase, result: ProbeResult | None) -> Verdict:
    """`result` None (a token variable unset, from callers that build no result for it) and
    a result never sent (a variable unset, no OAuth2 token) both verified nothing."""
    if result is None:
        return unset_token(case.token_env or "token_env")
    measured = measured_http(result)
    if result.status is None:
        return no_response(result, measured)
    if result.error:
        # the status came and the rest of the answer did not (cut, stalled, misframed): a
        # streaming app that refuses a token inside its body cuts the answer after its 200,
        # and the status alone passed what the health check fails (round 28c)
        problem = f"status {result.status}, but the answer did not arrive whole: {result.error}"
        return Verdict(problems=(problem,), measured=measured)
    if result.status == 429 and case.expected_status != 429:
        # a rate limit says nothing about the credentials: the run's own burst, or a lockout
        # an invented token's failed login tripped (round 30c)
        return Verdict(
            problems=(
                "got 429 Too Many Requests: the server rate-limits these requests, so "
                "its answer to them was not judged",
            ),
            measured=measured,
            hint="allow the runner's address, or lower defaults.max_workers; a login lockout "
            "may follow failed logins (test_rejects_invalid_token sends one a run)",
            verified=False,
        )
    if result.refused_with_let_in_body:
        return Verdict(
            problems=(
                f"got {result.status} {_sent_as(case)}, but its body holds the real "
                f"credential's answer: {result.refused_with_let_in_body} of the "
                f"{result.let_in_data_bytes} bytes of its data words (values, text; ids and "
                "times left aside): the server refuses by status and sends the data anyway",
            ),
            measured=measured,
            hint="stop the handler after setting the refusal (a redirect or 401 without "
            "return/exit goes on to render the page)",
        )
    if case.kind == "invalid":
        return _judge_invented(case, result, measured)
    credentials = case.auth
    label = credentials.describe() if credentials is not None else None
    if result.credential_expired:
        return _judge_expired(case, result, measured, label or case.token_env or "the token")
    if result.status == case.expected_status:
        return Verdict(measured=measured)
    scheme = credentials.scheme if credentials is not None else "bearer"
    problem = f"{explain_status(result.status, label, scheme)} (expected {case.expected_status})"
    return Verdict(problems=(problem,), measured=measured, detail=_response_detail(result))


def _sent_as(case: AuthCase) -> str:
    """What a refusal case sent, as its message says it."""
    return {
        "anonymous": "without credentials",
        "invalid": "with credentials nobody issued",
    }.get(case.kind, "with a credential that must not reach it")


def _judge_expired(case: AuthCase, result: ProbeResult, measured: str, label: str) -> Verdict:
    """The env's own token is a JWT whose `exp` has passed: let in, the endpoint does not
    check expiry (a stolen token works for ever); refused, the token wants renewing, which
    the person on call should read instead of "expired or wrong?" (round 34c F4)."""
    status = result.status
    assert status is not None
    when = result.credential_expired
    if status == case.expected_status or 200 <= status < 300:
        problem = (
            f"got {status} with {label}, a JWT whose exp passed at {when}: the endpoint does "
            "not check a token's expiry, so a stolen token works for ever"
        )
        hint = "verify exp (and nbf) where the token is checked"
    else:
        problem = f"got {status} with {label}: its JWT expired at {when} (exp)"
        hint = f"renew the token in {case.token_env or 'its variable'}"
        if case.auth is not None and case.auth.scheme == "oauth2":
            problem = (
                f"got {status} with {label}: the token endpoint handed out a JWT that had "
                f"expired at {when} (exp)"
            )
            hint = "the token endpoint hands out expired tokens: check its clock and lifetimes"
    return Verdict(
        problems=(f"{problem} (expected {case.expected_status} for a token still valid)",),
        measured=measured,
        detail=_response_detail(result),
        hint=hint,
    )


# What a server answers credentials it cannot verify: 401 (RFC 9110), 403, or 400 for a
# token it cannot even parse (RFC 6750's invalid_request); an app that redirects anonymous
# visitors to its login page redirects these too (the entry's anonymous_status).
REFUSALS = frozenset({400, 401, 403})


def _judge_invented(case: AuthCase, result: ProbeResult, measured: str) -> Verdict:
    """Credentials of the entry's scheme that nobody issued must be refused."""
    status = result.status
    assert status is not None
    if result.token_for_invented_secret:
        return Verdict(
            problems=(
                "the OAuth2 token endpoint handed out a token for a client secret nobody "
                "issued (of the real one's shape, invented by smokegate): anyone who knows the "
                f"client id gets tokens (this endpoint then answered {status} to it)",
            ),
            measured=measured,
            detail=_response_detail(result),
        )
    if result.invented_secret_handed_out:
        return Verdict(
            problems=(
                "the OAuth2 token endpoint handed out an access_token for a client secret "
                "nobody issued (of the real one's shape, invented by smokegate): anyone who "
                "knows the client id gets tokens (smokegate did not send it: "
                f"{result.invented_secret_handed_out})",
            ),
            measured=measured,
        )
    verdict = _judge_invented_token(case, result, measured)
    if not result.invented_secret_unanswered:
        return verdict
    unanswered = (
        "the OAuth2 token endpoint did not refuse a client secret nobody issued "
        f"({result.invented_secret_unanswered}): whether it hands tokens to anyone who "
        "knows the client id was not verified (expected a refusal: 400 or 401)"
    )
    return replace(
        verdict,
        problems=(*verdict.problems, unanswered),
        verified=verdict.verified and bool(verdict.problems),
    )


def _judge_invented_token(case: AuthCase, result: ProbeResult, measured: str) -> Verdict:
    """An invented token of the entry's scheme must be refused."""
    status = result.status
    assert status is not None
    # the real token's own status is no refusal: with `authenticated_status: 400` (a POST
    # probed with an empty body), a server letting in any token answered 400 too, and the
    # case passed (round 33c F2)
    authenticated = case.entry.authenticated_status
    refusal_statuses = (REFUSALS | {case.expected_status}) - {authenticated}
    if status in refusal_statuses:
        return Verdict(measured=measured)
    credentials = case.auth
    token = credentials is None or credentials.scheme in ("bearer", "oauth2")
    sent, any_, checks = (
        ("a token", "any token", "one is sent, not that it is valid")
        if token
        else ("credentials", "any credentials", "some are sent, not that they are valid")
    )
    refusals = ", ".join(str(s) for s in sorted(refusal_statuses))
    if status == authenticated and authenticated in REFUSALS:
        return Verdict(
            problems=(
                f"got {status} with {sent} nobody issued, the status the real one gets "
                f"(authenticated_status {authenticated}): a refusal cannot be told from being "
                f"let in, so nothing was verified; probe a request the real one gets a 2xx "
                f"for (expected a refusal: {refusals})",
            ),
            measured=measured,
            verified=False,
            detail=_response_detail(result),
        )
    problem = f"got {status} with {sent} nobody issued (expected a refusal: {refusals})"
    if 200 <= status < 300 or status == case.entry.authenticated_status:
        problem = (
            f"got {status} with {sent} nobody issued (of the real one's shape, invented by "
            f"smokegate): the endpoint lets in {any_}: it checks that {checks} (expected a "
            f"refusal: {refusals}; if test_rejects_anonymous fails too, it lets in anyone)"
        )
    return Verdict(problems=(problem,), measured=measured, detail=_response_detail(result))


# Headers by which caches say an answer is one they kept: nginx (X-Cache-Status, or an
# X-Cache an operator adds), Varnish and Squid (X-Cache), Cloudflare, Fastly, Akamai.
_CACHE_HEADERS = ("X-Cache-Status", "X-Cache", "CF-Cache-Status", "X-Proxy-Cache", "X-Cache-Lookup")


def cache_note(result: ProbeResult) -> str:
    """What says a let-in answer came from a cache: one kept from a token holder's request
    and handed to the next, whose key lacks the Authorization header (round 29c: nginx's
    proxy_cache before a backend that verifies tokens read as "the endpoint is open")."""
    for name in _CACHE_HEADERS:
        value = result.headers.get(name) or ""
        if "HIT" in value.upper():
            return (
                f"the answer came from a cache ({name}: {excerpt(value, 40)}): a cache in front "
                "of the endpoint hands a token holder's answer to other requests; its key must "
                "hold the Authorization header (or the cache must skip authenticated answers)"
            )
    age = (result.headers.get("Age") or "").strip()
    if age.isdigit() and int(age) > 0:
        return (
            f"the answer came from a cache (Age: {excerpt(age, 12)}): a cache in front of the "
            "endpoint may hand a token holder's answer to other requests"
        )
    return ""


def _response_detail(result: ProbeResult) -> str:
    """What the server said about it: often the reason (`error="invalid_token"`, a message).

    Servers do echo tokens back in such text: `excerpt` masks them before it cuts.
    """
    lines = []
    cached = cache_note(result) if result.status and 200 <= result.status < 300 else ""
    if cached:
        lines.append(cached)
    challenge = result.headers.get("WWW-Authenticate")
    if challenge:
        lines.append(f"WWW-Authenticate: {excerpt(challenge, BODY_EXCERPT_CHARS)}")
    body = excerpt(result.text, BODY_EXCERPT_CHARS)
    if body:
        lines.append(f"response body: {body}")
    return "\n".join(lines)
