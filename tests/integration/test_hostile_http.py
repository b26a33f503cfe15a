"""The prober against a hostile server (tests/support/hostile_server.py, raw sockets on
127.0.0.1): bodies bounded on every path, redirects included (issue 10 item 7); a response
that is not HTTP said as such, not as a reset (item 17); credentials in a redirect's URL
masked (item 3); a server's control characters never reach a message raw (item 13).

Memory is measured with tracemalloc around each probe: a body inflated or drained whole
would allocate hundreds of megabytes; a bounded one stays within a few times the cap.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import tracemalloc
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import trustme

from smokegate.config import Endpoint
from smokegate.gather.probe import Prober, ProbeRequest
from smokegate.gather.wire import MAX_HEAD_BYTES
from smokegate.rules.health import check_endpoint
from tests.support.hostile_server import CUT_BODY, RAW_ANSWERS, HostileServer
from tests.support.tls_servers import issue, tls_server

CAP = 256 * 1024  # the prober's body cap in these tests
# What one bounded probe may allocate: the cap a few times over (chunks, the joined body,
# the decoder's window) plus the urllib3/requests machinery and http.client's own header
# limit (100 lines of 64 KiB, parsed into a few copies), and the hostile server's own
# buffers (it runs in this process: tracemalloc counts every thread). An unbounded read of
# the 1 GiB bomb or of the endless chunked body allocates far beyond it.
MEMORY_BOUND = 8 * CAP + 64 * 1024 * 1024


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=10) as server:
        yield server


@pytest.fixture
def prober() -> Iterator[Prober]:
    prober = Prober(max_body_bytes=CAP)
    yield prober
    prober.close()


def probe_measured(prober: Prober, url: str, **kwargs: object):
    tracemalloc.start()
    try:
        result = prober.probe_all([ProbeRequest(key="k", url=url, **kwargs)])["k"]  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/gzip-bomb", 200),  # 1 MB on the wire, 1 GiB inflated
        ("/chunked-endless", 200),  # a body that never ends
        ("/redirect-gzip-bomb", 200),  # the bomb as a redirect's body, then /ok
        ("/redirect-chunked-endless", 200),  # an endless redirect body, then /ok
    ],
)
def test_bodies_are_bounded_on_every_path(prober, hostile, path, status):
    result, peak = probe_measured(prober, hostile.url(path), timeout_s=5)
    assert result.status == status, result.error
    assert len(result.body) <= CAP
    assert peak < MEMORY_BOUND, f"{path}: {peak / 1e6:.0f} MB allocated"
    if path.startswith("/redirect"):
        assert result.redirects == 1 and result.body == b'{"status": "ok"}'
    else:
        assert result.truncated


def test_a_redirect_body_that_drips_is_cut_by_the_deadline(prober, hostile):
    """The drain of a redirect body is under the probe's own deadline too."""

    def drip(conn, request, started):
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(200):
            if not hostile._alive(started):
                return
            try:
                conn.sendall(b"x")
            except OSError:
                return
            hostile._closing.wait(0.05)

    hostile.custom["/drip-redirect"] = drip
    result, _ = probe_measured(prober, hostile.url("/drip-redirect"), timeout_s=1)
    # 1 s of dripping bytes is read, then the redirect is followed: the run goes on
    assert result.status == 200 or "timeout" in (result.error or "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/long-header/10240", "a header line longer than 65536 bytes"),
        ("/many-headers/101?kb=1", "more than 100 headers"),
        ("/many-headers/150?kb=1", "more than 100 headers"),
        ("/not-http", "did not answer in HTTP: its first line was 'SSH-2.0-OpenSSH_9.6'"),
        ("/raw/http2-settings", "the server answered in HTTP/2 (its first bytes are an HTTP/2"),
    ],
)
def test_what_is_not_http_is_said_as_such(prober, hostile, path, expected):
    result, peak = probe_measured(prober, hostile.url(path), timeout_s=5)
    assert result.status is None
    assert expected in (result.error or "")
    assert "reset" not in (result.error or "")
    verdict = check_endpoint(Endpoint(name="x", url=hostile.url(path)), result)
    assert "load balancer" not in verdict.hint  # the reset hint is for resets
    assert peak < MEMORY_BOUND


