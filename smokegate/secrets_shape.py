"""What a credential looks like, so the env file can refuse one written inline.

The env file is committed, reviewed and printed in CI logs; a token pasted into it
is leaked the moment it is pushed. So a value shaped like a well-known credential is
a config error that points at `token_env`, before anything else reads the file.
The shapes are the prefixes vendors put on their tokens precisely so that scanners
can recognise them; generic text ("Bearer authentication is required") must not trip
them, so the bearer shape wants something token-like after the word.
"""

from __future__ import annotations

import re

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "GitHub token",
        re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ),
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    # xoxb- (bot), xoxp- (user), xoxa-, xoxo-, xoxs-, xoxr-, xoxe- (rotating) ...: Slack's `xox?-`.
    ("Slack token", re.compile(r"\bxox[a-z]-[A-Za-z0-9-]{10,}")),
    (
        "bearer token",
        # A token after "Bearer": 8+ token characters with a digit or symbol, or 20+ of any.
        re.compile(
            r"(?i)\bbearer\s+(?:(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}"
            r"|[A-Za-z0-9._~+/=-]{20,})"
        ),
    ),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)


def looks_like_credential(value: str) -> str | None:
    """The kind of credential `value` resembles, or None."""
    for kind, pattern in _SHAPES:
        if pattern.search(value):
            return kind
    return None
