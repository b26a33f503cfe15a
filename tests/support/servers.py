"""A real HTTP server on 127.0.0.1 for gatherer, end-to-end and bench runs.

Probes are only trustworthy if their error paths were exercised against real sockets,
so this serves the misbehaviours a health gate meets in the wild, and records what it
saw (requests per path, the most requests in flight at once, bytes sent) so tests
assert on facts rather than on timing.

Usage::

    with LocalServer() as server:           # ephemeral port, background thread
        url = server.url("/hold/200/a")     # http://127.0.0.1:<port>/hold/200/a
        ...
        assert server.max_in_flight >= 20
        assert server.count("/ok/") == 3

Routes (a trailing `/<anything>` is allowed everywhere, to give each target its own URL):

==================  ===================================================================
`/ok`               200, JSON `OK_JSON`, headers `Content-Type: application/json`,
                    `X-Smokegate-Test: yes`
`/hold/<ms>`        sleeps <ms>, then answers like `/ok` (concurrency, slow, bench)
`/together/<n>`     waits until <n> requests are in flight at once (10 s at most), then
                    answers like `/ok`, or 504 if they never were: overlap as a fact
`/text`             200, `text/plain`, a body that is not JSON (`TEXT_BODY`)
`/status/<n>`       status <n>, a short text body
`/redirect-loop`    302 back to itself, forever
`/reset`            headers announcing 100 000 bytes, 1 000 sent, then a TCP reset
`/big/<mb>`         <mb> MB of `x`, streamed in 64 KB writes (bytes sent: `bytes_sent`)
`/drip/<ms>`        declares 1 000 bytes, then sends one byte every <ms>
`/stall/<ms>`       status and headers (1 000 bytes announced), then nothing for <ms>
`/chain/<n>`        302 to `/chain/<n-1>`, ..., `/chain/0` answers like `/ok`: a finite chain
`/to-closed/<port>` 302 to http://127.0.0.1:<port>/get (a redirect to where nothing listens)
`/goto?<url>`       302 to <url> (percent-decoded): a chain across servers and schemes
`/zstd`             200 with `Content-Encoding: zstd`, which the client cannot decode
==================  ===================================================================

`closed_port()` gives a port with nothing listening (connection refused).
`LocalServer(ssl_context=...)` serves the same routes over TLS (see `trustme`).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

OK_JSON: dict[str, Any] = {"status": "ok", "version": "1.2.3", "db": {"connected": True}}
TEXT_BODY = b"plain text, definitely not JSON\n"
CHUNK = 64 * 1024
_ROUTE = re.compile(r"^/(?P<route>[a-z-]+)(?:/(?P<arg>\d+))?(?:/.*)?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body
    # until the client's delayed ACK (40 ms) on a reused connection, a delay no real server has.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test run's output is for the tests."""

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._enter(self.path)
        self._in_flight = True
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (size cap, timeout): expected, not an error
        finally:
            self._done()

    def _done(self) -> None:
        """The request leaves the in-flight count before its answer is written: a client
        that opens a new connection for its next request (one a probe) could otherwise be
        counted twice while this thread finishes."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.server.owner._leave()

    do_HEAD = do_GET
    do_POST = do_GET

    def _route(self) -> None:
        match = _ROUTE.match(self.path.split("?")[0])
        route = match.group("route") if match else ""
        arg = int(match.group("arg")) if match and match.group("arg") else None
        if route == "ok":
            self._json(200, OK_JSON)
        elif route == "hold":
            time.sleep((arg or 0) / 1000)
            self._json(200, OK_JSON)
        elif route == "together":
            if self.server.owner.wait_in_flight(arg or 1, 10.0):
                self._json(200, OK_JSON)
            else:
                self._send(504, b"not together\n", "text/plain")
        elif route == "text":
            self._send(200, TEXT_BODY, "text/plain; charset=utf-8")
        elif route == "status" and arg is not None:
            self._send(arg, f"status {arg}\n".encode(), "text/plain")
        elif route == "redirect-loop":
            self._send(302, b"", "text/plain", {"Location": self.path})
        elif route == "reset":
            self._reset_mid_body()
        elif route == "big":
            self._big((arg or 1) * 1024 * 1024)
        elif route == "drip":
            self._drip((arg or 100) / 1000)
        elif route == "stall":
            self._stall((arg or 1000) / 1000)
        elif route == "chain" and arg is not None:
            if arg == 0:
                self._json(200, OK_JSON)
            else:
                self._send(302, b"", "text/plain", {"Location": f"/chain/{arg - 1}"})
        elif route == "goto":
            target = unquote(self.path.partition("?")[2])
            self._send(302, b"", "text/plain", {"Location": target})
        elif route == "to-closed" and arg is not None:
            self._send(302, b"", "text/plain", {"Location": f"http://127.0.0.1:{arg}/get"})
        elif route == "early-hints":  # only 103s, never a final response
            for _ in range(3):
                self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
                self.wfile.flush()
                time.sleep(0.05)
        elif route == "zstd":
            body = b"\x28\xb5\x2f\xfd" + b"not really zstd"
            self._send(200, body, "application/json", {"Content-Encoding": "zstd"})
        elif route == "unsigned-jwt":  # lets in any unsigned JWT whose claims are JSON
            self._unsigned_jwt_gate()
        else:
            self._send(404, b"no such route\n", "text/plain")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._done()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _unsigned_jwt_gate(self) -> None:
        """A server that takes `alg: none` tokens: any `header.claims.` whose parts decode
        to JSON objects gets in, whoever minted it (the broken server of round 33c F1)."""
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        parts = token.split(".")
        try:
            header, claims = (
                json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                for part in parts[:2]
            )
            unsigned = len(parts) == 3 and not parts[2] and header.get("alg") == "none"
            let_in = unsigned and isinstance(claims, dict)
        except (ValueError, UnicodeDecodeError, AttributeError):
            let_in = False
        if let_in:
            self._json(200, OK_JSON)
        else:
            self._send(401, b"unauthorized\n", "text/plain")

    def _json(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self._send(status, body, "application/json", {"X-Smokegate-Test": "yes"})

    def _reset_mid_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b'{"status": "ok", "pad": "' + b"x" * 1000)
        self.wfile.flush()
        # SO_LINGER 0: close() sends RST instead of FIN, as a crashing backend would.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _big(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * CHUNK
        sent = 0
        try:
            while sent < size:
                piece = block[: min(CHUNK, size - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        finally:
            self.server.owner._sent(self.path, sent)
            self.close_connection = True

    def _stall(self, for_s: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        self.server.owner._closing.wait(for_s)
        self.close_connection = True

    def _drip(self, every_s: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        for _ in range(1000):
            if self.server.owner._closing.is_set():
                break
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(every_s)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: LocalServer, request_queue_size: int) -> None:
        self.owner = owner
        self.request_queue_size = request_queue_size  # listen() backlog: bench opens 500 at once
        super().__init__(("127.0.0.1", 0), _Handler)


class LocalServer:
    """The server, its thread and its counters. Use as a context manager (or call `close`)."""

    def __init__(
        self, request_queue_size: int = 128, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.bytes_sent: Counter[str] = Counter()
        self._httpd = _Server(self, request_queue_size)
        if ssl_context is not None:  # HTTPS: e.g. a trustme CA's server context
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/ok", *, scheme: str | None = None) -> str:
        """`http://127.0.0.1:<port><path>` (https when serving TLS); `scheme="https"` on a
        plain server speaks TLS to it, which fails the handshake."""
        return f"{scheme or self.scheme}://127.0.0.1:{self.port}{path}"

    def count(self, prefix: str = "/") -> int:
        """How many requests arrived for paths starting with `prefix`."""
        with self._lock:
            return sum(1 for p in self.paths if p.startswith(prefix))

    def reset_counters(self) -> None:
        with self._lock:
            self.paths.clear()
            self.max_in_flight = self.in_flight
            self.bytes_sent.clear()

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _enter(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def wait_in_flight(self, count: int, timeout_s: float) -> bool:
        """Whether `count` requests were in flight at once within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._closing.is_set():
            with self._lock:
                if self.max_in_flight >= count:
                    return True
            time.sleep(0.01)
        with self._lock:
            return self.max_in_flight >= count

    def _sent(self, path: str, size: int) -> None:
        with self._lock:
            self.bytes_sent[path] += size


def private_ca_context(
    folder: Path, name: str = "127.0.0.1", pem_name: str = "ca.pem"
) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for `name`, its certificate signed by a fresh private CA (trustme),
    and that CA's PEM written in `folder`: what a test trusts, or does not, to reach it."""
    import trustme  # a dev dependency: only the TLS tests need it

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    pem = folder / pem_name
    ca.cert_pem.write_to_path(str(pem))
    return context, pem


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
