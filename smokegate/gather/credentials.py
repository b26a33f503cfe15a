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
        token = _value(credentials.bearer_env, "token", env)
        register_secret(token)
        _header_ready(credentials.bearer_env, token)
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


# What an invented credential starts with: a server that echoes it shows a value a reader
# can tell from a leaked secret.
INVENTED_PREFIX = "smokegate-invalid-"


def invented_value() -> str:
    """A credential value nobody issued: random, so no server can have it on a list."""
    return f"{INVENTED_PREFIX}{secrets.token_hex(16)}"


def invented_credentials(credentials: Credentials) -> WireCredentials:
    """The scheme of `credentials` carrying values nobody issued: the real ones are never
    read, and Basic invents its user name too, so no real account collects a failed login
    (an account lockout policy) from a run. OAuth2 sends an invented Bearer token: its
    token endpoint is not asked."""
    value = invented_value()
    if credentials.header is not None:
        spec = credentials.header
        return WireCredentials(
            headers={spec.name: f"{spec.scheme} {value}" if spec.scheme else value}
        )
    if credentials.query is not None:
        return WireCredentials(params=((credentials.query.name, value),))
    if credentials.basic is not None:
        user = f"{INVENTED_PREFIX}user"
        encoded = base64.b64encode(f"{user}:{value}".encode()).decode("ascii")
        return WireCredentials(headers={"Authorization": f"Basic {encoded}"})
    return WireCredentials(headers={"Authorization": f"Bearer {value}"})


def register_known_secrets(
    all_credentials: list[Credentials], environ: Mapping[str, str] | None = None
) -> None:
    """Register every secret the env file's credentials derive from the environment (the
    Basic encodings, the OAuth2 client's Basic header), before the run sends anything."""
    for credentials in all_credentials:
        wired = wire_credentials(credentials, timeout_s=1.0, environ=environ)
        if isinstance(wired, WireCredentials) and wired.oauth2 is not None:
            wired.oauth2.client_authorization()  # registers its Basic form
