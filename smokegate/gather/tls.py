"""TLS gatherer: a verified handshake per `tls:` target, and the facts behind a failure.

A verification error from OpenSSL names only its first complaint ("certificate
verify failed: self-signed certificate") and carries no dates. The person on call
needs more: is it expired, by how many days, which names is it valid for. So when
the verified handshake fails, the certificate is fetched again without verification
(it is only read, never trusted) and parsed. All targets of a run are handshaken
concurrently, once, when the first TLS check asks: like the HTTP prober.
"""

from __future__ import annotations

import _ssl
import contextlib
import errno
import hashlib
import ipaddress
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from smokegate.config import TlsTarget
from smokegate.facts.tls import MAX_ADDRESSES, ChainCert, TlsFacts
from smokegate.gather.connect import ConnectTimedOut, LookupTimedOut, failure_reason, no_route
from smokegate.gather.local_limits import local_exhaustion, workers_within_limit
from smokegate.gather.tls_alerts import (
    NOT_TLS_REASONS,
    alert_meaning,
    not_tls,
    reason_of,
    ssl_error_text,
    through_proxy,
)
from smokegate.gather.trust import KEY_KINDS, Trust, decide
from smokegate.gather.tunnel import (
    TunnelError,
    a_label,
    open_connection,
    other_addresses,
    proxy_for,
    shown_proxy_for,
)
from smokegate.redact import excerpt

ERROR_CHARS = 300


def _unverified_context(narrowed_to: str = "") -> ssl.SSLContext:
    return Trust(source="no verification", verify=False).check_context(narrowed_to)


def _refused(exc: BaseException) -> bool:
    """Whether a narrowed handshake was turned down by the server (an alert, a protocol it
    does not speak, a close or a reset): how a server without a certificate of that kind
    answers. A timeout, a refused connection or an answer in no TLS at all is no such
    answer: the server was there a moment ago, so that is said, never skipped."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, ssl.SSLError):
        return reason_of(exc) not in NOT_TLS_REASONS
    return isinstance(exc, ConnectionResetError | BrokenPipeError)


# OpenSSL's reasons for a handshake refused for its TLS version (a TLS 1.3-only server)
_VERSIONS = frozenset(
    {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"}
)


def _key_kind(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except Exception:  # an algorithm cryptography does not know
        return ""
    kinds = (
        (rsa.RSAPublicKey, "RSA"),
        (ec.EllipticCurvePublicKey, "ECDSA"),
        (ed25519.Ed25519PublicKey, "Ed25519"),
        (ed448.Ed448PublicKey, "Ed448"),
        (dsa.DSAPublicKey, "DSA"),
    )
    return next((name for kind, name in kinds if isinstance(key, kind)), "")


# The socket timeout bounds each read; a server dripping its handshake a byte at a time
# resets it with every byte. The whole handshake is cut off this long past `timeout_s`.
HANDSHAKE_GRACE_S = 0.5


def _cut_off(sock: socket.socket, fired: threading.Event) -> None:
    fired.set()
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _NotReached(OSError):
    """A pinned address took no connection (the cause says why): no TLS byte was sent."""


_OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE})  # the runner's, not the node's


@dataclass
class _Peer:
    der: bytes | None
    protocol: str
    chain: list[bytes]  # verified: the chain OpenSSL built; else: as the server sent it
    decoded: dict[str, Any]  # ssl's own reading of a verified certificate ({} unverified)
    address: str  # the address reached (a proxy's, through one)


def _handshake(
    target: TlsTarget, context: ssl.SSLContext, timeout_s: float, address: str = ""
) -> _Peer:
    """The peer's certificate, protocol and chain, the handshake bounded as a whole (not
    only each read): past `timeout_s` + grace the socket is shut under it and it times
    out."""
    server_name = target.server_name or target.host
    try:
        raw = open_connection(target.host, target.port, timeout_s, address)
    except OSError as exc:
        if address:
            raise _NotReached(str(exc)) from exc
        raise
    try:
        reached = str(raw.getpeername()[0])
    except (OSError, IndexError):
        reached = address
    fired = threading.Event()
    timer = threading.Timer(timeout_s + HANDSHAKE_GRACE_S, _cut_off, args=(raw, fired))
    timer.daemon = True
    timer.start()
    try:
        with raw, context.wrap_socket(raw, server_hostname=a_label(server_name)) as tls:
            verified = context.verify_mode != ssl.CERT_NONE
            return _Peer(
                der=tls.getpeercert(binary_form=True),
                protocol=tls.version() or "",
                chain=_chain_of(tls, verified),
                decoded=(tls.getpeercert() or {}) if verified else {},
                address=reached,
            )
    except (OSError, ValueError) as exc:
        if fired.is_set():
            raise TimeoutError(f"TLS handshake not complete after {timeout_s:g} s") from exc
        raise
    finally:
        timer.cancel()


# A chain longer than this is no chain a server means to send (40-deep chains were tried).
MAX_CHAIN_READ = 16


def _chain_of(tls: ssl.SSLSocket, verified: bool) -> list[bytes]:
    """The chain, the peer's certificate first: as OpenSSL verified it (up to the trusted
    root), or as the server sent it. `get_verified_chain`/`get_unverified_chain` are public
    from Python 3.13; 3.10-3.12 have them on the socket's `_sslobj`. [] when absent."""
    name = "get_verified_chain" if verified else "get_unverified_chain"
    getter = getattr(tls, name, None) or getattr(getattr(tls, "_sslobj", None), name, None)
    try:
        chain = getter() if getter is not None else None
    except Exception:
        return []
    return [  # one past the cap: a longer chain is seen to be one (`_with_verified_chain`)
        c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER)
        for c in (chain or [])[: MAX_CHAIN_READ + 1]  # cut-ok: a list of certificates
    ]


