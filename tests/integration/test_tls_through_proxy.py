"""TLS checks go through the environment's proxy as the HTTPS checks do (attack round 18c,
F5: they connected directly, so behind a proxy the two judged different servers: a target
reachable only through the proxy failed "connection refused", and a proxy reaching an
expired certificate failed one check and passed the other)."""

from __future__ import annotations

import base64

import pytest

from smokegate.config import TlsTarget
from smokegate.gather.tls import inspect
from smokegate.rules.tls import check_certificate
from tests.support.connect_proxy import connect_proxy
from tests.support.environment import clear_environment
from tests.support.servers import closed_port
from tests.support.tls_servers import tls_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with tls_world(tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
def no_proxy_settings(monkeypatch, tmp_path):
    clear_environment(monkeypatch, tmp_path)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _unreachable_target() -> TlsTarget:
    """An address where nothing listens: reachable through the test proxy only."""
    return TlsTarget(host="127.0.0.1", port=closed_port(), server_name="localhost")


def _both_checks(world, target: TlsTarget, timeout_s: float, **fields) -> tuple:
    """The HTTPS check of the target (through whatever proxy the environment names) and its
    TLS check: the two verdicts a proxy must not set apart."""
    from smokegate.config import Defaults, Endpoint
    from smokegate.gather.http import HttpGatherer
    from smokegate.rules.health import check_endpoint

    endpoint = Endpoint(name="t", url=f"https://127.0.0.1:{target.port}/", **fields)
    gatherer = HttpGatherer(
        Defaults(timeout_s=timeout_s), lambda: [endpoint], verify=world.ca_bundle
    )
    try:
        http = check_endpoint(endpoint, gatherer.endpoint(endpoint))
    finally:
        gatherer.close()
    return http, check_certificate(target, inspect(target, world.ca_bundle, timeout_s=timeout_s))


@pytest.mark.parametrize("kind", ["valid", "expired"])
def test_a_tls_check_handshakes_through_the_https_proxy(world, no_proxy_settings, kind):
    target = _unreachable_target()
    with connect_proxy(world.ports[kind]) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        verdict = check_certificate(target, inspect(target, world.ca_bundle))
    assert proxy.heads and proxy.heads[0].startswith(
        f"CONNECT 127.0.0.1:{target.port} HTTP/1.1\r\n".encode()
    )
    if kind == "valid":
        assert verdict.passed, verdict.message
    else:
        assert not verdict.passed and "certificate expired 3 days ago" in verdict.message


def test_no_proxy_keeps_a_tls_check_direct(world, no_proxy_settings):
    target = _unreachable_target()
    with connect_proxy(world.ports["valid"]) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        no_proxy_settings.setenv("NO_PROXY", "127.0.0.1")
        verdict = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=2))
    assert proxy.heads == []
    assert verdict.problems == (f"connection refused by 127.0.0.1:{target.port}",)


def test_the_proxy_s_credentials_go_in_proxy_authorization(world, no_proxy_settings):
    target = _unreachable_target()
    with connect_proxy(world.ports["valid"]) as proxy:
        no_proxy_settings.setenv(
            "HTTPS_PROXY", f"http://deploy:Pr%40xy-Pa55@127.0.0.1:{proxy.port}"
        )
        verdict = check_certificate(target, inspect(target, world.ca_bundle))
    assert verdict.passed, verdict.message
    expected = base64.b64encode(b"deploy:Pr@xy-Pa55").decode()
    assert f"Proxy-Authorization: Basic {expected}\r\n".encode() in proxy.heads[0]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            "refused the tunnel to 127.0.0.1:{port}: it answered CONNECT with 'HTTP/1.1 407 "
            "Proxy Authentication Required' (it wants credentials",
        ),
        (b"\x00\x01garbage\r\n\r\n", "did not answer CONNECT to 127.0.0.1:{port} in HTTP"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "a line longer than 64 KiB"),
        (b"", "closed the connection before it answered CONNECT"),
    ],
    ids=["407", "garbage", "huge", "closed"],
)
def test_a_proxy_that_does_not_open_the_tunnel_is_named(world, no_proxy_settings, answer, said):
    target = _unreachable_target()
    with connect_proxy(world.ports["valid"], answer=answer) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        verdict = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=2))
    assert not verdict.passed
    (problem,) = verdict.problems
    assert problem.startswith(f"the proxy {proxy.url}") or f"by the proxy {proxy.url}" in problem
    assert said.format(port=target.port) in problem, problem


