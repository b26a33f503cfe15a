"""A `credentials:` block turned into what goes on the wire, with values from the environment.

Read when the request is built, just before it is sent, and never earlier: a pipeline sets
its secrets in the job's environment. A value is sent stripped of surrounding whitespace;
a secret shorter than `smokegate.redact.MIN_SECRET_CHARS` is not sent at all (it could not
be masked where a server echoes it), and its case fails naming the variable. Every value
read, and every form of it that goes on the wire (Basic's `base64(user:password)`), is
registered with the scrubber here, before any request carrying it exists. A variable that
is unset or empty is not an error of the run: the request is not sent and its case fails
as "verified nothing", naming the variable.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from smokegate.facts.http import header_value_problem, unset_variable
from smokegate.gather.oauth2 import OAuth2Client
from smokegate.http_spec import Credentials
from smokegate.redact import (
    decoded_forms,
    has_lone_surrogates,
    register_secret,
    secret_problem,
)


@dataclass(frozen=True)
class WireCredentials:
    """What a request carries for its credentials. `oauth2` is a client whose token the
    prober fetches (once per client) and sends as a Bearer token."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    oauth2: OAuth2Client | None = field(default=None, repr=False)

    @property
    def header_names(self) -> tuple[str, ...]:
        """Headers to drop when a redirect leaves the host: requests strips Authorization on
        its own, but not an API key in a header of another name."""
        names = tuple(self.headers)
        return (*names, "Authorization") if self.oauth2 is not None else names


_WHAT = {"bearer": "token", "header": "API key", "query": "API key"}


def _value(var: str, what: str, environ: Mapping[str, str], *, secret: bool = True) -> str:
    """The variable's value as it is sent: stripped of surrounding whitespace (a value pasted
    with a newline), and, for a secret, long enough to be masked wherever it is echoed."""
    value = environ.get(var, "").strip()
    if not value:
        raise _Unset(unset_variable(var, what))
    if has_lone_surrogates(value):
        raise _Unset(
            f"environment variable {var} holds bytes that are not UTF-8 text; it was not "
            f"sent: set the {what} as UTF-8"
        )
    problem = secret_problem(value) if secret else None
    if problem:
        raise _Unset(f"environment variable {var} {problem}; set a real {what} in {var}")
    return value


def _blank_free(var: str, value: str, what: str) -> str:
    """A Bearer token holds no blank (RFC 6750's b64token); one that does would mask
    smokegate's own words wherever they stand (a verdict, a case's head: rounds 27a to
    29a), so it is not sent and its case verifies nothing."""
    if any(c.isspace() or c in "<>\"'&" for c in value):
        raise _Unset(
            f"environment variable {var} holds a blank or one of < > \" ' &: no {what} does "
            f"(RFC 6750); it was not sent: set the {what} itself"
        )
    return value


def _header_ready(var: str, value: str) -> str:
    """A value sent as it is in a header: one holding a line break or a control character
    (a secret pasted over two lines) is refused naming its variable, so that its case
    verified nothing rather than reading as a finding about a target never contacted."""
    problem = header_value_problem(value)
    if problem:
        raise _Unset(f"environment variable {var} {problem}; it was not sent")
    return value


def _refuse_short_encoded_password(var: str, value: str) -> None:
    """A pre-encoded `user:password` (Basic, ApiKey) is masked decoded too, but a password
    too short to mask could not be: the server that decodes it may echo it, so it is not
    sent, as a short password of `basic:` is not."""
    forms = decoded_forms(value)
    if len(forms) == 2 and (problem := secret_problem(forms[1])):
        raise _Unset(
            f"environment variable {var} is base64 of user:password, and its password "
            f"{problem}; set a longer password, or a token"
        )


class _Unset(Exception):
    """A variable the credentials need is unset or empty; its text is the case's message."""


