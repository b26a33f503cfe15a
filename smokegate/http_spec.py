"""What an env file says to send over HTTP and to expect back, beyond a URL (DESIGN.md §3a).

`credentials:` (one shape for endpoints, auth entries and their forbidden entries),
`request:` (what is SENT: headers, query parameters, one body), `expect_status` with
classes such as `2xx`, and `jmespath:` assertions. Validated and compiled when the env file
is loaded, so a typo is a usage error naming the file, the entry and the field before any
request goes out, never a failing case at 3 a.m.

Secrets are never values here: every credential names the environment variable that holds
it (`*_env`), and the request side refuses literal values that would carry one.
"""

from __future__ import annotations

import json
import math
import socket
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, parse_qsl, urlsplit

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from smokegate import linear_re
from smokegate.config_help import secret_shaped, url_advice
from smokegate.redact import (
    MIN_SECRET_CHARS,
    excerpt,
    is_credential_name,
    is_plain_word_value,
)

_ENV_VAR = linear_re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = linear_re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_STATUS_CLASS = linear_re.compile(r"(?i)^[1-5]xx$")
_ONE_WORD = linear_re.compile(r"^[A-Za-z0-9._~+/-]+$")
SHOWN_CHARS = 120  # an env-file value quoted back in a message
# A URL of an env file, at most: far past any real one (browsers and servers stop near 8 KiB
# too), and what every report echoes per case, so a 15 MB one would be 100 MB of reports.
MAX_URL_CHARS = 8 * 1024
# requests' own default, kept: enough for any sane chain, and a loop still ends quickly.
DEFAULT_MAX_REDIRECTS = 30
JSON_TYPES = ("string", "number", "boolean", "array", "object", "null")
MAX_JMESPATH_CHARS = 1000


class Strict(BaseModel):
    """Every env-file model: an unknown field is a typo, reported, never ignored."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


def written_host(parts: SplitResult) -> str:
    """The host as the URL writes it: urlsplit's `hostname` lower-cases it, and a secret
    written in a host was shown lower-cased, whole, beside its mask (round 48a F3: the
    scrubber masks a secret as written, and a word-like one in no other case)."""
    host = parts.hostname or ""
    netloc = parts.netloc.rpartition("@")[2]  # cut-ok: the URL's own host, found below
    at = netloc.lower().find(host)
    return netloc[at : at + len(host)] if host and at >= 0 else host  # cut-ok: its own host


def check_url(url: str) -> str:
    """An http(s) URL with a host, no user or password and no credential in its query: requests
    would turn a `user:pass@` into Basic auth that silently replaces the configured
    credentials, and a password or token written in the env file is a leaked one. The
    message never quotes a credential."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(
            f"is {len(url)} characters long; a URL is at most {MAX_URL_CHARS} (8 KiB) "
            f"characters: '{excerpt(url, 60)}'"
        )
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(url_advice(excerpt(url, SHOWN_CHARS)))
    spelling = ipv4_spelling_problem(hostname)
    if spelling:
        raise ValueError(spelling)
    if "@" in parts.netloc:
        raise ValueError(
            "has a user name or password in it (user:pass@host): secrets never live in the "
            "env file; use credentials: {basic: {username: ..., password_env: VAR}}"
        )
    # `;jsessionid=...` path parameters are read like query parameters: a session in a URL
    # cut-ok: the URL's path parameters, checked, never shown
    params = ";".join(segment.partition(";")[2] for segment in parts.path.split("/"))
    places = (("query", parts.query), ("fragment", parts.fragment), ("path", params))
    for where, text in places:
        for name, _ in parse_qsl(text.replace(";", "&"), keep_blank_values=True):
            if is_credential_name(name):
                shown = excerpt(name, 60)
                # no `name=value` nor `name: value` in these words: the scrubber masks
                # what follows a credential's name, and the advice was shown as
                # "such as code=***}})" (round 25c)
                plain = (
                    f" (a plain value under {MIN_SECRET_CHARS} characters under this name, "
                    "such as 200 or DE, goes under request.params instead)"
                    if is_plain_word_value(name, "")
                    else ""
                )
                raise ValueError(
                    f"has a credential in its {where} (parameter '{shown}'): secrets never live "
                    f"in the env file; use credentials: {{query: {{name: {shown}, value_env: "
                    f"VAR}}}}, the value read from that variable{plain}"
                )
    return url


