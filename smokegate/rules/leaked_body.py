"""Whether an auth refusal's body holds the data the real credential's answer held.

An app that sets 401 (or a 302 to its login page) and goes on to render the page sends the
protected data to anyone. Comparing the two bodies byte for byte caught only a static page:
a request id, a time, a CSRF nonce or another JSON key order makes two renderings of one page
differ (round 42b F1). Requiring every word of the real answer in the refusal missed a page
whose layout greets the token holder by name and the visitor with "Log in" (round 43c F1),
and counting every word failed an honest API whose error envelope repeats the success
envelope's keys and `null`/`true`/`0` (43c F3).

So the real answer's *data words* are weighed, both bodies read alike: a JSON document's
values (strings and numbers, escapes decoded) and its keys that are no field names (an email,
an id) or that key a map (all values flags, or all records: an ACL keyed by user names), not
`null`/`true`/`false` nor field names; an XML document's words whole (its records may be
attributes; XML by its root element and type, an XHTML page is a page); a page's text,
script and form included, with the values of `value`, `content`, `title`, `alt` and
`data-*` attributes, its layout (head, navigation, header, footer, aside, styles) dropped
unless too little is left to be its data; any other body's words, JSON escapes decoded.
Each body is read in its declared charset.
A word the refusal lacks that is shaped like a per-request value (hex runs with digits, long
digit runs, long mixed runs: ids, times, nonces) is left out of the weighing; one it holds
counts, as no per-request value is the same in two answers (a key, a hash: round 44c F2).
The refusal leaks when it holds most of the data words' weight, or is the real answer byte
for byte. Nothing is sent again to tell what changes (a second request met caches and rate
limits: 43c F2, F4).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from smokegate import linear_re
from smokegate.facts.http import decode_body, without_lone_surrogates

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
_LAYOUT_ELEMENTS = ("head", "nav", "header", "footer", "aside", "style")
_TAG = r"<[^>]*>"
# Attributes whose values are a page's data (a form's fields, a meta's content)
_DATA_ATTRIBUTE = (
    r"""(?i)\b(?:value|content|title|alt|data-[\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))"""
)
# JSON string escapes of a character (a surrogate pair whole)
_JSON_ESCAPE = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}"
_UUID = r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
# The root element of a markup document: the first tag that is no prolog, doctype,
# comment or processing instruction
_ROOT = r"<([A-Za-z_][\w.:-]*)"
# A refusal the real answer byte for byte is the data at this length whatever its words
_IDENTICAL_BYTES = 64
# A JSON key that names a field (`card_last4`, `unAuthorizedRequest`, `x-request-id`),
# not data (an email, an id, a name with a blank: a map keyed by the data)
_FIELD_NAME = linear_re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
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


def held_data(let_in: bytes, refused: bytes, let_in_type: str = "", refused_type: str = "") -> Held:
    """The real answer's data words (less the per-request ones the refusal lacks), and how
    much of their weight the refusal holds; each body read in its Content-Type's charset
    (`*_type`), as an XML document when the type says XML."""
    data = data_words(let_in, let_in_type)
    if let_in == refused and (len(let_in) >= _IDENTICAL_BYTES or weight(data) >= MIN_DATA_BYTES):
        # a refusal that is the real answer byte for byte: a 46-byte API key passed under
        # a 64-byte floor (round 45c F2); a stub (`{"identity":"known"}`) under 64 bytes
        # whose data words weigh less than MIN_DATA_BYTES is no data
        return Held(held=len(let_in), data=len(let_in))
    shown = shown_words(refused, refused_type)
    lacking = data - shown
    changing = Counter({w: n for w, n in lacking.items() if _per_request(w)})
    return Held(held=weight(data & shown), data=weight(data) - weight(changing))


def data_words(body: bytes, content_type: str = "") -> Counter[str]:
    """The body's data words (the module's docstring says which), with their counts."""
    text = _text(body, content_type)
    document = _json(text)
    if document is not None:
        return Counter(w for leaf in _leaves(document, keys=False) for w in _words(leaf))
    text = _json_escapes_decoded(text)
    if _is_xml(text, content_type):
        return Counter(_words(text))
    page = Counter(_words(_page_read(text, layout=False)))
    if weight(page) >= MIN_DATA_BYTES:
        return page
    # a page whose text outside its layout elements is too little to be its data holds
    # its data in them (an API-keys panel in an <aside>, records in each <article>'s
    # <header>: round 45c F3): read whole, layout included
    return Counter(_words(_page_read(text, layout=True)))


def shown_words(body: bytes, content_type: str = "") -> Counter[str]:
    """Every word the body shows, read as `data_words` reads the real answer (JSON escapes
    decoded, also in JSON that other text wraps: a PHP warning before it, round 45c F4),
    field names and literals too; in its declared charset and as UTF-8 both: a refusal
    declared UTF-16 or EBCDIC over UTF-8 bytes showed no word (round 46c F1)."""
    shown = _shown_in(_text(body, content_type))
    if content_type:
        shown |= _shown_in(_text(body))
    return shown


def _shown_in(text: str) -> Counter[str]:
    document = _json(text)
    if document is not None:
        return Counter(w for leaf in _leaves(document, keys=True) for w in _words(leaf))
    return Counter(_words(_json_escapes_decoded(text)))


def weight(bag: Counter[str]) -> int:
    """The bytes the bag's words take, each counted as often as it occurs."""
    return sum(len(word.encode("utf-8", "replace")) * count for word, count in bag.items())


