"""Real HTTPS servers on 127.0.0.1 with certificates minted in the test.

Each kind of certificate gets its own server (the TLS check's id is host:port, so one
port per certificate): valid, expiring soon, expired and wrong-name leaves of a private
trustme CA, and a self-signed one built with `cryptography`. Each server completes
the handshake and answers any HTTP request with 200 "ok", so the same servers serve
HTTPS endpoint checks (ca_bundle for every HTTPS call).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
# An hour of slack keeps the day count stable however long the test takes.
SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class ServerCert:
    """PEM files of one server identity: the chain (leaf first) and its key."""

    chain_pem: Path
    key_pem: Path
    not_after: datetime


def issue(
    ca: trustme.CA,
    folder: Path,
    label: str,
    names: tuple[str, ...] = LOOPBACK_NAMES,
    *,
    days_left: int = 90,
    key_type: trustme.KeyType = trustme.KeyType.ECDSA,
) -> ServerCert:
    """A leaf of `ca` for `names`, expiring `days_left` days (plus slack) from now, with a
    key of `key_type`."""
    now = datetime.now(UTC)
    # away from zero: whole days are counted toward zero on both sides of notAfter
    not_after = now + timedelta(days=days_left) + (SLACK if days_left >= 0 else -SLACK)
    not_before = min(now - timedelta(days=30), not_after - timedelta(days=1))
    leaf = ca.issue_cert(*names, not_before=not_before, not_after=not_after, key_type=key_type)
    chain, key = folder / f"{label}-chain.pem", folder / f"{label}-key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return ServerCert(chain, key, not_after)


# A subjectAltName holding an x400Address (an empty ORAddress) and DNS:localhost, as raw
# DER: OpenSSL serves it, cryptography raises a plain Exception reading it (round 11, F6).
X400_SAN = x509.UnrecognizedExtension(
    x509.ObjectIdentifier("2.5.29.17"), b"\x30\x0d\xa3\x00\x82\x09localhost"
)


def self_signed_der(cn: str, san: list[x509.GeneralName] | None) -> bytes:
    """A self-signed certificate for `cn` in DER, valid now for 90 days, with exactly `san`
    as its subjectAltName (None: no subjectAltName at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def self_signed(
    folder: Path,
    label: str,
    names: tuple[str, ...] = LOOPBACK_NAMES,
    *,
    days_left: int = 90,
    raw_san: x509.UnrecognizedExtension | None = None,
) -> ServerCert:
    """A certificate that signs itself: subject == issuer, no CA behind it. `raw_san`
    replaces the SAN built from `names` with one given as DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed.test")])
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days_left) + SLACK
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(raw_san or x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    chain, key_path = folder / f"{label}-chain.pem", folder / f"{label}-key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServerCert(chain, key_path, not_after)


class _TlsHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        context: ssl.SSLContext = self.server.ssl_context  # type: ignore[attr-defined]
        try:
            with context.wrap_socket(self.request, server_side=True) as tls:
                tls.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                    b"Connection: close\r\n\r\nok"
                )
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate or only wanted the handshake


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def tls_server(
    cert: ServerCert, *more: ServerCert, address: str = "127.0.0.1", port: int = 0
) -> Iterator[int]:
    """Serve `cert` on `address` (127.0.0.1; another loopback address for a pool's second
    node); yields the port. `more`: certificates of other key types served beside it
    (OpenSSL keeps one per key type and picks by what the client offers)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    for each in (cert, *more):
        context.load_cert_chain(str(each.chain_pem), str(each.key_pem))
    server = _Server((address, port), _TlsHandler)
    server.ssl_context = context  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class TlsWorld:
    """The five servers of the TLS tests and the CA bundle that trusts their private CA."""

    ca_bundle: Path
    ports: dict[str, int]
    certs: dict[str, ServerCert]


@contextlib.contextmanager
def tls_world(folder: Path) -> Iterator[TlsWorld]:
    ca = trustme.CA(organization_name="smokegate test CA")
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    certs = {
        "valid": issue(ca, folder, "valid", days_left=90),
        "expiring": issue(ca, folder, "expiring", days_left=5),
        "expired": issue(ca, folder, "expired", days_left=-3),
        "wrong-name": issue(ca, folder, "wrong-name", ("other.example", "www.other.example")),
        "self-signed": self_signed(folder, "self-signed"),
    }
    with contextlib.ExitStack() as stack:
        ports = {kind: stack.enter_context(tls_server(cert)) for kind, cert in certs.items()}
        yield TlsWorld(bundle, ports, certs)