_NUMBER_PART = linear_re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


def ipv4_spelling_problem(host: str) -> str | None:
    """An IPv4 address written other than as four plain decimals (`127.000.000.001`,
    `0177.0.0.1`, `0x7f.1`, `2130706433`): the socket (inet_aton: octal, hex, short forms),
    OpenSSL (leading zeros as decimal) and Python's `ipaddress` (refused) read it three ways,
    so the HTTP and TLS checks disagreed on one certificate (round 17c). Said with the
    address the connection would go to."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMBER_PART.search(p) for p in parts):
        return None  # a name
    try:
        canonical = socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return (
            f"host '{excerpt(host, 60)}' is written like an IPv4 address but is none: write "
            "the address as four numbers 0-255 (such as 10.0.0.1)"
        )
    if canonical == host:
        return None
    return (
        f"host '{excerpt(host, 60)}' is an IPv4 address written in a form that clients read "
        f"differently (leading zeros, octal, hex or fewer than four parts): write {canonical}"
    )


def check_env_var(value: str) -> str:
    shape = secret_shaped(value)
    if shape:
        # Never echoed: it is, by the look of it, the token itself.
        raise ValueError(
            f"looks like a secret value ({shape}), not the name of a variable: put the "
            "secret in an environment variable (the CI's secret store) and write that "
            "variable's name here, e.g. API_TOKEN"
        )
    named = value.removeprefix("$").removeprefix("{").removesuffix("}")
    if value.startswith("$") and _ENV_VAR.search(named):
        # a variable's name, read the shell's way: the name alone is what is meant (and no
        # secret: it matched a variable name's shape)
        raise ValueError(
            f"is written with a '$', the shell's way to read a variable: write the "
            f"variable's name alone, {named}"
        )
    if not _ENV_VAR.search(value):
        # The value is not echoed: what does not look like a variable name may be the token.
        raise ValueError(
            "is not an environment variable name (letters, digits, _): token_env names the "
            "variable that holds the token, never the token itself"
        )
    return value


EnvVar = Annotated[str, AfterValidator(check_env_var)]


def _check_header_name(name: str) -> str:
    if not _HEADER_NAME.search(name):
        raise ValueError(f"'{excerpt(name, SHOWN_CHARS)}' is not a valid HTTP header name")
    return name


HeaderName = Annotated[str, AfterValidator(_check_header_name)]


# -- credentials -------------------------------------------------------------------------------


class HeaderCredential(Strict):
    """`<name>: [<scheme> ]$VALUE_ENV`: an API key header, or Authorization with another
    scheme (`token` for GitHub-style APIs, `Basic` with a pre-encoded value)."""

    name: HeaderName
    scheme: str | None = None
    value_env: EnvVar

    @field_validator("scheme")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and not _ONE_WORD.search(value):
            raise ValueError("is one word, such as Bearer, token or Basic")
        return value


class QueryCredential(Strict):
    """`?<name>=$VALUE_ENV`, appended to the URL's own query parameters."""

    name: Annotated[str, Field(min_length=1)]
    value_env: EnvVar


class BasicCredential(Strict):
    """HTTP Basic: a user name (literal, or from a variable) and a password variable."""

    username: Annotated[str, Field(min_length=1)] | None = None
    username_env: EnvVar | None = None
    password_env: EnvVar

    @model_validator(mode="after")
    def _one_username(self) -> BasicCredential:
        if (self.username is None) == (self.username_env is None):
            raise ValueError("give exactly one of username or username_env")
        if self.username is not None and ":" in self.username:
            raise ValueError("username cannot contain ':' (Basic auth separates it with ':')")
        return self


