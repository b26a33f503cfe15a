"""Certificate rules on `TlsFacts`: chain, name and expiry, each with its own message.

Every problem found is listed (an expired certificate for the wrong name says
both), and the measured value is always the days left, so the report's column
sorts the certificates that need attention first. `now` is a parameter so the
boundaries are unit-tested on hand-built facts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from smokegate.config import TlsTarget
from smokegate.facts.tls import (
    CERT_HAS_EXPIRED,
    CERT_NOT_YET_VALID,
    HOSTNAME_MISMATCH,
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
    return math.trunc((facts.not_after - now).total_seconds() / 86400)


def measured_days(days: int | None, *, expired: bool = False) -> str:
    if days is None:
        return "no certificate"
    if expired and days == 0:
        return "expired today"
    return f"{days} day{'' if days == 1 else 's'} left"


def _shown(text: str | None) -> str:
    return excerpt(text or "", NAME_CHARS)


def check_certificate(target: TlsTarget, facts: TlsFacts, now: datetime | None = None) -> Verdict:
    """Verified chain, a name matching the host, and at least `min_days_left` days left."""
    now = now or datetime.now(UTC)
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
        if not expired:  # the verification says expired, this clock disagrees: say both
            problems.append(
                f"certificate expired according to the TLS verification, though its notAfter "
                f"({until}) is {days} days away by this machine's clock"
            )
        elif ago:
            problems.append(f"certificate expired {ago} day{'s' if ago != 1 else ''} ago ({until})")
        else:
            problems.append(f"certificate expired less than a day ago ({until})")
    elif days < target.min_days_left:
        problems.append(
            f"certificate expires in {days} day{'s' if days != 1 else ''} ({until}), "
            f"less than min_days_left {target.min_days_left}"
        )
    if facts.not_before is not None and (
        facts.not_before > now or facts.verify_code == CERT_NOT_YET_VALID
    ):
        problems.append(f"certificate not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC")
    if not facts.name_matches or facts.verify_code == HOSTNAME_MISMATCH:
        valid_for = _shown(", ".join(facts.names)) or "no names"
        problems.append(
            f"wrong host name: the certificate is for {valid_for}, not {facts.server_name}"
        )
    if not facts.verified:
        if facts.self_signed:
            problems.append(
                f"self-signed certificate ('{_shown(facts.subject)}'): no CA vouches for it; "
                "issue it from a CA (add it to ca_bundle: only if it is pinned on purpose)"
            )
        elif facts.verify_code in UNTRUSTED_ISSUER_CODES:
            by = f" by {facts.trusted_by}" if facts.trusted_by else ""
            problems.append(
                f"issued by '{_shown(facts.issuer)}', which is not trusted{by}; {CA_HINT}"
            )
        elif not problems:
            problems.append(f"certificate verification failed: {_shown(facts.verify_message)}")
    detail = f"subject {_shown(facts.subject)}, issuer {_shown(facts.issuer)}, valid until {until}"
    return Verdict(problems=tuple(problems), measured=measured, detail=detail if problems else "")