def _with_chain(facts: TlsFacts, der: bytes, chain: list[bytes]) -> TlsFacts:
    """The certificates the server sent above its own, and whether the one named as its
    issuer signed it. A chain that does not parse is left unread: the old messages stand."""
    try:
        leaf = x509.load_der_x509_certificate(der)
        above = [x509.load_der_x509_certificate(c) for c in chain[1:]]  # cut-ok: a list
    except Exception:
        return facts
    signed: bool | None = None
    for ca in above:
        if ca.subject == leaf.issuer:
            if _signed_with_a_weak_digest(leaf):
                # cryptography checks no SHA-1 or MD5 signature at all (round 18c: read as
                # "did not sign", a correct intermediate was to be swapped). The names link
                # them; whether the signature holds is OpenSSL's verification's to say (it
                # names a weak digest), so the chain is taken as linked here
                signed = True
                break
            try:
                leaf.verify_directly_issued_by(ca)
                signed = True
                break
            except Exception:
                signed = False
    return replace(
        facts,
        chain_read=True,
        issuer_signed=signed,
        sent_above=tuple(_chain_cert(ca) for ca in above),
    )


def _with_verified_chain(facts: TlsFacts, chain: list[bytes], context: ssl.SSLContext) -> TlsFacts:
    """The CA certificates of the chain that verified: one that runs out before the
    server's own is when the checks start failing (round 15: an intermediate with 3 days
    left passed as "199 days left"). The trust anchor counts as the longest-lived copy the
    store holds of it (same name, same key): OpenSSL may build the chain through an old
    copy while a renewed one stands beside it (round 16: the verdict hung on the bundle's
    order).

    A CA that cannot be read, or a chain longer than smokegate reads, leaves days unknown:
    said in `chain_unjudged`, never taken for "no CA to judge" (round 17c)."""
    if len(chain) > MAX_CHAIN_READ:
        return replace(
            facts,
            chain_unjudged=f"the chain that verified is more than {MAX_CHAIN_READ} "
            "certificates deep, more than smokegate reads: the days left of the CA "
            "certificates past them are unknown",
        )
    above = []
    for position, der in enumerate(chain[1:], start=2):  # cut-ok: a list of certificates
        try:
            above.append(x509.load_der_x509_certificate(der))
        except Exception as exc:  # cryptography raises plain Exceptions too
            reason = excerpt(str(exc) or type(exc).__name__, 200, first_line=True)
            return replace(
                facts,
                chain_unjudged=f"certificate {position} of the chain that verified (a CA) "
                f"cannot be read ({reason}): its days left are unknown",
            )
    if above and above[-1].subject == above[-1].issuer and _outlived_by(above[-1], chain[0]):
        above[-1] = _longest_lived_copy(above[-1], context)
    return replace(facts, verified_above=tuple(_chain_cert(ca) for ca in above))