class OAuth2Credential(Strict):
    """OAuth2 client credentials (RFC 6749 §4.4): the token is fetched from `token_url`
    once per run per distinct client, then sent as a Bearer token.

    `client_auth: header` (the default, RFC 6749 §2.3.1's `client_secret_basic`, which every
    server must accept) sends the client id and secret as HTTP Basic; `body` sends them as
    form fields (`client_secret_post`, which some identity providers require).
    """

    token_url: Annotated[str, AfterValidator(check_url)]
    client_id_env: EnvVar
    client_secret_env: EnvVar
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["header", "body"] = "header"


class Credentials(Strict):
    """Exactly one way to authenticate a request; every value comes from a variable."""

    bearer_env: EnvVar | None = None
    header: HeaderCredential | None = None
    query: QueryCredential | None = None
    basic: BasicCredential | None = None
    oauth2: OAuth2Credential | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Credentials:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            kinds = ", ".join(type(self).model_fields)
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"give exactly one of {kinds}{found}")
        return self

    @property
    def scheme(self) -> str:
        """bearer | header | query | basic | oauth2"""
        return "bearer" if self.bearer_env is not None else self._given

    @property
    def _given(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def case_env(self) -> str:
        """The variable that names a forbidden case (`test_forbids_low_privilege[<name>-<VAR>]`):
        the one that holds the identity being refused. For Basic that is the password (the
        user name may be a literal), for OAuth2 the client id (the client is the identity)."""
        if self.bearer_env is not None:
            return self.bearer_env
        if self.header is not None:
            return self.header.value_env
        if self.query is not None:
            return self.query.value_env
        if self.basic is not None:
            return self.basic.password_env
        assert self.oauth2 is not None
        return self.oauth2.client_id_env

    @property
    def env_names(self) -> tuple[str, ...]:
        """Every variable the credentials need, in the order a message names a missing one."""
        if self.basic is not None:
            user = (self.basic.username_env,) if self.basic.username_env else ()
            return (*user, self.basic.password_env)
        if self.oauth2 is not None:
            return (self.oauth2.client_id_env, self.oauth2.client_secret_env)
        return (self.case_env,)

    @property
    def secret_env_names(self) -> tuple[str, ...]:
        """The variables whose values are secrets (the scrubber masks them everywhere). A
        user name and an OAuth2 client id identify; they do not authenticate."""
        if self.basic is not None:
            return (self.basic.password_env,)
        if self.oauth2 is not None:
            return (self.oauth2.client_secret_env,)
        return (self.case_env,)

    def describe(self) -> str:
        """How a message names these credentials: `API_TOKEN`, `API_KEY (header X-API-Key)`."""
        if self.bearer_env is not None:
            return self.bearer_env
        if self.header is not None:
            scheme = f" {self.header.scheme}" if self.header.scheme else ""
            return f"{self.header.value_env} (header {self.header.name}:{scheme} …)"
        if self.query is not None:
            return f"{self.query.value_env} (query parameter {self.query.name})"
        if self.basic is not None:
            user = self.basic.username or f"${self.basic.username_env}"
            return f"{self.basic.password_env} (Basic auth as {user})"
        assert self.oauth2 is not None
        return f"{self.oauth2.client_id_env} (OAuth2 client)"


def bearer(var: str) -> Credentials:
    """`token_env: VAR`, the short form of `credentials: {bearer_env: VAR}`."""
    return Credentials(bearer_env=var)


def credentials_of(credentials: Credentials | None, token_env: str | None) -> Credentials | None:
    return credentials if credentials is not None else (bearer(token_env) if token_env else None)


def one_credential_form(credentials: Credentials | None, token_env: str | None) -> None:
    if credentials is not None and token_env is not None:
        raise ValueError(
            "give token_env or credentials, not both (token_env: VAR is the short form of "
            "credentials: {bearer_env: VAR})"
        )


# -- the request side ---------------------------------------------------------------------------

# Request headers and query parameters are literals in a committed file: one named like a
# credential carries a secret, and belongs in `credentials:` where its value comes from a
# variable. (`Idempotency-Key`, `Accept` and the like are fine.)
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
# Credential headers that no credential word names (round 56e): a misspelt Authorization,
# and Docker's X-Registry-Auth (base64 of a user and password)
_AUTH_HEADERS = {
    "authentication",
    "x-auth",
    "x-authentication",
    "x-authorization",
    "x-registry-auth",
    "x-registry-config",
}


def carries_credentials(name: str) -> bool:
    """A header under this name carries a secret: one request headers and the answer's
    `headers:` (both committed in the env file) refuse alike."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or lowered in _AUTH_HEADERS or is_credential_name(name)


# Headers only a client sends: expected in an answer, they fail every run. A person who
# meant "send this" wrote them under the endpoint's headers:, which lists what the answer
# must carry (new-user trial 56).
_REQUEST_ONLY_HEADERS = {
    "accept",
    "accept-encoding",
    "accept-language",
    "host",
    "if-modified-since",
    "if-none-match",
    "referer",
    "user-agent",
    "x-requested-with",
}


def expected_header_problem(name: str, value: str) -> str | None:
    """Why an endpoint's `headers:` entry (what the answer must carry) cannot be one, or
    None. A credential header's value written there is a secret committed in the env file,
    and a failing case quotes what it expected in every report (new-user trial 56: a
    `Basic` pair and an API key under `headers:` reached all four outputs); a value too short
    to be a secret stays (`X-Csrf-Token: ''`, present at all)."""
    if not _HEADER_NAME.search(name):
        # not quoted: `Authorization:` (a colon typed with the name) read as a header line to
        # the console's scrubber, which masked the message after it (round 56a)
        return (
            "holds a key that is no HTTP header name (a name is letters, digits and - with "
            "no ':' or blank): no answer could carry it"
        )
    shown = excerpt(name, 60)
    lowered = name.lower()
    if carries_credentials(name) and len(value) >= MIN_SECRET_CHARS:
        return (
            f"'{shown}' carries credentials, and headers: lists what the answer must carry, "
            "committed in this file: to send it, use credentials: "
            f"{{header: {{name: {shown}, value_env: VAR}}}} (or bearer_env, basic, oauth2)"
        )
    if lowered in _REQUEST_ONLY_HEADERS:
        return (
            f"'{shown}' is a header a client sends, and headers: lists what the answer must "
            f"carry: to send it, write it under request: {{headers: {{{shown}: ...}}}}"
        )
    return None


Scalar = str | int | float | bool


def _text(value: Scalar) -> str:
    """YAML `true` is sent as `true`, as a person wrote it, not Python's `True`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RequestSpec(Strict):
    """What is SENT. `json:`/`form:`/`body:` here are the request body; the entry's own
    `json:`, `body_contains:` and `jmespath:` are what the response must hold."""

    headers: dict[HeaderName, Scalar] = Field(default_factory=dict)
    params: dict[Annotated[str, Field(min_length=1)], Scalar | list[Scalar]] = Field(
        default_factory=dict
    )
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, Scalar | list[Scalar]] | None = None
    body: str | None = None
    content_type: str | None = None

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in value:
            if carries_credentials(name):
                raise ValueError(
                    f"'{name}' carries credentials: request headers are literal and committed; "
                    f"use credentials: {{header: {{name: {name}, value_env: VAR}}}} "
                    "(or bearer_env, basic, oauth2)"
                )
        return value

    @field_validator("json_body")
    @classmethod
    def _json_serializable(cls, value: Any) -> Any:
        """YAML reads `2020-01-01` as a date and `12:30` may be a number: JSON has neither,
        and the body must be sent as written, so such a value is quoted by the user."""
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the request body is not JSON: {excerpt(str(exc), 120)}. YAML reads an "
                "unquoted 2020-01-01 as a date (and .nan, .inf as numbers JSON has not): quote "
                "it ('2020-01-01')"
            ) from None
        return value

    @field_validator("params")
    @classmethod
    def _no_secret_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, given in value.items():
            values = given if isinstance(given, list) else [given]
            # round 24c: httpbin's `code=200` could be sent by no route (`credentials:`
            # refuses a value too short to mask); see `is_plain_word_value`
            if is_credential_name(name) and not all(
                is_plain_word_value(name, str(v)) for v in values
            ):
                name = excerpt(name, 60)
                raise ValueError(
                    f"'{name}' carries credentials: query parameters are literal and "
                    f"committed; use credentials: {{query: {{name: {name}, value_env: VAR}}}}"
                )
        return value

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        kinds = [k for k, v in self._bodies().items() if v is not None]
        if len(kinds) > 1:
            raise ValueError(f"give one body, not {' and '.join(kinds)} (json, form or body)")
        if self.content_type is not None:
            if not kinds:
                raise ValueError("content_type is given, but there is no json, form or body")
            if any(name.lower() == "content-type" for name in self.headers):
                raise ValueError("give the content type once: content_type or a header")
        return self

    def _bodies(self) -> dict[str, Any]:
        return {"json": self.json_body, "form": self.form, "body": self.body}

    @property
    def header_items(self) -> dict[str, str]:
        return {name: _text(value) for name, value in self.headers.items()}

    @property
    def param_items(self) -> list[tuple[str, str]]:
        return _pairs(self.params)

    def encoded_body(self) -> tuple[bytes | None, str | None]:
        """(body bytes, its Content-Type): JSON as application/json, a form urlencoded, text
        as text/plain unless `content_type` says otherwise."""
        import json
        from urllib.parse import urlencode

        if self.json_body is not None:
            data = json.dumps(self.json_body, separators=(",", ":")).encode()
            return data, self.content_type or "application/json"
        if self.form is not None:
            data = urlencode(_pairs(self.form)).encode()
            return data, self.content_type or "application/x-www-form-urlencoded"
        if self.body is not None:
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        return None, None


