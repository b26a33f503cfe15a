"""A name that resolves to several addresses (a pool's nodes behind DNS): every node's
certificates, of every key type, and the chains they send are judged (rounds 48b, 49b, 49c).

DNS is faked in this process only (`socket.getaddrinfo` for `pool.test`); each node is a
real TLS server on its own loopback address (127.0.0.1, 127.0.0.2, ...), on one port.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from smokegate.config import TlsTarget
from smokegate.gather import tunnel
from smokegate.gather.tls import inspect_served
from smokegate.gather.trust import decide
from smokegate.rules.tls import check_certificate
from tests.support.tls_servers import ServerCert, tls_server

NOW = datetime.now(UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str, key, issuer=None, issuer_key=None, days: int = 1000) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer.subject if issuer else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


def _leaf(key, issuer: x509.Certificate, issuer_key, days: int) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=min(-10, days - 60)))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _served(folder: Path, label: str, certs: list[x509.Certificate], key) -> ServerCert:
    chain, key_pem = folder / f"{label}-chain.pem", folder / f"{label}-key.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServerCert(chain, key_pem, certs[0].not_valid_after_utc)


@pytest.fixture
def world(tmp_path):
    """A root the check trusts, an issuing CA under it (two copies of one key: the current,
    and an old one expiring in 3 days, as after a renewal one node did not get)."""
    root_key, issuing_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root = _ca("pool root", root_key)
    current = _ca("pool issuing CA", issuing_key, root, root_key, days=1000)
    old = _ca("pool issuing CA", issuing_key, root, root_key, days=3)
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return tmp_path, bundle, issuing_key, current, old


@contextlib.contextmanager
def _pool(monkeypatch, *addresses: str) -> Iterator[None]:
    real = socket.getaddrinfo

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if host != "pool.test":
            return real(host, port, family, type, proto, flags)
        found = []
        for a in addresses:
            kind = socket.AF_INET6 if ":" in a else socket.AF_INET
            if family in (0, kind):
                where = (a, port, 0, 0) if kind == socket.AF_INET6 else (a, port)
                found.append((kind, socket.SOCK_STREAM, 6, "", where))
        return found

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield


def _judge(port: int, bundle: Path):
    target = TlsTarget(host="pool.test", port=port, server_name="localhost", min_days_left=14)
    facts = inspect_served(target, 5.0, decide(bundle))
    return facts, check_certificate(target, facts)


def test_a_node_sending_an_old_copy_of_the_intermediate_is_judged(world, monkeypatch):
    """Round 49b F1: the same leaf at both nodes, the second sending the issuing CA's old
    copy that expires in 3 days; compared by the leaf alone, it was dropped as seen."""
    folder, bundle, issuing_key, current, old = world
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(key, current, issuing_key, days=300)
    good = _served(folder, "node-a", [leaf, current], key)
    stale = _served(folder, "node-b", [leaf, old], key)
    with (
        tls_server(good) as port,
        tls_server(stale, address="127.0.0.2", port=port),
        _pool(monkeypatch, "127.0.0.1", "127.0.0.2"),
    ):
        facts, verdict = _judge(port, bundle)
    assert facts.verified
    (problem,) = verdict.problems
    assert problem.startswith(
        "the same certificate served at 127.0.0.2 (another address of the host) with another "
        "chain: the CA certificate 'pool issuing CA' of the chain expires in "
    )


def test_each_key_type_of_each_node_is_judged(world, monkeypatch):
    """Rounds 49b F2, 49c F1: the narrowed handshakes went to the first node only; the
    second node's RSA certificate, expired 30 days ago, was never asked for."""
    folder, bundle, issuing_key, current, _old = world
    ecdsa_key, rsa_key = (
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    ecdsa = _served(folder, "e", [_leaf(ecdsa_key, current, issuing_key, 300), current], ecdsa_key)
    rsa_good = _served(folder, "r1", [_leaf(rsa_key, current, issuing_key, 300), current], rsa_key)
    rsa_expired = _served(
        folder, "r2", [_leaf(rsa_key, current, issuing_key, -30), current], rsa_key
    )
    with (
        tls_server(ecdsa, rsa_good) as port,
        tls_server(ecdsa, rsa_expired, address="127.0.0.2", port=port),
        _pool(monkeypatch, "127.0.0.1", "127.0.0.2"),
    ):
        _facts, verdict = _judge(port, bundle)
    (problem,) = verdict.problems
    assert problem.startswith(
        "the RSA certificate (served to clients offering only RSA, TLS 1.2) at 127.0.0.2 "
        "(another address of the host): certificate expired 30 days ago"
    )


def test_addresses_past_the_bound_are_named_and_fail(world, monkeypatch):
    """Round 49b F4: the ninth node of a nine-address name was dropped unsaid."""
    folder, bundle, issuing_key, current, _old = world
    key = ec.generate_private_key(ec.SECP256R1())
    good = _served(folder, "one", [_leaf(key, current, issuing_key, 300), current], key)
    addresses = [f"127.0.0.{n}" for n in range(1, 21)]
    with tls_server(good) as port, _pool(monkeypatch, *addresses):
        _facts, verdict = _judge(port, bundle)
    assert any(
        p.startswith("4 more address(es) of the host not read (at most 16 are): 127.0.0.17, ")
        for p in verdict.problems
    ), verdict.problems


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EADDRNOTAVAIL])
def test_a_node_without_a_route_is_said_not_failed(world, monkeypatch, code):
    """Round 49b F5: an IPv4-only runner has no route to a dual-stack name's IPv6 nodes;
    every client like it reaches the others. Not read, and said beside the measured value
    (it was not read at all before: only the first handshake's family was)."""
    folder, bundle, issuing_key, current, _old = world
    key = ec.generate_private_key(ec.SECP256R1())
    good = _served(folder, "v4", [_leaf(key, current, issuing_key, 300), current], key)
    real = tunnel.connect_within

    def connect(host, *args, **kwargs):
        if host == "2001:db8::7":
            # EADDRNOTAVAIL: `::1` on a runner with IPv6 off (read as the runner out of
            # local ports, the case verified nothing: the review of stop 26)
            raise OSError(code, "no route")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(tunnel, "connect_within", connect)
    with tls_server(good) as port, _pool(monkeypatch, "127.0.0.1", "2001:db8::7"):
        facts, verdict = _judge(port, bundle)
    assert facts.unreached_addresses == ("2001:db8::7",)
    assert verdict.passed, verdict.problems
    assert verdict.measured.endswith(" · took no connection: 2001:db8::7")


