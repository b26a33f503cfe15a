"""Security response headers against the OWASP secure-headers baseline.

One case per endpoint lists every missing or weak header at once, so a team fixes
them in one change instead of discovering them one failing run at a time. An
endpoint's `security_headers: [names]` restricts the baseline to those headers
(e.g. an API that serves no HTML has no use for X-Frame-Options).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from smokegate import linear_re
from smokegate.config import SECURITY_HEADERS, Endpoint
from smokegate.facts.http import ProbeResult
from smokegate.redact import excerpt
from smokegate.rules.health import no_response, other_host
from smokegate.verdict import Verdict

HSTS_MIN_MAX_AGE = 31_536_000  # one year, the OWASP / hstspreload.org minimum
WEAK_REFERRER_POLICIES = ("unsafe-url", "no-referrer-when-downgrade")
REFERRER_POLICIES = (  # the W3C Referrer Policy tokens
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
_VERSION = linear_re.compile(r"\d+(?:\.\d+)+|/\s*v?\d")
VALUE_CHARS = 120


# What browsers trim and split header values on: HTTP's optional whitespace (SP, HTAB;
# RFC 9110 §5.6.3), and for CSP ASCII whitespace (SP, HTAB, LF, FF, CR). Python's own
# `strip()`/`split()` take Unicode blanks too: `DENY\xa0` and `frame-ancestors\xa0'none'`
# read as good values while browsers ignore them, and any site could frame the page
# (round 37c).
_HTTP_BLANKS = " \t"
_CSP_BLANKS = " \t\n\f\r"
_TO_SPACE = str.maketrans(dict.fromkeys(_CSP_BLANKS, " "))


def _trim(text: str) -> str:
    return text.strip(_HTTP_BLANKS)


def _csp_words(text: str) -> list[str]:
    return [word for word in text.translate(_TO_SPACE).split(" ") if word]


def _csp_directives(policy: str) -> list[list[str]]:
    """A policy's directives as browsers parse them (CSP3 §2.2.1): split on `;`, each one's
    words, a directive that is not ASCII skipped whole (round 38c: `frame-ancestors 'none'`
    ending in a non-breaking space, or naming `https://bücher.example`, protected nothing
    in Chromium and passed). A directive named again is ignored, as browsers ignore it:
    a wide-open `script-src` passed beside a strict one after it (round 46c F7)."""
    seen: set[str] = set()
    directives = []
    for directive in policy.split(";"):
        words = _csp_words(directive) if directive.isascii() else []
        if words and words[0].lower() not in seen:
            seen.add(words[0].lower())
            directives.append(words)
    return directives


# CSP directives that restrict something (CSP Level 3 and those browsers still enforce);
# `report-uri`, `report-to` and names browsers do not know restrict nothing (round 37c: a
# policy of only `report-uri /csp` passed), nor do `upgrade-insecure-requests` (it rewrites
# URLs) and the deprecated `block-all-mixed-content` (round 38c).
RESTRICTING_DIRECTIVES = frozenset(
    {
        "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src",
        "style-src-elem", "style-src-attr", "img-src", "font-src", "connect-src",
        "media-src", "object-src", "frame-src", "child-src", "worker-src", "manifest-src",
        "fenced-frame-src", "base-uri", "form-action", "frame-ancestors", "sandbox",
        "require-trusted-types-for", "trusted-types", "webrtc",
    }
)  # fmt: skip


def _shown(value: str) -> str:
    """A header value as a message quotes it: the server's text, scrubbed, then cut."""
    return excerpt(value, VALUE_CHARS)


