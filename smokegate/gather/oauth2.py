"""OAuth2 client credentials (RFC 6749 §4.4): the token request, and what its answer means.

The prober fetches each distinct client's token once per run (per process under xdist),
on the thread pool, as soon as the first request needing it starts; the requests that
need it wait for that one fetch, everything else goes on. The token is registered with
the scrubber the moment it is parsed, before any request carries it, and the token
endpoint's answer is never kept in a result: only its status and its error fields are.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode

from smokegate.facts.http import ProbeResult, header_value_problem, without_lone_surrogates
from smokegate.redact import (
    excerpt,
    own_text_problem,
    register_secret,
    secret_problem,
    shown_url,
)

ERROR_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class OAuth2Client:
    """One client of one token endpoint, with its secret read from the environment."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    audience: str | None = None
    client_auth: str = "header"  # "header": HTTP Basic (client_secret_basic); "body"
    timeout_s: float = field(default=5.0, compare=False)

    @property
    def cache_key(self) -> tuple[str, ...]:
        """Distinct clients get distinct tokens: the same endpoint, id, secret, scope and
        audience share one. The secret counts (as a digest, never kept in the key): an entry
        with a wrong secret reused the token another entry's right one fetched, and passed
        (attack round 12). The timeout counts too: entries of one client with different
        `timeout_s` shared the first one's fetch, so a token that took 4 s passed an entry
        with a 2 s budget, or held it for 30 s (round 16)."""
        return (
            self.token_url,
            self.client_id,
            hashlib.sha256(self.client_secret.encode("utf-8", "surrogateescape")).hexdigest(),
            self.scope or "",
            self.audience or "",
            self.client_auth,
            f"{self.timeout_s:g}",
        )

    def client_authorization(self) -> str:
        """RFC 6749 §2.3.1: Basic over the form-encoded id and secret; registered as a secret."""
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        encoded = base64.b64encode(pair.encode()).decode("ascii")
        register_secret(encoded)
        return f"Basic {encoded}"

    def request_parts(self) -> tuple[dict[str, str], bytes]:
        """The token request's headers and form body."""
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self.client_auth == "body":
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
        else:
            headers["Authorization"] = self.client_authorization()
        return headers, urlencode(form).encode()


@dataclass(frozen=True)
class TokenOutcome:
    """A fetched token, or why there is none (the status and the endpoint's own error)."""

    token: str | None = field(default=None, repr=False)
    error: str | None = None
    # the endpoint handed out an access_token, used or not (one smokegate will not send is
    # still one handed out: round 37a, for a client secret nobody issued)
    handed_out: bool = False
    # the endpoint said no as RFC 6749 §5.2 has it: 400 or 401 (403 as some IdPs do) with a
    # JSON object whose `error` is a code (`invalid_client`, ...). A 429, a 5xx, a timeout, a
    # redirect, a front end's HTML 403 (a rate limit, a WAF block) or a 2xx page without a
    # token says nothing of the credentials sent (round 38c)
    refused: bool = False


def token_from(client: OAuth2Client, result: ProbeResult) -> TokenOutcome:
    """Read the token endpoint's answer; register the token before anyone can send it."""
    where = f"OAuth2 token request to {client.token_url}"
    if result.status is None:
        return TokenOutcome(error=f"{where} failed: {result.error or 'no response'}")
    try:
        # a lone surrogate escape (`"\ud800"`: a string cut inside an emoji) read as U+FFFD,
        # as every other body is: kept, RE2 raised on the token, and the error quoted it
        # whole, unregistered, in every report (round 54d G2)
        document = without_lone_surrogates(json.loads(result.body), result.body)
    except (ValueError, RecursionError):  # `[[[[...` a megabyte deep is no token answer
        document = None
    token = document.get("access_token") if isinstance(document, dict) else None
    if 200 <= result.status < 300 and isinstance(token, str) and token.strip():
        token = token.strip()
        problem = secret_problem(token)
        if problem:  # never sent: a token too short to mask would be shown wherever echoed
            return TokenOutcome(
                error=f"{where}: the access_token it returned {problem}", handed_out=True
            )
        unsendable = header_value_problem(token)
        if unsendable:  # never sent: the case verified nothing, whatever the server is
            if own_text_problem(token) is None:  # round 27a: `gate\x01FAILED` masked it
                register_secret(token)  # masked wherever the server echoes it
            return TokenOutcome(
                error=f"{where}: the access_token it returned {unsendable}", handed_out=True
            )
        own = own_text_problem(token)
        if own:  # never sent nor registered: masked, it would garble every report
            return TokenOutcome(
                error=f"{where}: the access_token it returned {own}", handed_out=True
            )
        register_secret(token)
        return TokenOutcome(token=token, handed_out=True)
    if 200 <= result.status < 300:
        if result.error:  # the body stalled, was cut or refused: said, not "no token" (round 14)
            return TokenOutcome(
                error=f"{where}: status {result.status}, but its body was not read whole: "
                f"{result.error}"
            )
        return TokenOutcome(
            error=f"{where}: status {result.status} but no access_token in the answer"
        )
    if 300 <= result.status < 400:
        # round 24c: "status 307" alone; the usual cause is a token_url without https:// or
        # a trailing slash, and a followed redirect would carry the client secret elsewhere
        location = result.headers.get("location")
        to = f" to {shown_url(location)}" if location else ""
        return TokenOutcome(
            error=f"{where}: status {result.status}, a redirect{to}, not followed (the "
            "client secret is sent to token_url only): write the token_url it points to"
        )
    code = document.get("error") if isinstance(document, dict) else None
    return TokenOutcome(
        error=f"{where}: status {result.status}{_reason(document, result)}",
        refused=result.status in (400, 401, 403) and isinstance(code, str) and bool(code.strip()),
    )


def _reason(document: object, result: ProbeResult) -> str:
    """`error` and `error_description` (RFC 6749 §5.2), else the start of the body."""
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        described = document.get("error_description")
        tail = ""
        if isinstance(described, str) and described:
            tail = f": {excerpt(described, ERROR_EXCERPT_CHARS)}"
        return f", error {excerpt(document['error'], ERROR_EXCERPT_CHARS)}{tail}"
    text = excerpt(result.text, ERROR_EXCERPT_CHARS)
    return f": {text}" if text else ""