def test_identity_in_a_list_of_codings_is_not_read_as_deflate(prober, hostile):
    """Round 18b, F9: urllib3 decodes `identity` in a list as deflate: a body sent as
    gzip(deflate("status ok")) labelled `identity, gzip` was decoded twice, and
    `body_contains: ok` passed on what, as labelled, is deflate bytes."""
    url = hostile.url("/raw/identity-then-gzip")
    result, _ = probe_measured(prober, url, timeout_s=5)
    assert "identity in a list of codings is decoded as deflate" in (result.error or "")
    verdict = check_endpoint(Endpoint(name="x", url=url, body_contains="ok"), result)
    assert not verdict.passed


def test_headers_past_256_kib_are_refused_not_kept(prober, hostile):
    """95 headers of 63 KB pass http.client's own limits (64 KiB a line, 100 lines) and
    were kept per endpoint for the run (attack round 8b, F8: 120 endpoints, 1.6 GB): the
    head is refused past MAX_HEAD_BYTES, and the read stops there."""
    url = hostile.url("/many-headers/95")
    result, peak = probe_measured(prober, url, timeout_s=5)
    assert result.status is None and not result.headers
    assert "status line and headers go past 256 KiB" in (result.error or "")
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    assert not verdict.passed and "load balancer" not in verdict.hint
    assert peak < 8 * MAX_HEAD_BYTES + 32 * 1024 * 1024


def test_headers_under_the_bound_are_read_and_judged_in_bounded_time(prober, hostile):
    """3 headers of 63 KB (189 KiB): under the bound, read, judged, quoted short."""
    url = hostile.url("/many-headers/3")
    result, _ = probe_measured(prober, url, timeout_s=5)
    assert result.status == 200 and len(result.headers) >= 3, result.error
    endpoint = Endpoint(name="x", url=url, headers={"X-Pad-1": "c"})
    verdict = check_endpoint(endpoint, result)
    (problem,) = verdict.problems
    assert problem.startswith("header X-Pad-1 is 'bbbb") and len(problem) < 400


def test_kept_headers_count_against_the_runs_budget(hostile):
    """Headers under the per-response bound still add up over endpoints: they draw from
    the run's body budget, and a response past it fails, its headers not kept."""
    prober = Prober(max_body_bytes=CAP, body_budget=300 * 1024, max_workers=1)
    try:
        first, second = (
            prober.probe_all([ProbeRequest(key="k", url=hostile.url(f"/many-headers/3?{i}"))])["k"]
            for i in range(2)
        )
    finally:
        prober.close()
    assert first.status == 200 and first.error is None
    assert second.error is not None and second.error.startswith("headers not kept")
    assert not second.headers


