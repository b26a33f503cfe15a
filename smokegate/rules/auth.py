"""Auth expectations judged on one response: is it closed, does the token work, is a
low-privilege token kept out.

The status alone is ambiguous to the person on call; the message says what the
difference means (a 200 without credentials is an open endpoint, a 401 with a token
means the token itself was refused, a 403 means it was accepted but lacks rights).
"""

from __future__ import annotations

from smokegate.facts.http import ProbeResult
from smokegate.rules.health import measured_http, no_response
from smokegate.targets import AuthCase
from smokegate.verdict import Verdict

BODY_EXCERPT_CHARS = 200


def explain_status(status: int, token_env: str | None) -> str:
    """What getting `status` means, phrased for the credentials that were sent."""
    if token_env is None:
        if 200 <= status < 300:
            return f"got {status} without credentials: the endpoint is open"
        return f"got {status} without credentials"
    if status == 401:
        return f"got 401 with {token_env}: token rejected (expired or wrong?)"
    if status == 403:
        return f"got 403 with {token_env}: token accepted as identity but lacks permission"
    if 200 <= status < 300:
        return f"got {status} with {token_env}: the token is let in"
    return f"got {status} with {token_env}"


def unset_token(token_env: str) -> Verdict:
    """A missing token fails (never skips): a skipped auth check in prod is a silent pass."""
    return Verdict(
        problems=(
            f"environment variable {token_env} is not set (or empty): no token to send; "
            f"set {token_env} in the pipeline's secrets",
        ),
        measured="not run",
        verified=False,
    )


def check_auth(case: AuthCase, result: ProbeResult | None) -> Verdict:
    """`result` is None when the case's token variable is unset."""
    if result is None:
        return unset_token(case.token_env or "token_env")
    measured = measured_http(result)
    if result.status is None:
        return no_response(result, measured)
    if result.status == case.expected_status:
        return Verdict(measured=measured)
    problem = f"{explain_status(result.status, case.token_env)} (expected {case.expected_status})"
    return Verdict(problems=(problem,), measured=measured, detail=_response_detail(result))


def _response_detail(result: ProbeResult) -> str:
    """What the server said about it: often the reason (`error="invalid_token"`, a message).

    Servers do echo tokens back in such text; the report scrubber hides them.
    """
    lines = []
    challenge = result.headers.get("WWW-Authenticate")
    if challenge:
        lines.append(f"WWW-Authenticate: {challenge}")
    text = result.text.strip()
    if text:
        excerpt = " ".join(text.split())
        if len(excerpt) > BODY_EXCERPT_CHARS:
            excerpt = excerpt[: BODY_EXCERPT_CHARS - 1] + "…"
        lines.append(f"response body: {excerpt}")
    return "\n".join(lines)
