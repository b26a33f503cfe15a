"""The AWS secrets that never pass through the environment, made known to the scrubber.

The scrubber masks what it knows: the environment's AWS variables, and values registered at
run time. botocore finds credentials in many other places (a profile's file, a
`source_profile` it signs an `sts:AssumeRole` with, `credential_process`, a profile's
`web_identity_token_file`, the SSO token cache, the instance or task role) and fetches new
ones (SSO-OIDC `CreateToken`, SSO `GetRoleCredentials`, STS). An endpoint that quotes any of
them back in an error, or an HTTP client error that shows a header value, would otherwise
put it in every report.

So the secrets are registered where botocore handles them, for every client of the session,
including the ones its credential providers create while resolving:

- `before-call`: the credentials the call will be signed with, and the secret parameters
  the call sends (a web identity token, an SSO bearer token, an OIDC client secret or
  refresh token): registered before any byte is sent, so the answer's echo is masked;
- `after-call`: the secrets an answer hands out (keys, session tokens, access and refresh
  tokens), before they are used or logged again;
- the session's own credentials once resolved, and each time botocore renews them.

botocore's DEBUG log of a body it has just received (before `after-call`) is masked by the
scrubber's shapes for those field names, not by registration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.credentials import RefreshableCredentials

from smokegate.facts.iam import IamAuditError
from smokegate.redact import (
    AWS_SECRET_FIELDS,
    own_text_problem,
    register_secret,
    secret_problem,
    token_shaped,
)


def _normalised(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


# The fields that hold secrets (the scrubber's AWS list, which covers what STS, SSO and
# SSO-OIDC send and answer), compared lower-cased with `-` and `_` dropped.
_SECRET_FIELDS = frozenset(_normalised(field) for field in AWS_SECRET_FIELDS)
_MAX_WALK = 10_000  # values looked at in one call's parameters or answer


def watch_session(session: boto3.Session) -> None:
    """Register the secrets of every call a client of `session` makes, and of every answer."""
    events = session._session  # boto3 exposes no public event registration on the session
    events.register("before-call", _before_call, unique_id="smokegate-secrets-before")
    events.register("after-call", _after_call, unique_id="smokegate-secrets-after")


def register_credentials(session: boto3.Session, source: str = "") -> None:
    """Register the session's resolved credentials (and wrap their renewal so each new set is
    registered too). A resolution error is left to the first call, which explains it; a
    secret too short to be masked is refused, as in the environment."""
    try:
        credentials = session.get_credentials()
        if credentials is None:
            return
        if isinstance(credentials, RefreshableCredentials):
            credentials._refresh_using = _registering(credentials._refresh_using)  # no public hook
        frozen = credentials.get_frozen_credentials()
    except IamAuditError:  # a bound of smokegate's (`aws_credential_routes`): said as it is
        raise
    except Exception:  # the first call meets the same error, and explains it
        return
    for what, value in (("secret access key", frozen.secret_key), ("session token", frozen.token)):
        if not value or not value.strip():
            continue
        problem = secret_problem(value)
        if problem:
            where = f" of {source}" if source else ""
            raise IamAuditError(f"the AWS {what}{where} {problem}; real AWS credentials are longer")
        register_found_credential(value)


def register_pieces(value: str | None) -> None:
    """The value, and each line of one written over several (a token pasted wrapped, which
    a configparser file reads as one value with a line break in it)."""
    register_secret(value)
    for piece in (value or "").split():
        register_secret(piece)


def register_found_credential(value: str | None) -> None:
    """A key id, secret key or session token botocore found (a profile, a
    `credential_process`, a container credentials endpoint) or renewed, registered; one that
    would mask smokegate's own words or the run's facts is refused, as STS's answers are
    (round 26a: a key id that was a target's URL and a token of `1 critical` masked the
    verdict and the target). AWS's own are random base64, which never does."""
    text = (value or "").strip()
    if not text:
        return
    # judged whole: AWS's keys and tokens hold no blank, and each piece of `**gate FAILED`
    # passed alone while the whole value, registered, masked summary.md's verdict (37a)
    problem = (
        "holds a blank or markup, which no AWS key or token does"
        if any(c.isspace() or c in "<>\"'&" for c in text)
        else own_text_problem(text)
    )
    if problem:
        raise IamAuditError(
            f"an AWS credential botocore found (a profile, a credential_process, a "
            f"credentials endpoint) {problem}; is that credential source AWS's?"
        )
    register_pieces(text)


def _registering(refresh: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def refresh_and_register() -> dict[str, Any]:
        metadata = refresh()
        register_found_credential(metadata.get("access_key"))
        register_found_credential(metadata.get("secret_key"))
        register_found_credential(metadata.get("token"))
        return metadata

    return refresh_and_register


def _before_call(params: Any = None, request_signer: Any = None, **_: Any) -> None:
    credentials = getattr(request_signer, "_credentials", None)  # what the call is signed with
    if credentials is not None:
        try:
            frozen = credentials.get_frozen_credentials()
        except Exception:  # the call itself meets the same error, and explains it
            frozen = None
        if frozen is not None:
            register_found_credential(frozen.access_key)
            register_found_credential(frozen.secret_key)
            register_found_credential(frozen.token)
    if isinstance(params, dict):
        for part in ("headers", "body", "query_string"):
            for value in _secret_values(_decoded(params.get(part))):
                # a refresh token an endpoint handed out, refused from its answer for
                # holding smokegate's words, was registered when sent back (round 27a)
                if own_text_problem(value) is None:
                    register_pieces(value)


# An answer's secrets are the endpoint's words: only a value shaped like a token, of a size
# AWS hands out, is made a secret of the run (round 23b: 60 000-character "session tokens"
# for each account took gigabytes, and the verdict as one masked the verdict line).
MAX_ANSWERED_SECRET_CHARS = 4096


def _after_call(parsed: Any = None, **_: Any) -> None:
    for value in _secret_values(parsed):
        if (
            len(value) <= MAX_ANSWERED_SECRET_CHARS
            and token_shaped(value)
            and own_text_problem(value) is None
        ):
            register_pieces(value)


def _decoded(body: Any) -> Any:
    """A JSON body (SSO-OIDC, SSO) as its object; a query body (STS) is a dict already."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def _secret_values(tree: Any) -> Iterator[str]:
    """String values under a secret-named key, anywhere in nested dicts and lists."""
    stack, seen = [tree], 0
    while stack and seen < _MAX_WALK:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for key, value in node.items():
                if _normalised(str(key)) in _SECRET_FIELDS and isinstance(value, str | bytes):
                    yield value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                elif isinstance(value, dict | list | tuple):
                    stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)