@pytest.mark.parametrize(
    "name", ["status-line-then-eof", "header-cut-then-eof", "401-status-line-then-eof"]
)
def test_a_head_cut_by_the_end_of_the_connection_is_an_error(prober, hostile, name):
    """http.client reads EOF like the empty line ending the headers: `HTTP/1.1 200 OK` then
    EOF was a healthy 200 (attack round 8b, F5). It is an incomplete response."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert result.status is None
    assert result.error == (
        "the connection closed inside the response headers (no empty line ended them): "
        "the response is incomplete"
    )
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    assert not verdict.passed


def test_an_http10_body_read_until_close_still_passes(prober, hostile):
    """The head ended by its empty line, the body by the end of the connection: complete."""
    result, _ = probe_measured(prober, hostile.url("/raw/http10-until-close"), timeout_s=3)
    assert (result.status, result.error, result.body) == (200, None, b"read until close")


@pytest.mark.parametrize(
    "name",
    [
        "status-plus-200",
        "status-2_00",
        "status-0200",
        "status-two-spaces",
        "status-after-100-malformed",
        "status-http09-plus-200",  # round 16: http.client reads HTTP/0.9 as 1.0
        "status-http09-200",
    ],
)
def test_a_status_line_int_would_accept_is_refused(prober, hostile, name):
    """http.client reads the code with `int()`: `+200`, `2_00`, `0200`, or two spaces before
    it were a healthy 200 and the gate passed (attack round 9, F6)."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert result.status is None
    assert "is not HTTP's (HTTP/1.x, one space, a three-digit code)" in (result.error or "")
    assert not check_endpoint(Endpoint(name="x", url=url), result).passed
    # Quoted as sent (round 10 LOW: the two spaces were shown as one), without its CRLF.
    sent = RAW_ANSWERS[name].split(b"\r\n\r\n")[1 if "after-100" in name else 0]
    status_line = sent.split(b"\r\n")[0].decode()
    assert f"the status line '{status_line}' is not" in (result.error or "")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("length-space-before-colon", "the header line 'Content-Length : 500' is not HTTP's"),
        ("chunked-space-before-colon", "the header line 'Transfer-Encoding : chunked' is not"),
        ("length-negative", "Content-Length is not one number (-1)"),
        ("length-two-values", "Content-Length is not one number (2, 500)"),
        ("chunked-under-gzip-cut", "Transfer-Encoding 'gzip, chunked' is not one this client"),
        ("chunked-under-identity-cut", "Transfer-Encoding 'identity, chunked' is not one"),
    ],
)
def test_framing_http_client_would_ignore_is_refused(prober, hostile, name, said):
    """`Content-Length : 500` was ignored by http.client: the body was read to the close,
    16 of 500 bytes were judged whole, and the case passed (attack round 12)."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert result.status is None and said in (result.error or ""), result.error
    endpoint = Endpoint(name="x", url=url, json={"status": "ok"})
    assert not check_endpoint(endpoint, result).passed


@pytest.mark.parametrize("name", ["status-without-reason", "status-after-100"])
def test_status_lines_real_servers_send_are_read(prober, hostile, name):
    result, _ = probe_measured(prober, hostile.url(f"/raw/{name}"), timeout_s=3)
    assert (result.status, result.error, result.body) == (200, None, b"ok")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("http2-status-line", "the server answered in 'HTTP/2.0', not HTTP/1.x"),
        ("http3-status-line", "the server answered in 'HTTP/3', not HTTP/1.x"),
        (
            "shorter-than-content-length",
            "the body is shorter than its Content-Length announced: the connection closed "
            "after 2 of 100 bytes",
        ),
        (
            "chunked-without-last-chunk",
            "broken chunked framing: the connection closed before the last (zero-size) chunk",
        ),
        (
            "chunked-cut-inside-a-chunk",
            "broken chunked framing: the connection closed before the last (zero-size) chunk",
        ),
        ("chunked-invalid-size", "broken chunked framing: a chunk size line was 'zz'"),
    ],
)
def test_a_broken_response_is_said_as_such_not_as_a_reset(prober, hostile, name, expected):
    """Attack round 8b, F6: each was "connection reset", with the load balancer hint."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert expected in (result.error or ""), result.error
    assert "reset" not in (result.error or "")
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    assert not verdict.passed and "load balancer" not in verdict.hint


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("chunked-size-0x7", "a chunk size line was '0x7', not a hex size"),
        ("chunked-size-plus-7", "a chunk size line was '+7', not a hex size"),
        ("chunked-size-0_7", "a chunk size line was '0_7', not a hex size"),
        ("chunked-size-blank-7", "a chunk size line was ' 7', not a hex size"),
        ("chunked-size-7-then-minus-0", "a chunk size line was '-0', not a hex size"),
        ("chunked-data-without-crlf", "a chunk's data did not end (CRLF) where its size said"),
        ("chunked-data-longer-than-size", "a chunk's data did not end (CRLF) where its size"),
    ],
)
def test_chunk_framing_python_would_accept_is_refused(prober, hostile, name, said):
    """`int(line, 16)` reads `0x7`, `+7`, `0_7` and ` 7` as 7 and `-0` as the last chunk, and
    http.client threw away the two bytes after a chunk's data whatever they were: each body
    passed `body_contains` (attack round 13)."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert said in (result.error or ""), result.error
    assert result.error.startswith("broken chunked framing: ")
    assert not check_endpoint(Endpoint(name="x", url=url, body_contains="healthy"), result).passed


def test_chunk_framing_real_servers_send_is_read(prober, hostile):
    """Extensions (with blanks before `;`), zero-padded and upper-case sizes, as nginx,
    gunicorn and Go send them, stay readable."""
    result, _ = probe_measured(prober, hostile.url("/raw/chunked-valid-variants"), timeout_s=3)
    assert (result.status, result.error, result.body) == (200, None, b"healthy and well\n")


@pytest.mark.parametrize(
    "name", ["gzip-cut", "deflate-cut", "br-cut", "gzip-cut-chunked", "gzip-member-cut-then-junk"]
)
def test_a_compressed_stream_cut_inside_complete_framing_is_incomplete(prober, hostile, name):
    """The framing was whole (a Content-Length that matched, a last chunk), the compressed
    stream was not: urllib3 decoded a prefix without an error, and `body_contains` of the
    prefix passed (attack round 14, F2)."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert (result.error or "").startswith("the body is incomplete: its compressed ("), result
    assert result.truncated
    endpoint = Endpoint(name="x", url=url, body_contains='"status": "ok"')
    assert not check_endpoint(endpoint, result).passed


@pytest.mark.parametrize(
    "name", ["deflate-two-streams", "deflate-raw-then-junk", "deflate-then-stream-later"]
)
def test_bytes_after_a_deflate_stream_are_not_dropped_unread(prober, hostile, name):
    """urllib3 drops what comes after a deflate stream's end: a second zlib stream
    (`{"status": "down"}`) or junk, in the read that ended the stream or in a later one,
    and `{"status": "ok"}` passed (attack round 17b, F2). gzip and br refuse the same."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert (result.error or "").startswith("the body is incomplete: its compressed ("), result
    assert "holds bytes that are none of it" in result.error
    endpoint = Endpoint(name="x", url=url, json={"status": "ok"})
    assert not check_endpoint(endpoint, result).passed


@pytest.mark.parametrize("name", ["gzip-whole", "deflate-whole", "br-whole", "gzip-empty"])
def test_a_whole_compressed_body_is_read_whole(prober, hostile, name):
    result, _ = probe_measured(prober, hostile.url(f"/raw/{name}"), timeout_s=3)
    assert (result.status, result.error) == (200, None)
    assert result.body == (b"" if name == "gzip-empty" else CUT_BODY)


def test_informational_answers_before_the_final_one_are_skipped(prober, hostile):
    """A `103 Early Hints` (and a `102`) before a healthy 200 failed as "no final response"
    (attack round 14, F5): http.client skips only `100 Continue`."""
    result, _ = probe_measured(prober, hostile.url("/raw/early-hints-then-200"), timeout_s=3)
    assert (result.status, result.error, result.body) == (200, None, b"ok")


def test_a_length_of_digits_that_are_not_ascii_is_refused(prober, hostile):
    """`str.isdigit()` is true of `²³`; http.client's `int()` is not, so it read to the close
    and a 10-byte body was judged whole (attack round 14, F4)."""
    url = hostile.url("/raw/length-superscript")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert "Content-Length is not one number" in (result.error or ""), result.error
    assert not check_endpoint(Endpoint(name="x", url=url, body_contains="ok"), result).passed


def test_a_clean_close_without_an_answer_is_an_empty_reply_not_a_reset(prober, hostile):
    url = hostile.url("/raw/empty-reply")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert (result.error or "").startswith("empty reply: 127.0.0.1:"), result.error
    assert "without sending any response" in result.error
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    assert not verdict.passed and "load balancer" not in verdict.hint


@pytest.mark.parametrize(
    "location",
    [
        "http://admin:hunter2-pw@127.0.0.1:1/next",
        "http://127.0.0.1:1/next?access_token=tok-abcdef-123456&x=1",
        "http://127.0.0.1:1/next?X-Amz-Signature=0123456789abcdef&X-Amz-Credential=AKIA",
        "http://127.0.0.1:1/next?id_token=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
        "http://127.0.0.1:1/next;sig=abcdef0123",
    ],
)
def test_credentials_in_a_redirect_location_are_masked(prober, hostile, location):
    url = hostile.url(f"/redirect-to?to={quote(location, safe='')}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    error = result.error or ""
    assert error.startswith("after redirect to http://"), error
    for secret in ("hunter2-pw", "tok-abcdef-123456", "0123456789abcdef", "c2lnbmF0dXJl"):
        assert secret not in error
    assert "abcdef0123" not in error
    assert "***" in error


def test_a_servers_control_characters_are_escaped_in_every_message(prober, hostile):
    url = hostile.url("/terminal")
    result, _ = probe_measured(prober, url, timeout_s=3)
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    text = "\n".join((*verdict.problems, verdict.detail))
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "\u202e" not in text
    assert "\\x1b[2K" in text and "gate PASSED" in text  # shown, harmless


def test_json_nested_a_hundred_thousand_deep_fails_the_check_clearly(prober, hostile):
    url = hostile.url("/deep-json/100000")
    result, _ = probe_measured(prober, url, timeout_s=3)
    verdict = check_endpoint(Endpoint(name="x", url=url, json={"a": 1}), result)
    assert verdict.problems == ("body is JSON nested too deeply to be judged",)


def test_a_tls_handshake_that_drips_is_cut_off_as_a_whole():
    """A server that answers the ClientHello one byte every 0.2 s resets the socket's read
    timeout with every byte; the TLS check still ends soon after its own timeout."""
    import socket
    import threading
    import time

    from smokegate.config import TlsTarget
    from smokegate.gather.tls import inspect

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)  # the ClientHello
            conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB...
            while not stop.wait(0.2):  # ...sent a byte at a time
                try:
                    conn.sendall(b"\x00")
                except OSError:
                    return

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        facts = inspect(TlsTarget(host="127.0.0.1", port=listener.getsockname()[1]), timeout_s=1)
        took = time.monotonic() - start
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
    assert facts.error is not None and "timed out after 1 s during the TLS handshake" in facts.error
    assert took < 10  # bounded: about the 1 s timeout plus grace, not 16 384 x 0.2 s


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, gzip"])
@pytest.mark.parametrize("as_redirect", [False, True], ids=["final", "redirect"])
def test_every_decodable_encoding_is_bounded_as_a_bomb(prober, hostile, encoding, as_redirect):
    """A few KB that inflate to 256 MiB in brotli, deflate, or gzip inside gzip."""
    import zlib

    import brotli

    zeros = bytes(16 * 1024 * 1024)
    if encoding == "br":
        compressor = brotli.Compressor(quality=5)
        body = b"".join([*(compressor.process(zeros) for _ in range(16)), compressor.finish()])
    elif encoding == "deflate":
        deflate = zlib.compressobj(9, zlib.DEFLATED, 15)
        body = b"".join([*(deflate.compress(zeros) for _ in range(16)), deflate.flush()])
    else:
        inner = zlib.compressobj(9, zlib.DEFLATED, 31)
        once = b"".join([*(inner.compress(zeros) for _ in range(16)), inner.flush()])
        outer = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = outer.compress(once) + outer.flush()
    status = "302 Found\r\nLocation: /ok" if as_redirect else "200 OK"
    head = f"HTTP/1.1 {status}\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}"

    def bomb(conn, request, started):
        conn.sendall(f"{head}\r\nConnection: close\r\n\r\n".encode() + body)

    route = f"/bomb-{encoding.replace(', ', '-')}-{as_redirect}"
    hostile.custom[route] = bomb
    result, peak = probe_measured(prober, hostile.url(route), timeout_s=5)
    assert result.status == 200, result.error
    assert len(result.body) <= CAP and peak < MEMORY_BOUND


def test_through_an_http_proxy_a_cut_head_is_an_error_too(hostile, monkeypatch, tmp_path):
    """A proxy's pools read heads the same way: the hostile server answers as the proxy."""
    from tests.support.environment import clear_environment

    clear_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTP_PROXY", hostile.url(""))
    proxied = Prober(max_body_bytes=CAP)
    try:
        url = "http://smokegate-proxy-test.invalid/raw/status-line-then-eof"
        result, _ = probe_measured(proxied, url, timeout_s=3)
    finally:
        proxied.close()
    assert result.status is None
    assert "closed inside the response headers" in (result.error or ""), result.error
    assert hostile.received[-1]["target"] == url  # it went through the proxy


def test_a_redirect_to_https_with_undecidable_trust_verified_nothing(hostile):
    """Round 14: with $REQUESTS_CA_BUNDLE naming no file, an https:// URL failed as "trust
    cannot be decided", verified nothing; an http:// URL redirecting to https:// failed as
    an ordinary "[Errno 2]", below `--fail-on critical`, and the gate passed."""
    from smokegate.gather.trust import Trust
    from smokegate.rules.health import health_hint

    broken = Trust(source="$REQUESTS_CA_BUNDLE", error="names no readable CA file or folder")
    prober = Prober(max_body_bytes=CAP, trust=broken)
    try:
        target = "https://127.0.0.1:1/secure"
        url = hostile.url(f"/redirect-to?to={quote(target, safe='')}")
        result, _ = probe_measured(prober, url, timeout_s=3)
    finally:
        prober.close()
    assert result.error == (
        f"after redirect to {target}: TLS trust: names no readable CA file or folder"
    )
    assert result.sent is False and result.redirects == 1
    verdict = check_endpoint(Endpoint(name="x", url=url), result)
    assert not verdict.passed and not verdict.verified
    assert "mocked world" not in health_hint(result, list(verdict.problems))


def test_the_hint_is_not_chosen_by_words_a_server_put_in_the_message(prober, hostile):
    """Round 14c, F9: the hint was picked by substrings of the error, which quotes the
    redirect's Location: `/(timeout)/` made a malformed answer "slow or unreachable"."""
    from smokegate.rules.health import health_hint

    target = hostile.url("/raw/(timeout)/reset/length-negative")
    url = hostile.url(f"/redirect-to?to={quote(target, safe='')}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert "Content-Length is not one number" in (result.error or ""), result.error
    assert "(timeout)" in result.error  # the Location is quoted...
    hint = health_hint(result, [result.error])
    assert "slow or unreachable" not in hint and "load balancer" not in hint  # ...not obeyed


def test_a_redirect_whose_own_body_drips_is_named_as_such(prober, hostile):
    """Round 14c, F10: a 302 whose body dripped until the deadline was reported as "body
    not complete" of the final answer, which had come whole."""

    def drip(conn, request, started):
        head = b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 100000\r\n\r\n"
        if not hostile._send(conn, head):
            return
        while hostile._alive(started) and time.monotonic() - started < 4:
            if not hostile._send(conn, b"....."):
                return
            time.sleep(0.2)

    hostile.custom["/redirect-drip"] = drip
    url = hostile.url("/redirect-drip")
    result, _ = probe_measured(prober, url, timeout_s=1)
    assert (result.error or "").startswith(f"the redirect from {url} to "), result.error
    assert "did not finish sending its own body within 1 s (timeout)" in result.error
    assert not check_endpoint(Endpoint(name="x", url=url), result).passed


def test_a_redirect_whose_own_body_stalls_is_named_as_such(prober, hostile):
    """Round 26c, F2: a 302 whose body stalled past the read timeout was followed anyway:
    the healthy final answer was blamed ("body not complete after 1 s", measured 200)."""

    def stall(conn, request, started):
        head = b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 100000\r\n\r\n"
        if hostile._send(conn, head + b"....."):
            while hostile._alive(started) and time.monotonic() - started < 4:
                time.sleep(0.1)  # nothing more: the body stalls

    hostile.custom["/redirect-stall"] = stall
    url = hostile.url("/redirect-stall")
    result, _ = probe_measured(prober, url, timeout_s=1)
    assert (result.error or "").startswith(f"the redirect from {url} to "), result.error
    assert "did not finish sending its own body within 1 s (timeout)" in result.error


@pytest.mark.parametrize("name", ["bare-cr-then-length", "bare-cr-then-chunked"])
def test_a_bare_cr_in_a_header_line_is_refused(prober, hostile, name):
    """Round 15b, F1: `X-Trace: a\\rb` ended http.client's header section at the CR; the
    Content-Length (or Transfer-Encoding) after it was never seen, the body was read to
    the close, and a body cut at 37 of 1000 bytes passed `body_contains`."""
    url = hostile.url(f"/raw/{name}")
    result, _ = probe_measured(prober, url, timeout_s=3)
    assert "holds a bare CR, which HTTP does not allow" in (result.error or ""), result.error
    assert "'X-Trace: a\\x0db'" in result.error  # shown escaped
    assert not check_endpoint(Endpoint(name="x", url=url, body_contains="ok"), result).passed


def test_a_redirect_with_an_empty_body_whose_head_came_late_is_not_said_to_drip(prober, hostile):
    """Round 15c, F7: a 302 with Content-Length 0 whose head came after the deadline was
    reported as a redirect that "did not finish sending its own body"."""

    def late(conn, request, started):
        time.sleep(1.2)
        hostile._send(conn, b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n")

    hostile.custom["/late-302"] = late
    result, _ = probe_measured(prober, hostile.url("/late-302"), timeout_s=1)
    assert "did not finish sending its own body" not in (result.error or ""), result.error


def _plain_to_tls(prober: Prober, port: int) -> tuple[str, str]:
    from smokegate.rules.hints import health_hint

    url = f"http://127.0.0.1:{port}/"
    result = prober.probe_all([ProbeRequest(key="k", url=url, timeout_s=5)])["k"]
    return result.error or "", health_hint(result, [result.error or ""])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on 127.0.0.1:{port}")


def test_an_http_url_at_a_tls_port_is_said_so(prober, hostile, tmp_path):
    """Round 28c-3: an http:// URL at a TLS port read as a reset, an empty reply or an odd
    first line, with the load balancer and crash logs as the hint. Against a TLS record
    sent back, Python's TLS server and `openssl s_server` (Debian's, in every image the
    suite runs in)."""
    alert = prober.probe_all([ProbeRequest(key="k", url=hostile.url("/raw/tls-alert"))])["k"]
    assert alert.error is not None
    assert alert.error.startswith("the server answered in TLS (its first bytes are a TLS record")
    assert "use https://" in alert.error
    cert = issue(trustme.CA(), tmp_path, "localhost", days_left=30)
    with tls_server(cert) as port:
        error, hint = _plain_to_tls(prober, port)
    assert error, "a TLS server answered a plain request"
    assert "try https://" in hint or "use https://" in error, (error, hint)
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is not installed"
    port = _free_port()
    command = [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-www", "-quiet"]
    command += ["-cert", str(cert.chain_pem), "-key", str(cert.key_pem)]
    server = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port)
        error, hint = _plain_to_tls(prober, port)
    finally:
        server.kill()
        server.wait(timeout=10)
    assert "try https://" in hint or "use https://" in error, (error, hint)


def test_requests_waiting_for_another_never_start_once_the_prober_is_closed(hostile):
    """Round 30b: an auth entry's other requests wait for its token's; a run stopped early
    (-x) closed the prober while the token's request dripped, the waiting ones started on a
    new pool nobody closed, and the process never exited. They now end as not sent."""

    def drip(conn, request, started) -> None:
        hostile._send(conn, b"HTTP/1.1 200 OK\r\n")
        while hostile._alive(started) and hostile._send(conn, b"X-Drip: 1\r\n"):
            time.sleep(0.2)

    hostile.custom["/drip-head"] = drip
    prober = Prober(max_body_bytes=CAP)
    first = ProbeRequest(key="token", url=hostile.url("/drip-head"), timeout_s=30)
    waiting = ProbeRequest(key="anonymous", url=hostile.url("/ok"), after="token")
    pending = prober.submit_all([waiting, first])
    time.sleep(0.3)  # the token's request is in flight, dripping
    prober.close()
    result = prober.wait(pending["anonymous"])
    assert not result.sent and result.error == "the run ended first"
    pending["token"].future.exception(timeout=10)  # the dripping one was cut off by close
    with pytest.raises(RuntimeError):
        prober.submit_all([ProbeRequest(key="late", url=hostile.url("/ok"))])


def test_a_request_asked_for_alone_still_waits_for_the_one_it_follows(hostile):
    """Round 31b: under `--dist worksteal` an idle worker took an entry's forbidden case,
    whose request went out alone, before the entry's token request (a server trusting an
    address after one good token passed). A request asked for alone goes after the ones it
    follows, whether they are sent with it or were sent in an earlier batch."""
    from smokegate.gather.probe import LazyProbes

    arrivals: dict[str, float] = {}

    def token(conn, request, started) -> None:
        arrivals["token-in"] = time.monotonic()
        time.sleep(0.4)
        arrivals["token-out"] = time.monotonic()
        hostile._respond(conn, "200 OK", [("Content-Type", "text/plain")], b"ok")

    def other(conn, request, started) -> None:
        arrivals[request["target"]] = time.monotonic()
        hostile._respond(conn, "401 Unauthorized", [("Content-Type", "text/plain")], b"no")

    hostile.custom["/tok"] = token
    hostile.custom["/other"] = other
    prober = Prober(max_body_bytes=CAP)
    try:
        first = ProbeRequest(key="token", url=hostile.url("/tok"), timeout_s=10)
        alone = ProbeRequest(key="a", url=hostile.url("/other?a"), after="token")
        probes = LazyProbes(prober, lambda: [])
        assert probes.get(alone, [first]).status == 401
        assert arrivals["/other?a"] >= arrivals["token-out"]
        # the token's request sent in an earlier batch: a later one still waits for it
        arrivals.clear()
        later = LazyProbes(prober, lambda: [ProbeRequest(key="token", url=hostile.url("/tok"))])
        later.start()
        waiting = ProbeRequest(key="b", url=hostile.url("/other?b"), after="token")
        assert later.get(waiting).status == 401
        assert arrivals["/other?b"] >= arrivals["token-out"]
    finally:
        prober.close()
