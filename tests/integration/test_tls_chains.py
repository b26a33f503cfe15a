"""What is wrong with a chain, said from the certificates the server sent (attack round
14c, F1-F3): an expired or not-yet-valid intermediate was blamed on the machine's clock or
shown with the server certificate's date, and a missing intermediate was called an
untrusted private CA. Real handshakes with chains of our own, on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smokegate.config import TlsTarget
from smokegate.gather.tls import inspect
from smokegate.rules.tls import check_certificate
from tests.support.processes import openssl_s_server
from tests.support.tls_servers import ServerCert, self_signed_der, tls_server

NOW = datetime.now(UTC)
Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _cert(
    cn: str,
    issuer: Pair | None,
    *,
    ca: bool,
    days: tuple[int, int] = (-30, 365),
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Pair:
    """A certificate for `cn`, issued by `issuer` (self-signed without one), with a new key
    unless `key` is given (a root renewed with its key)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        ).add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(signer, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _serve(folder: Path, label: str, leaf: Pair, sent: list[x509.Certificate]) -> ServerCert:
    chain, key = folder / f"{label}-chain.pem", folder / f"{label}-key.pem"
    chain.write_bytes(b"".join(_pem(c) for c in [leaf[0], *sent]))
    key.write_bytes(
        leaf[1].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServerCert(chain, key, leaf[0].not_valid_after_utc)


def _mutual_tls_server(
    cert: ServerCert, bundle: Path, version: ssl.TLSVersion
) -> tuple[socket.socket, int]:
    """A server on 127.0.0.1 that demands a client certificate of `bundle`'s CA, for two
    connections (the TLS check's and the HTTP check's); the listener and its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert.chain_pem), str(cert.key_pem))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(str(bundle))
    context.maximum_version = version
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(100)
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def _chain(tmp_path: Path, case: str) -> tuple[ServerCert, Path]:
    root = _cert(
        "Chain Test Root", None, ca=True, days=(-30, -5) if case == "expired-root" else (-30, 3650)
    )
    inter_days = {"expired-intermediate": (-30, -5), "future-intermediate": (5, 365)}.get(
        case, (-30, 365)
    )
    inter = _cert("Chain Test Issuing CA", root, ca=True, days=inter_days)
    leaf = _cert("localhost", inter, ca=False, days=(-1, 89))
    sent = {
        "missing-intermediate": [],
        "wrong-intermediate": [_cert("Chain Test Issuing CA", root, ca=True)[0]],
    }.get(case, [inter[0]])
    if case == "untrusted-root":  # the bundle trusts another root
        root = _cert("Some Other Root", None, ca=True)
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(_pem(root[0]))
    return _serve(tmp_path, case, leaf, sent), bundle


@pytest.mark.parametrize(
    ("case", "said"),
    [
        (
            "expired-intermediate",
            "the CA certificate 'Chain Test Issuing CA' the server sends in its chain "
            "expired 5 days ago",
        ),
        (
            "future-intermediate",
            "the CA certificate 'Chain Test Issuing CA' the server sends in its chain is not "
            "valid before",
        ),
        (
            "expired-root",
            "a CA certificate above the server's, not among those it sends (its root, from "
            "ca_bundle",
        ),
        (
            "missing-intermediate",
            "issued by 'Chain Test Issuing CA', and the server sends no certificate for it",
        ),
        (
            "untrusted-root",
            "the chain the server sends ends at 'Chain Test Root', which is not trusted by "
            "ca_bundle",
        ),
        (
            "wrong-intermediate",
            "the certificate the server sends for its issuer 'Chain Test Issuing CA' did not "
            "sign its certificate",
        ),
    ],
)
def test_a_broken_chain_names_the_certificate_that_breaks_it(tmp_path, case, said):
    cert, bundle = _chain(tmp_path, case)
    with tls_server(cert) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
    verdict = check_certificate(target, facts)
    assert not verdict.passed
    text = " | ".join(verdict.problems)
    assert said in text, text
    assert "by this machine's clock" not in text  # the server's own certificate is fine
    if case in ("expired-intermediate", "expired-root"):  # not the server's own days left
        assert verdict.measured == "a CA of the chain expired"
    assert "for a private CA" not in text or case in ("missing-intermediate", "untrusted-root")


@pytest.mark.parametrize("version", ["TLSv1_2"])
def test_a_server_that_demands_a_client_certificate_is_said_so_by_both_checks(tmp_path, version):
    """Round 14c, F8: a server demanding mutual TLS got "the certificate does not verify",
    with the hint to check the chain, though its certificate was never at issue. (Python's
    TLS 1.3 server closes without the alert OpenSSL's s_server sends: that reason's words
    are tested below.)"""
    from smokegate.config import Endpoint
    from smokegate.gather.probe import Prober, ProbeRequest
    from smokegate.rules.health import check_endpoint

    cert, bundle = _chain(tmp_path, "valid")
    listener, port = _mutual_tls_server(cert, bundle, getattr(ssl.TLSVersion, version))
    try:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
        prober = Prober(max_body_bytes=1024)
        try:
            url = f"https://localhost:{port}/"
            (result,) = prober.probe_all(
                [ProbeRequest(key="k", url=url, timeout_s=5, verify=str(bundle))]
            ).values()
        finally:
            prober.close()
    finally:
        listener.close()
    http = check_endpoint(Endpoint(name="x", url=url), result)
    said = "client certificate (mutual TLS), which smokegate does not send"
    assert said in (result.error or ""), result.error
    assert "chain" not in http.hint
    assert said in (facts.error or ""), facts


def test_a_server_offering_only_an_old_cipher_is_said_so_first():
    """Round 24c L1: a TLS 1.2 server offering only AES128-SHA (no forward secrecy) read
    first as one demanding a client certificate."""
    import trustme

    from smokegate.gather.probe import Prober, ProbeRequest

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AES128-SHA:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()  # the handshake it refuses: what the test is about

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    prober = Prober(max_workers=2, max_body_bytes=1 << 20)
    try:
        result = prober.probe(ProbeRequest(key="k", url=f"https://127.0.0.1:{port}/", timeout_s=3))
    finally:
        prober.close()
        listener.close()
        thread.join(5)
    assert result.status is None and result.error is not None
    assert result.error.startswith(
        "TLS handshake refused: the server refused the handshake: it shares no cipher suite"
    ), result.error


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "client certificate (mutual TLS)"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "older than 1.2, which smokegate refuses"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "demands a client certificate (mutual TLS)"),
        ("SOMETHING_ELSE", ""),
    ],
)
def test_handshake_alerts_are_said_in_words(reason, said):
    from smokegate.gather.tls_alerts import alert_meaning

    meaning = alert_meaning(reason)
    assert (said in meaning) if said else meaning == ""


def test_a_port_that_closes_at_once_is_said_so_by_both_checks():
    """Round 15c, F4: a listener that accepts and closes (a TLS pass-through with no
    healthy backend) got the certificate hint, though no certificate was ever sent."""
    from smokegate.config import Endpoint
    from smokegate.gather.probe import Prober, ProbeRequest
    from smokegate.rules.health import check_endpoint

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(4096)  # the ClientHello, read: then a clean close (FIN), not a reset
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        target = TlsTarget(host="127.0.0.1", port=port)
        facts = inspect(target, timeout_s=5)
        prober = Prober(max_body_bytes=1024)
        try:
            url = f"https://127.0.0.1:{port}/"
            (result,) = prober.probe_all([ProbeRequest(key="k", url=url, timeout_s=5)]).values()
        finally:
            prober.close()
    finally:
        listener.close()
    said = "closed the connection during or right after the handshake"
    assert said in (result.error or ""), result.error
    assert said in (facts.error or ""), facts.error
    hint = check_endpoint(Endpoint(name="x", url=url), result).hint
    assert "certificate does not verify" not in hint


def test_an_expired_certificate_stays_said_when_the_server_also_demands_mutual_tls(tmp_path):
    """Round 15c, F5: the verification's "certificate has expired" was replaced by what the
    unverified re-read met (the server's demand for a client certificate)."""
    root = _cert("Chain Test Root", None, ca=True)
    leaf = _cert("localhost", root, ca=False, days=(-30, -5))
    cert = _serve(tmp_path, "expired-mtls", leaf, [])
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(_pem(root[0]))
    listener, port = _mutual_tls_server(cert, bundle, ssl.TLSVersion.TLSv1_2)
    try:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
    finally:
        listener.close()
    verdict = check_certificate(target, facts)
    assert not verdict.passed
    assert verdict.problems[0].startswith(
        "certificate verification failed: certificate has expired"
    )
    assert "client certificate (mutual TLS)" in verdict.problems[0]


@pytest.mark.parametrize("expiring", ["intermediate", "root"])
def test_a_ca_of_the_verified_chain_that_runs_out_first_bounds_the_days_left(tmp_path, expiring):
    """Round 15c, F1: an intermediate with 3 days left, or a ca_bundle root with 3, passed
    as "88 days left" under min_days_left 21: three days later both checks fail."""
    root_days = (-30, 3) if expiring == "root" else (-30, 3650)
    inter_days = (-30, 3) if expiring == "intermediate" else (-30, 365)
    root = _cert("Chain Test Root", None, ca=True, days=root_days)
    inter = _cert("Chain Test Issuing CA", root, ca=True, days=inter_days)
    cert = _serve(
        tmp_path, expiring, _cert("localhost", inter, ca=False, days=(-1, 89)), [inter[0]]
    )
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(_pem(root[0]))
    with tls_server(cert) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
    assert facts.verified
    verdict = check_certificate(target, facts)
    name = "Chain Test Root" if expiring == "root" else "Chain Test Issuing CA"
    assert len(verdict.problems) == 1, verdict.problems
    assert verdict.problems[0].startswith(
        f"the CA certificate '{name}' of the chain expires in 2 days ("
    )
    assert verdict.problems[0].endswith("before the server's own, less than min_days_left 21")
    assert verdict.measured == "2 days left"


@pytest.mark.parametrize("old_first", [True, False])
def test_a_renewed_copy_of_the_root_beside_the_old_one_is_the_one_counted(tmp_path, old_first):
    """Round 16c: a bundle holding an old (4 days left) and a renewed copy of one root (same
    name and key) failed a healthy server as "expires in 4 days", in one order only."""
    old, key = _cert("Dup Root", None, ca=True, days=(-30, 4))
    renewed, _ = _cert("Dup Root", None, ca=True, days=(-30, 3650), key=key)
    leaf = _cert("localhost", (renewed, key), ca=False, days=(-1, 89))
    cert = _serve(tmp_path, "dup-root", leaf, [])
    bundle = tmp_path / "roots.pem"
    copies = [old, renewed] if old_first else [renewed, old]
    bundle.write_bytes(b"".join(_pem(c) for c in copies))
    with tls_server(cert) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
    verdict = check_certificate(target, facts)
    assert verdict.passed, verdict.problems


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("TLSV1_UNRECOGNIZED_NAME", "no certificate for the host name asked (SNI)"),
        ("TLSV1_ALERT_INTERNAL_ERROR", "failed inside its own handshake"),
    ],
)
def test_more_alerts_in_words_and_no_certificate_hint(reason, said):
    """Round 16c: `unrecognized_name` and `internal_error` got the certificate hint."""
    from smokegate.facts.http import ProbeResult
    from smokegate.gather.tls_alerts import alert_meaning
    from smokegate.rules.hints import health_hint

    assert said in alert_meaning(reason)
    result = ProbeResult(key="k", url="https://x/", method="GET", error="TLS error: [SSL: X] x")
    assert "certificate does not verify" not in health_hint(result, [result.error])


def test_a_chain_deeper_than_smokegate_reads_verified_nothing(tmp_path):
    """Round 17c, F1: a chain of 18 intermediates verified, the CA right under the root
    had 1 day left, and the gate passed: only the first 16 certificates were read."""
    root = _cert("Deep Root", None, ca=True, days=(-30, 3650))
    issuer, intermediates = root, []
    for depth in range(18, 0, -1):  # the one right under the root runs out first
        issuer = _cert(f"Deep CA {depth}", issuer, ca=True, days=(-30, 2 if depth == 18 else 365))
        intermediates.insert(0, issuer[0])
    cert = _serve(
        tmp_path, "deep", _cert("localhost", issuer, ca=False, days=(-1, 89)), intermediates
    )
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(_pem(root[0]))
    with tls_server(cert) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, bundle, timeout_s=5)
    assert facts.verified and facts.verified_above == ()
    verdict = check_certificate(target, facts)
    assert not verdict.passed and not verdict.verified
    assert verdict.problems == (
        "the chain that verified is more than 16 certificates deep, more than smokegate "
        "reads: the days left of the CA certificates past them are unknown, so the chain's "
        "days left cannot be judged",
    )