def _hsts(result: ProbeResult) -> str | None:
    # the first field only (RFC 6797 §8.1: "process only the first such header field";
    # Chromium keeps them apart for it): an app's typo'd line before its proxy's good one
    # passed, read joined, and an app's good line before its proxy's failed (round 47c F1)
    value = result.headers.first("Strict-Transport-Security")
    plain = (result.final_url or result.url).lower().startswith("http:")
    if value is None and plain:  # round 38c: the advice of the header's case holds here too
        return (
            "Strict-Transport-Security missing, and browsers ignore it over plain http:// "
            "anyway (RFC 6797 §8.1): check the https:// URL"
        )
    if value is None:
        return f"Strict-Transport-Security missing (want max-age={HSTS_MIN_MAX_AGE} or more)"
    if plain:
        return (
            "Strict-Transport-Security over plain http:// is ignored by browsers "
            "(RFC 6797 §8.1): check the https:// URL"
        )
    ages = _hsts_max_ages(value)
    if ages is None:
        return (
            f"Strict-Transport-Security '{_shown(value)}' is not valid (max-age or "
            "includeSubDomains twice, a max-age that is not a number, a value on "
            "includeSubDomains, a directive or value that is no token, or a quote not "
            "closed): browsers "
            "ignore the whole header" + _first_of_several(result, "Strict-Transport-Security")
        )
    if not ages:
        return f"Strict-Transport-Security '{_shown(value)}' has no max-age" + (
            _first_of_several(result, "Strict-Transport-Security")
        )
    # a number as Chromium reads it, leading zeros and all (51c F1: 19 zeros passed as
    # "far above a year"; browsers read 0, which deletes the host's HSTS)
    digits = ages[0].lstrip("0") or "0"
    # beyond 18 digits it is far above a year (and int() refuses 4 300+ digit strings)
    if len(digits) <= 18 and int(digits) < HSTS_MIN_MAX_AGE:
        return (
            f"Strict-Transport-Security max-age={excerpt(digits, 40)} is below "
            f"{HSTS_MIN_MAX_AGE} (one year)"
        )
    return None


def _first_of_several(result: ProbeResult, name: str) -> str:
    """Why a later field of `name` does not count, when there is one."""
    if result.headers.get(name) == result.headers.first(name):
        return ""
    return f" (the first of several {name} fields: browsers heed the first alone)"


_TOKEN = linear_re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token


def _hsts_max_ages(value: str) -> list[str] | None:
    """The max-age digits as Chromium reads them (`ParseHSTSHeader`, RFC 6797 §6.1), or
    None when the header is invalid and browsers ignore it: max-age or includeSubDomains
    twice (an unknown directive may repeat), max-age not a number, bare or quoted, a value
    on includeSubDomains (47c F1), a name or unquoted value that is no token (49c F3), a
    quoted value not closed or with a bare quote inside (50c F2). A `;` inside quotes
    separates nothing (50c F1)."""
    seen: set[str] = set()
    ages: list[str] = []
    for part in _outside_quotes_split(value, ";"):
        if not _trim(part):
            continue
        raw_name, eq, raw_value = part.partition("=")
        name, value_text = _trim(raw_name), _trim(raw_value)
        if not name or '"' in name or (eq and not value_text):
            return None
        quoted = value_text.startswith('"')
        unquoted = _strict_unquote(value_text) if quoted else value_text
        if unquoted is None or not _TOKEN.fullmatch(name):
            return None
        key = name.lower()
        if key in seen and key in ("max-age", "includesubdomains"):
            return None
        seen.add(key)
        if key == "includesubdomains" and eq:
            return None
        if key == "max-age":
            if not eq or not unquoted.isascii() or not unquoted.isdigit():
                return None
            ages.append(unquoted)
        elif eq and not quoted and not _TOKEN.fullmatch(unquoted):
            return None
    return ages


