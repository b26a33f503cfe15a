"""A deliberately hostile HTTP server on 127.0.0.1: raw sockets, so it can send what no
framework would (a 10 MB header line, 150 headers, bytes that are not HTTP, a gzip bomb, a
redirect whose body never ends, control characters, echoed credentials in any encoding).

Bounded in count and time: one listening socket on loopback, one thread per connection,
every response stops after `max_bytes` sent, after `max_seconds`, or when the client goes
away; `close()` stops everything. Routes are paths (`/gzip-bomb`); `respond` can also be
given a function for a test's own payload.

Routes:
- `/gzip-bomb`: 200, `Content-Encoding: gzip`, a ~1 MB body that inflates to 1 GiB.
- `/redirect-gzip-bomb`: 302 to `/ok` with that body.
- `/redirect-chunked-endless`: 302 to `/ok`, chunked body that never ends.
- `/chunked-endless`: 200, chunked body that never ends.
- `/long-header/<kb>`: a header line of <kb> KiB.
- `/many-headers/<n>`: <n> headers of 63 KiB each (`X-Pad-<i>`); `?kb=<k>`: of <k> KiB.
- `/not-http`: an SSH banner and binary bytes instead of a status line.
- `/redirect-to?to=<url>`: 302 to that exact URL (credentials in it included).
- `/echo-forms`: 503 whose body echoes the received Authorization / X-API-Key value in every
  form named by `?forms=raw,quote,quote_plus_lower,...` at offset `?at=<n>` of filler.
- `/terminal`: 503 whose body is ANSI escapes that would erase lines and print a verdict.
- `/deep-json/<n>`: 200, JSON nested <n> levels deep.
- `/json-bomb/<kib>`: 200, <kib> KiB of `[{},{},...]` (a dict per 3 bytes once parsed).
- `/raw/<name>`: the bytes of `RAW_ANSWERS[name]` as they are, then the connection closes
  (a head cut by EOF, an HTTP/2.0 status line, a body shorter than its Content-Length, ...).
- `/ok`: 200 `{"status": "ok"}`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from types import TracebackType
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import brotli

BOMB_INFLATED = 1024 * 1024 * 1024  # what /gzip-bomb inflates to
CHUNK = 64 * 1024

# Answers sent byte for byte by `/raw/<name>`, then EOF.
RAW_ANSWERS: dict[str, bytes | tuple[bytes, ...]] = {
    "status-line-then-eof": b"HTTP/1.1 200 OK\r\n",
    # `identity, gzip` over gzip(deflate(...)): urllib3 decodes identity as deflate (18b)
    "identity-then-gzip": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: identity, gzip\r\nContent-Length: %d\r\n\r\n%s"
        % (
            len(gzip.compress(zlib.compress(b"status ok"))),
            gzip.compress(zlib.compress(b"status ok")),
        )
    ),
    # a server that speaks HTTP/2 only (h2c): its SETTINGS frame, then GOAWAY (round 18c)
    "http2-settings": b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x80"
    b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
    "header-cut-then-eof": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Cut-He",
    "401-status-line-then-eof": b"HTTP/1.1 401 Unauthorized\r\n",
    "http10-until-close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nread until close",
    "http2-status-line": b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "http3-status-line": b"HTTP/3 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "shorter-than-content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok",
    # a TLS server's answer to a plain request: an alert record (round 28c)
    "tls-alert": b"\x15\x03\x03\x00\x02\x02\x50",
    "401-shorter-than-content-length": (
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\nno"
    ),
    "401-chunked-invalid-size": (
        b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nno\r\n0\r\n\r\n"
    ),
    "chunked-without-last-chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
    ),
    "chunked-cut-inside-a-chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nok"
    ),
    "status-plus-200": b"HTTP/1.1 +200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-2_00": b"HTTP/1.1 2_00 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-0200": b"HTTP/1.1 0200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-two-spaces": b"HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-after-100-malformed": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 +200 OK\r\nContent-Length: 2\r\n\r\nok"
    ),
    "status-without-reason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "status-http09-plus-200": b"HTTP/0.9 +200 OK\r\nContent-Length: 2\r\n\r\nok",
    "status-http09-200": b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok",
    # framing http.client ignores: the body would be read to another end (round 12)
    "length-space-before-colon": (
        b"HTTP/1.1 200 OK\r\nContent-Length : 500\r\nConnection: close\r\n\r\n"
        b'{"status": "ok"} and the rest never came'
    ),
    "length-negative": (
        b'HTTP/1.1 200 OK\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{"status": "ok"}'
    ),
    "length-two-values": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 500\r\n\r\nok"),
    # a body cut before its last chunk, under codings http.client does not read as chunked
    "chunked-under-gzip-cut": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n"
        b"2\r\nok\r\n"
    ),
    "chunked-under-identity-cut": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\nConnection: close\r\n"
        b"\r\n2\r\nok\r\n"
    ),
    "chunked-space-before-colon": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nConnection: close\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    ),
    "status-after-100": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ),
    "chunked-invalid-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"
    ),
    # chunk framing Python's `int(line, 16)` or http.client's two-byte toss accepted (round 13)
    **{
        f"chunked-size-{name}": (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + size
            + b"\r\nhealthy\r\n0\r\n\r\n"
        )
        for name, size in [
            ("0x7", b"0x7"),
            ("plus-7", b"+7"),
            ("0_7", b"0_7"),
            ("blank-7", b" 7"),
            ("7-then-minus-0", b"7\r\nhealthy\r\n-0"),
        ]
    },
    "chunked-data-without-crlf": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"7\r\nhealthy0\r\n\r\n"
    ),
    "chunked-data-longer-than-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nhealthy\r\n0\r\n\r\n"
    ),
    # what real servers send: extensions, upper- and lower-case hex, zero-padded sizes
    "chunked-valid-variants": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0004;name=value\r\nheal\r\n3 ; x\r\nthy\r\nA\r\n and well\n\r\n0\r\n\r\n"
    ),
}


CUT_BODY = b'{"status": "ok", "pad": "' + b"x" * 20000 + b'", "tail": "END-OF-BODY"}'


def _compress(coding: str, body: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    return brotli.compress(body)


RAW_PAUSE_S = 0.2
DOWN_ZLIB = zlib.compress(b'{"status": "down", "error": "db unreachable"}')


def _raw_deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush()


def _with_length(header: str, *parts: bytes, pause: bool = False) -> bytes | tuple[bytes, ...]:
    """A 200 whose Content-Length covers every part: one answer, or (head and first part,
    then each other part after a pause) for a client that reads them separately."""
    size = sum(len(part) for part in parts)
    head = f"HTTP/1.1 200 OK\r\n{header}\r\nContent-Length: {size}\r\n\r\n".encode()
    if pause:
        return (head + parts[0], *parts[1:])
    return head + b"".join(parts)


def _compressed_answer(coding: str, *, cut: bool, chunked: bool = False) -> bytes:
    """`CUT_BODY` in `coding`, its compressed stream cut in half when `cut`, inside framing
    that is complete either way (round 14: a cut stream decoded to a prefix, and passed)."""
    data = _compress(coding, CUT_BODY)
    data = data[: len(data) // 2] if cut else data  # cut-ok: the hostile server's own cut
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\n"
    if chunked:
        framed = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"
        return head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + framed
    return head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data


RAW_ANSWERS.update(
    {
        **{
            f"{coding}-cut": _compressed_answer(coding, cut=True)
            for coding in ("gzip", "deflate", "br")
        },
        **{
            f"{coding}-whole": _compressed_answer(coding, cut=False)
            for coding in ("gzip", "deflate", "br")
        },
        "gzip-cut-chunked": _compressed_answer("gzip", cut=True, chunked=True),
        # round 16: a whole member, then a second one cut and followed by junk
        "gzip-member-cut-then-junk": (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
            + str(
                len(
                    gzip.compress(b'{"status": "ok"')
                    + gzip.compress(b', "tail": "END"}' * 50)[:20]
                    + b"junk-not-deflate"
                )
            ).encode()
            + b"\r\n\r\n"
            + gzip.compress(b'{"status": "ok"')
            + gzip.compress(b', "tail": "END"}' * 50)[:20]
            + b"junk-not-deflate"
        ),
        "gzip-empty": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"),
        # round 17b: bytes after a deflate stream's end, which urllib3 drops unread
        "deflate-two-streams": _with_length(
            "Content-Encoding: deflate", zlib.compress(b'{"status": "ok"}'), DOWN_ZLIB
        ),
        "deflate-raw-then-junk": _with_length(
            "Content-Encoding: deflate", _raw_deflate(b'{"status": "ok"}'), b"junk" * 200
        ),
        "deflate-then-stream-later": _with_length(
            "Content-Encoding: deflate", zlib.compress(b'{"status": "ok"}'), DOWN_ZLIB, pause=True
        ),
        # an informational answer before the final one (RFC 9110 15.2), and a clean close
        "early-hints-then-200": (
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 102 Processing\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        ),
        "length-superscript": (
            b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\xb3\r\nConnection: close\r\n\r\nstatus: ok"
        ),
        "empty-reply": b"",
        # a bare CR inside a header line: a parser that splits there loses the headers after
        "bare-cr-then-length": (
            b"HTTP/1.1 200 OK\r\nX-Trace: a\rb\r\nContent-Length: 1000\r\n\r\n"
            b"status: ok (first 37 of 1000 bytes)"
        ),
        "bare-cr-then-chunked": (
            b"HTTP/1.1 200 OK\r\nX-Trace: a\rb\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nstatus\r\n4\r\n: ok\r\n"
        ),
    }
)


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """1 GiB of zeros as gzip (~1 MB): 64 gzip members of 16 MiB each, one after the other,
    which every gzip decoder reads as one stream (built in a fraction of a second)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip member
    member = compressor.compress(bytes(16 * 1024 * 1024)) + compressor.flush()
    return member * (BOMB_INFLATED // (16 * 1024 * 1024))


def _hex_case(encoded: str, lower_every: int) -> str:
    """`%2F%2B` with every `lower_every`-th escape's hex lower-cased (1: all of them)."""
    head, *rest = encoded.split("%")
    parts = [(p[:2].lower() if i % lower_every == 0 else p[:2]) + p[2:] for i, p in enumerate(rest)]
    return head + "".join("%" + p for p in parts)


def encoded_forms(value: str) -> dict[str, str]:
    """Forms a careless server or library echoes a credential in."""
    quoted = quote(value, safe="")
    return {
        "raw": value,
        "quote": quoted,
        "quote_lower": _hex_case(quoted, 1),
        "quote_mixed": _hex_case(quoted, 2),
        "quote_plus": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        "json": json.dumps(value)[1:-1].replace("/", "\\/"),
        "basic": base64.b64encode(f"someone:{value}".encode()).decode(),
    }


class HostileServer:
    """The server and its accept thread. Use as a context manager."""

    def __init__(self, *, max_bytes: int = 2 * 1024**3, max_seconds: float = 20.0) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.received: list[dict[str, str]] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.custom: dict[str, Callable[[socket.socket, dict[str, str]], None]] = {}
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- plumbing -------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_request(self, conn: socket.socket) -> dict[str, str] | None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", "", ""][:3]
        request = {"method": method, "target": target}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            request[name.strip().lower()] = value.strip()
        with self._lock:
            self.received.append(request)
        return request

    def _send(self, conn: socket.socket, data: bytes) -> bool:
        """Send within the byte and time bounds; False once the client or a bound stops it."""
        if self._closing.is_set() or self.bytes_sent > self.max_bytes:
            return False
        try:
            conn.sendall(data)
        except OSError:
            return False
        with self._lock:
            self.bytes_sent += len(data)
        return True

    def _handle(self, conn: socket.socket) -> None:
        started = time.monotonic()
        try:
            request = self._read_request(conn)
            if request is None:
                return
            path = urlsplit(request["target"]).path
            route = "/" + path.strip("/").split("/")[0]
            handler = self.custom.get(route) or getattr(self, "_" + route[1:].replace("-", "_"))
            handler(conn, request, started)
        except (OSError, AttributeError):
            with contextlib.suppress(OSError):
                self._send(conn, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _alive(self, started: float) -> bool:
        return not self._closing.is_set() and time.monotonic() - started < self.max_seconds

    def _respond(
        self,
        conn: socket.socket,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
    ) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
        if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._send(conn, head + body)

    def _endless_chunks(self, conn: socket.socket, started: float) -> None:
        chunk = f"{CHUNK:x}\r\n".encode() + b"z" * CHUNK + b"\r\n"
        while self._alive(started) and self._send(conn, chunk):
            pass

    # -- routes ---------------------------------------------------------------------------
    def _ok(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        self._respond(conn, "200 OK", [("Content-Type", "application/json")], b'{"status": "ok"}')

    def _gzip_bomb(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        self._respond(conn, "200 OK", headers, gzip_bomb())

    def _redirect_gzip_bomb(
        self, conn: socket.socket, request: dict[str, str], started: float
    ) -> None:
        headers = [("Location", "/ok"), ("Content-Encoding", "gzip")]
        self._respond(conn, "302 Found", headers, gzip_bomb())

    def _redirect_chunked_endless(
        self, conn: socket.socket, request: dict[str, str], started: float
    ) -> None:
        headers = [("Location", "/ok"), ("Transfer-Encoding", "chunked")]
        self._respond(conn, "302 Found", headers)
        self._endless_chunks(conn, started)

    def _chunked_endless(
        self, conn: socket.socket, request: dict[str, str], started: float
    ) -> None:
        self._respond(conn, "200 OK", [("Transfer-Encoding", "chunked")])
        self._endless_chunks(conn, started)

    def _long_header(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        size = int(urlsplit(request["target"]).path.rstrip("/").split("/")[-1]) * 1024
        self._send(conn, b"HTTP/1.1 200 OK\r\nX-Long: ")
        sent = 0
        while sent < size and self._alive(started) and self._send(conn, b"a" * CHUNK):
            sent += CHUNK
        self._send(conn, b"\r\nContent-Length: 0\r\n\r\n")

    def _many_headers(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        count = int(urlsplit(request["target"]).path.rstrip("/").split("/")[-1])
        kib = int(parse_qs(urlsplit(request["target"]).query).get("kb", ["63"])[0])
        pad = "b" * (kib * 1024)
        headers = [(f"X-Pad-{i}", pad) for i in range(count)]
        self._respond(conn, "200 OK", headers, b"{}")

    def _not_http(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        self._send(conn, b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02\x1b[2Kgarbage\xff\xfe\r\n\r\n")

    def _redirect_to(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        to = parse_qs(urlsplit(request["target"]).query).get("to", ["/ok"])[0]
        self._respond(conn, "302 Found", [("Location", to)])

    def _echo_forms(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        query = parse_qs(urlsplit(request["target"]).query)
        at = int(query.get("at", ["0"])[0])
        wanted = query.get("forms", ["raw"])[0].split(",")
        sent = request.get("x-api-key") or request.get("authorization", "").partition(" ")[2]
        forms = encoded_forms(sent)
        body = "~" * at + " ".join(forms[name] for name in wanted) + " " + "~" * 300
        self._respond(
            conn, "503 Service Unavailable", [("Content-Type", "text/plain")], body.encode()
        )

    def _terminal(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        body = b"\x1b[2K\x1b[1A\x1b[2K\r\x07\x00gate PASSED\x1b]0;owned\x07\xe2\x80\xaeevil"
        self._respond(conn, "503 Service Unavailable", [("Content-Type", "text/plain")], body)

    def _deep_json(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        depth = int(urlsplit(request["target"]).path.rstrip("/").split("/")[-1])
        body = b"[" * depth + b"]" * depth
        self._respond(conn, "200 OK", [("Content-Type", "application/json")], body)

    def _json_bomb(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        kib = int(urlsplit(request["target"]).path.rstrip("/").split("/")[-1])
        body = b"[" + b"{}," * (kib * 1024 // 3 - 1) + b"{}]"  # no list of a million parts
        self._respond(conn, "200 OK", [("Content-Type", "application/json")], body)

    def _raw(self, conn: socket.socket, request: dict[str, str], started: float) -> None:
        name = urlsplit(request["target"]).path.rstrip("/").split("/")[-1]
        answer = RAW_ANSWERS[name]
        if isinstance(answer, bytes):
            self._send(conn, answer)
            return
        for i, part in enumerate(answer):  # parts, each after a pause: read in separate reads
            if i:
                time.sleep(RAW_PAUSE_S)
            if not self._send(conn, part):
                return

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self._closing.set()
        self._sock.close()
        self._accept.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
