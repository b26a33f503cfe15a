"""Whether an auth refusal's body holds the data the real credential's answer held.

An app that sets 401 (or a 302 to its login page) and goes on to render the page sends the
protected data to anyone. Comparing the two bodies byte for byte caught only a static page:
a request id, a time, a CSRF nonce or another key order makes two renderings of one page
differ (round 42b F1). Requiring every word of the real answer in the refusal missed a page
whose layout greets the token holder by name and the visitor with "Log in" (round 43c F1),
and counting every word failed an honest API whose error envelope repeats the success
envelope's keys and `null`/`true`/`0` (43c F3).

So the real answer's *data words* are weighed: a JSON document's values (strings and
numbers, not its keys nor `null`/`true`/`false`); a page's text outside its layout (head,
navigation, header, footer, aside, forms, scripts, styles), markup dropped; any other
body's words. Words shaped like per-request values (hex runs with digits, long digit runs,
long mixed runs: ids, times, nonces) are no data. The refusal leaks when it holds most of
the data words' weight: then it is the protected answer, whatever a few words say about
who is looking. Nothing is sent again to tell what changes (a second request met caches
and rate limits: 43c F2, F4).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from smokegate import linear_re

# A body's words: runs of letters, digits and underscores, and of characters past ASCII
_WORD = r"[0-9A-Za-z_\x{80}-\x{10FFFF}]+"
# Only this much of each body is compared: a leak shows in it, and a hostile body's distinct
# words past it would only cost memory
_COMPARED_BYTES = 1 << 20
# Data words weighing less than this are as often a stub an API writes whatever the status
# (`{"identity": "known"}`, a count) as the data itself
MIN_DATA_BYTES = 16
# The share of the data words' weight a refusal holding the data holds: the rest may be
# what the page says of who is looking ("Signed in as svc-ci" / "Log in")
_HELD_SHARE = 0.75
# Layout a login page shares with the protected page, dropped from a page's text (RE2: one
# pattern per element, as it has no back-references)
_LAYOUT_ELEMENTS = (
    "head", "nav", "header", "footer", "aside", "form", "script", "style", "noscript",
    "template", "svg",
)  # fmt: skip
_TAG = r"<[^>]*>"
# Per-request shapes: hex runs of 4+ holding a digit and a letter (uuid parts, request ids),
# digit runs of 6+ (times, sequence numbers), and runs of 16+ mixing letters and digits
# (nonces, tokens)
_PER_REQUEST = (
    r"[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*"
    r"|[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*"
)


@dataclass(frozen=True)
class Held:
    """What the refusal holds of the real answer's data words, in bytes of words."""

    held: int
    data: int

    @property
    def leaked(self) -> bool:
        return self.data >= MIN_DATA_BYTES and self.held >= _HELD_SHARE * self.data


def held_data(let_in: bytes, refused: bytes) -> Held:
    """The real answer's data words, and how much of their weight the refusal holds."""
    data = data_words(let_in)
    shown = Counter(_words(_text(refused)))
    return Held(held=weight(data & shown), data=weight(data))


def data_words(body: bytes) -> Counter[str]:
    """The body's data words (the module's docstring says which), with their counts."""
    text = _text(body)
    document = _json(text)
    if document is not None:
        found: Iterator[str] = (w for leaf in _leaves(document) for w in _words(leaf))
    elif text.lstrip().startswith("<"):
        found = iter(_words(_visible_text(text)))
    else:
        found = iter(_words(text))
    return Counter(word for word in found if not _per_request(word))


def weight(bag: Counter[str]) -> int:
    """The bytes the bag's words take, each counted as often as it occurs."""
    return sum(len(word.encode()) * count for word, count in bag.items())


def _text(body: bytes) -> str:
    return body[:_COMPARED_BYTES].decode("utf-8", "replace")  # cut-ok: compared, never shown


def _words(text: str) -> list[str]:
    return list(linear_re.compile(_WORD).findall(text))


def _json(text: str) -> Any:
    """The parsed document when the text is a JSON object or array; None otherwise."""
    if text.lstrip()[:1] not in ("{", "["):  # cut-ok: a first character, looked at
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _leaves(document: Any) -> Iterator[str]:
    """The document's strings and numbers, without recursion (a hostile depth is bounded by
    the body's size only)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            yield value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield repr(value)


def _visible_text(page: str) -> str:
    for element in _LAYOUT_ELEMENTS:
        pattern = linear_re.compile(rf"(?is)<{element}\b.*?</{element}\s*>")
        page = pattern.sub(" ", page)
    return str(linear_re.compile(_TAG).sub(" ", page))


def _per_request(word: str) -> bool:
    if word.isdigit():
        return len(word) >= 6
    if len(word) >= 16 and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
        return True
    return len(word) >= 4 and linear_re.compile(rf"^(?:{_PER_REQUEST})$").match(word) is not None