def basic_value(user: str, password: str) -> str:
    """The `Authorization: Basic` value, registered as a secret: a server or a library that
    echoes the header shows this, not the password."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    register_secret(encoded)
    return f"Basic {encoded}"


def wire_credentials(
    credentials: Credentials,
    *,
    timeout_s: float,
    environ: Mapping[str, str] | None = None,
) -> WireCredentials | str:
    """The headers, query parameters or OAuth2 client to send; or, when a variable is unset
    or empty, the message that names it (nothing is sent then)."""
    env = os.environ if environ is None else environ
    try:
        return _wire(credentials, timeout_s, env)
    except _Unset as unset:
        return str(unset)


def _wire(credentials: Credentials, timeout_s: float, env: Mapping[str, str]) -> WireCredentials:
    scheme = credentials.scheme
    if credentials.bearer_env is not None:
        token = _header_ready(credentials.bearer_env, _value(credentials.bearer_env, "token", env))
        register_secret(_blank_free(credentials.bearer_env, token, "token"))
        return WireCredentials(headers={"Authorization": f"Bearer {token}"})
    if credentials.header is not None:
        spec = credentials.header
        value = _value(spec.value_env, "token" if spec.scheme else _WHAT[scheme], env)
        _refuse_short_encoded_password(spec.value_env, value)
        register_secret(value)
        _header_ready(spec.value_env, value)
        return WireCredentials(
            headers={spec.name: f"{spec.scheme} {value}" if spec.scheme else value}
        )
    if credentials.query is not None:
        value = _value(credentials.query.value_env, _WHAT[scheme], env)
        register_secret(value)
        register_secret(quote_plus(value))  # requests encodes query values this way
        return WireCredentials(params=((credentials.query.name, value),))
    if credentials.basic is not None:
        spec = credentials.basic
        user = spec.username or _value(spec.username_env or "", "user name", env, secret=False)
        password = _value(spec.password_env, "password", env)
        register_secret(password)
        return WireCredentials(headers={"Authorization": basic_value(user, password)})
    assert credentials.oauth2 is not None
    spec = credentials.oauth2
    client_id = _value(spec.client_id_env, "OAuth2 client id", env, secret=False)
    secret = _value(spec.client_secret_env, "OAuth2 client secret", env)
    register_secret(secret)
    return WireCredentials(
        oauth2=OAuth2Client(
            token_url=spec.token_url,
            client_id=client_id,
            client_secret=secret,
            scope=spec.scope,
            audience=spec.audience,
            client_auth=spec.client_auth,
            timeout_s=timeout_s,
        )
    )


_HEX_LETTERS = frozenset("abcdefABCDEF")
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_B64URL = frozenset(_LOWER + _UPPER + _DIGITS + "-_")
# A segment (a run of letters and digits between other characters) is structure, kept as it
# is, when it is a short word (`Bearer`, `sessionid`, `ghp`, `live`) or a short number (an
# id: `42|…`); the rest, the random part, is drawn anew.
_KEPT_WORD_CHARS = 12
_KEPT_NUMBER_CHARS = 6


def forged_like(real: str) -> str:
    """A value of `real`'s shape that nobody issued (rounds 29c, 30c: a server that checks
    only a token's shape let in what had it, and refused anything else). Every JWT in it
    keeps its header and claims with a signature of its own (a server that does not verify
    signatures lets it in); a UUID keeps its version and variant; the rest keeps its length,
    its separators, its words and short numbers (a scheme such as `Bearer`, cookie names,
    `ghp_`, an id before `|`) and each character's class (hex stays hex), the random part
    drawn anew. Not caught: a server that checks a checksum inside the token, or an id
    kept here (docs/auth-tls.md)."""
    for _ in range(8):
        forged = _forged_once(real)
        if forged != real:
            return forged
    return secrets.token_hex(max(16, len(real) // 2 + 1))  # a value with nothing to vary


def _forged_once(real: str) -> str:
    chars = list(real)
    jwts = _jwt_spans(real)
    for start, end in jwts:
        header, claims, signature = real[start:end].split(".", 2)  # cut-ok: our own value
        forged_signature = _random_like(signature or "x" * 43)
        chars[start:end] = list(f"{header}.{claims}.{forged_signature}")  # cut-ok: our own value
    in_jwt = [False] * len(real)
    for start, end in jwts:
        in_jwt[start:end] = [True] * (end - start)  # cut-ok: our own value
    segments = _segments(real)
    drawn = 0
    for start, end in segments:
        if in_jwt[start]:
            continue
        segment = real[start:end]  # cut-ok: our own value, sent to the target only
        if _is_structure(segment):
            continue
        chars[start:end] = list(_random_like(segment))  # cut-ok: our own value
        drawn += 1
    if not drawn and not jwts and segments:  # all words: the last is the value (`name=…`)
        start, end = segments[-1]
        chars[start:end] = list(_random_like(real[start:end]))  # cut-ok: our own value
    _keep_uuid_markers(real, chars)
    return "".join(chars)


def _segments(text: str) -> list[tuple[int, int]]:
    """The runs of ASCII letters and digits of `text`, as (start, end)."""
    spans: list[tuple[int, int]] = []
    start = None
    for index, char in enumerate(text):
        if char.isascii() and char.isalnum():
            if start is None:
                start = index
        elif start is not None:
            spans.append((start, index))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _is_structure(segment: str) -> bool:
    if segment.isalpha():
        return len(segment) <= _KEPT_WORD_CHARS
    return segment.isdigit() and len(segment) <= _KEPT_NUMBER_CHARS


def _jwt_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds a JWT (`eyJ…` `.` `eyJ…` `.` signature, base64url)."""
    spans: list[tuple[int, int]] = []
    index = text.find("eyJ")
    while index != -1:
        end = index
        while end < len(text) and (text[end] in _B64URL or text[end] == "."):
            end += 1
        parts = text[index:end].split(".")  # cut-ok: looked at, never shown
        if len(parts) >= 3 and parts[1].startswith("eyJ"):
            stop = index + len(parts[0]) + len(parts[1]) + len(parts[2]) + 2
            spans.append((index, stop))
            index = text.find("eyJ", stop)
        else:
            index = text.find("eyJ", index + 3)
    return spans