def test_a_copy_of_the_root_valid_only_after_a_gap_does_not_count(tmp_path):
    """Round 17c, F7: the root in use had 5 days left; a copy with its name and key valid
    from day 60 was taken as "the longest-lived copy", and the gate passed: from day 5 to
    day 60 nothing verifies."""
    now_root, key = _cert("Copy Root", None, ca=True, days=(-30, 5))
    later, _ = _cert("Copy Root", None, ca=True, days=(60, 3000), key=key)
    leaf = _cert("localhost", (now_root, key), ca=False, days=(-1, 300))
    cert = _serve(tmp_path, "gap", leaf, [])
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(_pem(now_root) + _pem(later))
    with tls_server(cert) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        verdict = check_certificate(target, inspect(target, bundle, timeout_s=5))
    assert len(verdict.problems) == 1, verdict.problems
    assert verdict.problems[0].startswith("the CA certificate 'Copy Root' of the chain expires")


def test_a_ca_of_the_verified_chain_that_cannot_be_read_verified_nothing(tmp_path):
    """Round 17c, F2: a CA OpenSSL verified but `cryptography` could not parse (a BER
    length) dropped every CA from the days-left rule, silently: a CA with 1 day left
    passed. Here the chain's CA bytes are damaged after the handshake, as such a CA reads."""
    from smokegate.facts.tls import TlsFacts
    from smokegate.gather.tls import _with_verified_chain

    root = _cert("Read Root", None, ca=True)
    inter = _cert("Read CA", root, ca=True, days=(-30, 2))
    leaf = _cert("localhost", inter, ca=False, days=(-1, 300))
    ders = [c.public_bytes(serialization.Encoding.DER) for c in (leaf[0], inter[0], root[0])]
    facts = TlsFacts(target="t", server_name="localhost", verified=True)
    readable = _with_verified_chain(facts, ders, ssl.create_default_context())
    assert [ca.subject for ca in readable.verified_above] == ["Read CA", "Read Root"]
    unreadable = _with_verified_chain(
        facts, [ders[0], b"\x30\x84" + ders[1][2:], ders[2]], ssl.create_default_context()
    )
    assert unreadable.verified_above == ()
    assert unreadable.chain_unjudged.startswith(
        "certificate 2 of the chain that verified (a CA) cannot be read ("
    )


