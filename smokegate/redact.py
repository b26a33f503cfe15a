"""The secret scrubber: token values never reach any output smokegate produces.

This module is the scrubber itself (what a secret is, its forms, masking it in text, in
nested data and in log records) and `excerpt`, the one way smokegate quotes text it does
not control; no pytest in it. Where the scrubber is applied to a pytest run's outputs is
`smokegate.pytest_plugin.redact`.

What is a secret: the value of every variable the env file names for credentials (set
once per process with `configure_secret_variables`), AWS secret keys, session tokens and
OIDC id tokens from the environment (and the token file `AWS_WEB_IDENTITY_TOKEN_FILE`
names), values registered at run time with `register_secret` (a Basic encoding, a fetched
OAuth2 token, credentials STS issued), and credential-shaped text wherever it comes from:
an `Authorization:` value, `Bearer <token>`, AWS credential fields and signatures, JWTs,
the user:password of a URL and the value of a query parameter named like a credential.

**Forms.** A server or a library echoes a secret as it went on the wire or encoded:
stripped of surrounding whitespace, percent-encoded (`quote`, `quote_plus`, either case of
hex), base64 and base64url (also inside a longer base64 text, such as `user:password`),
JSON-, repr- and HTML-escaped. Every one of those forms is masked (`secret_forms`).

**Length.** A value shorter than `MIN_SECRET_CHARS` (8) cannot be masked without garbling
every report (a 4-character token such as `high` is also a severity, a word of every
message); one longer than `MAX_SECRET_CHARS` is no credential. Such values are never
silently left visible: smokegate refuses to send them (`secret_problem`, used where a
credential is read) and says why in the case's failure, naming the variable only.

**Scrub before you cut.** Text is scrubbed whole, then cut: `excerpt` scrubs, escapes
control characters (a server must not drive the terminal) and only then shortens, so a
token at the edge of an excerpt is masked whole rather than cut into a visible prefix.

Every pattern here runs on RE2 (`smokegate.linear_re`): linear in the text whatever a
hostile server sends.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import json
import logging
import os
import stat
import threading
from collections.abc import Generator, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from smokegate import linear_re

MASK = "***"
AWS_SECRET_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ID_TOKEN",
)
# Names a file whose contents are a secret (the OIDC token for AssumeRoleWithWebIdentity).
AWS_TOKEN_FILE_VARS = ("AWS_WEB_IDENTITY_TOKEN_FILE",)
# Below this, masking would garble text (every "critical", "password", "12345"); such a
# value is refused where it is read (`secret_problem`), never sent and so never echoed.
MIN_SECRET_CHARS = 8
# Above this a value is no credential (JWTs and AWS session tokens are a few KB), and its
# forms would make the scrubber's automaton huge.
MAX_SECRET_CHARS = 64 * 1024
_TOKEN_FILE_MAX_BYTES = 64 * 1024


def secret_problem(value: str) -> str | None:
    """Why a secret value read from the environment cannot be used, or None. Phrased to
    follow the variable's name; never quotes the value."""
    size = len(value.strip())
    if size < MIN_SECRET_CHARS:
        return (
            f"holds {size} character{'s' if size != 1 else ''}: a secret shorter than "
            f"{MIN_SECRET_CHARS} cannot be masked in the reports without garbling them, so "
            "smokegate does not send it"
        )
    if size > MAX_SECRET_CHARS:
        return f"holds {size} characters: more than {MAX_SECRET_CHARS}, which is no credential"
    return None


# -- the secrets of this process ---------------------------------------------------------------