def _keep_uuid_markers(real: str, chars: list[str]) -> None:
    """A UUID's version digit and variant character are its format, not its randomness: a
    server that accepts any well-formed UUIDv4 let in most forged ones (round 30c)."""
    for start in range(len(real) - 35):
        candidate = real[start : start + 36]  # cut-ok: looked at, never shown
        groups = candidate.split("-")
        if [len(g) for g in groups] == [8, 4, 4, 4, 12] and all(
            c in "0123456789abcdefABCDEF" for c in candidate.replace("-", "")
        ):
            for offset in (14, 19):
                chars[start + offset] = real[start + offset]


def _random_like(text: str) -> str:
    hex_only = all(c in _HEX_LETTERS for c in text if c.isascii() and c.isalpha())
    lower = "abcdef" if hex_only else _LOWER
    upper = "ABCDEF" if hex_only else _UPPER
    out = []
    for char in text:
        if not char.isascii():
            out.append(char)
        elif char.isdigit():
            out.append(secrets.choice(_DIGITS))
        elif char.islower():
            out.append(secrets.choice(lower))
        elif char.isupper():
            out.append(secrets.choice(upper))
        else:
            out.append(char)
    return "".join(out)


def invented_credentials(
    credentials: Credentials, environ: Mapping[str, str] | None = None
) -> WireCredentials | str:
    """The scheme of `credentials` carrying values nobody issued, each of the real one's
    shape (`forged_like`); or, when the real one is unset, why nothing is sent: a random
    value of no shape was refused by servers that check only the shape, and passed (round
    30c). Basic invents its user name, so no real account collects a failed login (an
    account lockout policy) from every run. OAuth2's forged token is made from the one its
    endpoint hands out (the prober forges it, `ProbeRequest.forge_token`)."""
    env = os.environ if environ is None else environ

    def forged(var: str, what: str) -> str:
        try:
            real = _value(var, what, env, secret=False)
        except _Unset as unset:
            raise _Unset(f"{unset} (the invented one is made in its shape)") from None
        return forged_like(real)

    try:
        if credentials.header is not None:
            spec = credentials.header
            value = forged(spec.value_env, "token" if spec.scheme else _WHAT["header"])
            return WireCredentials(
                headers={spec.name: f"{spec.scheme} {value}" if spec.scheme else value}
            )
        if credentials.query is not None:
            value = forged(credentials.query.value_env, _WHAT["query"])
            return WireCredentials(params=((credentials.query.name, value),))
        if credentials.basic is not None:
            user = f"invented-{secrets.token_hex(4)}"
            password = forged(credentials.basic.password_env, "password")
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            return WireCredentials(headers={"Authorization": f"Basic {encoded}"})
        if credentials.bearer_env is not None:
            token = forged(credentials.bearer_env, "token")
            return WireCredentials(headers={"Authorization": f"Bearer {token}"})
    except _Unset as unset:
        return str(unset)
    return WireCredentials()  # OAuth2: the prober forges the token it fetches


def register_known_secrets(
    all_credentials: list[Credentials], environ: Mapping[str, str] | None = None
) -> None:
    """Register every secret the env file's credentials derive from the environment (the
    Basic encodings, the OAuth2 client's Basic header), before the run sends anything."""
    for credentials in all_credentials:
        wired = wire_credentials(credentials, timeout_s=1.0, environ=environ)
        if isinstance(wired, WireCredentials) and wired.oauth2 is not None:
            wired.oauth2.client_authorization()  # registers its Basic form
