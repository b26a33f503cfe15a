"""What one HTTP request measured: the fact every health, auth and header rule judges.

Plain standard library on purpose: the rules, and the collection of every check module,
import this without loading `requests` (its import pulls in the whole session machinery);
the prober fills it in.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_NO_JSON = object()


class RequestNotSent(ConnectionError):
    """The request never left the process (a mocked env's world does not list its URL).

    Unlike a refused or timed-out connection, this says nothing about the target: a check
    on such a result verified nothing, and must gate whatever its severity.
    """


def unset_variable(var: str, what: str = "token") -> str:
    """Why a request was not sent: a variable its credentials need is unset or empty. Its
    case fails (never skips): a skipped auth check in prod is a silent pass."""
    return (
        f"environment variable {var} is not set (or empty): no {what} to send; "
        f"set {var} in the pipeline's secrets"
    )


def not_sent(key: str, url: str, method: str, reason: str) -> ProbeResult:
    """The result of a request that was never sent: its check verified nothing."""
    return ProbeResult(key=key, url=url, method=method, error=reason, sent=False)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def declared_charset(content_type: str) -> str | None:
    """The `charset=` parameter of a Content-Type value, when it names a codec Python
    has; None otherwise."""
    for parameter in content_type.split(";")[1:]:  # cut-ok: parameters, looked up only
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
            try:
                return codecs.lookup(charset).name
            except (LookupError, ValueError):
                return None
    return None


def decode_body(body: bytes, content_type: str) -> str:
    """A body as text: its byte-order mark first, then the declared charset, then UTF-8."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    return body.decode(declared_charset(content_type) or "utf-8", errors="replace")


class Headers(Mapping[str, str]):
    """Response headers, looked up by name whatever its case (`content-type` finds
    `Content-Type`), keeping the case the server sent for display."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in pairs}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class ProbeResult:
    """What one request measured; `error` is set when there is no usable response."""

    key: str
    url: str
    method: str = "GET"
    status: int | None = None
    latency_ms: float | None = None
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    sent: bool = True  # False: the request never reached anything (see RequestNotSent)
    final_url: str | None = None  # where the response came from, after redirects
    redirects: int = 0
    _json: Any = field(default=_NO_JSON, repr=False)
    _text: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        """The body as text, in the charset it declares (`Content-Type: ...; charset=`) or
        its byte-order mark says, else UTF-8; bytes that do not decode are replaced. A
        body in UTF-16 read as UTF-8 would put a NUL between the characters of anything
        it echoes, a secret included, and no scrubber or reader would know it."""
        if self._text is None:
            self._text = decode_body(self.body, self.headers.get("Content-Type", ""))
        return self._text

    def json(self) -> Any:
        """The parsed body; raises ValueError with a readable reason when it is not JSON."""
        if self._json is _NO_JSON:
            try:
                self._json = json.loads(self.body)
            except ValueError as exc:
                cut = " (body was truncated at the size cap)" if self.truncated else ""
                raise ValueError(f"body is not valid JSON: {exc}{cut}") from None
            except RecursionError:  # `[[[[...` a megabyte deep: hostile, or no JSON we judge
                raise ValueError("body is JSON nested too deeply to be judged") from None
        return self._json