_registry_lock = threading.Lock()
_registered: set[str] = set()
_secret_variables: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Make a secret obtained at run time (not from the environment) known to every scrubber:
    a Basic encoding, a fetched OAuth2 token, credentials STS issued. A value too short or
    too long to be a secret is ignored here; the code that reads it refuses it first."""
    if value is None:
        return
    value = value.strip()
    if secret_problem(value) is None:
        with _registry_lock:
            _registered.add(value)


def registered_secrets() -> list[str]:
    with _registry_lock:
        return list(_registered)


def configure_secret_variables(names: Iterable[str]) -> None:
    """The variables of this run whose values are secrets (the env file's credentials):
    told once per process, so every scrubber and every `excerpt` knows them, including the
    rules and gatherers that quote a server's text long before any report is written."""
    global _secret_variables, _process_scrubber
    _secret_variables = tuple(dict.fromkeys(names))
    _process_scrubber = Scrubber(_secret_variables)


def secret_variables() -> tuple[str, ...]:
    return _secret_variables


_token_files: dict[str, tuple[tuple[int, int, int], str]] = {}


def _token_file_secret(path: str) -> str:
    """The stripped contents of a token file, re-read only when the file changes. Only a
    regular file of token size is read: the path comes from the environment, and a FIFO
    would block the reader forever, /dev/zero never end."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return ""
    if not stat.S_ISREG(info.st_mode) or info.st_size > _TOKEN_FILE_MAX_BYTES:
        return ""
    key = (info.st_mtime_ns, info.st_size, info.st_ino)
    cached = _token_files.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            value = handle.read(_TOKEN_FILE_MAX_BYTES).strip()
    except OSError:
        return ""
    _token_files[path] = (key, value)
    return value


# -- the forms of a secret -----------------------------------------------------------------------


def _base64_forms(data: bytes) -> set[str]:
    """The secret's base64 and base64url, whole and padded, and the part of it that any
    base64 text holding the secret contains, at each of the three byte alignments (so a
    password inside `base64(user:password)`, or a token inside a base64 JSON blob, is
    masked even though the text around it is not a secret)."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms.update((whole, whole.rstrip("=")))
        for offset in (0, 1, 2):
            encoded = encode(b"\0" * offset + data).decode("ascii")
            start = (0, 2, 3)[offset]
            end = ((offset + len(data)) * 8) // 6  # sextets made of secret bits only
            forms.add(encoded[start:end])  # cut-ok: an encoding of our own secret
    return forms


def secret_forms(value: str) -> set[str]:
    """Every form of `value` a server or library plausibly echoes (see the module doc)."""
    stripped = value.strip()
    base = {value, stripped}
    forms: set[str] = set(base)
    for text in base:
        encoded = {
            quote(text, safe=""),
            quote(text),
            quote_plus(text),
            quote_plus(text, safe="/"),
            quote(quote(text, safe=""), safe=""),  # encoded twice: a proxy's log of a URL
            "".join(f"%{byte:02X}" for byte in text.encode()),  # every byte, letters too
        }
        forms.update(encoded)
        for ascii_only in (True, False):
            escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]  # cut-ok: our own quotes
            forms.update((escaped, escaped.replace("/", "\\/")))
        forms.add(repr(text)[1:-1])  # cut-ok: the quotes repr adds
        forms.add(html.escape(text))
        # OWASP-style HTML encoding: every character but letters and digits as &#xHH;
        forms.add("".join(c if c.isalnum() else f"&#x{ord(c):X};" for c in text))
        forms.add("".join(c if c.isalnum() else f"&#x{ord(c):x};" for c in text))
        forms.update(_base64_forms(text.encode("utf-8")))
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


# -- credential shapes, whatever their origin ------------------------------------------------

# `Authorization: <value>` in header dumps, dict reprs (`b'...'` values too) and JSON.
_AUTH_HEADER = linear_re.compile(
    r"(?i)\b((?:proxy-)?authorization)([\"']?\s*[:=]\s*)(b?[\"'])?([^\"'\r\n]*)"
)
# `Bearer <token68>` on one line; a challenge's parameters (`Bearer realm="api"`) and prose
# (`Bearer authentication is required`, a target named `health-bearer` above a field) are
# left alone: see _mask_bearer.
_BEARER = linear_re.compile(r"(?i)\b(bearer[ \t]+)([A-Za-z0-9._~+/-]+=*)")
# AWS credential fields and signatures, as botocore logs them at DEBUG: STS's XML answer,
# JSON and dict reprs, headers, query parameters, and `Signature:\n<hex>`.
_AWS_FIELDS = (
    r"SecretAccessKey|SessionToken|X-Amz-Security-Token|WebIdentityToken|Signature"
    r"|aws_secret_access_key|aws_session_token"
)
_AWS_XML = linear_re.compile(rf"(?i)(<(?:[\w.-]+:)?(?:{_AWS_FIELDS})(?:\s[^>]*)?>)([^<]+)")
_AWS_KEY_VALUE = linear_re.compile(
    rf"(?i)(^|[^A-Za-z0-9])((?:{_AWS_FIELDS})[\"']?\s*[:=]\s*(?:b?[\"'])?)"
    r"([^\"'\s,;&<>(){}\[\]]+)"
)
_AWS_HINTS = ("secretaccesskey", "sessiontoken", "security-token", "webidentitytoken")
# A JSON Web Token: base64url header and payload (both JSON objects, so both `eyJ`), signature.
_JWT = linear_re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# `scheme://user:password@host`: the whole userinfo is masked.
_URL_USERINFO = linear_re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s\"'<>]+)@")
# `?name=value`, `&name=value`, `;name=value`, `#name=value` (an implicit-flow token in a
# fragment): the value is masked when the name says credential.
_QUERY_PARAM = linear_re.compile(r"([?&;#])([^=&#?;\s\"'<>]{1,80})=([^&#;\s\"'<>]*)")

