"""Security response headers against the OWASP secure-headers baseline.

One case per endpoint lists every missing or weak header at once, so a team fixes
them in one change instead of discovering them one failing run at a time. An
endpoint's `security_headers: [names]` restricts the baseline to those headers
(e.g. an API that serves no HTML has no use for X-Frame-Options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from smokegate import linear_re
from smokegate.config import SECURITY_HEADERS, Endpoint
from smokegate.facts.http import ProbeResult
from smokegate.redact import excerpt
from smokegate.rules.health import no_response
from smokegate.verdict import Verdict

HSTS_MIN_MAX_AGE = 31_536_000  # one year, the OWASP / hstspreload.org minimum
WEAK_REFERRER_POLICIES = ("unsafe-url", "no-referrer-when-downgrade")
_MAX_AGE = linear_re.compile(r"(?i)(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?")
_VERSION = linear_re.compile(r"\d+(?:\.\d+)+|/\s*v?\d")
_FRAME_ANCESTORS = linear_re.compile(r"(?i)(?:^|;)\s*frame-ancestors\b")
VALUE_CHARS = 120


def _shown(value: str) -> str:
    """A header value as a message quotes it: the server's text, scrubbed, then cut."""
    return excerpt(value, VALUE_CHARS)


def _hsts(result: ProbeResult) -> str | None:
    value = result.headers.get("Strict-Transport-Security")
    if value is None:
        return f"Strict-Transport-Security missing (want max-age={HSTS_MIN_MAX_AGE} or more)"
    match = _MAX_AGE.search(value)
    if match is None:
        return f"Strict-Transport-Security '{_shown(value)}' has no max-age"
    digits = match.group(1)
    # beyond 18 digits it is far above a year (and int() refuses 4 300+ digit strings)
    if len(digits) <= 18 and int(digits) < HSTS_MIN_MAX_AGE:
        return (
            f"Strict-Transport-Security max-age={excerpt(digits, 40)} is below "
            f"{HSTS_MIN_MAX_AGE} (one year)"
        )
    return None


def _nosniff(result: ProbeResult) -> str | None:
    value = result.headers.get("X-Content-Type-Options")
    if value is None:
        return "X-Content-Type-Options missing (want nosniff)"
    if value.strip().lower() != "nosniff":
        return f"X-Content-Type-Options is '{_shown(value)}', want nosniff"
    return None


def _framing(result: ProbeResult) -> str | None:
    value = result.headers.get("X-Frame-Options")
    csp = result.headers.get("Content-Security-Policy", "")
    if _FRAME_ANCESTORS.search(csp):
        return None  # CSP frame-ancestors supersedes X-Frame-Options
    if value is None:
        return "X-Frame-Options missing and no CSP frame-ancestors (clickjacking)"
    if value.strip().upper() not in ("DENY", "SAMEORIGIN"):
        return (
            f"X-Frame-Options is '{_shown(value)}', want DENY or SAMEORIGIN "
            "(or CSP frame-ancestors)"
        )
    return None


def _csp(result: ProbeResult) -> str | None:
    value = result.headers.get("Content-Security-Policy")
    if value is not None and value.strip():
        return None
    if result.headers.get("Content-Security-Policy-Report-Only"):
        return "Content-Security-Policy only in report-only mode (not enforced)"
    return "Content-Security-Policy missing"


def _referrer(result: ProbeResult) -> str | None:
    value = result.headers.get("Referrer-Policy")
    if value is None or not value.strip():
        return "Referrer-Policy missing (want no-referrer or strict-origin-when-cross-origin)"
    # The browser uses the last policy it understands in a comma-separated list.
    last = value.split(",")[-1].strip().lower()  # cut-ok: compared, never shown
    if last in WEAK_REFERRER_POLICIES:
        return f"Referrer-Policy '{_shown(value)}' leaks full URLs to other origins"
    return None


def _no_version(header: str) -> Callable[[ProbeResult], str | None]:
    def check(result: ProbeResult) -> str | None:
        value = result.headers.get(header)
        if value is not None and _VERSION.search(value):
            return f"{header} '{_shown(value)}' reveals a version"
        return None

    return check


CHECKS: dict[str, Callable[[ProbeResult], str | None]] = {
    "strict-transport-security": _hsts,
    "x-content-type-options": _nosniff,
    "x-frame-options": _framing,
    "content-security-policy": _csp,
    "referrer-policy": _referrer,
    "server": _no_version("Server"),
    "x-powered-by": _no_version("X-Powered-By"),
}


def selected_headers(setting: bool | Sequence[str]) -> tuple[str, ...]:
    """`true` means the whole baseline; a list restricts it (names case-insensitive)."""
    if setting is True:
        return SECURITY_HEADERS
    if not setting:
        return ()
    wanted = {name.lower() for name in setting}
    return tuple(name for name in SECURITY_HEADERS if name in wanted)


def check_security_headers(endpoint: Endpoint, result: ProbeResult) -> Verdict:
    """Every missing or weak header of the endpoint's response; measured = headers passing."""
    names = selected_headers(endpoint.security_headers)
    if result.status is None:
        return no_response(result, "no response")
    problems = [p for p in (CHECKS[name](result) for name in names) if p is not None]
    measured = f"{len(names) - len(problems)}/{len(names)} headers ok"
    return Verdict(problems=tuple(problems), measured=measured)
