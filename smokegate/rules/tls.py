"""Certificate rules on `TlsFacts`: chain, name and expiry, each with its own message.

Every problem found is listed (an expired certificate for the wrong name says
both), and the measured value is always the days left, so the report's column
sorts the certificates that need attention first. `now` is a parameter so the
boundaries are unit-tested on hand-built facts.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import replace
from datetime import UTC, datetime

from smokegate.config import TlsTarget
from smokegate.facts.tls import (
    CA_KEY_TOO_SMALL,
    CA_MD_TOO_WEAK,
    CERT_HAS_EXPIRED,
    CERT_NOT_YET_VALID,
    CERT_REJECTED,
    DEPTH_ZERO_SELF_SIGNED,
    EE_KEY_TOO_SMALL,
    EXCLUDED_VIOLATION,
    HOSTNAME_MISMATCH,
    INVALID_CA,
    INVALID_PURPOSE,
    IP_ADDRESS_MISMATCH,
    MAX_ADDRESSES,
    PATH_LENGTH_EXCEEDED,
    PERMITTED_VIOLATION,
    SELF_SIGNED_IN_CHAIN,
    UNABLE_TO_GET_ISSUER,
    UNHANDLED_CRITICAL_EXTENSION,
    UNTRUSTED_ISSUER_CODES,
    TlsFacts,
)
from smokegate.redact import excerpt
from smokegate.verdict import Verdict

CA_HINT = "for a private CA, point ca_bundle: at its PEM bundle"


NAME_CHARS = 200  # a certificate's subject, issuer or names: the server's text


def days_left(facts: TlsFacts, now: datetime) -> int | None:
    """Whole days between now and notAfter, counted the same way on both sides of it
    (truncated toward zero): 10 days and 3 hours left is 10, expired 10 days and 3 hours
    ago is -10, never -11; expired 3 hours ago is 0."""
    if facts.not_after is None:
        return None
    return days_left_of(facts.not_after, now)


def measured_days(days: int | None, *, expired: bool = False) -> str:
    if days is None:
        return "no certificate"
    if expired and days == 0:
        return "expired today"
    return f"{days} day{'' if days == 1 else 's'} left"


def _in_days(days: int) -> str:
    """`5 days`, `1 day`; hours left read "less than a day", as hours past read "expired less
    than a day ago" (round 18c: "expires in 0 days" beside "expired today")."""
    if days == 0:
        return "less than a day"
    return f"{days} day{'s' if days != 1 else ''}"


def _shown(text: str | None) -> str:
    return excerpt(text or "", NAME_CHARS)


def check_certificate(target: TlsTarget, facts: TlsFacts, now: datetime | None = None) -> Verdict:
    """Verified chain, a name matching the host, and at least `min_days_left` days left, for
    every certificate the server serves: the one a client offering everything gets, and each
    one it hands to clients offering only one key type (round 36c). A problem of another
    certificate names its kind; the measured value is the fewest days left of them all."""
    now = now or datetime.now(UTC)
    first = _check_one(target, facts, now)
    if facts.only_tls13 and facts.error is None:
        # said, not silent (round 38c): a TLS 1.3-only server may hold a certificate per
        # key type, and Python's ssl cannot offer TLS 1.3 only some signature algorithms
        first = replace(first, measured=f"{first.measured} · {ONE_READ_TLS13}")
    if facts.error is None:
        first = replace(first, measured=first.measured + _nodes_said(facts))
    if facts.addresses_problem:
        first = replace(first, problems=(*first.problems, facts.addresses_problem))
    if facts.unread_addresses:
        unread = (
            f"{len(facts.unread_addresses)} more address(es) of the host not read (at most "
            f"{MAX_ADDRESSES} are): {excerpt(', '.join(facts.unread_addresses), 200)}"
        )
        first = replace(first, problems=(*first.problems, unread))
    if not facts.also_served:
        return first
    checked = [(facts, first)] + [(o, _check_one(target, o, now)) for o in facts.also_served]
    problems = list(first.problems)
    details = [first.detail] if first.detail else []
    for other, verdict in checked[1:]:  # cut-ok: a list of verdicts
        served = _served_to(other)
        problems.extend(f"{served}: {problem}" for problem in verdict.problems)
        if verdict.detail:
            details.append(f"{served}: {verdict.detail}")
    read = [pair for pair in checked if days_left(pair[0], now) is not None]
    distinct = [f for f, _ in read if not f.answered_otherwise]
    if len(distinct) > 1:
        kinds = ", ".join(_kind_of(f) for f in distinct)
        details.append(f"the server holds {len(distinct)} certificates ({kinds}), each judged")
    soonest = min(read or checked, key=lambda pair: days_left(pair[0], now) or 0)
    return Verdict(
        problems=tuple(problems),
        measured=soonest[1].measured,
        detail="; ".join(details) if problems else "",
        verified=all(verdict.verified for _, verdict in checked) or len(problems) > 1,
    )