# A query parameter, form field or header is a credential when its name, lower-cased and
# without `-`, `_` and `.`, contains one of these, or is one of the short ones.
_CREDENTIAL_NAME_PARTS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "apikey",
    "accesskey",
    "signature",
    "credential",
    "sessionid",
    "privatekey",
    "authorization",
)
_CREDENTIAL_NAMES = frozenset(
    {"key", "sig", "auth", "jwt", "session", "cookie", "pass", "assertion"}
)


def is_credential_name(name: str) -> bool:
    """Whether a query parameter or header named `name` carries a credential: `token`,
    `access_token`, `api_key`, `apikey`, `key`, `sig`, `signature`, `X-Amz-Signature`,
    `password`, `client_secret`, ..."""
    flat = "".join(ch for ch in name.lower() if ch not in "-_. ")
    return flat in _CREDENTIAL_NAMES or any(part in flat for part in _CREDENTIAL_NAME_PARTS)


def _mask_auth_header(match: Any) -> str:
    if not match.group(4):
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}{match.group(3) or ''}{MASK}"


def _mask_bearer(match: Any) -> str:
    """What follows `Bearer` is masked when it looks like a token: 20 characters or more, or
    8 or more with a digit or a symbol (the shape secrets_shape refuses in an env file).
    A word (`Bearer authentication`, `Bearer realm=api`, `Bearer realm="api"`) is a
    challenge parameter or prose, kept: a token the run knows (every credential variable,
    every fetched token) is masked by its value wherever it stands, whatever its shape."""
    token = str(match.group(2))
    text: str = match.string
    end = match.end()
    rest = text[end : end + 40]  # cut-ok: a look at what follows, never output
    if token.endswith("=") and rest.lstrip(" ").startswith('"'):
        return str(match.group(0))
    stripped = rest.lstrip(" ")
    if not token.endswith("=") and stripped.startswith("=") and '"' in stripped[1:4]:
        return str(match.group(0))
    core = token.rstrip("=")
    if not (len(core) >= 20 or (len(core) >= 8 and not core.isalpha())):
        return str(match.group(0))
    return f"{match.group(1)}{MASK}"


def _mask_query_param(match: Any) -> str:
    """The name judged decoded too: `?%74oken=` is `?token=` to every server."""
    name = str(match.group(2))
    if not match.group(3) or not (is_credential_name(name) or is_credential_name(unquote(name))):
        return str(match.group(0))
    return f"{match.group(1)}{match.group(2)}={MASK}"


def _scrub_shapes(text: str) -> str:
    """Mask the credential shapes; each pattern only runs when its cheap hint is there."""
    lowered = text.lower()
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(_mask_auth_header, text)
    if "bearer" in lowered:
        text = _BEARER.sub(_mask_bearer, text)
    if "signature" in lowered or any(hint in lowered for hint in _AWS_HINTS):
        text = _AWS_XML.sub(lambda m: f"{m.group(1)}{MASK}", text)
        text = _AWS_KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_query_param, text)
    return text


_HEX = frozenset("0123456789abcdefABCDEF")


def _form_regex(form: str) -> str:
    """A form as an RE2 fragment; each `%XY` matches its hex digits in either case (`%2F`,
    `%2f`): servers and libraries percent-encode in both, even within one value."""
    head, *rest = form.split("%")
    parts = [linear_re.escape(head)]
    for part in rest:
        code, tail = part[:2], part[2:]  # cut-ok: a form of our own secret, never output
        if len(code) == 2 and set(code) <= _HEX:
            parts.append("%" + "".join(f"[{c.upper()}{c.lower()}]" for c in code))
            parts.append(linear_re.escape(tail))
        else:
            parts.append(linear_re.escape("%" + part))
    return "".join(parts)


