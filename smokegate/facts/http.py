"""What one HTTP request measured: the fact every health, auth and header rule judges.

Plain standard library on purpose: the rules, and the collection of every check module,
import this without loading `requests` (its import pulls in the whole session machinery);
the prober fills it in.
"""

from __future__ import annotations

import codecs
import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from smokegate.redact import process_scrubber, surrogates_replaced


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
        f"set {var} (at a terminal: export it; in CI: a secret variable)"
    )


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot go into an HTTP header as it is, or None. requests refuses a line
    break before anything is sent, and http.client cannot encode a character past Latin-1:
    such a token was never sent, so its check verified nothing. Phrased to follow what
    holds the value; never quotes it."""
    for char in value:
        code = ord(char)
        if char in "\r\n":
            return "holds a line break, which an HTTP header cannot carry"
        if (code < 0x20 and char != "\t") or code == 0x7F:
            return f"holds a control character (U+{code:04X}), which an HTTP header cannot carry"
        if code > 0xFF:
            return f"holds a character an HTTP header cannot carry (U+{code:04X})"
    return None


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


def without_lone_surrogates(document: Any, source: bytes | str) -> Any:
    """The parsed JSON with each lone surrogate (`"\\ud83d"` alone: a JavaScript string cut
    inside an emoji) made U+FFFD: kept, it cannot be encoded, and RE2 and every writer
    raised on an honest answer (round 46c F5). Walked only when `source` escapes one."""
    marker = b"\\u" if isinstance(source, bytes) else "\\u"
    if marker not in source:  # type: ignore[operator]
        return document
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    value[i] = surrogates_replaced(item)
                else:
                    stack.append(item)
        elif isinstance(value, dict):
            for key in list(value):
                item = value.pop(key)
                value[surrogates_replaced(key)] = (
                    surrogates_replaced(item) if isinstance(item, str) else item
                )
                stack.append(item)
    return surrogates_replaced(document) if isinstance(document, str) else document


def declared_charset(content_type: str) -> str | None:
    """The `charset=` parameter of a Content-Type value, when it names a text encoding
    Python has; None otherwise (the body is then UTF-8). Round 19a: `charset=base64` or
    `idna` (codecs, but no text encodings, or none that replaces what it cannot read)
    raised a traceback of smokegate's own."""
    for parameter in content_type.split(";")[1:]:  # cut-ok: parameters, looked up only
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
            try:
                codec = codecs.lookup(charset).name
                if codec in _NO_TEXT_CODECS:
                    return None
                _ASCII_PROBES[0].decode(codec, errors="replace")
            except (LookupError, ValueError):  # UnicodeError is a ValueError
                return None
            return codec
    return None


def decode_body(body: bytes, content_type: str) -> str:
    """A body as text: its byte-order mark first, then the declared charset, then UTF-8.

    A charset that does not read ASCII bytes as ASCII (UTF-16 or UTF-32 without a mark,
    EBCDIC, HZ, UTF-7, ISO-2022) can make plain bytes other characters: a server that
    echoed the token in ASCII under `charset=utf-16` had it shown as CJK, unmasked, to
    anyone who re-encodes it (round 19a). Such a body is read as UTF-8 instead whenever that
    reading holds a secret of the run or a piece of one (round 21a: a piece), whatever the
    declared reading holds too (round 22a: the token in UTF-16 and again in ASCII), and so
    is one that begins with a UTF-16 byte-order mark (round 22a: `FF FE` then the token in
    ASCII). Read as UTF-8, text in UTF-16 is its characters between NULs, which the
    scrubber reads through: the copy in each encoding is masked."""
    codec = next((c for bom, c in _BOMS if body.startswith(bom)), None)
    codec = codec or declared_charset(content_type) or "utf-8"
    text = body.decode(codec, errors="replace")
    if not _keeps_ascii(codec):
        plain = body.decode("utf-8", errors="replace")
        # looked for as ASCII only: text really in UTF-16 reads as its characters between
        # NULs here, which the declared reading shows as written (and masks)
        ascii_only = plain.replace("\x00", "\ufffd")
        scrubber = process_scrubber()
        if holds_secret(scrubber, ascii_only):
            return plain
        # UTF-16 in the other byte order (round 23a: big-endian bytes under a bare
        # `charset=utf-16`) reads as CJK declared, and as characters between NULs here
        if holds_secret(scrubber, plain) and not holds_secret(scrubber, text):
            return plain
    return text


def holds_secret(scrubber: Any, text: str) -> bool:
    """Whether `text` holds a secret of the run, or a piece of one."""
    return bool(scrubber.leaks(text) or scrubber.mask_fragments(text) != text)


# Codecs Python has that are no charset of a web body: punycode decodes in quadratic time
# (218 s for a megabyte, round 46c F9), the escape codecs read backslashes as code
_NO_TEXT_CODECS = frozenset(
    {"punycode", "idna", "raw_unicode_escape", "unicode_escape", "raw-unicode-escape",
     "unicode-escape", "palmos", "mbcs", "oem"}
)  # fmt: skip
# ASCII as ASCII, also after what switches a stateful encoding (ISO-2022's escapes and
# shifts, HZ's `~{`, UTF-7's `+`) out of it
_ASCII_PROBES = (bytes(range(128)), b"\x1b$BZq7x", b"\x1b$)C\x0eZq7x", b"~{Zq7x", b"+AGE-Zq7x")


