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
from smokegate.verdict import Verdict

CA_HINT = "for a private CA, point ca_bundle: at its PEM bundle"


def days_left(facts: TlsFacts, now: datetime) -> int | None:
    """Whole days until notAfter, rounded down (negative once expired)."""
    if facts.not_after is None:
        return None
    return math.floor((facts.not_after - now).total_seconds() / 86400)


def measured_days(days: int | None) -> str:
    return "no certificate" if days is None else f"{days} days left"


def check_certificate(target: TlsTarget, facts: TlsFacts, now: datetime | None = None) -> Verdict:
    """Verified chain, a name matching the host, and at least `min_days_left` days left."""
    now = now or datetime.now(UTC)
    if facts.error is not None or facts.not_after is None:
        return Verdict(problems=(facts.error or "no certificate",), measured=measured_days(None))
    days = math.floor((facts.not_after - now).total_seconds() / 86400)
    measured = measured_days(days)
    until = facts.not_after.strftime("%Y-%m-%d")
    problems: list[str] = []
    if days < 0 or facts.verify_code == CERT_HAS_EXPIRED:
        ago = max(-days, 0)
        problems.append(f"certificate expired {ago} day{'s' if ago != 1 else ''} ago ({until})")
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
        valid_for = ", ".join(facts.names) or "no names"
        problems.append(
            f"wrong host name: the certificate is for {valid_for}, not {facts.server_name}"
        )
    if not facts.verified:
        if facts.self_signed:
            problems.append(
                f"self-signed certificate ('{facts.subject}'): no CA vouches for it; issue it "
                "from a CA (add it to ca_bundle: only if it is pinned on purpose)"
            )
        elif facts.verify_code in UNTRUSTED_ISSUER_CODES:
            problems.append(f"issued by '{facts.issuer}', which is not trusted; {CA_HINT}")
        elif not problems:
            problems.append(f"certificate verification failed: {facts.verify_message}")
    detail = f"subject {facts.subject}, issuer {facts.issuer}, valid until {until}"
    return Verdict(problems=tuple(problems), measured=measured, detail=detail if problems else "")