# RE2 compiles an alternation into an automaton of bounded size; many long secrets (a dozen
# 64 KB values, each in a score of forms) exceed it. The forms are then split into several
# alternations, applied longest forms first, each still linear in the text.
_PATTERN_CHUNK_CHARS = 256 * 1024


class _Literals:
    """Every secret form, as one or more RE2 alternations applied in order."""

    def __init__(self, patterns: list[Any]) -> None:
        self.patterns = patterns

    def sub(self, mask: str, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(mask, text)
        return text

    def search(self, text: str) -> bool:
        return any(pattern.search(text) for pattern in self.patterns)


def _literal_pattern(forms: Iterable[str]) -> _Literals | None:
    # Longest first: a value containing another is masked whole (RE2 is leftmost-first, and
    # the chunks are applied in this order).
    ordered = [_form_regex(form) for form in sorted(set(forms), key=len, reverse=True)]
    if not ordered:
        return None
    chunks: list[list[str]] = [[]]
    size = 0
    for fragment in ordered:
        if chunks[-1] and size + len(fragment) > _PATTERN_CHUNK_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(fragment)
        size += len(fragment)
    return _Literals([linear_re.compile("|".join(chunk)) for chunk in chunks])


class Scrubber:
    """Replaces secret values, their forms and credential-shaped text with `***`."""

    def __init__(
        self, secret_vars: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> None:
        self.secret_vars = tuple(dict.fromkeys((*secret_vars, *AWS_SECRET_VARS)))
        self._environ = environ
        self._cache_key: frozenset[str] | None = None
        self._pattern: Any = None
        self._lock = threading.Lock()
        self._frozen = 0

    def secrets(self) -> list[str]:
        """The current secret values: variables set, token files, registered values; each
        stripped (as it is sent), and long enough to be one (see `secret_problem`)."""
        environ = os.environ if self._environ is None else self._environ
        values = [environ.get(name, "") for name in self.secret_vars]
        values += [_token_file_secret(environ[v]) for v in AWS_TOKEN_FILE_VARS if environ.get(v)]
        values += registered_secrets()
        return [v.strip() for v in values if v and secret_problem(v) is None]

    @contextlib.contextmanager
    def frozen(self) -> Generator[None]:
        """Read the secret values once for a batch of scrubs (one report holds many strings)."""
        self._literal_pattern()
        self._frozen += 1
        try:
            yield
        finally:
            self._frozen -= 1

    def _literal_pattern(self) -> Any:
        if self._frozen:
            return self._pattern
        values = frozenset(self.secrets())
        with self._lock:
            if values != self._cache_key:
                self._pattern = _literal_pattern(
                    form for value in values for form in secret_forms(value)
                )
                self._cache_key = values
            return self._pattern

    def scrub(self, text: str) -> str:
        """`text` with every secret form and credential shape masked."""
        if not text:
            return text
        return self._scrub_with(text, self._literal_pattern())

    @staticmethod
    def _scrub_with(text: str, literal: Any) -> str:
        if literal is not None:
            text = literal.sub(MASK, text)
        return _scrub_shapes(text)

    def leaks(self, text: str) -> bool:
        """True when `text` still holds a secret value (the check after structural scrubbing)."""
        literal = self._literal_pattern()
        return bool(literal is not None and text and literal.search(text))  # any chunk

    def scrub_data(self, value: Any) -> Any:
        """Scrub strings inside lists, tuples, dicts and dataclasses; containers in place.

        This is how pytest's traceback representation (`ExceptionChainRepr` and its entries,
        all dataclasses) is scrubbed without losing its structure: the console keeps its
        layout and JUnit keeps the crash line as the failure message. The secret values are
        read once per call, not once per string: a report holds hundreds of strings.
        """
        return self._scrub_tree(value, self._literal_pattern(), set())

    def _scrub_tree(self, value: Any, literal: Any, seen: set[int]) -> Any:
        if isinstance(value, str):
            return escape_control(self._scrub_with(value, literal)) if value else value
        if value is None or isinstance(value, int | float | bytes):  # nothing to scrub or walk
            return value
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, list):
            value[:] = [self._scrub_tree(item, literal, seen) for item in value]
        elif isinstance(value, tuple):
            items = tuple(self._scrub_tree(item, literal, seen) for item in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                value = type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        elif isinstance(value, dict):
            for key in list(value):
                value[key] = self._scrub_tree(value[key], literal, seen)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                current = getattr(value, f.name, None)
                new = self._scrub_tree(current, literal, seen)
                if new is not current:
                    object.__setattr__(value, f.name, new)
        return value

    def scrub_longrepr(self, longrepr: Any) -> Any:
        """A report's `longrepr` (None, str, skip tuple or traceback repr), scrubbed.

        After the structural pass the rendered text is checked once more; anything still
        leaking (an unknown repr type) is replaced by its scrubbed rendering.
        """
        if longrepr is None or isinstance(longrepr, str | tuple):
            return self.scrub_data(longrepr)
        self.scrub_data(longrepr)
        rendered = str(longrepr)
        if self.leaks(rendered):
            return escape_control(self.scrub(rendered))
        return longrepr


_process_scrubber = Scrubber()


def process_scrubber() -> Scrubber:
    """The scrubber of this process: the run's secret variables (`configure_secret_variables`),
    the AWS ones and every registered secret."""
    return _process_scrubber


# -- quoting text smokegate does not control ------------------------------------------------------

# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters that
# reorder or hide text on a terminal or in a browser (bidi overrides, zero-width, BOM).
_CONTROLS = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]
_INVISIBLE = [0x061C, *range(0x200B, 0x2010), *range(0x2028, 0x202F), *range(0x2060, 0x2070)]
_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in [*_INVISIBLE, 0xFEFF]}
_ESCAPES_ONE_LINE = _ESCAPES | {0x09: "\\t", 0x0A: "\\n"}