def _outlived_by(anchor: x509.Certificate, leaf_der: bytes) -> bool:
    """Whether the server's certificate outlives the anchor: only then do other copies of
    the anchor matter (the store is not read otherwise). True when the leaf cannot be read
    here (its dates are read from `ssl` then)."""
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        return anchor.not_valid_after_utc < leaf.not_valid_after_utc
    except Exception:
        return True


def _longest_lived_copy(anchor: x509.Certificate, context: ssl.SSLContext) -> x509.Certificate:
    """The copy of the trust anchor (same name, same key) in the store that runs longest
    and takes over before the anchor ends: a copy not valid until after a gap would leave
    days that nothing verifies (round 17c: a root with 5 days left passed on a copy valid
    from day 60)."""
    try:
        key = anchor.public_key()
    except Exception:
        return anchor
    best = anchor
    for der in context.get_ca_certs(binary_form=True):
        try:
            with warnings.catch_warnings():  # a store's odd CA is no concern of the report
                warnings.simplefilter("ignore")
                copy = x509.load_der_x509_certificate(der)
                same = copy.subject == anchor.subject and copy.public_key() == key
        except Exception:
            continue
        if (
            same
            and copy.not_valid_after_utc > best.not_valid_after_utc
            and copy.not_valid_before_utc <= anchor.not_valid_after_utc
            and _may_be_a_ca(copy)
        ):
            best = copy
    return best