def _pairs(mapping: dict[str, Scalar | list[Scalar]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in mapping.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, _text(item)))
    return pairs


# -- expect_status: ints, lists and classes -----------------------------------------------------


def _status_item(value: Any) -> int | str:
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) <= 3:
            value = int(text)
        elif _STATUS_CLASS.search(text):
            return text.lower()
        else:
            raise ValueError(
                "is neither a valid integer status (such as 200) nor a status class (2xx)"
            )
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("is neither a valid integer status (such as 200) nor a status class")
    if not 100 <= value <= 599:
        raise ValueError("a status is between 100 and 599")
    return value


def _as_list(value: Any) -> Any:
    if isinstance(value, list):
        if not value:
            raise ValueError("lists no status; give an int, a class such as 2xx, or a list")
        return value
    return [value]


StatusItem = Annotated[int | str, BeforeValidator(_status_item)]
StatusSpec = Annotated[list[StatusItem], BeforeValidator(_as_list)]


def status_matches(expected: list[int | str] | tuple[int | str, ...], status: int) -> bool:
    return any(
        status == item if isinstance(item, int) else str(status)[0] == item[0] for item in expected
    )


def status_text(expected: list[int | str] | tuple[int | str, ...]) -> str:
    """'200', '200 or 204', '2xx or 304'."""
    return " or ".join(str(item) for item in expected)