def escape_control(text: str, *, one_line: bool = False) -> str:
    """Control characters shown as escapes (`\\x1b`), never sent to a terminal: a server's
    `ESC[2K ESC[1A gate PASSED` must not erase lines and print a verdict of its own."""
    return text.translate(_ESCAPES_ONE_LINE if one_line else _ESCAPES)


ELLIPSIS = "…"


def excerpt(
    text: str,
    limit: int,
    *,
    one_line: bool = True,
    first_line: bool = False,
    scrubber: Scrubber | None = None,
) -> str:
    """`text` as smokegate may quote it: scrubbed whole, control characters escaped,
    whitespace collapsed to single spaces (`one_line`) or only its first line kept
    (`first_line`), scrubbed again (an escape or a join can form a secret), and only then
    cut to `limit` characters with `…`. The one way rules and gatherers quote a server's
    or an exception's text (tests/unit/test_excerpts.py holds them to it)."""
    scrub = (scrubber or _process_scrubber).scrub
    clean = scrub(text)
    if first_line:
        lines = clean.strip().splitlines()
        clean = lines[0] if lines else ""  # cut-ok: after the scrub, which is the point
    if one_line or first_line:
        clean = " ".join(clean.split())
    clean = scrub(escape_control(clean, one_line=one_line or first_line))
    if len(clean) > limit:
        clean = clean[: max(limit - 1, 0)] + ELLIPSIS  # cut-ok: the one cut, after scrubbing
    return clean


def shown_url(url: str) -> str:
    """A URL as a message may name it: user:password and credential parameters masked,
    control characters escaped (a redirect's Location is the server's text)."""
    return excerpt(url, 2048)


# -- where text goes out of the process -----------------------------------------------------


class ScrubFilter(logging.Filter):
    """Masks secrets in a log record before any handler formats it (message, args,
    traceback), and escapes control characters in its message."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("smokegate.redact")
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it; still scrub the parts
            message = str(record.msg)
        clean = escape_control(self.scrubber.scrub(message))
        if clean != message:  # otherwise msg and args stay as they were, for caplog users
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = escape_control(self.scrubber.scrub(record.exc_text))
        if record.stack_info:
            record.stack_info = self.scrubber.scrub(record.stack_info)
        return True


class ScrubbingStream:
    """A text stream proxy that scrubs what is written: sys.stdout/stderr under `-s`, where a
    check's prints reach the terminal without passing through any report."""

    def __init__(self, stream: Any, scrubber: Scrubber) -> None:
        self._stream = stream
        self._scrubber = scrubber

    def write(self, text: str) -> int:
        self._stream.write(self._scrubber.scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