def test_a_subject_alt_name_without_a_host_is_not_called_missing():
    """Round 17c, F6: a subjectAltName holding only a URI was "CN only: no subjectAltName"."""
    from smokegate.facts.tls import TlsFacts
    from smokegate.gather.tls import _with_certificate

    der = self_signed_der("localhost", [x509.UniformResourceIdentifier("spiffe://a/b")])
    facts = _with_certificate(TlsFacts(target="t", server_name="localhost"), der)
    assert not facts.name_matches
    assert facts.names == (
        "no host: its subjectAltName names no DNS name or IP address, only other kinds",
    )


def _signed_with_sha1(folder: Path, leaf: Pair, issuer: Pair) -> Path:
    """`leaf`'s key and name in a certificate `issuer` signs with SHA-1, by `openssl x509`
    (cryptography refuses to sign with SHA-1)."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(leaf[0].subject)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(leaf[1], hashes.SHA256())
    )
    paths = {name: folder / f"sha1-{name}.pem" for name in ("csr", "ca", "ca-key", "leaf")}
    paths["csr"].write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    paths["ca"].write_bytes(_pem(issuer[0]))
    paths["ca-key"].write_bytes(
        issuer[1].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    subprocess.run(
        ["openssl", "x509", "-req", "-in", paths["csr"], "-CA", paths["ca"], "-CAkey",
         paths["ca-key"], "-set_serial", "7", "-sha1", "-copy_extensions", "copy", "-days",
         "30", "-out", paths["leaf"]],
        check=True, capture_output=True,
    )  # fmt: skip
    return paths["leaf"]


@pytest.mark.parametrize("trusted", [True, False], ids=["root-trusted", "root-untrusted"])
def test_a_certificate_signed_with_sha1_is_said_so_not_blamed_on_its_intermediate(
    tmp_path, trusted
):
    """Round 18c, F1: the right intermediate signed the leaf with SHA-1; cryptography will
    not check such a signature, and the refusal read as "the certificate the server sends
    for its issuer did not sign its certificate: serve the intermediate that issued it".
    OpenSSL's own server serves it (Python's refuses to load a SHA-1 certificate)."""
    root = _cert("Sha1 Root", None, ca=True)
    inter = _cert("Sha1 Inter", root, ca=True)
    leaf = _cert("localhost", inter, ca=False)
    served = _serve(tmp_path, "leaf", leaf, [])
    sent_above = tmp_path / "inter.pem"
    sent_above.write_bytes(_pem(inter[0]))
    bundle = tmp_path / ("root.pem" if trusted else "other-root.pem")
    bundle.write_bytes(_pem(root[0] if trusted else _cert("Other Root", None, ca=True)[0]))
    sha1_leaf = _signed_with_sha1(tmp_path, leaf, inter)
    options = ("-cert_chain", str(sent_above), "-cipher", "DEFAULT@SECLEVEL=0")
    with openssl_s_server(sha1_leaf, served.key_pem, *options) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        verdict = check_certificate(target, inspect(target, bundle))
    assert not verdict.passed
    assert "did not sign" not in verdict.message
    if trusted:
        assert "signed with a digest too weak to be trusted (SHA-1 or MD5)" in verdict.message
        assert "CA signature digest algorithm too weak" in verdict.message
    else:
        assert "the chain the server sends ends at 'Sha1 Root', which is not trusted" in (
            verdict.message
        )


def test_an_ip_address_written_as_a_dns_name_is_said_so():
    """Round 18c, L2: a subjectAltName holding `DNS:127.0.0.1` for the target 127.0.0.1 read
    "the certificate is for 127.0.0.1, not 127.0.0.1", then guessed at two backends."""
    from dataclasses import replace

    from smokegate.facts.tls import IP_ADDRESS_MISMATCH, TlsFacts
    from smokegate.gather.tls import _with_certificate

    der = self_signed_der("127.0.0.1", [x509.DNSName("127.0.0.1")])
    facts = _with_certificate(TlsFacts(target="127.0.0.1:443", server_name="127.0.0.1"), der)
    assert not facts.name_matches
    failed = replace(facts, verified=False, verify_code=IP_ADDRESS_MISMATCH)
    verdict = check_certificate(TlsTarget(host="127.0.0.1"), failed)
    assert "127.0.0.1 (written as a DNS name: an IP address is matched by an IP entry only)" in (
        verdict.message
    )