@functools.lru_cache(maxsize=64)
def _keeps_ascii(codec: str) -> bool:
    return all(p.decode(codec, "replace") == p.decode("ascii") for p in _ASCII_PROBES)


# What one parsed body may cost, estimated before it is parsed (`parsed_cost`). A body of
# up to 4 MiB always parses (no JSON is estimated past ~54x its bytes); past it, only a
# body dense in small objects (`[{},{},...]`: 64 MiB of it took 1.7 GB) is refused.
MAX_PARSED_JSON_BYTES = 256 * 1024 * 1024


def parsed_cost(body: bytes) -> int:
    """An upper estimate of what `json.loads(body)` takes, in bytes, from a few byte counts
    (never a parse): an object 128 (an empty dict is 64, one with a key 184), an array 64,
    a string 56, an element 32 (its slot, and a number object), plus the bytes. Measured
    against CPython 3.11: `[{},...]` 24x its size, `[{"a":"xyz"},...]` 20x, `[1,...]` 4x;
    estimated 54x, 24x, 17x."""
    objects, arrays = body.count(b"{"), body.count(b"[")
    strings, elements = body.count(b'"') // 2, body.count(b",") + 1
    return len(body) + 128 * objects + 64 * arrays + 56 * strings + 32 * elements


class Headers(Mapping[str, str]):
    """Response headers, looked up by name whatever its case (`content-type` finds
    `Content-Type`), keeping the case the server sent for display. A name sent in several
    fields reads as their values joined by ", " (as urllib3 joins them); `first` keeps the
    first field alone, for a header browsers read once."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {}
        self._first: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._items:
                shown, joined = self._items[key]
                self._items[key] = (shown, f"{joined}, {value}")
            else:
                self._items[key] = (name, value)
                self._first[key] = value

    def first(self, name: str) -> str | None:
        """The first field of `name` as it was sent (a Mapping given whole: its value)."""
        return self._first.get(name.lower())

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
    # the first hop of an https:// request's redirects asked over plain http:// (shown):
    # its Location, open to anyone on the path, chose where the chain went on (round 37c)
    plain_http_hop: str = ""
    # the proxy an http:// request was sent to whole (no tunnel): what answered may be it
    forward_proxy: str = ""
    # the token sent was one an OAuth2 token endpoint handed out for a client secret
    # nobody issued (test_rejects_invalid_token): the endpoint's fault, whatever followed
    token_for_invented_secret: bool = False
    # what the token endpoint said to that client secret when it gave no usable token: it
    # handed out one smokegate would not send (why), or gave no refusal (a 429, a 5xx, a
    # timeout: what it said), which verifies nothing of the client secret (round 37a)
    invented_secret_handed_out: str = ""
    invented_secret_unanswered: str = ""
    # the credential sent is a JWT whose `exp` had passed (when, in UTC): a server letting
    # it in does not check expiry (round 34c F4)
    credential_expired: str = ""
    # a refusal (of no, an invented or a forbidden credential) whose body holds most of the
    # data words of the real credential's 2xx answer: the bytes of them it holds, and of
    # them all (rounds 41c F1, 42b F1, 43c; rules/leaked_body.py)
    refused_with_let_in_body: int = 0
    let_in_data_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        """The body as text, in the charset it declares (`Content-Type: ...; charset=`) or
        its byte-order mark says, else UTF-8; bytes that do not decode are replaced. A
        body in UTF-16 read as UTF-8 would put a NUL between the characters of anything
        it echoes, a secret included, and no scrubber or reader would know it.

        Decoded on each use, never kept: the run's body budget counts the bytes a result
        holds, and a kept decoded copy (up to 4x the bytes) would be memory it does not see.
        """
        return decode_body(self.body, self.headers.get("Content-Type", ""))

    def json(self) -> Any:
        """The parsed body; raises ValueError with a readable reason when it is not JSON.

        Parsed on each call, never cached: a parsed body costs up to ~30x its bytes (`[{},
        {},...]`: a dict per two bytes), and a cached one lived for the whole run, outside
        the body budget (attack round 8b, F7: 40 endpoints of 1 MiB took 1.2 GB). The rule
        that asks holds it while it judges; then it is garbage.
        """
        if self.truncated:
            # A prefix can parse (`{"status":"ok"}` then padding then more; `0.000…` of
            # `0.000…1e999`) and be judged as the document it is not (attack round 17b).
            if self.error:  # reset, stalled, a stream cut: said by the error itself
                raise ValueError("body was truncated (not read whole): its JSON cannot be judged")
            raise ValueError(
                "body is larger than the size cap and was cut there: its JSON was not read "
                "whole, so it cannot be judged (raise defaults.max_body_kb)"
            )
        cost = parsed_cost(self.body)
        if cost > MAX_PARSED_JSON_BYTES:
            raise ValueError(
                f"body is JSON too large to judge: about {cost // 2**20} MiB once parsed, "
                f"past the {MAX_PARSED_JSON_BYTES // 2**20} MiB one parse may take"
            )
        try:
            return without_lone_surrogates(json.loads(self.body), self.body)
        except ValueError as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from None
        except RecursionError:  # `[[[[...` a megabyte deep: hostile, or no JSON we judge
            raise ValueError("body is JSON nested too deeply to be judged") from None