ONE_READ_TLS13 = "TLS 1.3 only: one certificate read"


def _nodes_said(facts: TlsFacts) -> str:
    """What the measured value says of nodes not read whole, never silent: those that took
    no connection serve no certificate (an IPv4-only runner and a dual-stack name; an AAAA
    record with nothing listening); a TLS 1.3-only node had one certificate read."""
    said = ""
    if facts.unreached_addresses:
        said += f" · took no connection: {excerpt(', '.join(facts.unreached_addresses), 200)}"
    if facts.tls13_only_addresses:
        shown = excerpt(", ".join(facts.tls13_only_addresses), 200)
        said += f" · at {shown}, {ONE_READ_TLS13}"
    return said


def _served_to(facts: TlsFacts) -> str:
    node = f"{excerpt(facts.address, 60)} (another address of the host)"
    kind = facts.narrowed_to
    if not kind:  # another address's own certificate (round 48b F1)
        if facts.not_after is None:
            return f"the handshake with {node}"
        if facts.answered_otherwise:
            return f"the same certificate served at {node} with another chain"
        return f"the certificate served at {node}"
    at = f" at {node}" if facts.address else ""
    if facts.answered_otherwise:
        return (
            f"the same certificate, on a handshake offering only {kind} (TLS 1.2){at}, judged "
            "otherwise: the server answers differently from one connection to the next"
        )
    if facts.not_after is None:  # nothing read: no certificate of that kind was seen
        return f"the handshake offering only {kind} (TLS 1.2){at}"
    return f"the {kind} certificate (served to clients offering only {kind}, TLS 1.2){at}"


def _kind_of(facts: TlsFacts) -> str:
    kind = facts.narrowed_to or facts.key_kind or "one of an unknown key"
    at = f" at {excerpt(facts.address, 60)}" if facts.address else ""
    if not facts.narrowed_to:
        return f"{kind}{at}" if at else f"{kind} to clients offering every key type"
    return f"{kind} to clients offering only {kind}{at}"


