"""A server holding a certificate per key type (ECDSA and RSA): every one is judged.

OpenSSL keeps one certificate per key type and hands the RSA one to clients offering only
RSA; nginx does it with two `ssl_certificate` lines, certbot's `--key-type` pairs and CDNs
too. Round 36c: nginx serving a good ECDSA certificate and an expired RSA one passed the
TLS check, which had read the ECDSA one only. Each server here is a real one on
127.0.0.1: Python's own `ssl` server, and nginx.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from smokegate.config import TlsTarget
from smokegate.gather.tls import TlsGatherer, inspect_served
from smokegate.gather.trust import decide
from smokegate.rules.tls import check_certificate
from tests.support.e2e import run_checks
from tests.support.processes import (
    NGINX_MISSING,
    nginx_binary,
    nginx_server,
    skip_nginx_on_purpose,
)
from tests.support.servers import closed_port
from tests.support.tls_servers import ServerCert, issue, tls_server

RSA, ECDSA = trustme.KeyType.RSA, trustme.KeyType.ECDSA
SERVED_RSA = "the RSA certificate (served to clients offering only RSA, TLS 1.2): "


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="smokegate dual test CA")


@pytest.fixture(scope="module")
def bundle(ca, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dual-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def mint(ca, folder: Path, label: str, key_type: trustme.KeyType, days: int) -> ServerCert:
    return issue(ca, folder, label, days_left=days, key_type=key_type)


def judged(port: int, bundle: Path, **extra):
    target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost", **extra)
    facts = inspect_served(target, 5.0, decide(bundle))
    return facts, check_certificate(target, facts)


def test_an_expired_rsa_certificate_beside_a_good_ecdsa_one_fails(ca, bundle, tmp_path):
    good = mint(ca, tmp_path, "ecdsa", ECDSA, 90)
    expired = mint(ca, tmp_path, "rsa", RSA, -4)
    with tls_server(good, expired) as port:
        facts, verdict = judged(port, bundle)
    assert facts.verified and facts.key_kind == "ECDSA"  # what a client offering all gets
    assert [o.narrowed_to for o in facts.also_served] == ["RSA"]
    assert verdict.problems == (
        f"{SERVED_RSA}certificate expired 4 days ago ({expired.not_after:%Y-%m-%d})",
    )
    assert verdict.measured == "-4 days left"  # the worst of the two
    assert (
        "the server holds 2 certificates (ECDSA to clients offering every key type, "
        "RSA to clients offering only RSA), each judged" in verdict.detail
    )


def test_the_soonest_to_expire_of_two_good_certificates_is_measured(ca, bundle, tmp_path):
    with tls_server(mint(ca, tmp_path, "e", ECDSA, 90), mint(ca, tmp_path, "r", RSA, 40)) as port:
        facts, verdict = judged(port, bundle)
        _, short = judged(port, bundle, min_days_left=60)
    assert verdict.passed, verdict.message
    assert verdict.measured == "40 days left"
    assert short.problems == (
        f"{SERVED_RSA}certificate expires in 40 days ("
        f"{facts.also_served[0].not_after:%Y-%m-%d}), less than min_days_left 60",
    )


def test_an_rsa_certificate_of_another_ca_beside_a_good_one_fails(ca, bundle, tmp_path):
    stranger = trustme.CA(organization_name="not trusted here")
    with tls_server(
        mint(ca, tmp_path, "e", ECDSA, 90),
        issue(stranger, tmp_path, "other", days_left=90, key_type=RSA),
    ) as port:
        _, verdict = judged(port, bundle)
    assert len(verdict.problems) == 1
    assert verdict.problems[0].startswith(f"{SERVED_RSA}issued by ")
    assert "not trusted here" in verdict.problems[0]


@pytest.mark.parametrize("key_type", [RSA, ECDSA])
def test_a_server_with_one_certificate_has_no_other(ca, bundle, tmp_path, key_type):
    with tls_server(mint(ca, tmp_path, "one", key_type, 30)) as port:
        facts, verdict = judged(port, bundle)
    assert facts.also_served == ()  # the other kind refused, the same kind the same cert
    assert verdict.passed and verdict.measured == "30 days left"
    assert verdict.detail == ""


def test_the_first_certificate_s_own_failure_comes_first(ca, bundle, tmp_path):
    with tls_server(mint(ca, tmp_path, "e", ECDSA, -2), mint(ca, tmp_path, "r", RSA, -9)) as port:
        _, verdict = judged(port, bundle)
    assert verdict.problems[0].startswith("certificate expired 2 days ago")
    assert verdict.problems[1].startswith(f"{SERVED_RSA}certificate expired 9 days ago")
    assert verdict.measured == "-9 days left"


@contextlib.contextmanager
def serving(pick: Callable[[socket.socket], ssl.SSLContext | None]) -> Iterator[int]:
    """A TLS server on 127.0.0.1 handing each connection to the context `pick` chooses for
    it, or holding it unanswered when `pick` says None; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            context = pick(conn)
            if context is None:
                held.append(conn)
                continue
            with (
                contextlib.suppress(OSError, ssl.SSLError),
                context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.settimeout(2)
                tls.recv(1)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()


def context_of(*certs: ServerCert, tls13_only: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if tls13_only:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    for cert in certs:
        context.load_cert_chain(str(cert.chain_pem), str(cert.key_pem))
    return context


def test_a_narrowed_handshake_that_stalls_is_said_not_skipped(ca, bundle, tmp_path):
    """A server completing the handshake of clients offering every key type and stalling
    the ones offering only RSA (their ClientHello read, nothing answered): the RSA
    handshake's outcome is not read, and that is said, never skipped."""
    context = context_of(mint(ca, tmp_path, "e", ECDSA, 90))

    def pick(conn: socket.socket) -> ssl.SSLContext | None:
        hello = conn.recv(4096, socket.MSG_PEEK)
        return context if b"\x00\x2b" in hello else None  # supported_versions: TLS 1.3

    with serving(pick) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect_served(target, 1.0, decide(bundle))
        verdict = check_certificate(target, facts)
    assert facts.verified
    assert {o.narrowed_to for o in facts.also_served} == {"RSA", "ECDSA"}
    assert not verdict.passed
    assert verdict.problems[0] == (
        "the handshake offering only RSA (TLS 1.2): timed out after 1 s during the TLS "
        f"handshake with 127.0.0.1:{port}"
    )  # no RSA certificate was seen: the handshake is named, not a certificate (38c)
    # round 41c F4: the second handshake that read nothing was called "the same certificate,
    # judged otherwise": no certificate was read on either
    assert verdict.problems[1] == (
        "the handshake offering only ECDSA (TLS 1.2): timed out after 1 s during the TLS "
        f"handshake with 127.0.0.1:{port}"
    )
    assert verdict.measured == "90 days left"


def test_the_gatherer_judges_every_certificate(ca, bundle, tmp_path):
    with tls_server(mint(ca, tmp_path, "e", ECDSA, 90), mint(ca, tmp_path, "r", RSA, -1)) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        gatherer = TlsGatherer(lambda: [target], ca_bundle=bundle)
        verdict = check_certificate(target, gatherer.certificate(target))
    assert verdict.problems[0].startswith(f"{SERVED_RSA}certificate expired 1 day ago")


@contextlib.contextmanager
def dual_nginx(folder: Path, first: ServerCert, second: ServerCert) -> Iterator[int]:
    if nginx_binary() is None:
        if skip_nginx_on_purpose():
            pytest.skip("SMOKEGATE_SKIP_NGINX=1: the nginx tests were skipped on purpose")
        pytest.fail(NGINX_MISSING, pytrace=False)
    with nginx_server(
        folder,
        first.chain_pem,
        first.key_pem,
        f"http://127.0.0.1:{closed_port()}/",
        more_certificates=((second.chain_pem, second.key_pem),),
    ) as server:
        yield server.https_port


def test_nginx_with_two_ssl_certificate_lines(ca, bundle, tmp_path):
    """nginx's own choice, as on a production server: both certificates judged, whichever
    order the lines come in."""
    good = mint(ca, tmp_path, "e", ECDSA, 120)
    soon = mint(ca, tmp_path, "r", RSA, 3)
    for order, (first, second) in enumerate([(good, soon), (soon, good)]):
        with dual_nginx(tmp_path / f"nginx{order}", first, second) as port:
            _, verdict = judged(port, bundle)
        assert verdict.problems == (
            f"{SERVED_RSA}certificate expires in 3 days ({soon.not_after:%Y-%m-%d}), less "
            "than min_days_left 21",
        ), order
        assert verdict.measured == "3 days left"


def test_the_gate_fails_end_to_end_and_the_reports_name_the_rsa_certificate(ca, bundle, tmp_path):
    with tls_server(mint(ca, tmp_path, "e", ECDSA, 90), mint(ca, tmp_path, "r", RSA, -4)) as port:
        env = {
            "ca_bundle": str(bundle),
            "tls": [{"host": "127.0.0.1", "port": port, "server_name": "localhost"}],
        }
        run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    case = run.testcases()[f"test_certificate[127.0.0.1:{port}]"]
    failure = case.find("failure")
    assert failure is not None
    assert SERVED_RSA + "certificate expired 4 days ago" in failure.get("message", "")
    assert "gate FAILED" in (run.reports_dir / "summary.md").read_text(encoding="utf-8")


def test_a_certificate_judged_otherwise_on_a_later_connection_is_not_dropped(tmp_path):
    """Round 38c F2: the narrowed RSA handshake met the pool's stale node and failed
    verification; its unverified re-read showed the first handshake's certificate, so it
    was dropped as already judged, and the case passed on a failure it had seen."""
    root = trustme.CA(organization_name="pool root")
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("localhost", key_type=RSA)
    full = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(full)  # the leaf and its intermediate
    alone = tmp_path / "leaf.pem"
    alone.write_bytes(leaf.cert_chain_pems[0].bytes() + leaf.private_key_pem.bytes())
    leaf_only = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf_only.load_cert_chain(str(alone))
    bundle = tmp_path / "root.pem"
    root.cert_pem.write_to_path(str(bundle))
    # a pool of two nodes taking connections in turn: the first serves the certificate
    # with its intermediate, the second (a stale node) the certificate alone
    turns = itertools.cycle((full, leaf_only))
    with serving(lambda _conn: next(turns)) as port:
        facts, verdict = judged(port, bundle)
    assert facts.verified  # the first connection met the good node
    (other,) = facts.also_served
    assert other.answered_otherwise and other.fingerprint == facts.fingerprint
    assert not verdict.passed
    assert verdict.problems[0].startswith(
        "the same certificate, on a handshake offering only RSA (TLS 1.2), judged otherwise: "
        "the server answers differently from one connection to the next: "
    )


def test_a_tls13_only_server_says_it_had_one_certificate_read(ca, bundle, tmp_path):
    """Round 38c F5: a TLS 1.3-only server turns down both narrowed handshakes for their
    version; an expired RSA certificate it hands only to clients offering RSA under TLS 1.3
    is not seen (Python's ssl cannot narrow TLS 1.3), and the pass said nothing of it."""
    certs = (mint(ca, tmp_path, "e", ECDSA, 90), mint(ca, tmp_path, "r", RSA, -4))
    context = context_of(*certs, tls13_only=True)
    with serving(lambda _conn: context) as port:
        facts, verdict = judged(port, bundle)
    assert facts.only_tls13 and facts.also_served == ()
    assert verdict.passed
    assert verdict.measured == "90 days left · TLS 1.3 only: one certificate read"