def test_a_proxy_of_another_kind_is_said_never_bypassed(no_proxy_settings):
    target = _unreachable_target()
    no_proxy_settings.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    verdict = check_certificate(target, inspect(target, timeout_s=2))
    assert not verdict.passed
    assert "TLS checks open their tunnel through an http:// proxy only" in verdict.message


def test_a_proxy_dripping_its_answer_is_cut_at_the_deadline_for_both_checks(
    world, no_proxy_settings
):
    """Round 19c, F1: an HTTPS probe waiting on a proxy's dripped answer to CONNECT was past
    the watchdog's reach: the reports were written, and the process lived on for minutes.
    Both checks end at their deadline and name the proxy."""
    import time

    from smokegate.config import Defaults, Endpoint
    from smokegate.gather.http import HttpGatherer
    from smokegate.rules.health import check_endpoint

    target = _unreachable_target()
    drip = b"HTTP/1.1 200 Connection established\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    with connect_proxy(world.ports["valid"], answer=drip, drip_s=0.05) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        endpoint = Endpoint(name="t", url=f"https://127.0.0.1:{target.port}/")
        gatherer = HttpGatherer(Defaults(timeout_s=1), lambda: [endpoint], verify=world.ca_bundle)
        started = time.monotonic()
        try:
            http = check_endpoint(endpoint, gatherer.endpoint(endpoint))
        finally:
            gatherer.close()
        tls = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=1))
        took = time.monotonic() - started
    assert f"the proxy {proxy.url} to answer CONNECT" in http.message, http.message
    assert f"timed out waiting for the proxy {proxy.url} to answer CONNECT" in tls.message
    assert took < 30  # a bound far past the deadlines, not a timing assertion on them


@pytest.mark.parametrize(
    ("answer", "passes"),
    [
        (b"HTTP/1.1 200 Connection established\n\n", True),  # bare line feeds, as http.client
        (b"HTTP/1.0 200 OK\r\n\r\n", True),
        (b"HTTP/1.1 2000 OK\r\n\r\n", False),  # no 200, as http.client reads it
        (b"HTTP/1.1 200x OK\r\n\r\n", False),
        (b"HTTP/1.1\t200\tOK\r\n\r\n", True),  # round 20: http.client takes these
        (b"HTTP/1.1  200 OK\r\n\r\n", True),
        (b"HTTP/2 200\r\n\r\n", True),
    ],
    ids=["bare-lf", "http-1.0", "2000", "200x", "tabs", "two-spaces", "http-2"],
)
def test_a_proxy_s_answer_is_read_as_the_https_check_reads_it(
    world, no_proxy_settings, answer, passes
):
    """Round 19c, F6: the TLS check took `HTTP/1.1 2000` as a 200 and timed out on bare line
    feeds; the HTTPS check (http.client) read both the other way."""
    target = _unreachable_target()
    if passes:
        proxying = connect_proxy(world.ports["valid"], established=answer)
    else:
        proxying = connect_proxy(world.ports["valid"], answer=answer)
    with proxying as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        verdict = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=2))
    assert verdict.passed is passes, verdict.message


_LONG = b"X-Pad: " + b"a" * (65536 - len(b"X-Pad: ") - 2)  # 65 536 bytes with its CRLF


@pytest.mark.parametrize(
    ("established", "opens"),
    [
        (b"HTTP/1.1 +200 OK\r\n\r\n", True),  # int() reads these as http.client does
        (b"HTTP/1.1 0200 OK\r\n\r\n", True),
        (b"HTTP/1.1 2_00 OK\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\n" + _LONG + b"\r\n\r\n", True),  # the longest line it takes
        (b"HTTP/1.1 200 OK\r\n" + _LONG + b"a\r\n\r\n", False),  # one byte past it
        (
            b"HTTP/1.1 200 OK\r\n" + b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" * 9000 + b"\r\n",
            True,
        ),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", False),
        # round 22c: interim heads were read by smokegate's own response class on one side
        (
            b"HTTP/1.1 103 Early Hints\r\n" + b"Link: </a>\r\n" * 150 + b"\r\n"
            b"HTTP/1.1 200 OK\r\n\r\n",
            True,
        ),
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: " + b"a" * 100_000 + b"\r\n\r\n"
            b"HTTP/1.1 200 OK\r\n\r\n",
            False,
        ),
    ],
    ids=[
        "plus",
        "leading-zero",
        "underscore",
        "longest-line",
        "line-too-long",
        "330-kb-head",
        "103-first",
        "100-first",
        "103-of-150-lines",
        "103-with-a-long-line",
    ],
)
def test_both_checks_read_a_proxy_s_answer_alike(world, no_proxy_settings, established, opens):
    """Round 21c, F2: the TLS check's reading of a proxy's answer to CONNECT still differed
    from http.client's (the HTTPS check's): a code int() reads, a line's length with its line
    end, a head past 256 KiB, an interim head before the 200; one check passed through the
    proxy and the other failed."""
    target = _unreachable_target()
    with connect_proxy(world.ports["valid"], established=established) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        http, tls = _both_checks(world, target, 3, expect_status=[200, 404])
    assert tls.passed is opens, tls.message
    tunnel_failed = "proxy" in http.message and not http.passed
    assert tunnel_failed is not opens, http.message