def _may_be_a_ca(cert: x509.Certificate) -> bool:
    """False when the certificate says it is no CA (basicConstraints CA:FALSE); a v1 root
    without the extension is one, as OpenSSL has it."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return True
    except Exception:
        return False
    return bool(constraints.value.ca)


def _chain_cert(ca: x509.Certificate) -> ChainCert:
    return ChainCert(
        subject=_name_text(ca.subject),
        issuer=_name_text(ca.issuer),
        not_before=ca.not_valid_before_utc,
        not_after=ca.not_valid_after_utc,
    )


def _from_ssl(facts: TlsFacts, decoded: dict[str, Any]) -> TlsFacts | None:
    """A verified certificate read from what `ssl` decoded, when `cryptography` cannot parse
    it (an x400Address in its SAN, round 15): OpenSSL verified chain, dates and name, so
    the days left are known. None when `ssl` did not decode it either."""
    try:
        not_before = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notBefore"]), UTC)
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notAfter"]), UTC)
    except (KeyError, ValueError, TypeError):
        return None

    def text(name: Any) -> str:
        return ",".join(f"{k}={v}" for rdn in name or () for k, v in rdn)

    return replace(
        facts,
        not_before=not_before,
        not_after=not_after,
        subject=text(decoded.get("subject")),
        issuer=text(decoded.get("issuer")),
        names=tuple(str(v) for _, v in decoded.get("subjectAltName", ())),
        name_matches=True,  # the handshake verified it
    )


def _name_text(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()


def _san(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The DNS names and the IP addresses of the subjectAltName; None when there is none."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return None
    dns = tuple(ext.value.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress))
    return dns, ips


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.rstrip("."))
    except ValueError:
        return False
    return True


# An IP address written as a DNS name in the subjectAltName: OpenSSL and browsers match an
# address against IP entries only (round 18c: "the certificate is for 127.0.0.1, not
# 127.0.0.1", and a guess about two backends).
_IP_AS_DNS = " (written as a DNS name: an IP address is matched by an IP entry only)"


def _signed_with_a_weak_digest(cert: x509.Certificate) -> bool:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return True
    return isinstance(algorithm, hashes.SHA1 | hashes.MD5)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def name_matches(
    server_name: str, names: Iterable[str], ip_names: Iterable[str] | None = None
) -> bool:
    """RFC 6125 matching as OpenSSL and urllib3 do it: exact, or a wildcard for the leftmost
    label only; IP addresses only against IP entries (`ip_names`, when the DNS names are
    apart). No Public Suffix List: see docs/auth-tls.md."""
    wanted = server_name.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(wanted)
    except ValueError:
        ip = None
    if ip is not None and ip_names is not None:
        names = ip_names
    for name in names:
        candidate = name.rstrip(".").lower()
        if ip is not None:
            try:
                if ipaddress.ip_address(candidate) == ip:
                    return True
            except ValueError:
                continue
            continue
        if candidate == wanted:
            return True
        # a wildcard covers one label, left of at least two (`*.test` covers nothing, as
        # OpenSSL, which verifies the HTTP check, and browsers have it)
        if candidate.startswith("*.") and candidate.count(".") >= 2 and "." in wanted:
            head, rest = wanted.split(".", 1)
            if head and rest == candidate[2:]:  # cut-ok: compared, never shown
                return True
    return False


def _with_certificate(facts: TlsFacts, der: bytes) -> TlsFacts:
    cert = x509.load_der_x509_certificate(der)
    san = _san(cert)
    dns, ips = san or ((), ())
    names = (*(f"{n}{_IP_AS_DNS}" if _is_ip(n) else n for n in dns), *ips)
    matches = name_matches(a_label(facts.server_name), dns, ips) if names else False
    if san is None:
        # A certificate without subjectAltName names no host for any client of today (the
        # CN is ignored: urllib3 2, browsers); the HTTP check's context ignores it too
        # (round 14: it was taken as the name, and the two checks disagreed).
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names = tuple(
            f"{c.value} (CN only: no subjectAltName, which clients require)" for c in common
        )
    elif not names:  # round 17c: called "no subjectAltName" though it had one
        names = ("no host: its subjectAltName names no DNS name or IP address, only other kinds",)
    return replace(
        facts,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=_name_text(cert.subject),
        issuer=_name_text(cert.issuer),
        names=names,
        self_signed=_is_self_signed(cert),
        name_matches=matches,
        key_kind=_key_kind(cert),
    )


def describe_connect_error(exc: BaseException, target: TlsTarget, timeout_s: float) -> str:
    """Why there is no certificate to judge, in words (an exception's own text quoted through
    `excerpt`: it may hold what the server sent); through a proxy's tunnel, the proxy is
    named, as what came back may be its doing (round 19c)."""
    if isinstance(exc, TunnelError):
        return str(exc)  # names the proxy; what the proxy sent is excerpted in it
    said = _connect_error(exc, target, timeout_s)
    proxy = shown_proxy_for(target.host, target.port)
    return through_proxy(said, proxy, target.name) if proxy else said


def _connect_error(exc: BaseException, target: TlsTarget, timeout_s: float) -> str:
    if isinstance(exc, LookupTimedOut):
        return (
            f"DNS lookup for {target.host} gave no answer within {timeout_s:g} s: no "
            "connection was made, no TLS byte was sent"
        )
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed for {target.host}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {target.name}"
    if isinstance(exc, ConnectTimedOut):
        return (
            f"timed out after {timeout_s:g} s while connecting to {target.name}: no address "
            "of it took a connection, no TLS byte was sent"
        )
    if no_route(exc):
        reason = failure_reason(exc)
        return (
            f"no route from this runner ({reason}) to {target.name}: no connection was made, "
            "no TLS byte was sent"
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout_s:g} s during the TLS handshake with {target.name}"
    if isinstance(exc, ssl.SSLError):
        if exc.reason in NOT_TLS_REASONS:
            return f"TLS handshake failed: {not_tls(target.name)}: is this the HTTPS port?"
        meaning = alert_meaning(reason_of(exc))
        if meaning:
            return f"TLS handshake refused: {meaning}"
        return f"TLS handshake failed: {excerpt(ssl_error_text(exc), ERROR_CHARS)}"
    if isinstance(exc, ConnectionResetError):
        return f"connection reset by {target.name} during the TLS handshake"
    return f"TLS handshake failed: {excerpt(str(exc), ERROR_CHARS, first_line=True)}"


def inspect(
    target: TlsTarget,
    ca_bundle: Path | None = None,
    timeout_s: float = 5.0,
    *,
    trust: Trust | None = None,
    narrowed_to: str = "",
    address: str = "",
) -> TlsFacts:
    """Handshake with verification; on a verification error, read the certificate unverified.

    `trust` is the run's decision for this target (`smokegate.gather.trust.decide`, the
    one the HTTP checks use); `ca_bundle` alone means that file. `narrowed_to` a key kind
    of `KEY_KINDS`: both handshakes offer only that kind (TLS 1.2). `address`: both go to
    that address of the host. Never raises: every failure is a `TlsFacts` with `error` or
    `verify_*` set.
    """
    trust = trust or decide(ca_bundle)
    facts = TlsFacts(
        target=target.name,
        server_name=target.server_name or target.host,
        trusted_by=trust.describe(),
        narrowed_to=narrowed_to,
        address=address,
    )
    if trust.error:
        return replace(facts, error=f"TLS trust: {trust.error}", attempted=False)

    try:
        context = trust.check_context(narrowed_to)
        peer = _handshake(target, context, timeout_s, address)
        der, decoded = peer.der, peer.decoded
        facts = replace(facts, verified=True, protocol=peer.protocol, reached=peer.address)
        facts = _with_verified_chain(facts, peer.chain, context)
    except ssl.SSLCertVerificationError as exc:
        facts = replace(
            facts,
            verify_code=exc.verify_code,
            verify_message=excerpt(exc.verify_message or str(exc), ERROR_CHARS),
        )
        try:
            peer = _handshake(target, _unverified_context(narrowed_to), timeout_s, address)
        except Exception as again:
            # the verification's own finding stays first (round 15: a server demanding a
            # client certificate hid that its certificate had expired)
            return replace(
                facts,
                error=f"certificate verification failed: {facts.verify_message} (then, read "
                f"again without verification: {describe_connect_error(again, target, timeout_s)})",
            )
        der, decoded = peer.der, {}
        facts = replace(facts, protocol=peer.protocol, reached=peer.address)
        if der and peer.chain:
            facts = _with_chain(facts, der, peer.chain)
    except Exception as exc:  # a gatherer never raises: refused, DNS, timeout, not TLS at all
        reason = exc.__cause__ if isinstance(exc, _NotReached) else None
        if isinstance(reason, OSError) and reason.errno not in _OUT_OF_FILES:
            # before the runner's limits: EADDRNOTAVAIL is also what `::1` answers on a
            # runner with IPv6 off, and a node read as "out of local ports" verified nothing
            said = describe_connect_error(reason, target, timeout_s)
            return replace(facts, error=said, not_reached=True)
        local = local_exhaustion(exc)  # the runner's own limits: the target was not checked
        if local:
            return replace(facts, error=local, attempted=False)
        said = describe_connect_error(exc, target, timeout_s)
        refused = bool(narrowed_to) and _refused(exc)
        by_version = refused and isinstance(exc, ssl.SSLError) and reason_of(exc) in _VERSIONS
        return replace(facts, error=said, refused=refused, refused_version=by_version)
    if not der:
        return replace(facts, error="the server sent no certificate")
    facts = replace(facts, fingerprint=hashlib.sha256(der).hexdigest())
    try:
        return _with_certificate(facts, der)
    except Exception as exc:  # cryptography raises plain Exceptions too (an x400Address SAN)
        read = _from_ssl(facts, decoded) if facts.verified else None
        if read is not None:
            return read
        reason = excerpt(str(exc) or type(exc).__name__, ERROR_CHARS, first_line=True)
        # its dates were never read: the rule could not run, whatever the verification said
        return replace(
            facts, error=f"the certificate could not be parsed: {reason}", attempted=False
        )


# The nodes of one name read at once: 7 that accepted and never answered took 7 x the
# timeout one after another (round 49c F4).
NODES_AT_ONCE = 8


def inspect_served(target: TlsTarget, timeout_s: float, trust: Trust) -> TlsFacts:
    """Every certificate the name's servers hand out: what a client offering everything
    gets, each one a client offering only one key type gets (`KEY_KINDS`), at each address
    the runner's lookup of the name gives (a pool's nodes), all judged; the first's facts
    hold the others in `also_served`. A handshake that read what an earlier one read,
    judged alike, adds nothing."""
    first = _served_at(target, timeout_s, trust)
    if first.error is not None or not first.fingerprint:
        return first  # nothing was read: no handshake of a narrower client would be judged
    try:
        addresses = other_addresses(target.host, target.port, first.reached, timeout_s)
    except OSError as exc:  # the name resolved a moment ago: its nodes are unknown, not none
        said = excerpt(str(exc), ERROR_CHARS, first_line=True)
        return replace(first, addresses_problem=f"its other addresses could not be listed: {said}")
    read = addresses[: MAX_ADDRESSES - 1]  # cut-ok: addresses, bounded; the rest are named
    if not read:
        return first
    with ThreadPoolExecutor(
        max_workers=min(NODES_AT_ONCE, len(read)), thread_name_prefix="smokegate-tls-node"
    ) as pool:
        nodes = list(pool.map(lambda a: _served_at(target, timeout_s, trust, a), read))
    reached = [n for n in nodes if not n.not_reached]
    found = [f for n in reached for f in (replace(n, also_served=()), *n.also_served)]
    return replace(
        first,
        also_served=(*first.also_served, *_new_reads([first, *first.also_served], found)),
        unread_addresses=tuple(addresses[len(read) :]),  # cut-ok: the rest, named
        unreached_addresses=tuple(n.address for n in nodes if n.not_reached),
        tls13_only_addresses=tuple(n.address for n in reached if n.only_tls13),
    )


def _new_reads(known: list[TlsFacts], candidates: list[TlsFacts]) -> list[TlsFacts]:
    """The candidates that read something the known handshakes did not, in order: another
    certificate, another chain or verdict for one already read (`answered_otherwise`: a
    pool node serving it without its chain failed verification, and the case passed, 38c),
    or a handshake that read nothing and failed otherwise than by a refusal."""
    seen = {_alike(f) for f in known}
    fingerprints = {f.fingerprint for f in known if f.fingerprint}
    new = []
    for facts in candidates:
        if facts.fingerprint and _alike(facts) in seen:
            continue
        if facts.fingerprint in fingerprints:
            facts = replace(facts, answered_otherwise=True)
        if facts.fingerprint:  # a handshake that read nothing is no certificate seen (41c F4)
            seen.add(_alike(facts))
            fingerprints.add(facts.fingerprint)
        new.append(facts)
    return new


def _alike(facts: TlsFacts) -> tuple[object, ...]:
    """What the rule reads of a handshake: two that agree on it are judged alike. The leaf
    alone was compared, and a node sending the same leaf with an intermediate expiring in
    3 days passed (round 49b F1)."""
    return (
        facts.fingerprint,
        facts.verified,
        facts.verify_code,
        facts.verified_above,
        facts.sent_above,
        facts.chain_unjudged,
        facts.issuer_signed,
    )


def _served_at(target: TlsTarget, timeout_s: float, trust: Trust, address: str = "") -> TlsFacts:
    """The certificate a client offering everything gets at `address` (the name's own choice
    when ""), with every other one the server there hands to a client offering only one key
    type in `also_served`. The narrowed handshakes follow the first to the address it
    reached (with round-robin DNS they met other nodes, unnamed), each under its own
    deadline; a kind the server refuses adds nothing."""
    first = inspect(target, timeout_s=timeout_s, trust=trust, address=address)
    if first.error is not None or not first.fingerprint:
        return first
    # through a proxy the proxy resolves the name: no address is known to pin to
    pin = address or (first.reached if proxy_for(target.host, target.port) is None else "")
    narrowed = [
        inspect(target, timeout_s=timeout_s, trust=trust, narrowed_to=kind, address=pin)
        for kind in KEY_KINDS
    ]
    by_version = sum(other.refused_version for other in narrowed)
    kept = [replace(o, address=address) for o in narrowed if not o.refused]
    only_tls13 = by_version == len(KEY_KINDS)
    return replace(first, also_served=tuple(_new_reads([first], kept)), only_tls13=only_tls13)


class TlsGatherer:
    """The run's TLS facts, inspected concurrently (thread pool) on first demand.

    The first check that asks triggers one batch of every TLS target this process is
    still going to run (all of them, a `-k` selection, or an xdist worker's share).
    """

    def __init__(
        self,
        pending_targets: Callable[[], Iterable[object]],
        *,
        ca_bundle: Path | None = None,
        timeout_s: float = 5.0,
        max_workers: int = 64,
        resolve: Callable[[str], Path] = Path,
    ) -> None:
        self._pending = pending_targets
        self.resolve = resolve
        self.ca_bundle = ca_bundle
        self.timeout_s = timeout_s
        # each target may read NODES_AT_ONCE nodes beside its own handshake: the budget of
        # open files is for all of them (a pool inside the pool)
        per_target = 1 + NODES_AT_ONCE
        self.max_workers = max(1, workers_within_limit(max_workers * per_target) // per_target)
        self._facts: dict[str, TlsFacts] = {}
        self._lock = threading.Lock()
        self.batches: list[int] = []

    def certificate(self, target: TlsTarget) -> TlsFacts:
        with self._lock:
            if target.name not in self._facts:
                batch = {
                    t.name: t
                    for t in self._pending()
                    if isinstance(t, TlsTarget) and t.name not in self._facts
                }
                batch[target.name] = target
                self.batches.append(len(batch))
                self._facts.update(self._inspect_all(list(batch.values())))
            return self._facts[target.name]

    def _inspect_all(self, targets: list[TlsTarget]) -> dict[str, TlsFacts]:
        workers = min(self.max_workers, len(targets))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smokegate-tls") as pool:
            facts = list(pool.map(self._inspect, targets))
        return {t.name: f for t, f in zip(targets, facts, strict=True)}

    def _inspect(self, target: TlsTarget) -> TlsFacts:
        """The target's own `ca_bundle` and `timeout_s` win over the env's; the trust is
        decided as for every HTTPS request (`smokegate.gather.trust`)."""
        own = self.resolve(target.ca_bundle) if target.ca_bundle else None
        trust = decide(own, self.ca_bundle)
        try:
            return inspect_served(target, target.timeout_s or self.timeout_s, trust)
        except Exception as exc:  # one target's surprise is its own: never the whole batch's
            reason = excerpt(f"{type(exc).__name__}: {exc}", ERROR_CHARS, first_line=True)
            return TlsFacts(
                target=target.name,
                server_name=target.server_name or target.host,
                error=f"the TLS inspection failed: {reason}",
                attempted=False,  # verified nothing about the target: gates at any --fail-on
            )
