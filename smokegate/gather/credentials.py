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
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from smokegate.facts.http import header_value_problem, unset_variable
from smokegate.gather.oauth2 import OAuth2Client
from smokegate.http_spec import Credentials
from smokegate.redact import (
    decoded_forms,
    excerpt,
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
        raise _Unset(unset_variable(var, what) + _spelled_otherwise(var, environ))
    if has_lone_surrogates(value):
        raise _Unset(
            f"environment variable {var} holds bytes that are not UTF-8 text; it was not "
            f"sent: set the {what} as UTF-8"
        )
    problem = secret_problem(value) if secret else None
    if problem:
        raise _Unset(f"environment variable {var} {problem}; set a real {what} in {var}")
    return value


def _spelled_otherwise(var: str, environ: Mapping[str, str]) -> str:
    """` (MY_TOKEN is set: ...)` when the env file's `my_token` differs from a set variable
    only in case: the message "my_token is not set" is true, and the fix is one word. Only
    the variable's name is said, never its value."""
    others = sorted(
        name
        for name, value in environ.items()
        # ASCII only: `DEPLOY_ſECRET` upper-cases to DEPLOY_SECRET, and no env file can name
        # it (round 56c)
        if name != var and name.isascii() and name.upper() == var.upper() and value.strip()
    )
    if not others:
        return ""
    # a name is no secret, but it is the runner's text: quoted the way smokegate quotes any
    shown = excerpt(others[0], 80)
    return (
        f" ({shown} is set: variable names are case-sensitive; if the env file means it, "
        f"write {shown} there)"
    )


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


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# How many of its last letters and digits a forged value draws anew: its signature's (a
# signed format ends with it), enough that a decoder ignoring a base64 value's last bits
# still reads other bytes.
FORGED_TAIL_CHARS = 8


def forged_like(real: str) -> str:
    """The real value with its last letters and digits drawn anew, each of its class (hex
    stays hex), everything before them and every other character kept (rounds 29c to 31c:
    a server that checks only a value's shape let in what had it, and the forms are many:
    a JWT, a Flask, Django or Rails session cookie, PASETO, a cookie list, a UUID, `id|key`,
    percent escapes). A signed format ends with its signature, so a server that does not
    verify signatures lets the forged value in; one that does refuses it. A value that is
    base64 of `user:key` has its key forged inside. Not caught: a server that checks only a
    checksum the value ends with, or a format whose signature is not at its end (an Azure
    SAS: docs/auth-tls.md)."""
    start, end = _last_jwt(real)  # a JWT among other values (a cookie list): its signature
    unsigned = _last_unsigned_json(real)
    signed_end = end if start is not None and real[end - 1] != "." else 0  # cut-ok: looked at
    if unsigned is not None and unsigned[0] >= signed_end:
        # an unsigned token (a JWT with `alg: none`, a base64 JSON session) ends with its
        # claims: redrawn, they were no JSON, and a server that takes any such token
        # refused it and passed (rounds 33c F1, 34c F1); it is minted as anyone could
        at, stop, minted = unsigned
        return real[:at] + minted + real[stop:]  # cut-ok: our own value
    pair = _base64_pair(real)
    base = _with_exp_renewed(real, start, end) if signed_end else real
    if base != real:  # the claims changed length: where the JWT ends moved with them
        start, end = _last_jwt(base)
    for _ in range(8):
        if pair:
            forged = _forged_pair(real, pair)
        else:  # cut-ok: our own value, its signature's end forged
            forged = _base64_bits_kept(base, _forged_tail(base[:end]) + base[end:])
        if forged != real:
            return forged
    return secrets.token_hex(max(16, len(real) // 2 + 1))  # a value with nothing to vary


# how far ahead an invented token's `exp` is put when the real one's has passed
RENEWED_EXP_S = 3600


def _renewed(claims: dict[str, Any]) -> bool:
    """Put a passed `exp` an hour ahead (same number type): an invented token that is
    expired is refused for that by a server checking `exp` and no signature, and the case
    read as "signatures verified" (round 37c F5). True when it changed."""
    exp = claims.get("exp")
    now = time.time()
    if type(exp) not in (int, float) or exp >= now - EXP_LEEWAY_S:
        return False
    claims["exp"] = type(exp)(int(now) + RENEWED_EXP_S)
    return True


def _with_exp_renewed(real: str, start: int | None, end: int) -> str:
    """`real` with its last JWT's claims re-encoded with `exp` renewed (`_renewed`), in
    the claims' own alphabet (base64url, no padding); `real` when they need no renewing."""
    if start is None:
        return real
    header, claims, signature = real[start:end].split(".", 2)  # cut-ok: our own value
    try:
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return real
    if not isinstance(decoded, dict) or not _renewed(decoded):
        return real
    encoded = base64.urlsafe_b64encode(json.dumps(decoded, separators=(",", ":")).encode())
    renewed = encoded.decode("ascii").rstrip("=")
    return f"{real[:start]}{header}.{renewed}.{signature}{real[end:]}"  # cut-ok: our own


def _forged_tail(real: str) -> str:
    chars = list(real)
    hex_run = _hex_runs(real)
    drawn = 0
    for index in range(len(real) - 1, -1, -1):
        if drawn == FORGED_TAIL_CHARS:
            break
        char = real[index]
        if not (char.isascii() and char.isalnum()) or _in_escape(real, index):
            continue
        chars[index] = _drawn_like(char, hex_run[index])
        drawn += 1
    return "".join(chars)


def _hex_runs(text: str) -> list[bool]:
    """For each character, whether the run of letters and digits it is in is all hex (a
    hex value stays hex, a cookie's name beside it notwithstanding)."""
    flags = [False] * len(text)
    start = 0
    while start < len(text):
        end = start
        while end < len(text) and text[end].isascii() and text[end].isalnum():
            end += 1
        if end > start:
            run_is_hex = all(c in _HEX_DIGITS for c in text[start:end])  # cut-ok: looked at
            flags[start:end] = [run_is_hex] * (end - start)  # cut-ok: flags, our own
            start = end
        else:
            start += 1
    return flags


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _base64_bits_kept(real: str, forged: str) -> str:
    """`forged` with its last base64 character one a strict decoder takes, when `real` reads
    as base64 whose last group is partial: that character's unused low bits must be 0, and a
    strict decoder (Rust's base64, Go's Strict) refused most forged keys of
    `openssl rand -base64 32`, so a server checking only the shape passed (round 32)."""
    body = real.rstrip("=")
    pad = len(real) - len(body)
    if not body or pad > 2 or not all(c.isalnum() or c in "+/-_" for c in body):
        return forged
    partial = pad or (len(body) % 4 if len(body) % 4 in (2, 3) else 0)
    step = {1: 4, 3: 4, 2: 16}.get(partial)
    last = len(body) - 1
    if step is None or _B64_ALPHABET.find(real[last]) % step:
        return forged
    same_class = [
        c
        for i, c in enumerate(_B64_ALPHABET)
        if i % step == 0
        and c.isdigit() == real[last].isdigit()
        and c.isupper() == real[last].isupper()
    ]
    if not same_class:
        return forged
    chars = list(forged)
    chars[last] = secrets.choice(same_class)
    return "".join(chars)


def _last_jwt(text: str) -> tuple[int | None, int]:
    """Where the last JWT in `text` starts and ends (`eyJ…` `.` `eyJ…` `.` signature); None
    and the end of `text` when it holds none."""
    start: int | None = None
    end = len(text)
    index = text.find("eyJ")
    while index != -1:
        stop = index
        while stop < len(text) and (text[stop].isalnum() or text[stop] in "-_."):
            stop += 1
        parts = text[index:stop].split(".")  # cut-ok: looked at, never shown
        if len(parts) >= 3 and parts[1].startswith("eyJ"):
            start, end = index, index + len(parts[0]) + len(parts[1]) + len(parts[2]) + 2
        index = text.find("eyJ", max(stop, index + 3))
    return start, end


_BASE64_RUN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def _last_unsigned_json(text: str) -> tuple[int, int, str] | None:
    """The last run of base64 (either alphabet, padded or not) in `text` that stands for a
    JSON object and is signed by nothing after it (the claims of `header.claims.`, a whole
    value, a cookie's value), with that object minted anew (`_minted_json`); None when
    there is none. A run followed by `.` or `:` and more is a signed format's payload
    (a JWT, itsdangerous, Django signing): its signature is what is forged."""
    found: tuple[int, int, str] | None = None
    index = 0
    while index < len(text):
        if text[index] not in _BASE64_RUN:
            index += 1
            continue
        stop = index
        while stop < len(text) and text[stop] in _BASE64_RUN:
            stop += 1
        while stop < len(text) and text[stop] == "=" and stop - index < 4096:
            stop += 1
        run = text[index:stop]  # cut-ok: our own value, looked at
        signed = stop + 1 < len(text) and text[stop] in ".:" and text[stop + 1] in _BASE64_RUN
        minted = None if signed or len(run) < 8 else _minted_json(run)
        if minted is not None:
            found = (index, stop, minted)
        index = stop
    return found


def _minted_json(run: str) -> str | None:
    """Base64 of a JSON object, as anyone could write one: the same members and one more
    that no issuer wrote, in the same alphabet and padding, so the value is one the server
    never handed out. A server that takes such values without a signature lets it in
    (anyone can write one); one that knows the values it issued refuses it. None when `run`
    is no base64 of a JSON object."""
    body = run.rstrip("=")
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    try:
        raw = base64.b64decode(
            body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None, validate=True
        )
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(decoded, dict) or not decoded:
        return None
    _renewed(decoded)
    standard = "+" in body or "/" in body
    for _ in range(64):
        decoded["jti_smokegate_invalid"] = secrets.token_hex(8)
        minted = base64.b64encode(json.dumps(decoded, separators=(",", ":")).encode()).decode()
        # a run holding neither `-_` nor `+/` says no alphabet (a JWT's claims often): the
        # member's value is drawn again until the text needs neither, and reads in both
        if urlsafe or standard or not ("+" in minted or "/" in minted):
            break
    if not standard:
        minted = minted.replace("+", "-").replace("/", "_")
    return minted if run.endswith("=") else minted.rstrip("=")


def _in_escape(text: str, index: int) -> bool:
    """Whether `text[index]` is a hex digit of a `%XX` escape (kept: `%2F` drawn as `%8M`
    decoded to nothing a server parses)."""
    for start in (index - 1, index - 2):
        if (
            start >= 0
            and text[start] == "%"
            and all(
                c in _HEX_DIGITS
                for c in text[start + 1 : start + 3]  # cut-ok: looked at
            )
            and start + 3 <= len(text)
        ):
            return True
    return False


def _drawn_like(char: str, hex_only: bool) -> str:
    if char.isdigit():
        return secrets.choice(_DIGITS)
    if char.islower():
        return secrets.choice("abcdef" if hex_only else _LOWER)
    return secrets.choice("ABCDEF" if hex_only else _UPPER)


def _base64_pair(real: str) -> tuple[str, str] | None:
    """(user, key) when `real` is base64 of printable `user:key` (a pre-encoded Basic value,
    an Elasticsearch ApiKey): forged as base64 of bytes, it read as no pair at all."""
    forms = decoded_forms(real)
    if len(forms) != 2:
        return None
    user, _, key = forms[0].partition(":")
    return (user, key) if key else None


def _forged_pair(real: str, pair: tuple[str, str]) -> str:
    user, key = pair
    encoded = base64.b64encode(f"{user}:{_forged_tail(key)}".encode()).decode("ascii")
    if "-" in real or "_" in real:
        encoded = encoded.replace("+", "-").replace("/", "_")
    return encoded if real.endswith("=") else encoded.rstrip("=")


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
            raise _Unset(
                f"{unset}; this check sends an invented token shaped like the real one, "
                "so it needs the real one"
            ) from None
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


# how far a token's `exp` may lie behind this machine's clock before it counts as passed
EXP_LEEWAY_S = 120


def expired_jwt(value: str, now: float) -> str:
    """When the one JWT in `value` expired (`exp`, UTC, to the minute), if that is more
    than EXP_LEEWAY_S before `now` (a Unix time); "" when it holds no JWT, no readable `exp`,
    or one still ahead. Read from the run's own credential, never sent anywhere."""
    start, end = _last_jwt(value)
    if start is None or value.find("eyJ") != start:
        # none, or several (a cookie list): which one the server reads is unknown, and an
        # expired `id_token_hint` beside a valid session failed a correct server (round 35)
        return ""
    parts = value[start:end].split(".")  # cut-ok: our own value's JWT, looked at
    claims = parts[1]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    exp = decoded.get("exp") if isinstance(decoded, dict) else None
    if type(exp) not in (int, float) or not now - 10**10 < exp < now - EXP_LEEWAY_S:
        return ""
    return datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M UTC")
