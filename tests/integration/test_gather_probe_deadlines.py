"""A server dripping its headers a byte at a time cannot hold a probe past its deadline.

The socket timeout bounds each read, not the response: every byte resets it. The prober
enforces an overall deadline per request and cuts the connection off. Asserted on the
result and on what the server saw (the client hanging up before the drip ended), never
on elapsed time; the server's drip is bounded so a broken prober still ends the test.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from smokegate.gather.probe import LazyProbes, Prober, ProbeRequest
from tests.support.servers import LocalServer, private_ca_context

DRIP_BYTES = 80  # at DRIP_EVERY_S each: the drip ends by itself after 8 s at most
DRIP_EVERY_S = 0.1


class HeaderDrip:
    """On 127.0.0.1: answers every connection with a status line, then one header byte
    every DRIP_EVERY_S, never finishing the headers; records who hung up first."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.sent: list[int] = []  # header bytes sent on each connection
        self.client_hung_up = threading.Event()
        self.drip_completed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/health") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        index = len(self.sent)
        self.sent.append(0)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn:
            conn.recv(65536)  # the request
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                for _ in range(DRIP_BYTES):
                    if self._stop.wait(DRIP_EVERY_S):
                        return
                    conn.sendall(b"a")
                    self.sent[index] += 1
            except (OSError, ssl.SSLError):  # the client closed the connection
                self.client_hung_up.set()
                return
            self.drip_completed.set()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def drip() -> Iterator[HeaderDrip]:
    server = HeaderDrip()
    yield server
    server.close()


@pytest.fixture
def prober() -> Iterator[Prober]:
    instance = Prober(max_workers=8)
    yield instance
    instance.close()


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_whole_body_whose_trailers_never_end_says_its_head_came(prober: Prober) -> None:
    """Round 25c F4: a 200 whose chunked body came whole, then trailer lines dripping for
    ever, read "no complete response ... measured: no response"."""
    from tests.support.connect_proxy import loopback_listener

    def handle(conn, stop) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b'10\r\n{"status": "ok"}\r\n0\r\n'
            )
            with contextlib.suppress(OSError):
                while not stop.wait(DRIP_EVERY_S):
                    conn.sendall(b"X-T: 1\r\n")  # a trailer line, and another, never the end

    with loopback_listener(handle, threaded=True) as port:
        request = ProbeRequest(key="t", url=f"http://127.0.0.1:{port}/", timeout_s=0.4)
        result = prober.probe_all([request])["t"]
    assert result.status == 200 and not result.ok
    assert result.error == (
        "the status (200) and headers came, then the body did not end within 0.4 s (it "
        "dripped, or it or its trailers never ended)"
    )
    from smokegate.config import Endpoint
    from smokegate.rules.health import check_endpoint

    verdict = check_endpoint(Endpoint(name="t", url=request.url, json={"status": "ok"}), result)
    assert not verdict.passed and verdict.measured == "200 · 400 ms"
    assert verdict.hint.startswith("the server answered and never finished its body")


def test_header_drip_is_cut_off_at_the_deadline(drip: HeaderDrip, prober: Prober) -> None:
    request = ProbeRequest(key="drip", url=drip.url(), timeout_s=0.3)
    result = prober.probe_all([request])["drip"]
    assert result.error == "no complete response within 0.3 s (timeout)"
    assert result.status is None and not result.ok
    assert result.key == "drip" and result.url == drip.url()
    # The server saw the probe hang up mid-drip: the connection was really cut, not left open.
    assert drip.client_hung_up.wait(10)
    assert not drip.drip_completed.is_set()
    assert 0 < drip.sent[0] < DRIP_BYTES


def test_lazy_probes_keep_the_timeout_result_for_good(drip: HeaderDrip, prober: Prober) -> None:
    request = ProbeRequest(key="drip", url=drip.url(), timeout_s=0.3)
    lazy = LazyProbes(prober, lambda: [request])
    first = lazy.get(request)
    assert first.error == "no complete response within 0.3 s (timeout)"
    pending = lazy._futures["drip"]
    assert wait_for(pending.future.done)  # the worker thread ended (its socket was shut)...
    assert lazy.get(request) is first  # ...and its late outcome does not replace the answer
    assert drip.connections == 1  # not probed again


def test_a_probe_queued_behind_a_stuck_one_gets_its_full_time(drip: HeaderDrip) -> None:
    """One worker: the healthy probe waits in the queue while the drip holds the worker.
    Its deadline counts from its own start, and the stuck probe is cut off even though
    nothing is waiting for it, so the queue moves."""
    narrow = Prober(max_workers=1)
    try:
        with LocalServer() as ok_server:
            stuck = ProbeRequest(key="stuck", url=drip.url(), timeout_s=0.3)
            healthy = ProbeRequest(key="ok", url=ok_server.url("/ok"), timeout_s=0.3)
            pending = narrow.submit_all([stuck, healthy])
            assert narrow.wait(pending["ok"]).status == 200  # waited on first: not a timeout
            assert narrow.wait(pending["stuck"]).error == (
                "no complete response within 0.3 s (timeout)"
            )
    finally:
        narrow.close()
    assert drip.client_hung_up.wait(10)


def test_close_does_not_wait_for_a_stuck_probe_and_cuts_it_off(drip: HeaderDrip) -> None:
    closing = Prober()
    pending = closing.submit_all([ProbeRequest(key="drip", url=drip.url(), timeout_s=5)])
    assert wait_for(lambda: drip.sent and drip.sent[0] > 0)  # the drip is under way
    closing.close()
    assert not drip.drip_completed.is_set()
    assert drip.client_hung_up.wait(10)  # the in-flight probe was cut off by close()
    assert wait_for(pending["drip"].future.done)
    assert pending["drip"].future.result().error is not None


def test_header_drip_over_tls_is_cut_off_too(tmp_path) -> None:
    """A TLS socket is shut down under its reader as well."""
    context, pem = private_ca_context(tmp_path)
    server = HeaderDrip(tls=context)
    tls_prober = Prober(verify=pem)
    try:
        request = ProbeRequest(key="drip", url=server.url(), timeout_s=0.3)
        result = tls_prober.probe_all([request])["drip"]
        assert result.error == "no complete response within 0.3 s (timeout)"
        assert server.client_hung_up.wait(10)
        assert not server.drip_completed.is_set()
        assert 0 < server.sent[0] < DRIP_BYTES
    finally:
        tls_prober.close()
        server.close()
