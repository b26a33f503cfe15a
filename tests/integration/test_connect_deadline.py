"""A connect to a name with many addresses, some silent, is bounded by the check's own
timeout (round 50b: every address got the whole timeout, one after another: 61 s for a
1 s TLS check of a 60-address name, and an HTTP probe's worker kept walking after its
case was settled). Silent nodes are loopback listeners whose accept queue is full: Linux
drops the SYN, and the connect gets no answer, as from a firewalled node. The name is
resolved by a patched `getaddrinfo`; nothing leaves the machine."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from smokegate.config import TlsTarget
from smokegate.gather.connect import ConnectTimedOut, connect_within
from smokegate.gather.probe import Prober, ProbeRequest
from smokegate.gather.tls import inspect_served
from smokegate.gather.trust import decide
from tests.support.environment import clear_environment
from tests.support.servers import LocalServer, closed_port


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    clear_environment(monkeypatch, tmp_path)


@contextlib.contextmanager
def _silent(addresses: list[str], port: int) -> Iterator[None]:
    """Listeners on `addresses`:`port` that answer no SYN (backlog full)."""
    held: list[socket.socket] = []
    try:
        for address in addresses:
            listener = socket.socket(socket.AF_INET)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(0)
            held.append(listener)
            for _ in range(3):  # fill the queue: later SYNs are dropped
                filler = socket.socket(socket.AF_INET)
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect((address, port))
                held.append(filler)
        yield
    finally:
        for each in held:
            each.close()


@contextlib.contextmanager
def _resolves(monkeypatch: pytest.MonkeyPatch, name: str, addresses: list[str]) -> Iterator[None]:
    real = socket.getaddrinfo

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if host != name:
            return real(host, port, family, type, proto, flags)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield


def _silent_addresses(count: int) -> list[str]:
    return [f"127.0.9.{n}" for n in range(1, count + 1)]


def test_a_walk_over_silent_addresses_ends_at_the_deadline_as_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalServer() as server:
        silent = _silent_addresses(30)
        with (
            _silent(silent, server.port),
            _resolves(monkeypatch, "pool.test", silent),
            pytest.raises(ConnectTimedOut, match="no address took a connection within"),
        ):
            connect_within("pool.test", server.port, 0.5)


def test_a_silent_first_node_leaves_the_next_one_time_to_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The HTTP probe: with every address getting the whole timeout, a silent first node
    used up the probe's deadline, and the healthy second one was never asked."""
    prober = Prober(max_workers=4)
    with LocalServer() as server:
        addresses = [*_silent_addresses(1), "127.0.0.1"]
        with _silent(addresses[:1], server.port), _resolves(monkeypatch, "pool.test", addresses):
            try:
                result = prober.probe(
                    ProbeRequest(key="k", url=f"http://pool.test:{server.port}/ok", timeout_s=2)
                )
            finally:
                prober.close()
    assert result.error is None, result.error
    assert result.status == 200
    assert server.count("/ok") == 1