def _check_one(target: TlsTarget, facts: TlsFacts, now: datetime) -> Verdict:
    """One certificate's verdict (`check_certificate` for all the server's)."""
    if facts.error is not None or facts.not_after is None:
        return Verdict(
            problems=(excerpt(facts.error or "no certificate", 1000),),
            measured=measured_days(None) if facts.attempted else "not run",
            verified=facts.attempted,
        )
    days = days_left(facts, now)
    assert days is not None
    expired = facts.not_after <= now
    measured = measured_days(days, expired=expired)
    until = facts.not_after.strftime("%Y-%m-%d")
    problems: list[str] = []
    if expired or facts.verify_code == CERT_HAS_EXPIRED:
        ago = max(-days, 0)
        if not expired:  # the verification says expired, and the server's own is not
            problems.append(_expired_above(facts, until, days, now))
            measured = "a CA of the chain expired"  # not the server's own days (round 16)
        elif ago:
            problems.append(f"certificate expired {ago} day{'s' if ago != 1 else ''} ago ({until})")
        else:
            problems.append(f"certificate expired less than a day ago ({until})")
    elif days < target.min_days_left:
        problems.append(
            f"certificate expires in {_in_days(days)} ({until}), less than min_days_left "
            f"{target.min_days_left}"
        )
    soonest = min(facts.verified_above, key=lambda ca: ca.not_after, default=None)
    if soonest is not None and soonest.not_after < facts.not_after:
        ca_days = days_left_of(soonest.not_after, now)
        if ca_days < target.min_days_left:
            problems.append(
                f"the CA certificate '{_shown(soonest.subject)}' of the chain expires in "
                f"{_in_days(ca_days)} "
                f"({soonest.not_after:%Y-%m-%d}), before the server's own, less than "
                f"min_days_left {target.min_days_left}"
            )
            measured = measured_days(min(days, ca_days))
    if facts.not_before is not None and facts.not_before > now:
        problems.append(f"certificate not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC")
    elif facts.verify_code == CERT_NOT_YET_VALID:
        problems.append(_not_yet_valid_above(facts, now))
    if not facts.name_matches or facts.verify_code in (HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH):
        valid_for = _shown(", ".join(facts.names)) or "no names"
        problems.append(
            f"wrong host name: the certificate is for {valid_for}, not {facts.server_name}"
            + (
                _IP_RULE
                if not facts.name_matches and _is_ip_address(facts.server_name)
                else _WILDCARD_RULE
                if not facts.name_matches and _near_wildcard(facts.names, facts.server_name)
                else ""
                if not facts.name_matches
                else " (the TLS verification refused the name: a wildcard covers one label "
                f"left of at least two, and an IP address only an IP entry; {_OTHER_BACKEND})"
            )
        )
    if not facts.verified:
        # a self-signed certificate that failed for another reason (expired, wrong name) is
        # trusted where it is pinned (round 15: it was told to "issue it from a CA" too)
        if facts.self_signed and facts.verify_code in (
            None,
            DEPTH_ZERO_SELF_SIGNED,
            SELF_SIGNED_IN_CHAIN,
        ):
            problems.append(
                f"self-signed certificate ('{_shown(facts.subject)}'): no CA vouches for it; "
                "issue it from a CA (add it to ca_bundle: only if it is pinned on purpose)"
            )
        elif facts.verify_code in _WEAK_CRYPTOGRAPHY:
            problems.append(
                f"{_WEAK_CRYPTOGRAPHY[facts.verify_code]} (the TLS verification: "
                f"{_shown(facts.verify_message)})"
            )
        elif _property_advice(facts):
            problems.append(
                f"{_property_advice(facts)} (the TLS verification: {_shown(facts.verify_message)})"
            )
        elif facts.verify_code in UNTRUSTED_ISSUER_CODES or facts.issuer_signed is False:
            problems.append(_untrusted_issuer(facts))
        elif not problems:
            problems.append(f"certificate verification failed: {_shown(facts.verify_message)}")
    judged = not facts.chain_unjudged
    if not judged:
        problems.append(f"{facts.chain_unjudged}, so the chain's days left cannot be judged")
    detail = f"subject {_shown(facts.subject)}, issuer {_shown(facts.issuer)}, valid until {until}"
    return Verdict(
        problems=tuple(problems),
        measured=measured,
        detail=detail if problems else "",
        # a CA never read could not fail the case: verified nothing, unless it fails anyway
        verified=judged or len(problems) > 1,
    )


# round 17c: `*.localhost` for `a.localhost` failed with no word on why
_WILDCARD_RULE = (
    " (a wildcard covers exactly one label, left of at least two others: `*.example.com` "
    "covers `a.example.com`, not `example.com` nor `a.b.example.com`, and `*.localhost` "
    "covers nothing)"
)


# round 22c: `*.0.0.1` checked for `127.0.0.1` got the wildcard rule, which is not the one
_IP_RULE = (
    " (an IP address is matched by an IP entry of the certificate's subjectAltName only, "
    "never by a DNS name or a wildcard)"
)


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _near_wildcard(names: tuple[str, ...], host: str) -> bool:
    """A wildcard of the certificate is about this host (`*.localhost` and `a.localhost`
    or `localhost`), yet did not cover it: the rule is worth saying."""
    wanted = host.rstrip(".").lower()
    return any(
        name.startswith("*.")
        and (wanted == name[2:] or wanted.endswith(name[1:]))  # cut-ok: compared
        for name in (n.lower() for n in names)
    )


