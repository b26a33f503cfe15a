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
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "more than 64 KiB of head"),
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