# -- jmespath: expression -> expected value, or -> predicates -----------------------------------

PREDICATES = (
    "equals",
    "not_equals",
    "lt",
    "le",
    "gt",
    "ge",
    "matches",
    "contains",
    "exists",
    "type",
)


class JmesCheck(BaseModel):
    """One `jmespath:` line: an expression and the predicates its value must meet."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    expression: str
    predicates: tuple[tuple[str, Any], ...]
    compiled: Any  # jmespath's ParsedResult

    def search(self, document: Any) -> Any:
        return self.compiled.search(document)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def holds(name: str, expected: Any, found: Any) -> bool:
    """Whether `found` (a JMESPath result; None when the path does not exist) meets one
    predicate. Ordering predicates want a number: anything else does not meet them. Here,
    beside the predicates' names, because loading an env file asks it too: a line that holds
    on every failing answer is refused (`vacuous_jmespath_problem`)."""
    if name == "equals":
        return json_equal(expected, found)
    if name == "not_equals":
        # a value that is not there is no value "other than" anything: `state.phase:
        # {not_equals: down}` passed on a body without `state` (round 20); JMESPath says
        # missing and null alike, so a null fails it too
        return found is not None and not json_equal(expected, found)
    if name in ("lt", "le", "gt", "ge"):
        if not _is_number(found):
            return False
        return {
            "lt": found < expected,
            "le": found <= expected,
            "gt": found > expected,
            "ge": found >= expected,
        }[name]
    if name == "matches":
        return isinstance(found, str) and linear_re.search(expected, found)
    if name == "contains":
        if isinstance(found, str):
            return isinstance(expected, str) and expected in found
        if isinstance(found, list):
            return any(json_equal(expected, item) for item in found)
        if isinstance(found, dict):
            return isinstance(expected, str) and expected in found
        return False
    if name == "exists":
        return (found is not None) == expected
    if name == "type":
        return json_type(found) == expected
    raise ValueError(f"unknown predicate {name}")  # load_env refuses it first


def json_type(value: Any) -> str:
    """JMESPath's `type()` names: string, number, boolean, array, object, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(expected: Any, actual: Any) -> bool:
    """JSON equality: unlike Python's, `true` is not `1` and `false` is not `0`."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(json_equal, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            json_equal(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


# What a failing JSON API answers: a `jmespath:` line must fail on at least one of those it
# can be evaluated on (`keys(@)` raises on an array: that one says nothing).
_FAILING_DOCUMENTS: tuple[Any, ...] = (
    {"status": "down", "detail": "maintenance"},
    {"status": "DOWN", "components": {"db": {"status": "DOWN"}}},
    {"error": {"code": 503, "message": "Service Unavailable"}},
    {"ok": False, "healthy": False, "errors": ["database unreachable"]},
    {"data": None, "errors": [{"message": "internal error"}]},
    {},
    [],
    "error",
)
_SHOWN_DOCUMENTS = '{"status": "down"}, {"error": {...}}, {}, [], "error"'


def vacuous_jmespath_problem(compiled: Any, predicates: tuple[tuple[str, Any], ...]) -> str | None:
    """Why a `jmespath:` line would pass on a failing answer as well as a healthy one, or
    None: it holds on every failing document tried. `length(@): {ge: 0}`, `@ == @: true`,
    `to_string(@): {matches: '.'}`, `@ || 'x': {exists: true}` each read the body and passed
    a maintenance answer (the literal-only `'ok'` is refused before, by `_reads_the_document`)."""
    judged = 0
    for document in _FAILING_DOCUMENTS:
        try:
            found = compiled.search(document)
        except Exception:  # JMESPath's type errors: this document says nothing of the line
            # (round 22b: `length(keys(@)) >= 0` raised on `[]` only, and held on every
            # object: a maintenance answer passed)
            continue
        judged += 1
        if not all(holds(name, expected, found) for name, expected in predicates):
            return None
    if not judged:
        return None
    return f"holds on every failing answer tried ({_SHOWN_DOCUMENTS}), so it would pass on them"


def _predicate_problem(name: str, value: Any) -> str | None:
    """Why `name: value` cannot be a predicate, or None."""
    got = excerpt(repr(value), SHOWN_CHARS)
    if name in ("lt", "le", "gt", "ge") and not _is_number(value):
        return f"{name} compares numbers, got {got}"
    if name == "matches":
        if not isinstance(value, str):
            return f"matches wants a regular expression (a string), got {got}"
        problem = regex_problem(value) or vacuous_regex_problem(value, of_a_value=True)
        if problem:
            return f"matches: '{excerpt(value, SHOWN_CHARS)}' {problem}"
    if name == "contains" and isinstance(value, str) and not value.strip():
        return f"contains {got} holds for any text: give what the value must hold"
    if name == "exists" and not isinstance(value, bool):
        return f"exists is true or false, got {got}"
    if name == "type" and value not in JSON_TYPES:
        return f"type is one of {', '.join(JSON_TYPES)}, got {got}"
    return None


def vacuous_regex_problem(pattern: str, *, of_a_value: bool = False) -> str | None:
    """Why a regex that compiles would pass on a failing answer as well as a healthy one, or
    None: it finds a match in every failing body (or JMESPath value) tried. `(ok)?`, `.*`,
    `[^-]`, `\\S`, `\\w`, `\\b`, `(?s)..` each passed a maintenance page (rounds 17b, 18b,
    19b, 20); one that asserts an absence (`^[^<>]*$`: no markup) fails one of them."""
    compiled = linear_re.compile(pattern)
    failing = _FAILING_VALUES if of_a_value else _FAILING_BODIES
    if all(compiled.search(text) is not None for text in failing):
        kind, shown = ("value", _SHOWN_VALUES) if of_a_value else ("answer", _SHOWN_BODIES)
        return f"finds a match in every failing {kind} tried ({shown}), so it would pass on them"
    return None


def vacuous_substring_problem(text: str) -> str | None:
    """Why a `body_contains:` would pass on a failing answer as well as a healthy one, or
    None: every failing body tried holds it (`e`, `<`, `: "`)."""
    if all(text in body for body in _FAILING_BODIES):
        return f"is in every failing answer tried ({_SHOWN_BODIES}), so it would pass on them"
    return None


# What a failing endpoint answers: a healthy-body regex must fail on at least one of them.
_FAILING_BODIES = (
    "Down for maintenance: write to ops@example.com",
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>",
    '{"status": "down", "detail": "maintenance"}',
    "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    "Service Unavailable",
    "error",
    "\u00e9chec \u4e2d\u65ad \U0001f6a7",
)
_FAILING_VALUES = (
    "down",
    "error",
    "maintenance",
    "degraded",
    "false",
    "0",
    "DOWN",
    "unavailable",
    "<b>down</b>",
    "ops@example.com",
)
_SHOWN_BODIES = 'a maintenance page, nginx\'s 502 page, {"status": "down"}, "error"'
_SHOWN_VALUES = '"down", "error", "degraded", "0", "<b>down</b>"'


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a `body_regex:` / `matches:`, or None. They run on RE2 (linear
    time whatever a server sends: `smokegate.linear_re`), which has no lookaround and no
    backreferences, and whose \\d, \\w, \\s are ASCII."""
    try:
        linear_re.compile(pattern)
    except linear_re.PatternError as exc:
        return (
            f"is not a valid regular expression for smokegate (RE2 syntax, run in linear time: "
            f"no lookaround, no backreferences): {excerpt(str(exc), SHOWN_CHARS)}"
        )
    return None