def test_both_checks_send_the_proxy_credentials_as_requests_does(world, no_proxy_settings):
    """Round 19c, F3, F4: the TLS check sent UTF-8 where requests sends Latin-1, and a user
    with no password where requests sends nothing; a user holding the credential
    (`http://KEY:@proxy`) was never a known secret."""
    from smokegate import redact

    target = _unreachable_target()
    with connect_proxy(world.ports["valid"]) as proxy:
        for userinfo, sent in (
            ("svc:P%C3%A4ss-Zq7x91", b"svc:P\xe4ss-Zq7x91"),
            ("a1b2c3d4e5f60718293a4b5c6d7e8f90:", b"a1b2c3d4e5f60718293a4b5c6d7e8f90:"),
            ("nobody", None),
        ):
            proxy.heads.clear()
            no_proxy_settings.setenv("HTTPS_PROXY", f"http://{userinfo}@127.0.0.1:{proxy.port}")
            assert check_certificate(target, inspect(target, world.ca_bundle)).passed
            header = b"Proxy-Authorization: Basic "
            if sent is None:
                assert header not in proxy.heads[0]
            else:
                assert header + base64.b64encode(sent) + b"\r\n" in proxy.heads[0]
    redact.register_userinfo_secrets(
        [f"http://a1b2c3d4e5f60718293a4b5c6d7e8f90:@127.0.0.1:{proxy.port}"]
    )
    shown = redact.process_scrubber().scrub(
        "407 Bad credentials Basic "
        + base64.b64encode(b"a1b2c3d4e5f60718293a4b5c6d7e8f90:").decode()
    )
    assert "YTFiMmMzZDRlNWY2MDcxODI5M2E0YjVj" not in shown


def test_a_refused_credential_of_the_proxy_url_is_said_so(world, no_proxy_settings):
    """Round 19c, F8: a 407 to credentials already in the proxy URL said "put them in the
    proxy URL"."""
    target = _unreachable_target()
    refusal = b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"
    with connect_proxy(world.ports["valid"], answer=refusal) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", f"http://svc:Zq7xK2mP91@127.0.0.1:{proxy.port}")
        verdict = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=2))
    assert "(it refused the credentials of the proxy URL)" in verdict.message
    assert "Zq7xK2mP91" not in verdict.message


@pytest.mark.parametrize(
    ("host", "label"),
    [
        ("bücher.localhost", "xn--bcher-kva.localhost"),
        # round 21c: IDNA 2003 (Python's codec) maps ß to ss, another host than requests'
        ("straße.localhost", "xn--strae-oqa.localhost"),
        ("ςigma.localhost", "xn--igma-fod.localhost"),
    ],
)
def test_an_internationalised_host_is_asked_for_by_its_a_label(
    world, no_proxy_settings, host, label
):
    """Round 19c, F10: the TLS check's CONNECT named `bücher.localhost` raw, in UTF-8, where
    the HTTPS check (and DNS) use `xn--bcher-kva.localhost`; round 21c: `straße` as
    `strasse`, where requests asks for `xn--strae-oqa`."""
    import requests

    assert requests.models.PreparedRequest._get_idna_encoded_host(host) == label
    target = TlsTarget(host=host, port=closed_port(), server_name="localhost")
    with connect_proxy(world.ports["valid"]) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        assert check_certificate(target, inspect(target, world.ca_bundle)).passed
    assert proxy.heads[0].startswith(f"CONNECT {label}:{target.port} ".encode())