def _outside_quotes_split(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` outside a quoted-string (RFC 9110, section 5.6.4: inside
    one, a backslash escapes the next character)."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = escaped = False
    for char in text:
        if in_quotes:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _strict_unquote(text: str) -> str | None:
    """A quoted-string's content, or None when it is none: not closed, a bare `"` inside, or
    a backslash escaping nothing (Chromium's `StrictUnquote`)."""
    if len(text) < 2 or not text.endswith('"'):
        return None
    content: list[str] = []
    escaped = False
    for char in text[1:-1]:  # cut-ok: a quoted-string's own quotes
        if escaped:
            content.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return None
        else:
            content.append(char)
    return None if escaped else "".join(content)


def _nosniff(result: ProbeResult) -> str | None:
    value = result.headers.get("X-Content-Type-Options")
    if value is None:
        return "X-Content-Type-Options missing (want nosniff)"
    # the header sent twice (an app and its proxy) reads `nosniff, nosniff` (round 36c)
    if {_trim(item).lower() for item in value.split(",")} != {"nosniff"}:
        return f"X-Content-Type-Options is '{_shown(value)}', want nosniff"
    return None


def _framing(result: ProbeResult) -> str | None:
    value = result.headers.get("X-Frame-Options")
    # several policies (an app's and its proxy's, joined by commas) are all enforced: a
    # frame is allowed only where every frame-ancestors allows it, and any frame-ancestors
    # makes browsers ignore X-Frame-Options (round 36c)
    directives = [
        sources
        for policy in result.headers.get("Content-Security-Policy", "").split(",")
        for sources in [_frame_ancestors(policy)]
        if sources is not None
    ]
    if directives:
        if all(_lets_any_site_frame(sources) for sources in directives):
            shown = _shown(", ".join(" ".join(sources) for sources in directives))
            return (
                f"CSP frame-ancestors '{shown}' lets any site frame the page (clickjacking; "
                "browsers then ignore X-Frame-Options): want 'none', 'self' or named origins"
            )
        return None
    if value is None:
        return "X-Frame-Options missing and no CSP frame-ancestors (clickjacking)"
    # HTML's "check a navigation response's adherence to X-Frame-Options": sent twice alike
    # (`SAMEORIGIN, SAMEORIGIN`) it is one value (round 36c); two values, one of them a
    # keyword, refuse every frame (an app's DENY beside its proxy's SAMEORIGIN failed,
    # round 47c F2); two values with no keyword allow every frame
    items = {_trim(item).lower() for item in value.split(",")}
    if len(items) > 1 and items & {"deny", "allowall", "sameorigin"}:
        return None
    if len(items) != 1 or not items <= {"deny", "sameorigin"}:
        return (
            f"X-Frame-Options is '{_shown(value)}', want DENY or SAMEORIGIN "
            "(or CSP frame-ancestors)"
        )
    return None


def _lets_any_site_frame(sources: list[str]) -> bool:
    """`*`, a bare scheme, any host of a scheme (`https://*`), a wildcard host (`*.x`)
    among the sources; `https://*.example.com` names one site's subdomains."""

    def any_host(source: str) -> bool:
        host = source.partition("://")[2]  # cut-ok: compared, never shown
        name = host.partition("/")[0].partition(":")[0]  # cut-ok: compared, never shown
        # `*.com` under a scheme is every site of a top-level domain (round 37c: Chromium
        # let `https://*.localhost` frame from any subdomain); without the Public Suffix
        # List, `*.co.uk` is taken as one site's subdomains (docs/auth-tls.md)
        return name == "*" or (name.startswith("*.") and "." not in name[2:])  # cut-ok: compared

    return any(
        source in ("*", "http:", "https:") or source.startswith("*") or any_host(source)
        for source in sources
    )


def _frame_ancestors(csp: str) -> list[str] | None:
    """The sources of one policy's `frame-ancestors` directive (its exact name: a
    `frame-ancestors-x` is an unknown directive, and protects nothing), or None."""
    for tokens in _csp_directives(csp):
        if tokens[0].lower() == "frame-ancestors":
            return [t.lower() for t in tokens[1:]]  # cut-ok: compared, shown through _shown
    return None


# Sources that let in every host, and the directives for which a source list is also about
# inline code (a host wildcard there still blocks inline script, unless 'unsafe-inline')
_ANY_HOST = frozenset(
    {"*", "http:", "https:", "*:*", "http://*", "https://*", "http://*:*", "https://*:*"}
)
_INLINE_DIRECTIVES = frozenset(
    {"default-src", "script-src", "script-src-elem", "script-src-attr", "style-src",
     "style-src-elem", "style-src-attr"}
)  # fmt: skip


def _every_host(source: str) -> bool:
    """A host-source that matches every host whatever its port or path (`https://*/`,
    `*:443`, `https://*:443`, `*/`): spelled another way than `_ANY_HOST`'s, each passed as
    a restriction (round 45c F8)."""
    host = source.partition("://")[2] if "://" in source else source  # cut-ok: compared
    name = host.partition("/")[0].partition(":")[0]  # cut-ok: compared, never shown
    return name == "*"


def _restricts(words: list[str]) -> bool:
    """Whether a CSP directive restricts anything: one whose source list lets in every host
    (and, for scripts and styles, inline code with no real nonce or hash to switch
    'unsafe-inline' off) does not, nor `webrtc 'allow'`; `default-src * 'unsafe-inline'`
    passed as a policy (round 41c F3), and with `frame-ancestors *` or an empty `'nonce-'`
    beside it (round 42b F4)."""
    name = words[0].lower()
    if name not in RESTRICTING_DIRECTIVES:
        return False
    sources = [w.lower() for w in words[1:]]  # cut-ok: a directive's sources, compared
    if name == "webrtc":
        return "'block'" in sources
    if name == "trusted-types":  # `*`: any policy name may be created
        return "*" not in sources
    if not (name.endswith("-src") or name in _SOURCE_LISTS):
        return True
    if not any(source in _ANY_HOST or _every_host(source) for source in sources):
        return True
    if name not in _INLINE_DIRECTIVES:
        return False
    # 'strict-dynamic' switches 'unsafe-inline' off for scripts only
    scripts = name.startswith("script-src") or name == "default-src"
    switched_off = ("'strict-dynamic'" in sources and scripts) or any(
        _NONCE_OR_HASH.fullmatch(source) and source not in _NO_NONCE for source in sources
    )
    return "'unsafe-inline'" not in sources or switched_off


# directives of a source list other than the fetch ones (`-src`)
_SOURCE_LISTS = frozenset({"frame-ancestors", "base-uri", "form-action"})
# CSP3's base64-value: padding only at the end, after a character (`'nonce-=='` is no
# nonce to browsers, and passed: round 47c F3)
_NONCE_OR_HASH = linear_re.compile(r"'(?:nonce|sha256|sha384|sha512)-[a-z0-9+/_-]+={0,2}'")
# a template's unset nonce variable: browsers honour it, and so does an attacker's
# `<script nonce="undefined">` (round 47c F3)
_NO_NONCE = frozenset(
    f"'nonce-{word}{padding}'"
    for word in ("undefined", "null", "none", "nil")
    for padding in ("", "=", "==")  # padding spells the same word (round 48c F4)
)


def _csp(result: ProbeResult) -> str | None:
    value = result.headers.get("Content-Security-Policy")
    if value is not None and _csp_words(value):
        policies = value.split(",")
        directives = [words for policy in policies for words in _csp_directives(policy)]
        names = {words[0].lower() for words in directives}
        if any(_restricts(words) for words in directives):
            return None
        if not names:  # `;;` enforces nothing (round 36c), nor what is not ASCII (38c)
            return (
                f"Content-Security-Policy '{_shown(value)}' holds no directive browsers read "
                "(a directive holding a character other than ASCII is skipped whole)"
            )
        return (
            f"Content-Security-Policy '{_shown(value)}' holds no directive that restricts "
            "anything (report-uri and report-to only report; browsers ignore names they do "
            "not know; a source list letting in every host, with 'unsafe-inline' for scripts "
            "and styles, blocks nothing)"
        )
    if result.headers.get("Content-Security-Policy-Report-Only"):
        return "Content-Security-Policy only in report-only mode (not enforced)"
    return "Content-Security-Policy missing"


def _referrer(result: ProbeResult) -> str | None:
    value = result.headers.get("Referrer-Policy")
    if value is None or not _trim(value):
        return "Referrer-Policy missing (want no-referrer or strict-origin-when-cross-origin)"
    # The browser uses the last policy it understands in a comma-separated list.
    known = [t for t in (_trim(t).lower() for t in value.split(",")) if t in REFERRER_POLICIES]
    if not known:
        return f"Referrer-Policy '{_shown(value)}' names no policy browsers know"
    if known[-1] in WEAK_REFERRER_POLICIES:
        return f"Referrer-Policy '{_shown(value)}' leaks full URLs to other origins"
    # HTML's `<meta name="referrer">` sets a page's policy over the header's; it is not
    # read: telling a live element from text takes an HTML parser (round 48c: a regex missed
    # seven spellings and failed template text), and this rule reads headers
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


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, _hostname(url), parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return "", "", None


def _own_headers(url: str, final_url: str) -> bool:
    """Whether headers of `final_url` are the URL's own: the same origin, or its upgrade
    from http:// to https:// on the default ports. Another port is another server (a
    login service beside the app, an admin console): judged as the URL's own, it passed
    (round 45c F9)."""
    asked, answered = _origin(url), _origin(final_url)
    if asked == answered:
        return True
    upgrade = (("http", 80), ("https", 443))
    return asked[1] == answered[1] and ((asked[0], asked[2]), (answered[0], answered[2])) == upgrade


def check_security_headers(endpoint: Endpoint, result: ProbeResult) -> Verdict:
    """Every missing or weak header of the endpoint's response; measured = headers passing."""
    names = selected_headers(endpoint.security_headers)
    if result.status is None:
        return no_response(result, "no response")
    problems = [p for p in (CHECKS[name](result) for name in names) if p is not None]
    measured = f"{len(names) - len(problems)}/{len(names)} headers ok"
    elsewhere = other_host(result)
    asked = _hostname(result.url)
    if elsewhere and not _own_headers(result.url, result.final_url or ""):
        # round 41c F5: a bare 302 to an SSO host that sends the whole baseline scored
        # "7/7 headers ok", and the URL's own host (no HSTS) was never judged
        problems.append(
            f"the headers judged are {elsewhere}'s, where a redirect led: {excerpt(asked, 100)}"
            "'s own headers were not judged (point the entry at the page's final URL)"
        )
        measured += f" (of {elsewhere})"
    extra = {"answered_by": elsewhere} if elsewhere else {}
    return Verdict(problems=tuple(problems), measured=measured, extra=extra)
