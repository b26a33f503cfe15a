"""The secret scrubber: token values never reach any output smokegate produces.

This module is the scrubber itself (what a secret is, and masking it in text, in nested
data and in log records), with no pytest in it: the gatherers register secrets they obtain
at run time here. Where it is applied — every test report before any reporter sees it, the
log handlers, warnings, the environment table — is `smokegate.pytest_plugin.redact`.

What is a secret: the value of every `token_env` variable the env file names (the
forbidden ones too), AWS secret keys, session tokens and OIDC id tokens from the
environment (and the token file `AWS_WEB_IDENTITY_TOKEN_FILE` names), values registered
at run time with `register_secret` (credentials STS issued for `iam.role_arn`), and
credential-shaped text wherever it comes from: any `Authorization:` header value,
`Bearer <token>`, the value of a `SecretAccessKey`, `SessionToken`, `X-Amz-Security-Token`
or `WebIdentityToken` field (XML element, JSON or dict key, header, query parameter) and
JWT-shaped strings. Values are read from the environment at scrub time, so the scrubber
knows exactly what the checks sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import threading
from collections.abc import Generator, Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "***"
AWS_SECRET_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ID_TOKEN",
)
# Names a file whose contents are a secret (the OIDC token for AssumeRoleWithWebIdentity).
AWS_TOKEN_FILE_VARS = ("AWS_WEB_IDENTITY_TOKEN_FILE",)
# Shorter values are not credentials, and masking every "ab" would garble all output.
MIN_SECRET_CHARS = 4

# `Authorization: <value>` in header dumps, dict reprs and JSON: the value up to a quote or EOL.
_AUTH_HEADER = re.compile(r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n]+)")
# `Bearer <token68>`, but not a challenge's parameters (`Bearer realm="api", error="..."`).
_BEARER = re.compile(r"(?i)(\bbearer\s+)(?![A-Za-z][A-Za-z0-9_-]*=\s*\")([A-Za-z0-9._~+/-]+=*)")
# AWS credential fields, as botocore logs them at DEBUG: STS's XML answer
# (`<SecretAccessKey>...</SecretAccessKey>`), JSON and dict reprs (`'SessionToken': '...'`),
# headers (`X-Amz-Security-Token: ...`, `{'X-Amz-Security-Token': b'...'}`) and
# form or query parameters (`WebIdentityToken=...&`).
_AWS_FIELDS = r"SecretAccessKey|SessionToken|X-Amz-Security-Token|WebIdentityToken"
_AWS_XML = re.compile(rf"(?i)(<(?:[\w.-]+:)?(?:{_AWS_FIELDS})(?:\s[^>]*)?>)([^<]+)")
_AWS_KEY_VALUE = re.compile(
    rf"(?i)((?<![A-Za-z0-9])(?:{_AWS_FIELDS})[\"']?\s*[:=]\s*(?:b?[\"'])?)([^\"'\s,;&<>(){{}}\[\]]+)"
)
# A JSON Web Token: base64url header and payload (both JSON objects, so both `eyJ`), signature.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_AWS_HINTS = ("secretaccesskey", "sessiontoken", "security-token", "webidentitytoken")

_registry_lock = threading.Lock()
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Make a secret obtained at run time (not from the environment) known to every scrubber:
    the credentials STS issues for `iam.role_arn`, for instance. Too short a value is ignored."""
    if value and len(value) >= MIN_SECRET_CHARS:
        with _registry_lock:
            _registered.add(value)


def registered_secrets() -> list[str]:
    with _registry_lock:
        return list(_registered)


_token_files: dict[str, tuple[tuple[int, int], str]] = {}


def _token_file_secret(path: str) -> str:
    """The stripped contents of a token file, re-read only when the file changes."""
    try:
        stat = os.stat(path)
    except OSError:
        return ""
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _token_files.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if stat.st_size > 64 * 1024:  # not a token: never read a huge file on every log record
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            value = handle.read().strip()
    except OSError:
        return ""
    _token_files[path] = (stamp, value)
    return value


def _variants(value: str) -> set[str]:
    """The value as it may appear in text: raw, URL-encoded, JSON- and repr-escaped."""
    forms = {value, quote(value, safe=""), json.dumps(value)[1:-1], repr(value)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class Scrubber:
    """Replaces secret values and credential-shaped text with `***`."""

    def __init__(
        self, secret_vars: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> None:
        self.secret_vars = tuple(dict.fromkeys((*secret_vars, *AWS_SECRET_VARS)))
        self._environ = environ
        self._cache_key: frozenset[str] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._frozen = False

    def secrets(self) -> list[str]:
        """The current values of the secret variables (set and long enough to be one)."""
        environ = os.environ if self._environ is None else self._environ
        values = [environ.get(name, "") for name in self.secret_vars]
        values += [_token_file_secret(environ[v]) for v in AWS_TOKEN_FILE_VARS if environ.get(v)]
        values += registered_secrets()
        return [v for v in values if len(v) >= MIN_SECRET_CHARS]

    @contextlib.contextmanager
    def frozen(self) -> Generator[None]:
        """Read the secret values once for a batch of scrubs (one report holds many strings)."""
        self._literal_pattern()
        self._frozen = True
        try:
            yield
        finally:
            self._frozen = False

    def _literal_pattern(self) -> re.Pattern[str] | None:
        if self._frozen:
            return self._pattern
        values = frozenset(self.secrets())
        if values != self._cache_key:
            forms = {form for value in values for form in _variants(value)}
            # Longest first, so a value containing another is masked whole.
            ordered = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
            self._cache_key = values
        return self._pattern

    def scrub(self, text: str) -> str:
        """`text` with every secret value, Authorization value and bearer token masked."""
        if not text:
            return text
        return self._scrub_with(text, self._literal_pattern())

    @staticmethod
    def _scrub_with(text: str, literal: re.Pattern[str] | None) -> str:
        if literal is not None:
            text = literal.sub(MASK, text)
        if "uthorization" in text or "UTHORIZATION" in text:
            text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        lowered = text.lower()
        if any(hint in lowered for hint in _AWS_HINTS):
            text = _AWS_XML.sub(lambda m: m.group(1) + MASK, text)
            text = _AWS_KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
        if "eyJ" in text:
            text = _JWT.sub(MASK, text)
        return text

    def leaks(self, text: str) -> bool:
        """True when `text` still holds a secret value (the check after structural scrubbing)."""
        literal = self._literal_pattern()
        return bool(literal is not None and text and literal.search(text))

    def scrub_data(self, value: Any) -> Any:
        """Scrub strings inside lists, tuples, dicts and dataclasses; containers in place.

        This is how pytest's traceback representation (`ExceptionChainRepr` and its entries,
        all dataclasses) is scrubbed without losing its structure: the console keeps its
        layout and JUnit keeps the crash line as the failure message. The secret values are
        read once per call, not once per string: a report holds hundreds of strings.
        """
        return self._scrub_tree(value, self._literal_pattern(), set())

    def _scrub_tree(self, value: Any, literal: re.Pattern[str] | None, seen: set[int]) -> Any:
        if isinstance(value, str):
            return self._scrub_with(value, literal) if value else value
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
            return self.scrub(rendered)
        return longrepr


class ScrubFilter(logging.Filter):
    """Masks secrets in a log record before any handler formats it (message, args, traceback)."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("smokegate.redact")
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it; still scrub the parts
            message = str(record.msg)
        clean = self.scrubber.scrub(message)
        if clean != message:  # otherwise msg and args stay as they were, for caplog users
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrubber.scrub(record.exc_text)
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