def test_no_proxy_for_port_443_is_read_as_for_an_endpoint_written_without_its_port(
    no_proxy_settings,
):
    """Round 19c, F7: `NO_PROXY=host:443` sent the TLS check of host:443 direct, and the
    HTTPS check of https://host/ through the proxy: requests compares a port only when
    the URL writes one."""
    from requests.utils import get_environ_proxies

    from smokegate.gather.tunnel import proxy_for

    no_proxy_settings.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    no_proxy_settings.setenv("NO_PROXY", "a.example:443")
    endpoint = get_environ_proxies("https://a.example/").get("https")
    assert proxy_for("a.example", 443) == endpoint == "http://127.0.0.1:3128"


def test_a_failure_inside_the_tunnel_names_the_proxy(world, no_proxy_settings):
    """Round 19c, F9: bytes the proxy sent after its 200 were blamed on the target's port
    alone."""
    target = _unreachable_target()
    garbage = b"HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-OpenSSH_9.6\r\n"
    with connect_proxy(world.ports["valid"], answer=garbage) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        verdict = check_certificate(target, inspect(target, world.ca_bundle, timeout_s=2))
    assert not verdict.passed and f"(through the proxy {proxy.url})" in verdict.message


def test_a_proxy_url_that_cannot_be_read_is_said_so(no_proxy_settings):
    """Round 19c, F5: a `[` in the proxy's password read as "TLS handshake failed: ... does
    not appear to be an IPv4 or IPv6 address", naming no proxy."""
    target = _unreachable_target()
    no_proxy_settings.setenv("HTTPS_PROXY", "http://svc:Pr0xy[Pass99@127.0.0.1:3128")
    verdict = check_certificate(target, inspect(target, timeout_s=2))
    assert not verdict.passed
    assert "the proxy URL http://***@127.0.0.1:3128 cannot be read" in verdict.message
    assert "Pr0xy" not in verdict.message


def test_a_proxy_closing_after_its_status_line_is_the_proxy_s_for_both_checks(
    world, no_proxy_settings
):
    """Round 21c/22c: a proxy that sent `200 Connection established` and closed before the
    blank line was blamed on the target's TLS by the HTTPS check (http.client takes the end
    of the stream for the end of the head)."""
    target = _unreachable_target()
    cut = b"HTTP/1.1 200 Connection established\r\n"
    with connect_proxy(world.ports["valid"], answer=cut) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        http, tls = _both_checks(world, target, 2)
    said = f"the proxy {proxy.url} closed the connection before it answered CONNECT"
    assert said in http.message and said in tls.message, (http.message, tls.message)
    assert "TLS handshake" not in http.message


def test_both_checks_send_the_same_connect(world, no_proxy_settings):
    """Round 23b, L1: the HTTPS check sent `CONNECT ... HTTP/1.0` without Host (Python
    3.11's http.client), the TLS check HTTP/1.1 with Host: a proxy refusing one set them
    apart."""
    target = _unreachable_target()
    with connect_proxy(world.ports["valid"]) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        http, tls = _both_checks(world, target, 3, expect_status=[200, 404])
    assert http.passed and tls.passed, (http.message, tls.message)
    lines = [head.split(b"\r\n")[:2] for head in proxy.heads]
    want = [
        f"CONNECT 127.0.0.1:{target.port} HTTP/1.1".encode(),
        f"Host: 127.0.0.1:{target.port}".encode(),
    ]
    assert lines == [want, want]


def test_a_proxy_that_closes_its_tunnel_after_200_is_said_as_such(world, no_proxy_settings):
    """Round 27c-6: a proxy answering `200 Connection established`, then closing, read as
    "connection reset by <target> during the TLS handshake", with the service's crash logs
    as the hint: the target was never contacted."""
    target = _unreachable_target()
    established = b"HTTP/1.1 200 Connection established\r\n\r\n"
    with connect_proxy(world.ports["valid"], answer=established) as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        http, tls = _both_checks(world, target, timeout_s=3)
    for verdict in (http, tls):
        assert not verdict.passed
        assert f"the tunnel through the proxy {proxy.url}" in verdict.message, verdict.message
        assert "closed during the TLS handshake: the proxy, or the target" in verdict.message
    assert http.hint.startswith("the proxy's tunnel ended before TLS was up")
