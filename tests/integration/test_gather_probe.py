"""The prober against a real server on 127.0.0.1: every failure mode is a result, never a raise.

Concurrency and caps are asserted on what the server counted (requests in flight, bytes
sent, requests per path), never on elapsed time.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

import smokegate.gather.probe
from smokegate.gather.probe import LazyProbes, Prober, ProbeRequest
from tests.support.environment import clear_environment
from tests.support.servers import OK_JSON, TEXT_BODY, LocalServer, closed_port, private_ca_context

MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


@pytest.fixture
def prober() -> Iterator[Prober]:
    instance = Prober(max_workers=64, max_body_bytes=MB)
    yield instance
    instance.close()


def probe(prober: Prober, url: str, timeout_s: float = 2.0, **kwargs: Any) -> Any:
    return prober.probe(ProbeRequest(key="k", url=url, timeout_s=timeout_s, **kwargs))


def test_ok_response_is_measured(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/ok"))
    assert result.ok and result.error is None
    assert result.status == 200
    assert result.json() == OK_JSON
    assert result.headers["content-type"] == "application/json"  # case-insensitive lookup
    assert not result.truncated
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_latency_includes_the_servers_delay(server: LocalServer, prober: Prober) -> None:
    """A lower bound only: the server slept 200 ms, so no honest measurement is below it."""
    result = probe(prober, server.url("/hold/200"))
    assert result.status == 200
    assert result.latency_ms is not None and result.latency_ms >= 200


def test_timeout_becomes_a_result(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/hold/1500"), timeout_s=0.3)
    assert result.status is None
    assert result.error == "timed out after 0.3 s waiting for the response"


def test_connection_refused(prober: Prober) -> None:
    port = closed_port()
    result = probe(prober, f"http://127.0.0.1:{port}/health")
    assert result.status is None
    assert result.error == f"connection refused by 127.0.0.1:{port}"  # host and port


def test_reset_mid_body(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/reset"))
    assert result.status == 200  # the headers arrived; the body did not
    assert result.truncated
    assert result.error == "connection reset while reading the body"


def test_redirect_loop(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/redirect-loop"))
    assert result.status is None
    assert result.error is not None and result.error.startswith("redirect loop")
    assert "redirects back to" in result.error and server.url("/redirect-loop") in result.error
    assert result.error.endswith("already visited (after 1 redirect)")  # round 36c F7
    # told from a long chain by the URL coming back, not by following it 30 times
    assert server.count("/redirect-loop") == 1


def test_redirect_not_followed_when_asked(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/redirect-loop"), follow_redirects=False)
    assert result.ok
    assert result.status == 302
    assert result.headers["Location"] == "/redirect-loop"
    assert server.count("/redirect-loop") == 1


def test_5mb_body_is_capped(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/big/5"))
    assert result.ok
    assert result.status == 200
    assert len(result.body) == MB == prober.max_body_bytes
    assert result.truncated


def test_body_below_the_cap_is_whole(server: LocalServer) -> None:
    roomy = Prober(max_body_bytes=2 * MB)
    try:
        result = probe(roomy, server.url("/big/1"))
    finally:
        roomy.close()
    assert len(result.body) == MB
    assert not result.truncated


def test_the_runs_body_budget_fails_a_probe_never_passes_it(server: LocalServer) -> None:
    """Bodies are kept until their cases are judged: past the run's budget a probe fails
    saying so (a body of endpoints x max_body_kb could otherwise fill the machine)."""
    thrifty = Prober(max_body_bytes=2 * MB, body_budget=MB + MB // 2)
    try:
        first = probe(thrifty, server.url("/big/1"))
        second = probe(thrifty, server.url("/big/1"))
        third = probe(thrifty, server.url("/ok"))
    finally:
        thrifty.close()
    assert first.ok and len(first.body) == MB and not first.truncated
    assert not second.ok and second.truncated and len(second.body) < MB // 2 + 65536
    assert "this run's response headers and bodies reached 1 MiB in all" in (second.error or "")
    assert "lower defaults.max_body_kb" in (second.error or "")
    assert not third.ok  # spent stays spent: no body is judged on a part of what it sent


def test_a_body_cut_at_a_large_cap_is_held_at_most_twice(server: LocalServer) -> None:
    """5 MB under a 4 MB cap: one buffer and its bytes, not chunks + joined + cut (3x)."""
    roomy = Prober(max_body_bytes=4 * MB)
    tracemalloc.start()
    try:
        result = probe(roomy, server.url("/big/5"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        roomy.close()
    assert len(result.body) == 4 * MB and result.truncated
    assert peak < 4 * MB * 2.6


def test_30mb_body_is_neither_read_nor_held(server: LocalServer, prober: Prober) -> None:
    """The prober stops reading at the cap and drops the connection: the server cannot
    push the 30 MB through, and the process never holds more than a few MB for it."""
    tracemalloc.start()
    try:
        result = probe(prober, server.url("/big/30"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.body) == MB
    assert result.truncated
    assert peak < 8 * MB
    sent = wait_for(lambda: server.bytes_sent.get("/big/30"))
    assert sent < 30 * MB


def test_dripping_body_stops_at_the_deadline(server: LocalServer, prober: Prober) -> None:
    """1 000 bytes at one per 50 ms would take 50 s; the deadline cuts it at 0.3 s."""
    result = probe(prober, server.url("/drip/50"), timeout_s=0.3)
    assert result.status == 200
    assert result.truncated
    assert result.error == "body not complete after 0.3 s (timeout)"
    assert len(result.body) < 1000


def test_non_json_body(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/text"))
    assert result.ok
    assert result.body == TEXT_BODY
    with pytest.raises(ValueError, match="body is not valid JSON"):
        result.json()


def test_truncated_json_says_so(server: LocalServer, prober: Prober) -> None:
    result = probe(prober, server.url("/reset"))
    with pytest.raises(ValueError, match="truncated"):
        result.json()


def test_dns_failure(prober: Prober) -> None:
    """`.invalid` is reserved (RFC 6761): the resolver refuses it without network traffic."""
    result = probe(prober, "http://smokegate-test.invalid/health")
    assert result.status is None
    assert result.error == "DNS lookup failed for smokegate-test.invalid"


def test_tls_error(server: LocalServer, prober: Prober) -> None:
    """Speaking TLS to a plain-HTTP server fails the handshake, and the message says why in
    words (OpenSSL's own is WRONG_VERSION_NUMBER)."""
    result = probe(prober, server.url("/ok", scheme="https"))
    assert result.status is None
    assert result.error is not None
    assert result.error == (
        f"TLS error: 127.0.0.1:{server.port} did not answer in TLS (it speaks plain HTTP, or "
        "another protocol such as SSH or SMTP): use http:// if it serves plain HTTP, or the "
        "port that serves HTTPS"
    )
    assert "HTTPSConnectionPool" not in result.error  # the reason, not the wrapper's repr


class ConnectSpy:
    """Counts TCP connects, optionally refusing the first few as a restarting service would.
    Not those of an IAM audit's thread another test left behind (past its deadline), which
    may still connect elsewhere meanwhile."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.calls = 0
        self.refuse_first = refuse_first
        self.real = smokegate.gather.probe.connect_within

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name.startswith("smokegate-iam"):
            return self.real(*args, **kwargs)
        self.calls += 1
        if self.calls <= self.refuse_first:
            raise ConnectionRefusedError(111, "Connection refused")
        return self.real(*args, **kwargs)


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (2, 3)])
def test_retries_on_connection_errors(
    monkeypatch: pytest.MonkeyPatch, retries: int, attempts: int
) -> None:
    spy = ConnectSpy()
    monkeypatch.setattr(smokegate.gather.probe, "connect_within", spy)
    retrying = Prober(retries=retries)
    port = closed_port()
    try:
        result = probe(retrying, f"http://127.0.0.1:{port}/")
    finally:
        retrying.close()
    assert spy.calls == attempts
    assert result.error == f"connection refused by 127.0.0.1:{port}"


def test_retries_end_with_their_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Round 51b F2: `retries: 10` against a refused port and a run stopped early (-x): the
    prober closed, cutting its probe off, and the worker went on retrying and sleeping
    urllib3's backoff (~200 s in all), the process's exit waiting for it. Its connects stop
    with the probe."""
    spy = ConnectSpy()
    monkeypatch.setattr(smokegate.gather.probe, "connect_within", spy)
    retrying = Prober(retries=10)
    request = ProbeRequest(key="k", url=f"http://127.0.0.1:{closed_port()}/", timeout_s=0.5)
    retrying.submit_all([request])  # on a worker, as a run probes
    while spy.calls < 2:  # retrying: the first backoff (0.2 s) is behind it
        time.sleep(0.05)
    retrying.close()  # as a run that ends early: the probe is cut off
    time.sleep(0.1)  # an attempt that was connecting as it was cut ends
    settled = spy.calls
    time.sleep(1.5)  # the old backoff: attempts 0.4, 0.8 and 1.6 s apart
    assert spy.calls == settled


def test_retry_rides_out_a_transient_refusal(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ConnectSpy(refuse_first=1)
    monkeypatch.setattr(smokegate.gather.probe, "connect_within", spy)
    retrying = Prober(retries=1)
    try:
        result = probe(retrying, server.url("/ok"))
    finally:
        retrying.close()
    assert result.ok and result.status == 200
    assert spy.calls == 2
    assert server.count("/ok") == 1


@pytest.mark.parametrize("path", ["/status/503", "/reset"])
def test_no_retry_once_the_server_answered(server: LocalServer, path: str) -> None:
    """A 5xx or a broken body is a finding: retrying would paper over it."""
    retrying = Prober(retries=3)
    try:
        probe(retrying, server.url(path))
    finally:
        retrying.close()
    assert server.count(path) == 1


def test_probe_all_overlaps_every_request(server: LocalServer, prober: Prober) -> None:
    # each answer waits until all 20 are in flight (504 after 10 s if they never are): a
    # fixed hold of 600 ms saw 14 of 20 overlap on a 2-core machine under load (CI of 8ca745a)
    batch = [
        ProbeRequest(key=f"e{i}", url=server.url(f"/together/20/e{i}"), timeout_s=15)
        for i in range(20)
    ]
    results = prober.probe_all(batch)
    assert sorted(results) == sorted(r.key for r in batch)
    assert [r.status for r in results.values()] == [200] * 20
    assert server.max_in_flight >= 20


def test_probe_all_respects_max_workers(server: LocalServer) -> None:
    narrow = Prober(max_workers=4)
    try:
        results = narrow.probe_all(
            # the first four wait until four are in flight (never more can be): a fixed hold
            # could see fewer overlap on a loaded machine
            ProbeRequest(key=f"e{i}", url=server.url(f"/together/4/e{i}"), timeout_s=15)
            for i in range(12)
        )
    finally:
        narrow.close()
    assert len(results) == 12
    assert server.max_in_flight == 4


def test_one_dead_target_does_not_stop_the_others(server: LocalServer, prober: Prober) -> None:
    batch = [
        ProbeRequest(key="ok", url=server.url("/ok")),
        ProbeRequest(key="refused", url=f"http://127.0.0.1:{closed_port()}/"),
        ProbeRequest(key="loop", url=server.url("/redirect-loop")),
        ProbeRequest(key="reset", url=server.url("/reset")),
        ProbeRequest(key="slow", url=server.url("/hold/1500"), timeout_s=0.3),
    ]
    results = prober.probe_all(batch)
    assert results["ok"].status == 200 and results["ok"].ok
    assert {k for k, r in results.items() if not r.ok} == {"refused", "loop", "reset", "slow"}
    assert prober.probe_all([]) == {}


def test_lazy_probes_batch_everything_pending_on_first_demand(
    server: LocalServer, prober: Prober
) -> None:
    # each answer waits until all five are in flight: a 100 ms hold saw only three overlap
    # on a loaded CI machine (stop 28's CI)
    pending = [
        ProbeRequest(key=f"e{i}", url=server.url(f"/together/5/e{i}"), timeout_s=15)
        for i in range(5)
    ]
    calls: list[int] = []

    def pending_now() -> list[ProbeRequest]:
        calls.append(1)
        return pending

    lazy = LazyProbes(prober, pending_now)
    assert server.count() == 0  # nothing probed before a check asks
    assert lazy.get(pending[2]).status == 200
    assert lazy.batches == [5]
    for request in pending:
        assert lazy.get(request).status == 200
    assert lazy.batches == [5]  # later reads come from the first batch
    assert server.count("/together/") == 5  # each probed once
    assert server.max_in_flight == 5  # all at once
    assert len(calls) == 1

    straggler = ProbeRequest(key="late", url=server.url("/ok/late"))
    assert lazy.get(straggler).status == 200
    assert lazy.batches == [5, 1]


def test_lazy_probes_hand_out_each_result_as_it_arrives(
    server: LocalServer, prober: Prober
) -> None:
    """A check waits for its own probe only: the fast target's check runs while the slow
    ones are still in flight, so per-check work overlaps the batch."""
    fast = ProbeRequest(key="fast", url=server.url("/ok/fast"))
    # held 3 s: long enough that a loaded machine still finds them in flight after the fast one
    slow = [
        ProbeRequest(key=f"slow{i}", url=server.url(f"/hold/3000/s{i}"), timeout_s=10)
        for i in range(3)
    ]
    lazy = LazyProbes(prober, lambda: [fast, *slow])
    assert lazy.get(fast).status == 200
    assert wait_for(lambda: server.count("/hold/") == 3)
    assert server.in_flight == 3  # the slow ones were not waited for
    assert all(lazy.get(request).status == 200 for request in slow)
    assert lazy.batches == [4]


def wait_for(value: Any, timeout_s: float = 5.0) -> Any:
    """Poll `value()` until truthy: the server thread records a transfer after the client left."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = value()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("the server never recorded the transfer")


def test_proxy_from_the_environment_is_used(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The prober skips requests' per-request environment lookups only when there is
    nothing to find: a proxy in the environment still carries the probe."""
    clear_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTP_PROXY", server.url(""))
    proxied = Prober()
    try:
        result = probe(proxied, "http://smokegate-proxy-test.invalid/ok")
    finally:
        proxied.close()
    assert result.status == 404  # the local server answered as the proxy
    assert server.paths == ["http://smokegate-proxy-test.invalid/ok"]


def test_probe_all_surfaces_a_bug_instead_of_losing_a_result(
    server: LocalServer, prober: Prober, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_req: ProbeRequest) -> Any:
        raise RuntimeError("bug in the prober")

    monkeypatch.setattr(prober, "probe", broken)
    with pytest.raises(RuntimeError, match="bug in the prober"):
        prober.probe_all([ProbeRequest(key="a", url=server.url("/ok"))])


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[LocalServer, Any]]:
    """An HTTPS server whose certificate a private test CA signed; yields (server, CA PEM)."""
    context, pem = private_ca_context(tmp_path, pem_name="test-ca.pem")
    with LocalServer(ssl_context=context) as local:
        yield local, pem


def test_untrusted_certificate_is_a_tls_error(
    tls_server: tuple[LocalServer, Any], prober: Prober
) -> None:
    server, _ = tls_server
    result = probe(prober, server.url("/ok"))
    assert result.status is None
    assert result.error is not None
    assert result.error.startswith(
        "TLS error: certificate verify failed: unable to get local issuer certificate (trusting "
    )


def test_configured_ca_bundle_is_trusted(tls_server: tuple[LocalServer, Any]) -> None:
    server, pem = tls_server
    trusting = Prober(verify=pem)
    try:
        result = probe(trusting, server.url("/ok"))
    finally:
        trusting.close()
    assert result.ok and result.status == 200


def test_a_plain_http_hop_between_https_ones_is_recorded(
    tls_server: tuple[LocalServer, Any], server: LocalServer
) -> None:
    """Round 37c F2: https -> plain http -> https, answered 200 over TLS, passed: the rule
    saw only the final URL. The prober follows each hop itself and records the plain one."""
    from urllib.parse import quote

    from smokegate.config import Endpoint
    from smokegate.rules.health import check_endpoint

    secure, pem = tls_server
    back = secure.url("/ok")
    plain = server.url(f"/goto?{quote(back, safe='')}")
    start = secure.url(f"/goto?{quote(plain, safe='')}")
    trusting = Prober(verify=pem)
    try:
        result = probe(trusting, start)
        straight = probe(trusting, secure.url(f"/goto?{quote(back, safe='')}"))
    finally:
        trusting.close()
    assert result.status == 200 and result.redirects == 2
    assert result.plain_http_hop == plain
    verdict = check_endpoint(Endpoint(name="web", url=start), result)
    assert verdict.problems == (
        f"redirected from https through plain http: {plain} was asked over no TLS before the "
        "chain came back to https (after 2 redirects): anyone on the path could change where "
        "it led",
    )
    assert straight.status == 200 and straight.plain_http_hop == ""  # https all the way
    assert check_endpoint(Endpoint(name="web", url=start), straight).passed


def test_configured_ca_bundle_beats_the_environment_variable(
    tls_server: tuple[LocalServer, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """requests lets REQUESTS_CA_BUNDLE override a session's bundle; the env file's must win."""
    server, pem = tls_server
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # keeps requests reading the env
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    trusting = Prober(verify=pem)
    try:
        result = probe(trusting, server.url("/ok"))
    finally:
        trusting.close()
    assert result.ok and result.status == 200


def test_ca_bundle_variable_applies_without_a_configured_one(
    tls_server: tuple[LocalServer, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, pem = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))
    trusting = Prober()
    try:
        result = probe(trusting, server.url("/ok"))
    finally:
        trusting.close()
    assert result.ok and result.status == 200


def test_an_informational_status_alone_is_no_answer(server: LocalServer, prober: Prober) -> None:
    """http.client took a 103 Early Hints for the answer (attack round 6). A 103 is skipped
    now and the final answer waited for (round 14): one that never comes is a timeout, and
    the connection is not reused, so a late answer goes to no other request."""
    hinted = probe(prober, server.url("/early-hints"))
    assert hinted.status is None
    assert hinted.error is not None and "an interim 103 answer came, then no final" in hinted.error
    following = [probe(prober, server.url("/ok")) for _ in range(3)]
    assert [r.status for r in following] == [200, 200, 200]


@pytest.mark.parametrize(
    "sent",
    [
        b"HTTP/1.1 199 UNKNOWN\r\nServer: gunicorn\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ],
    ids=["199-head", "100-continue"],
)
def test_an_interim_answer_then_a_close_is_said_as_such(prober: Prober, sent: bytes) -> None:
    """Round 24c L2: gunicorn's `/status/199` (a whole interim head, then a close) read
    "closed the connection without sending any response"."""
    from tests.support.connect_proxy import loopback_listener

    code = sent.split(b" ")[1].decode()

    def handle(conn, stop) -> None:
        conn.recv(65536)
        conn.sendall(sent)
        conn.close()

    with loopback_listener(handle, threaded=True) as port:
        result = probe(prober, f"http://127.0.0.1:{port}/", timeout_s=2)
    assert result.status is None and result.error is not None
    assert f"an interim {code} answer came, then the connection closed" in result.error
    assert "without sending any response" not in result.error


@pytest.mark.parametrize(
    ("sent", "said"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Ty",
            "the status line came (17 bytes), then the head stalled",
        ),
        (
            b"HTTP/1.1 200 OK\r\nServer: t\r\nX-A",
            "the status line and 1 header line(s) came (28 bytes), then the head stalled",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "an interim 100 answer came, then no final answer"),
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
            "an interim 103 answer came, then no final answer",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: b\r\n",
            "the status line and 1 header line(s) came (50 bytes), then the head stalled",
        ),
        (b"HTTP/1.1 20", "the response began (11 bytes), then stalled inside its status line"),
    ],
    ids=[
        "status-line",
        "a-header",
        "100-continue",
        "103-early-hints",
        "100-then-200-stalls",
        "inside-the-status-line",
    ],
)
def test_a_head_that_began_then_stalled_is_said_as_such(prober: Prober, sent, said) -> None:
    """Round 21c, F4: a server that sent the start of its head (or an interim answer) and
    then nothing read as one that never answered: "waiting for the response"."""
    from tests.support.connect_proxy import loopback_listener

    def handle(conn, stop) -> None:
        conn.recv(65536)
        conn.sendall(sent)
        stop.wait(3)

    with loopback_listener(handle, threaded=True) as port:
        result = probe(prober, f"http://127.0.0.1:{port}/", timeout_s=0.4)
    assert result.status is None
    assert result.error == f"timed out after 0.4 s: {said}"


@pytest.mark.parametrize(
    "first", [b" Content-Length: 1000", b"\tTransfer-Encoding: chunked"], ids=["cl", "te"]
)
def test_a_first_header_line_that_continues_no_field_is_refused(prober: Prober, first) -> None:
    """Round 22c, F4: http.client's parser drops a first header line that begins with a
    blank, and the Content-Length with it: a body cut at 16 of 1000 bytes was read to the
    close and judged whole (`json: {status: ok}` passed)."""
    from tests.support.connect_proxy import loopback_listener

    def handle(conn, stop) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\n" + first + b'\r\nContent-Type: x\r\n\r\n{"status": "ok"}'
        )
        conn.close()

    with loopback_listener(handle, threaded=True) as port:
        result = probe(prober, f"http://127.0.0.1:{port}/", timeout_s=2)
    assert result.status is None
    assert result.error is not None
    shown = first.decode().replace("\t", "\\t")  # a tab is shown escaped
    assert result.error.startswith(f"the first header line '{shown}' begins with a blank")


def _answer(status: str, body: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_bytes_a_server_sends_after_its_answer_answer_no_other_request() -> None:
    """Round 25c F1: a pooled keep-alive connection was read by the next request to that
    host, so an unasked `200 {"status":"ok"}` a server sent after its 204 (here: once the
    next request came on that connection, ahead of that request's own 503) was taken for
    the next endpoint's answer, and a 503 passed. Every answer closes its connection."""
    from tests.support.connect_proxy import loopback_listener

    healthy = _answer("200 OK", b'{"status": "ok"}')
    down = _answer("503 Service Unavailable", b'{"status": "down"}')

    def handle(conn, stop) -> None:
        with conn:
            answered = 0
            while not stop.is_set():
                request = conn.recv(65536)
                if not request:
                    return
                if request.startswith(b"GET /first"):
                    conn.sendall(_answer("204 No Content"))
                else:  # a reused connection gets the stale bytes first
                    conn.sendall((healthy if answered else b"") + down)
                answered += 1

    serial = Prober(max_workers=1, max_body_bytes=MB)  # one thread: the pool is reused
    try:
        with loopback_listener(handle, threaded=True) as port:
            first = probe(serial, f"http://127.0.0.1:{port}/first")
            second = probe(serial, f"http://127.0.0.1:{port}/second")
    finally:
        serial.close()
    assert first.status == 204
    assert second.status == 503 and b"down" in second.body


def test_session_cookies_a_server_sets_are_masked_wherever_echoed(monkeypatch) -> None:
    """Round 25a F4: a `Set-Cookie` value was masked inside that header only; a debug page
    or a form's `value=` repeating the session id showed it whole. The cookies of every
    answer (a redirect's too) are made secrets of the run like a login's `access_token`;
    a value too short or word-like to be one is not."""
    from smokegate import redact
    from smokegate.redact import process_scrubber, registered_secrets
    from tests.support.connect_proxy import loopback_listener

    monkeypatch.setattr(redact, "_registered", set())  # this test's secrets only, restored
    monkeypatch.setattr(redact, "_issued", set())
    session, csrf = "Qx7sessZ9kLm3Wp2", "Ab4Zz9YyCsrfVal77"
    page = f"debug: sessionid {session} csrf {csrf} lang en theme darkmode".encode()

    def handle(conn, stop) -> None:
        with conn:
            while not stop.is_set():
                request = conn.recv(65536)
                if not request:
                    return
                if request.startswith(b"GET /login"):
                    conn.sendall(
                        b"HTTP/1.1 302 Found\r\nLocation: /page\r\nContent-Length: 0\r\n"
                        + f"Set-Cookie: csrftoken={csrf}; Path=/\r\n\r\n".encode()
                    )
                else:
                    conn.sendall(
                        b"HTTP/1.1 500 Internal Server Error\r\n"
                        + f"Set-Cookie: sessionid={session}; HttpOnly\r\n".encode()
                        + b"Set-Cookie: lang=en\r\nSet-Cookie: theme=darkmode\r\n"
                        + f"Content-Length: {len(page)}\r\n\r\n".encode()
                        + page
                    )

    prober = Prober(max_workers=2, max_body_bytes=MB)
    try:
        with loopback_listener(handle, threaded=True) as port:
            result = probe(prober, f"http://127.0.0.1:{port}/login")
    finally:
        prober.close()
    assert result.status == 500 and result.redirects == 1
    shown = process_scrubber().scrub(result.text)
    assert session not in shown and csrf not in shown
    assert "lang en theme darkmode" in shown
    assert {session, csrf} <= set(registered_secrets())
