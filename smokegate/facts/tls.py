"""What a TLS handshake showed, and the OpenSSL codes the TLS rule phrases.

Kept apart from `smokegate.gather.tls` (which does the handshakes with `ssl` and parses
certificates with `cryptography`) so the pure rule, and the collection of every check
module, never import the gatherer's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# OpenSSL X509_V_ERR_* codes the rule phrases itself (ssl.SSLCertVerificationError.verify_code).
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED = 18
SELF_SIGNED_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_LOCALLY = 20
UNABLE_TO_VERIFY_LEAF = 21
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
UNTRUSTED_ISSUER_CODES = (SELF_SIGNED_IN_CHAIN, UNABLE_TO_GET_ISSUER_LOCALLY, UNABLE_TO_VERIFY_LEAF)
# OpenSSL's security level refuses weak cryptography: a key too small, a signature by SHA-1
EE_KEY_TOO_SMALL = 66
CA_KEY_TOO_SMALL = 67
CA_MD_TOO_WEAK = 68
UNABLE_TO_GET_ISSUER = 2
INVALID_CA = 24
PATH_LENGTH_EXCEEDED = 25
INVALID_PURPOSE = 26
CERT_REJECTED = 28
UNHANDLED_CRITICAL_EXTENSION = 34
PERMITTED_VIOLATION = 47
EXCLUDED_VIOLATION = 48


# A pool behind one name is a handful of nodes (DNS answers rarely hold more than 8); past
# this many addresses the rest are named as not read, and the case fails.
MAX_ADDRESSES = 16


@dataclass(frozen=True)
class ChainCert:
    """A certificate the server sent above its own (an intermediate, at times a root)."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class TlsFacts:
    """What one handshake showed. `error` is set when no certificate could be read at all."""

    target: str
    server_name: str
    verified: bool = False
    verify_code: int | None = None
    verify_message: str = ""
    error: str | None = None
    # False: no handshake was tried (the trust could not be decided, a CA bundle that does
    # not load): the case verified nothing, and gates at any --fail-on, no waiver hides it
    attempted: bool = True
    not_before: datetime | None = None
    not_after: datetime | None = None
    subject: str = ""
    issuer: str = ""
    names: tuple[str, ...] = field(default_factory=tuple)
    self_signed: bool = False
    name_matches: bool = True
    protocol: str = ""
    trusted_by: str = ""  # the trust source verification used (smokegate.gather.trust)
    # What the server sent above its own certificate, read when verification failed (the
    # chain tells an expired intermediate from a clock, a missing one from an untrusted
    # CA; round 14). `chain_read` False: not read (verified, or not readable).
    chain_read: bool = False
    sent_above: tuple[ChainCert, ...] = ()
    # whether the certificate sent for the leaf's issuer (same name) signed the leaf; None
    # when none was sent
    issuer_signed: bool | None = None
    # The CA certificates of the chain that verified (up to the trusted root), read on a
    # verified handshake: the soonest to expire bounds the days left too (round 15).
    verified_above: tuple[ChainCert, ...] = ()
    # Why those CAs could not all be read (a chain past MAX_CHAIN_READ, a CA `cryptography`
    # cannot parse): their days left are unknown, and the case verified nothing (round 17c:
    # a CA the rule never saw could not fail it, and the gate passed).
    chain_unjudged: str = ""
    # The certificate's key ("RSA", "ECDSA", ...) and SHA-256 of its DER: a server holds one
    # certificate per key type and hands each to the clients that offer it (round 36c: an
    # expired RSA certificate beside a good ECDSA one passed, never read).
    key_kind: str = ""
    fingerprint: str = ""
    # Set on the facts of a handshake narrowed to one key type: the kind it offered, and
    # whether the server refused it (an alert, a close): it holds no certificate of that kind.
    narrowed_to: str = ""
    refused: bool = False
    refused_version: bool = False  # refused for its TLS version: the server speaks no 1.2
    # a narrowed handshake that read the first one's certificate and judged it otherwise (a
    # pool whose nodes serve it with and without its chain): both are judged (round 38c)
    answered_otherwise: bool = False
    # the server turned down every narrowed handshake for their TLS 1.2: a certificate it
    # would hand over TLS 1.3 only to clients offering one key type was not read
    only_tls13: bool = False
    # The server's other certificates, each read by a handshake narrowed to its key type
    # (TLS 1.2: Python's ssl cannot narrow TLS 1.3's signature algorithms), and any such
    # handshake that failed otherwise than by a refusal (its error said there).
    also_served: tuple[TlsFacts, ...] = ()
    # The address the handshake went to when it was pinned to one: another address of the
    # host (a pool's node), read on its own (round 48b F1); "" for the name's own choice.
    address: str = ""
    reached: str = ""  # the address the handshake reached (a proxy's, through one)
    # the pinned address took no connection (refused, no route, timed out before TLS): it
    # serves no certificate to anyone, and clients fall back to the others
    not_reached: bool = False
    # On the first facts: other addresses of the host not read, past the bound on a pool's
    # nodes (fails the case), and those that took no connection (said beside the measured
    # value: an IPv4-only runner and a dual-stack name, an AAAA record with no listener;
    # availability is the health checks' to judge, the certificates served here's)
    unread_addresses: tuple[str, ...] = ()
    unreached_addresses: tuple[str, ...] = ()
    tls13_only_addresses: tuple[str, ...] = ()  # nodes of which one certificate was read
    addresses_problem: str = ""  # why the other addresses could not be listed (fails)