# JMESPath nodes that read the document (or what a projection hands on from it); an
# expression of none of them is a constant (`'ok'`, `` `"ok"` ``: round 18b).
_READING_NODES = frozenset({"field", "current", "identity", "index", "slice", "flatten"})


def _reads_the_document(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        if item.get("type") in _READING_NODES:
            return True
        stack.extend(item.get("children") or ())
    return False


def non_finite_problem(value: Any) -> str | None:
    """Why an expected value cannot be compared, or None: `.nan` equals nothing, so
    `not_equals: .nan` held for any value, a missing one included, and `equals: .nan` never
    did; `.inf` bounds nothing (round 19b). Looked for inside lists and objects too."""
    stack = [value]
    seen = 0
    while stack and seen < 100_000:
        item = stack.pop()
        seen += 1
        if isinstance(item, float) and not math.isfinite(item):
            return f"holds {item!r}, which no JSON value equals or is bounded by: give a number"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _jmespath_line(expression: str) -> str:
    """`in the line 'token'`: how a problem names its jmespath: line. Not `'token': ...`,
    which the console's scrubber reads as a credential field and masks the problem with
    (round 56a: `'token': *** compares numbers`)."""
    return f"in the line '{excerpt(expression, SHOWN_CHARS)}'"


def compile_jmespath(raw: dict[str, Any]) -> tuple[JmesCheck, ...]:
    """Every line compiled and type-checked; ValueError naming the expression otherwise.

    A mapping whose keys are all predicate names is predicates (`{gt: 0}`); any other
    value, a mapping with no predicate names included, is the expected value itself. A
    mapping that mixes the two is refused: it would be ambiguous.
    """
    checks = []
    # Refused when every line holds on every failing answer: a line that asserts an absence
    # (`headers.Authorization: {exists: false}`) holds there by nature, beside one that says
    # what a healthy body holds it is no vacuous expectation (round 21's tautologies)
    first_vacuous: str | None = None
    everything_vacuous = True
    for expression, expected in raw.items():
        if not isinstance(expression, str) or not expression.strip():
            shown = excerpt(repr(expression), SHOWN_CHARS)
            raise ValueError(f"{shown} is not a JMESPath expression (a non-empty string)")
        if len(expression) > MAX_JMESPATH_CHARS:
            raise ValueError(
                f"'{excerpt(expression, SHOWN_CHARS)}' is longer than {MAX_JMESPATH_CHARS} "
                "characters: no JMESPath expression is"
            )
        try:
            compiled = jmespath.compile(expression)
        except (JMESPathError, RecursionError) as exc:
            reason = excerpt(str(exc), SHOWN_CHARS)
            raise ValueError(
                f"'{excerpt(expression, SHOWN_CHARS)}' is not a valid JMESPath expression: {reason}"
            ) from None
        if not _reads_the_document(compiled.parsed):
            raise ValueError(
                f"'{excerpt(expression, SHOWN_CHARS)}' never reads the body (it is made of "
                "literals only), so it would give the same value for every answer: name a "
                "field of the body, such as status"
            )
        infinite = non_finite_problem(expected)
        if infinite:
            raise ValueError(f"{_jmespath_line(expression)}, {infinite}")
        predicates: tuple[tuple[str, Any], ...]
        if isinstance(expected, dict) and expected and set(expected) <= set(PREDICATES):
            for name, value in expected.items():
                problem = _predicate_problem(name, value)
                if problem:
                    raise ValueError(f"{_jmespath_line(expression)}, {problem}")
            predicates = tuple(expected.items())
        elif isinstance(expected, dict) and set(expected) & set(PREDICATES):
            mixed = ", ".join(sorted(set(expected) & set(PREDICATES)))
            raise ValueError(
                f"{_jmespath_line(expression)}, the value mixes predicates ({mixed}) with other "
                "keys; to compare with an object, write equals: {...}"
            )
        else:
            predicates = (("equals", expected),)
        vacuous = vacuous_jmespath_problem(compiled, predicates)
        if vacuous and first_vacuous is None:
            first_vacuous = f"'{excerpt(expression, SHOWN_CHARS)}' {vacuous}"
        everything_vacuous = everything_vacuous and vacuous is not None
        checks.append(JmesCheck(expression=expression, predicates=predicates, compiled=compiled))
    if checks and everything_vacuous and first_vacuous:
        raise ValueError(
            f"{first_vacuous}: say what only a healthy body holds, such as status: ok"
            + (" (every line of jmespath: holds on them)" if len(checks) > 1 else "")
        )
    return tuple(checks)