def test_a_tls_check_of_a_name_whose_addresses_are_silent_says_no_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The TLS check's first handshake walked 60 silent addresses, 1 s each (round 50b F1);
    now the walk is the check's timeout, and the failure says no connection was made (not
    "during the TLS handshake")."""
    with LocalServer() as server:
        silent = _silent_addresses(40)
        with _silent(silent, server.port), _resolves(monkeypatch, "pool.test", silent):
            target = TlsTarget(host="pool.test", port=server.port, min_days_left=14)
            facts = inspect_served(target, 1.0, decide(None))
    assert facts.error == (
        f"timed out after 1 s while connecting to pool.test:{server.port}: no address of it "
        "took a connection, no TLS byte was sent"
    )


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH])
def test_no_route_is_said_as_such_by_both_checks(
    monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Round 50c F3: an IPv6-only name from an IPv4-only runner was "TLS handshake failed:
    [Errno 101]" and, for HTTP, urllib3's text with smokegate's class names and "Max retries
    exceeded" (no retry was made)."""
    real_connect_ex = socket.socket.connect_ex

    real_connect = socket.socket.connect

    class _NoRoute(socket.socket):
        def connect_ex(self, address):  # type: ignore[override]
            if address[0] == "2001:db8::7":
                return code  # as the kernel answers at once without a route
            return real_connect_ex(self, address)

        def connect(self, address):  # type: ignore[override]
            if address[0] == "2001:db8::7":
                raise OSError(code, os.strerror(code))
            return real_connect(self, address)

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::7", port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "socket", _NoRoute)
    reason = "network is unreachable" if code == errno.ENETUNREACH else "no route to host"
    target = TlsTarget(host="v6only.test", port=443)
    facts = inspect_served(target, 1.0, decide(None))
    assert facts.error == (
        f"no route from this runner ({reason}) to v6only.test:443: no connection was made, "
        "no TLS byte was sent"
    )
    prober = Prober(max_workers=2)
    try:
        result = prober.probe(ProbeRequest(key="k", url="https://v6only.test/health", timeout_s=1))
    finally:
        prober.close()
    assert result.error == (
        f"no route from this runner ({reason}) to v6only.test:443: no connection was made, "
        "no request sent"
    )


def test_an_address_without_a_route_neither_starves_nor_hides_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review of stop 27: shared out in turn, an IPv4-only runner's one usable address
    got half the time behind an IPv6 one that failed at once, and the IPv6 error ("no
    route") was said for a name whose IPv4 node refused."""
    real_connect_ex = socket.socket.connect_ex

    class _NoIpv6Route(socket.socket):
        def connect_ex(self, address):  # type: ignore[override]
            if ":" in address[0]:
                return errno.ENETUNREACH
            return real_connect_ex(self, address)

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::7", port, 0, 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::8", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "socket", _NoIpv6Route)
    with LocalServer() as server:
        connected = connect_within("dual.test", server.port, 2.0)
        with connected:
            assert connected.getpeername()[0] == "127.0.0.1"
            assert connected.gettimeout() == 2.0  # the socket's own, not a share of it
    with pytest.raises(ConnectionRefusedError):
        connect_within("dual.test", closed_port(), 2.0)


@pytest.fixture
def stuck_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """`stuck.dns.test` is looked up by a resolver that never answers (until the test
    ends): a DNS server that drops the query, whose retries run for tens of seconds."""
    real = socket.getaddrinfo
    released = threading.Event()

    def resolve(host, *args, **kwargs):
        if host == "stuck.dns.test":
            released.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield released
    released.set()


def test_a_tls_check_of_a_name_whose_lookup_never_answers_ends_at_its_timeout(stuck_dns):
    """The lookup was outside every deadline: a TLS check with `timeout_s: 2` waited the
    resolver's 60 s. Ended while the resolver is still stuck, said as what it was."""
    facts = inspect_served(TlsTarget(host="stuck.dns.test", port=443), 1.0, decide(None, None))
    assert not stuck_dns.is_set()  # returned while the lookup still hangs
    assert facts.error == (
        "DNS lookup for stuck.dns.test gave no answer within 1 s: no connection was made, "
        "no TLS byte was sent"
    )


def test_a_probe_of_a_name_whose_lookup_never_answers_says_so(stuck_dns):
    prober = Prober(max_workers=2)
    try:
        results = prober.probe_all(
            [ProbeRequest(key="a", url="http://stuck.dns.test:8080/", timeout_s=1.0)]
        )
    finally:
        prober.close()
    assert not stuck_dns.is_set()
    assert results["a"].error == (
        "DNS lookup for stuck.dns.test gave no answer within 1 s: no connection was made, "
        "no request sent"
    )


def test_an_address_literal_is_connected_to_without_a_lookup_thread(monkeypatch):
    def no_thread(*args, **kwargs):
        raise AssertionError("a thread was started for an address literal")

    monkeypatch.setattr(threading, "Thread", no_thread)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with connect_within("127.0.0.1", port, 2.0) as sock:
            assert sock.getpeername()[1] == port