def _expired_above(facts: TlsFacts, until: str, days: int, now: datetime) -> str:
    """The verification says expired and the server's own certificate is not: a CA above it
    is (round 14: this was blamed on the machine's clock, the expired CA never named)."""
    own = f"the server's own certificate is valid until {until} ({days} days)"
    for ca in facts.sent_above:
        if ca.not_after <= now:
            ago = max(-days_left_of(ca.not_after, now), 0)
            when = f"{ago} day{'' if ago == 1 else 's'} ago" if ago else "less than a day ago"
            return (
                f"the CA certificate '{_shown(ca.subject)}' the server sends in its chain "
                f"expired {when} ({ca.not_after:%Y-%m-%d}); {own}: serve a current intermediate"
            )
    if facts.chain_read:
        return f"{_unsent_ca(facts)} has expired; {own}; {_OTHER_BACKEND}"
    return (
        f"certificate expired according to the TLS verification, though its notAfter "
        f"({until}) is {days} days away by this machine's clock"
    )


def _not_yet_valid_above(facts: TlsFacts, now: datetime) -> str:
    """As `_expired_above`, for a CA not valid yet (the leaf's own date was shown, past)."""
    for ca in facts.sent_above:
        if ca.not_before > now:
            return (
                f"the CA certificate '{_shown(ca.subject)}' the server sends in its chain is "
                f"not valid before {ca.not_before:%Y-%m-%d %H:%M} UTC"
            )
    if facts.chain_read:
        return f"{_unsent_ca(facts)} is not valid yet"
    when = f" ({facts.not_before:%Y-%m-%d %H:%M} UTC)" if facts.not_before else ""
    return f"certificate not valid yet according to the TLS verification{when}"


def _unsent_ca(facts: TlsFacts) -> str:
    """The CA a failed verification met that the chain read again does not hold."""
    return (
        "a CA certificate above the server's, not among those it sends (its root, from "
        f"{facts.trusted_by or 'the trust store'}),"
    )


# Round 18c: a certificate its right intermediate signed with SHA-1 was said to be signed by
# "a wrong or outdated intermediate" (cryptography will not check a SHA-1 signature at all).
_WEAK_CRYPTOGRAPHY = {
    CA_MD_TOO_WEAK: (
        "a certificate of the chain is signed with a digest too weak to be trusted (SHA-1 or "
        "MD5): reissue it signed with SHA-256"
    ),
    EE_KEY_TOO_SMALL: (
        "the certificate's key is too weak to be trusted (RSA or DSA under 2048 bits): "
        "reissue it with a 2048-bit RSA or an EC key"
    ),
    CA_KEY_TOO_SMALL: (
        "a CA certificate of the chain has a key too weak to be trusted (RSA or DSA under "
        "2048 bits): serve a chain of CAs with 2048-bit RSA or EC keys"
    ),
}


# Round 28c: failures of a certificate's own properties read as OpenSSL's bare words, and the
# HTTPS check's hint said to set ca_bundle, which fixes none of them. What each means and
# what fixes it, for both checks (by OpenSSL's code here, by its words in `rules.hints`).
CERTIFICATE_PROPERTY_ADVICE = {
    INVALID_PURPOSE: (
        "unsuitable certificate purpose",
        "a certificate of the chain is not made for a TLS server (its extendedKeyUsage lacks "
        "serverAuth, or its keyUsage forbids the handshake's signature): reissue it for "
        "serverAuth",
    ),
    INVALID_CA: (
        "invalid CA certificate",
        "a certificate of the chain signs others without being a CA (basicConstraints CA:FALSE "
        "or none): serve the intermediate the CA issued, not a leaf",
    ),
    PATH_LENGTH_EXCEEDED: (
        "path length constraint exceeded",
        "the chain has more CAs below one than its pathLenConstraint allows: reissue from the "
        "CA the constraint allows",
    ),
    PERMITTED_VIOLATION: (
        "permitted subtree violation",
        "a CA of the chain is name-constrained and the certificate names a host outside what "
        "it may name: reissue from a CA that may name it",
    ),
    EXCLUDED_VIOLATION: (
        "excluded subtree violation",
        "a CA of the chain is name-constrained and the certificate names a host it must not "
        "name: reissue from a CA that may name it",
    ),
    UNHANDLED_CRITICAL_EXTENSION: (
        "unhandled critical extension",
        "a certificate of the chain has an extension marked critical that TLS clients do not "
        "know, so they must refuse it: reissue it without that extension",
    ),
    CERT_REJECTED: (
        "certificate rejected",
        "the trust file marks the CA as rejected for TLS servers, or trusts it for other "
        "purposes only (an OpenSSL TRUSTED CERTIFICATE's trust settings): the trust file is "
        "the cause, not the server: give the CA as a plain certificate",
    ),
    UNABLE_TO_GET_ISSUER: (
        "unable to get issuer certificate",
        "the trust file holds a CA of the chain but not the root above it (an intermediate "
        "alone is no trust anchor for OpenSSL): put the root CA in the trust file",
    ),
}