def _text(body: bytes, content_type: str = "") -> str:
    """The body as the reports read it (`decode_body`: its byte-order mark, then its
    declared charset, then UTF-8): read as UTF-8, every word of a windows-1251 page was
    U+FFFD runs, and two Russian texts with words of the same lengths were one (round 45c
    F6); UTF-16 with a mark and no charset was read as single letters (46c F6)."""
    text = decode_body(body[:_COMPARED_BYTES], content_type)  # cut-ok: compared, never shown
    return text.removeprefix("\ufeff")  # a byte-order mark (PHP, .NET) is no text (44c F6)


def _words(text: str) -> list[str]:
    """The text's words, less those made of U+FFFD only: what could not be decoded is no
    word (two bodies' unreadable words of one length are not the same data). A uuid is one
    word: its groups alone (`beef`, `2024`) are no per-request shape, and a request id's
    such groups weighed as data the refusal lacked, one run in sixty."""
    if "-" in text:
        text = linear_re.compile(_UUID).sub(lambda m: m.group(0).replace("-", ""), text)
    return [w for w in linear_re.compile(_WORD).findall(text) if w.strip("\ufffd")]


def _json_escapes_decoded(text: str) -> str:
    """The text with JSON's `\\uXXXX` escapes (surrogate pairs too) decoded: JSON that
    other text wraps does not parse, and its escaped words did not match the decoded words
    of the same JSON parsed (round 45c F4)."""
    if "\\u" not in text:
        return text

    def decoded(match: Any) -> str:
        try:
            return str(without_lone_surrogates(json.loads(f'"{match.group(0)}"'), "\\u"))
        except ValueError:
            return match.group(0)

    return str(linear_re.compile(_JSON_ESCAPE).sub(decoded, text))


def _json(text: str) -> Any:
    """The parsed document when the text is a JSON object or array; None otherwise."""
    if text.lstrip()[:1] not in ("{", "["):  # cut-ok: a first character, looked at
        return None
    try:
        return without_lone_surrogates(json.loads(text), text)
    except (ValueError, RecursionError):
        return None


def _leaves(document: Any, *, keys: bool) -> Iterator[str]:
    """The document's strings and numbers, and its keys (all, or those that are no field
    names); without recursion (a hostile depth is bounded by the body's size only)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
            every = keys or _keyed_by_data(value)
            yield from (k for k in value if every or not _FIELD_NAME.fullmatch(k))
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            yield value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield repr(value)
        elif keys and value is not None:
            yield str(value).lower()


def _keyed_by_data(mapping: dict[str, Any]) -> bool:
    """A map keyed by the data (user names to `true`, host names to records), not a
    record: its keys are data even when shaped like field names (round 45c F1: an ACL map
    `{"alice": true, ...}` weighed nothing). A record's values differ in kind; a map's are
    of one: all flags, or all records, of 3 keys or more, or of one scalar kind (nulls
    among them) from 5."""
    if len(mapping) < 3:
        return False
    kinds = {type(v) for v in mapping.values()}
    if len(kinds) == 1:
        (kind,) = kinds
        return kind in (bool, type(None), dict) or len(mapping) >= 5
    # nulls beside one kind of short values (a role map with unset roles: round 46c F2);
    # beside flags they are an envelope's (ABP's `"error": null, "success": true`: 43c F3)
    kinds.discard(type(None))
    return len(kinds) == 1 and kinds <= {str, int, float} and len(mapping) >= 5


def _is_xml(text: str, content_type: str) -> bool:
    """A body read whole as an XML document: one that is no markup at all (its words are
    read as they are), or markup whose root element is not `html` and that says it is XML
    (a prolog, or an XML Content-Type). By the root, not the prolog: an XHTML page (JSF)
    has one and was read whole, its shared layout as data (round 45c F7); Jackson's XML
    has none and was read as a page, its attribute records dropped (45c F5)."""
    if not text.lstrip().startswith("<"):
        return True
    root = linear_re.compile(_ROOT).search(text)
    # cut-ok: an element's local name, compared
    if root is not None and root.group(1).rpartition(":")[2].lower() == "html":
        return False
    media = content_type.partition(";")[0].strip().lower()  # cut-ok: the media type
    if media in ("text/html", "application/xhtml+xml"):
        return False
    # markup whose root is no `html` and whose type says no page (XML, or text/plain as
    # many XML APIs send it: round 46c F4) is a document, read whole
    return bool(media) or text.lstrip()[:5].lower() == "<?xml"  # cut-ok: looked at


def _page_read(text: str, *, layout: bool) -> str:
    """A page's text and data attributes; its layout elements dropped unless `layout`."""
    if not layout:
        for element in _LAYOUT_ELEMENTS:
            pattern = linear_re.compile(rf"(?is)<{element}\b.*?</{element}\s*>")
            text = pattern.sub(" ", text)
    values = " ".join("".join(m) for m in linear_re.compile(_DATA_ATTRIBUTE).findall(text))
    return f"{linear_re.compile(_TAG).sub(' ', text)} {values}"


def _per_request(word: str) -> bool:
    if word.isdigit():
        return len(word) >= 6
    if len(word) >= 16 and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
        return True
    return len(word) >= 4 and linear_re.compile(rf"^(?:{_PER_REQUEST})$").match(word) is not None