def _single(folder: Path, label: str, issuing_key, current, days: int) -> ServerCert:
    key = ec.generate_private_key(ec.SECP256R1())
    return _served(folder, label, [_leaf(key, current, issuing_key, days), current], key)


def test_each_address_of_a_pool_is_judged(world, monkeypatch):
    """Round 48b F1: a name with two addresses was read at the first only; the second
    node's certificate, expired 30 days ago, passed the gate."""
    folder, bundle, issuing_key, current, _old = world
    good = _single(folder, "node-a", issuing_key, current, 90)
    expired = _single(folder, "node-b", issuing_key, current, -30)
    with (
        tls_server(good) as port,
        tls_server(expired, address="127.0.0.2", port=port),
        _pool(monkeypatch, "127.0.0.1", "127.0.0.2"),
    ):
        facts, verdict = _judge(port, bundle)
    assert facts.reached == "127.0.0.1" and facts.verified
    assert [o.address for o in facts.also_served] == ["127.0.0.2"]
    (problem,) = verdict.problems
    assert problem.startswith(
        "the certificate served at 127.0.0.2 (another address of the host): certificate "
        "expired 30 days ago"
    )
    assert verdict.measured == "-30 days left"
    assert "(ECDSA to clients offering every key type, ECDSA at 127.0.0.2)" in verdict.detail


def test_a_pool_whose_nodes_serve_one_certificate_reads_as_one(world, monkeypatch):
    folder, bundle, issuing_key, current, _old = world
    good = _single(folder, "shared", issuing_key, current, 90)
    with (
        tls_server(good) as port,
        tls_server(good, address="127.0.0.2", port=port),
        _pool(monkeypatch, "127.0.0.1", "127.0.0.2"),
    ):
        facts, verdict = _judge(port, bundle)
    assert facts.also_served == () and verdict.passed


def test_a_pool_node_taking_no_connection_is_said_not_failed(world, monkeypatch):
    """Round 49c: a dual-stack name whose AAAA record has nothing listening is honest to
    its clients (they fall back); the node serves no certificate. Said, not failed."""
    folder, bundle, issuing_key, current, _old = world
    good = _single(folder, "alone", issuing_key, current, 90)
    with tls_server(good) as port, _pool(monkeypatch, "127.0.0.1", "127.0.0.3"):
        facts, verdict = _judge(port, bundle)
    assert verdict.passed and facts.unreached_addresses == ("127.0.0.3",)
    assert verdict.measured.endswith(" · took no connection: 127.0.0.3")


def test_a_pool_node_that_fails_its_handshake_fails_by_its_address(world, monkeypatch):
    """A node that takes the connection and answers no TLS (a plain HTTP port, a closed
    handshake) is judged: clients reaching it get no certificate."""
    folder, bundle, issuing_key, current, _old = world
    good = _single(folder, "tls", issuing_key, current, 90)
    with socket.socket() as plain, tls_server(good) as port:
        plain.bind(("127.0.0.2", port))
        plain.listen()  # accepts and never answers: the handshake times out
        with _pool(monkeypatch, "127.0.0.1", "127.0.0.2"):
            target = TlsTarget(host="pool.test", port=port, server_name="localhost")
            facts = inspect_served(target, 1.0, decide(bundle))
    (problem,) = check_certificate(target, facts).problems
    assert problem.startswith("the handshake with 127.0.0.2 (another address of the host): ")


def test_other_addresses_that_cannot_be_listed_fail_the_case(world, monkeypatch):
    """The name resolved for the first handshake and not a moment later: its other nodes
    are unknown, not none (the review of stop 26: they were skipped unsaid)."""
    folder, bundle, issuing_key, current, _old = world
    good = _single(folder, "first", issuing_key, current, 90)
    real = socket.getaddrinfo
    calls = []

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if host != "pool.test":
            return real(host, port, family, type, proto, flags)
        calls.append(host)
        if len(calls) > 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    with tls_server(good) as port:
        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        _facts, verdict = _judge(port, bundle)
    (problem,) = verdict.problems
    assert problem.startswith("its other addresses could not be listed: ")


def test_a_tls13_only_node_says_one_certificate_was_read():
    from smokegate.facts.tls import TlsFacts

    target = TlsTarget(host="pool.test", port=443)
    facts = TlsFacts(
        target="pool.test:443",
        server_name="pool.test",
        verified=True,
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=90),
        fingerprint="ab",
        tls13_only_addresses=("10.0.0.2",),
    )
    verdict = check_certificate(target, facts, now=NOW)
    assert verdict.passed
    assert verdict.measured.endswith(" · at 10.0.0.2, TLS 1.3 only: one certificate read")