# OpenSSL's words for the weak-cryptography codes, as an HTTPS check's error quotes them
_WEAK_WORDS = {
    CA_MD_TOO_WEAK: "ca md too weak",
    EE_KEY_TOO_SMALL: "EE certificate key too weak",
    CA_KEY_TOO_SMALL: "CA certificate key too weak",
}


def _property_advice(facts: TlsFacts) -> str:
    """What a failure of a certificate's own property means, by OpenSSL's code, or by its
    words (OpenSSL 3 reports a CA:FALSE intermediate under more than one code)."""
    if facts.verify_code in CERTIFICATE_PROPERTY_ADVICE:
        return CERTIFICATE_PROPERTY_ADVICE[facts.verify_code][1]
    said = facts.verify_message or ""
    return next(
        (advice for words, advice in CERTIFICATE_PROPERTY_ADVICE.values() if words == said), ""
    )


def certificate_hints() -> tuple[tuple[str, str], ...]:
    """(OpenSSL's words in a failed verification, what fixes it), for the HTTPS check's
    hint: the same advice the TLS check gives by code."""
    weak = ((words, _WEAK_CRYPTOGRAPHY[code]) for code, words in _WEAK_WORDS.items())
    return (*CERTIFICATE_PROPERTY_ADVICE.values(), *weak)


def _untrusted_issuer(facts: TlsFacts) -> str:
    """Which link of the chain is missing or untrusted, from what the server sent: no
    certificate for the issuer (the most common TLS mistake: cert.pem served instead of
    fullchain.pem) was read as "a private CA" (round 14)."""
    by = f" by {facts.trusted_by}" if facts.trusted_by else ""
    issuer = _shown(facts.issuer)
    if not facts.chain_read:
        return f"issued by '{issuer}', which is not trusted{by}; {CA_HINT}"
    if facts.issuer_signed is False:
        return (
            f"the certificate the server sends for its issuer '{issuer}' did not sign its "
            "certificate (a wrong or outdated intermediate): serve the intermediate that "
            "issued it"
        )
    if facts.issuer_signed is None:
        return (
            f"issued by '{issuer}', and the server sends no certificate for it, nor is it "
            f"trusted{by}: if '{issuer}' is an intermediate CA, the server must send it "
            "(serve the full chain, such as fullchain.pem, not the certificate alone); if it "
            "is a private root CA, point ca_bundle: at its PEM bundle"
        )
    top = facts.sent_above[-1] if facts.sent_above else None
    ends = _shown(top.issuer) if top else issuer
    return f"the chain the server sends ends at '{ends}', which is not trusted{by}; {CA_HINT}"


def days_left_of(moment: datetime, now: datetime) -> int:
    """Whole days from now to `moment`, truncated toward zero on both sides of it."""
    return math.trunc((moment - now).total_seconds() / 86400)


# When the verification's finding and the certificate read again disagree: a second
# connection may reach another backend (round 16: two backends behind one address, one not
# renewed, and the message blamed a root valid for 3 000 more days).
_OTHER_BACKEND = (
    "or the address serves more than one certificate (backends behind one balancer) and the "
    "one verified is not the one read again"
)
