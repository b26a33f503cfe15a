"""What a credential looks like, so the env file can refuse one written inline.

The env file is committed, reviewed and printed in CI logs; a token pasted into it
is leaked the moment it is pushed. So a value shaped like a well-known credential is
a config error that points at `token_env`, before anything else reads the file.
The shapes are the prefixes vendors put on their tokens precisely so that scanners
can recognise them; generic text ("Bearer authentication is required") must not trip
them, so the bearer shape wants something token-like after the word.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from smokegate import linear_re

# A token after "Bearer": 8+ token characters with a digit or symbol, or 20+ of any (judged
# on each run of token characters in Python: RE2 has no lookahead).
_BEARER = linear_re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{8,})")
_NOT_LETTERS = frozenset("0123456789._~+/=-")


def _bearer_token(value: str) -> bool:
    for match in _BEARER.finditer(value):
        token = match.group(1)
        if len(token) >= 20 or not _NOT_LETTERS.isdisjoint(token):
            return True
    return False


# `Basic <base64 of user:password>`: decoded, it holds a colon (round 56a: a committed pair
# under a misspelt header name, in body_contains: or json:, was quoted whole by its case)
_BASIC = linear_re.compile(r"(?i)\bbasic\s+([A-Za-z0-9+/]{6,}={0,2})")
# `Token <value>` (Django REST framework, GitHub's older scheme): 20+ token characters with
# a digit in them, so words after "token" ("token expired_or_invalid") stay words
_TOKEN_SCHEME = linear_re.compile(r"(?i)\btoken\s+([A-Za-z0-9._~+/=-]{20,})")


def _basic_pair(value: str) -> bool:
    for match in _BASIC.finditer(value):
        encoded = match.group(1)
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (ValueError, binascii.Error):
            continue
        _user, colon, password = decoded.partition(b":")
        if colon and password and all(32 <= byte < 127 for byte in decoded):
            return True
    return False


def _token_scheme(value: str) -> bool:
    return any(
        any(ch.isdigit() for ch in match.group(1)) for match in _TOKEN_SCHEME.finditer(value)
    )


# Another Authorization scheme with what follows it: 16+ token characters holding a digit or
# a base64 symbol (round 56b: a Basic value that decodes to no `user:password` pair, such as
# `sk_live_...:` or UTF-8, and Okta's SSWS, Splunk's, Discord's Bot, OAuth 1's) . Words after
# the scheme ("Basic authentication is required") hold neither.
_SCHEME_VALUE = linear_re.compile(
    r"(?i)\b(?:basic|oauth|ssws|splunk|bot|apikey)\s+([A-Za-z0-9._~+/=-]{16,})"
)
_NOT_WORD = frozenset("0123456789+/=")


def _scheme_value(value: str) -> bool:
    return any(not _NOT_WORD.isdisjoint(match.group(1)) for match in _SCHEME_VALUE.finditer(value))


# RE2 (`smokegate.linear_re`): the env file may be written by an attacker, and the JWT
# shape, run by a backtracking engine over `eyJ-eyJ-eyJ-...`, takes quadratic time.
# Not after a letter or digit (a word that holds the prefix is no token), but after `_`
# and any punctuation (round 56d: `id_ghp_...`, `key_AKIA...` loaded).
_START = r"(?:^|[^A-Za-z0-9])"


def _prefixed(pattern: str) -> Callable[[str], object]:
    """A vendor's shape: `pattern`, not after a letter or a digit."""
    return linear_re.compile(_START + pattern).search


_SHAPES: tuple[tuple[str, Callable[[str], object]], ...] = (
    (
        "GitHub token",
        _prefixed(r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ),
    ("AWS access key id", _prefixed(r"(AKIA|ASIA)[A-Z0-9]{16}\b")),
    # rounds 56c, 56d: the other prefixes vendors give their tokens for scanners to find
    (
        "GitLab token",
        _prefixed(r"gl(pat|rt|dt|ptt|ft|soat|cbt|imt|agent|oas)-[A-Za-z0-9_-]{20,}"),
    ),
    ("Google API key", _prefixed(r"AIza[0-9A-Za-z_-]{35}")),
    (
        "Google OAuth secret or token",
        _prefixed(r"(GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,})"),
    ),
    (
        "Stripe key",
        _prefixed(r"([rs]k_(live|test)_[0-9A-Za-z]{16,}|whsec_[0-9A-Za-z]{20,})"),
    ),
    ("npm token", _prefixed(r"npm_[A-Za-z0-9]{36}")),
    (
        "OpenAI key",
        _prefixed(r"sk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ),
    ("Hugging Face token", _prefixed(r"hf_[A-Za-z0-9]{30,}")),
    ("DigitalOcean token", _prefixed(r"do[opr]_v1_[a-f0-9]{64}")),
    (
        "webhook URL",
        linear_re.compile(
            r"(hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]{20,}"
            r"|discord(app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]{20,})"
        ).search,
    ),
    # xoxb- (bot), xoxp- (user), xoxa-, xoxo-, xoxs-, xoxr-, xoxe- (rotating): `xox?-`;
    # xapp- (app-level)
    ("Slack token", _prefixed(r"(xox[a-z]|xapp)-[A-Za-z0-9-]{10,}")),
    ("bearer token", _bearer_token),
    ("Basic credential (a base64 user and password)", _basic_pair),
    ("Token-scheme credential", _token_scheme),
    ("credential after an Authorization scheme", _scheme_value),
    (
        "JWT",
        _prefixed(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    ),
    ("private key", linear_re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----").search),
)


def looks_like_credential(value: str) -> str | None:
    """The kind of credential `value` resembles, or None."""
    for kind, matches in _SHAPES:
        if matches(value):
            return kind
    return None
