"""Secrets escaped in part or character by character, folded, hidden by invisible characters
or echoed in another case (attack round 2 on issue 10: F5, F6, F7). Payloads of this file's
own: tokens built here, each form built here, not taken from the scrubber.

- Mixed escapes: any subset of a token's characters escaped (.NET's System.Text.Json
  writes `+` as `\\u002B` and leaves the rest), in every escape the normalised view decodes.
- Every-character encodings: `\\xHH`, octal, CSS, zero-padded entities, hex dumps with
  separators, base64 of base64, base64 of UTF-16LE, fullwidth characters.
- Invisible characters between a token's characters are gaps, and are shown as escapes.
- Case: a token with digits, hex or 16+ characters long, is masked in any case; a word-like
  one is not (READONLY in a variable's name stays).
- Time: a megabyte of escapes is scrubbed within a budget relative to `str.find`.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from smokegate.redact import MASK, MIN_SECRET_CHARS, Scrubber, case_blind, escape_control
from tests.support.timing import SCRUB_BUDGET_FACTOR, best_of_three

# '+' every few characters, and the other characters .NET escapes
TOKEN = f"Rv7+{secrets.token_hex(2)}+Yp/q8&M<z>9'W+{secrets.token_hex(3)}+Tj4="


def _scrubber(token: str = TOKEN) -> Scrubber:
    return Scrubber(["ESC_TOKEN"], environ={"ESC_TOKEN": token})


def _pieces(text: str, token: str, size: int = MIN_SECRET_CHARS) -> list[str]:
    return [
        token[i : i + size] for i in range(len(token) - size + 1) if token[i : i + size] in text
    ]


def _dotnet(text: str, upper: bool = True) -> str:
    out = json.dumps(text)[1:-1]
    for ch in "+'&<>":
        out = out.replace(ch, ("\\u%04X" if upper else "\\u%04x") % ord(ch))
    return out


ESCAPES = {
    "json-U": lambda c: f"\\u{ord(c):04X}",
    "json-u": lambda c: f"\\u{ord(c):04x}",
    "x": lambda c: f"\\x{ord(c):02x}",
    "X-hex": lambda c: f"\\x{ord(c):02X}",
    "html-hex-pad": lambda c: f"&#x{ord(c):06x};",
    "html-HEX": lambda c: f"&#X{ord(c):X};",
    "html-dec-pad": lambda c: f"&#{ord(c):04d};",
    "html-dec": lambda c: f"&#{ord(c)};",
    "percent": lambda c: f"%{ord(c):02x}",
    "octal": lambda c: f"\\{ord(c):03o}",
    "css": lambda c: f"\\{ord(c):x} ",
    "css-6": lambda c: f"\\{ord(c):06x}",
    "js-braces": lambda c: f"\\u{{{ord(c):x}}}",
}
NAMED = {"+": "&plus;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", "/": "&sol;"}


@pytest.mark.parametrize("kind", list(ESCAPES))
@pytest.mark.parametrize(
    "which",
    [
        lambda i, c: not c.isalnum(),  # the punctuation only, like .NET and OWASP
        lambda i, c: i % 3 == 1,  # every third character
        lambda i, c: i % 2 == 0,  # every other character
        lambda i, c: True,  # every character
    ],
    ids=["punctuation", "every-third", "every-other", "all"],
)
def test_a_token_with_any_subset_of_characters_escaped_is_masked_whole(kind, which):
    escape = ESCAPES[kind]
    form = "".join(escape(c) if which(i, c) else c for i, c in enumerate(TOKEN))
    out = _scrubber().scrub(f'{{"error": "invalid credential <{form}> rejected"}}')
    assert out == f'{{"error": "invalid credential <{MASK}> rejected"}}', form


@pytest.mark.parametrize("upper", [True, False], ids=["upper-hex", "lower-hex"])
def test_dotnet_system_text_json_escaping_is_masked_whole(upper):
    body = json.dumps({"message": "nope"})[:-1] + f', "token": "{_dotnet(TOKEN, upper)}"}}'
    out = _scrubber().scrub(body)
    assert _pieces(out, TOKEN, 4) == [] and MASK in out and out.startswith('{"message": "nope"')


def test_a_token_base64_and_dotnet_escaped_is_masked():
    encoded = _dotnet(base64.b64encode(TOKEN.encode()).decode())
    out = _scrubber().scrub(f"[{encoded}]")
    assert out == f"[{MASK}]"


def test_named_entities_and_mixed_escape_kinds_in_one_token():
    kinds = list(ESCAPES.values())
    form = "".join(
        NAMED.get(c) or (kinds[i % len(kinds)](c) if i % 2 else c) for i, c in enumerate(TOKEN)
    )
    assert _scrubber().scrub(f"<p>{form}</p>") == f"<p>{MASK}</p>"


def test_every_byte_escapes_of_a_non_ascii_token_are_masked():
    token = f"pä$$wörd-{secrets.token_hex(4)}-ü"
    scrubber = _scrubber(token)
    for form in (
        "".join(f"\\x{b:02x}" for b in token.encode()),
        "".join(f"\\{b:03o}" for b in token.encode()),
        "".join(f"%{b:02x}" for b in token.encode()),
        token.encode().decode("latin-1"),  # UTF-8 read as Latin-1
        "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(token)),
    ):
        assert scrubber.scrub(f"<{form}>") == f"<{MASK}>", form


def _hexes(token: str) -> list[str]:
    return [f"{b:02x}" for b in token.encode()]


EVERY_CHAR = {
    "hex-colon": lambda t: ":".join(_hexes(t)),
    "hex-colon-upper": lambda t: ":".join(_hexes(t)).upper(),
    "hex-dash": lambda t: "-".join(_hexes(t)),
    "hex-space": lambda t: " ".join(_hexes(t)),
    "hex-0x-space": lambda t: " ".join(f"0x{h}" for h in _hexes(t)),
    "hex-0x-comma": lambda t: ", ".join(f"0x{h}" for h in _hexes(t)),
    "hex-0x-newlines": lambda t: "\n".join(f"0x{h}," for h in _hexes(t)),
    "base64-of-base64": lambda t: base64.b64encode(base64.b64encode(t.encode())).decode(),
    "base64-of-base64-in-json": lambda t: base64.b64encode(
        json.dumps({"auth": "Basic " + base64.b64encode(t.encode()).decode()}).encode()
    ).decode(),
    "base64-utf16le": lambda t: base64.b64encode(t.encode("utf-16-le")).decode(),
    "base64-utf16le-cmd": lambda t: base64.b64encode(f"echo {t}".encode("utf-16-le")).decode(),
    "fullwidth": lambda t: "".join(
        chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in t
    ),
    "fullwidth-half": lambda t: "".join(
        chr(ord(c) + 0xFEE0) if i % 2 and 0x21 <= ord(c) <= 0x7E else c for i, c in enumerate(t)
    ),
    "dashes": "-".join,
    "dots": ".".join,
    "pipes-spaced": " | ".join,
}


@pytest.mark.parametrize("encode", list(EVERY_CHAR.values()), ids=list(EVERY_CHAR))
def test_every_character_encodings_are_masked(encode):
    token = f"Gq5/{secrets.token_urlsafe(12)}+Zx8"
    form = encode(token)
    out = _scrubber(token).scrub(f"echo: {form} :end")
    assert out.startswith("echo: ") and out.endswith(" :end"), out
    assert MASK in out
    # nothing of the encoding that spells a piece of the token is left
    assert _pieces(out, token) == []
    assert encode(token) not in out


INVISIBLE = [
    "\u00ad",  # soft hyphen
    "\u034f",
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",
    "\u200b",
    "\u200d",
    "\u200f",
    "\u2060",
    "\u2063",
    "\u2064",
    "\ufeff",
    "\U000e0001",
    "\U000e0041",
    "\U000e007f",
    "\ufe0f",
    "\u00a0",
    "\u3000",
    "\x01",
]


@pytest.mark.parametrize("between", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_between_the_characters_are_gaps(between):
    spread = between.join(TOKEN)
    out = _scrubber().scrub(f"token [{spread}] rejected")
    assert out == f"token [{MASK}] rejected"
    # and shown escaped where smokegate quotes text: they hide nothing
    if between not in ("\u00a0", "\u3000"):
        assert between not in escape_control(f"a{between}b")


GAP_ENTITIES = ["&shy;", "&ZeroWidthSpace;", "&zwnj;", "&zwj;", "&NoBreak;",
                "&InvisibleTimes;", "&ensp;", "&thinsp;", "&NegativeMediumSpace;"]  # fmt: skip


@pytest.mark.parametrize("entity", GAP_ENTITIES)
@pytest.mark.parametrize("every", [1, 3])
def test_named_entities_of_gap_characters_are_gaps_too(entity, every):
    """PHP's htmlentities() writes a soft-hyphenated token with `&shy;`: pieces under the
    masking minimum, readable whole (attack round 8a, F4). Named entities are decoded from
    HTML5's table, so the gap they stand for is a gap in the view."""
    spread = entity.join(TOKEN[i : i + every] for i in range(0, len(TOKEN), every))
    out = _scrubber().scrub(f"<p>token {spread} rejected</p>")
    assert out == f"<p>token {MASK} rejected</p>"


def test_invisible_characters_are_escaped_in_outputs():
    for char in ("\u00ad", "\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\U000e0041"):
        shown = escape_control(f"gate{char}PASSED")
        assert char not in shown and shown.startswith("gate\\") and shown.endswith("PASSED")
    assert escape_control("\U000e0041") == "\\U000e0041"
    assert escape_control("\u00ad") == "\\u00ad"
    assert escape_control("naïve café ＡＢＣ") == "naïve café ＡＢＣ"


@pytest.mark.parametrize(
    "token",
    [
        f"{secrets.token_hex(16)}",  # a hex key
        "3f2a9c1e-77b0-4d4e-9a1b-0c5d6e7f8a9b",  # a UUID
        f"sk_live_{secrets.token_urlsafe(18)}9",  # 16+ characters with a digit
    ],
    ids=["hex", "uuid", "long-with-digit"],
)
def test_a_token_with_digits_is_masked_in_any_case(token):
    assert case_blind(token)
    scrubber = _scrubber(token)
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(token))
    for form in (token.upper(), token.lower(), mixed, token.upper()[::-1], token.swapcase()):
        out = scrubber.scrub(f"key={form}; ok")
        assert out == f"key={MASK}; ok", form
    # upper-cased and .NET-escaped at once
    escaped = "".join(f"\\u{ord(c):04X}" if i % 5 == 0 else c for i, c in enumerate(token.upper()))
    assert scrubber.scrub(f"[{escaped}]") == f"[{MASK}]"


@pytest.mark.parametrize("token", ["readonly-value", "Passw0rd1", "first-value", "Token123"])
def test_a_word_like_token_is_not_masked_case_blind(token):
    assert not case_blind(token)
    text = f"{token.upper()} is a variable name, {token.lower()}"
    if token.lower() == token:
        text = f"{token.upper()} is a variable name"
    assert _scrubber(token).scrub(text) == text


def test_a_long_token_is_masked_case_blind_too():
    token = "k9" + secrets.token_hex(400)  # longer than an RE2 branch: searched with find
    out = _scrubber(token).scrub(f"< {token.upper()} > and < {token} >")
    assert out == f"< {MASK} > and < {MASK} >"


ORDINARY = [
    'JSON: {"a": "x\\u002By", "b": "\\u00e9t\\u00e9", "c": "<\\/p>"}',
    "HTML: Tom &amp; Jerry &lt;3 &#x27;quoted&#39; &#0039; &nbsp;&copy; &unknown;",
    "HTML5: &CounterClockwiseContourIntegral; &shy;&ZeroWidthSpace;&eacute;t&eacute; &fjlig;",
    "URL: /search?q=caf%C3%A9%20au%20lait&x=%2F%2f",
    'C: printf("\\x41\\101\\n"); path C:\\deadbeef\\cafe 0x5a 0x6b 5a:6b:39',
    "CSS: content: '\\201C'; .a\\:b { } \\5a \\0000",
    "Text: naïve\u00adly ＦＵＬＬ width, zero\u200bwidth, READONLY, ABCDEF0123456789",
    "odd: \\u \\x \\uD800 \\U0011FFFF &#99999999; &#x; % %zz \\",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_with_escapes_but_no_secret_is_unchanged(text):
    scrubber = _scrubber()
    assert scrubber.scrub(text) == text
    assert scrubber.scrub(text * 50) == text * 50


def test_the_masked_stretch_is_only_the_token_and_its_escapes():
    form = _dotnet(TOKEN)
    text = f"before \\u002B {form} \\u002B after &amp; more"
    assert _scrubber().scrub(text) == f"before \\u002B {MASK} \\u002B after &amp; more"


@pytest.mark.parametrize(
    "unit",
    [
        "\\x41",
        "\\u002B",
        "&#x00041;",
        "&amp;",
        "%2b",
        "\\5a ",
        "\\101",
        "a\u00ad",
        "Ｚ",
        "\U000e0041",
        "\\uD83D\\uDE00",
        "\\\\\\\\x",
        "&#&#x",
        None,  # the token itself, escaped .NET-style, back to back
    ],
    ids=[
        "x",
        "u",
        "entity",
        "named",
        "percent",
        "css",
        "octal",
        "softhyphen",
        "fullwidth",
        "tag",
        "surrogates",
        "backslashes",
        "ampersands",
        "dotnet-token",
    ],
)
def test_a_megabyte_of_escapes_is_scrubbed_in_linear_time(unit):
    scrubber = _scrubber()
    scrubber.scrub("warm up: compile the forms")
    unit = unit or _dotnet(TOKEN) + " "
    text = unit * ((1 << 20) // len(unit))
    budget = best_of_three(lambda: text.find("\x01never there\x02")) * SCRUB_BUDGET_FACTOR
    spent = best_of_three(lambda: scrubber.scrub(text))
    out = scrubber.scrub(text)
    assert _pieces(out, TOKEN) == []
    assert spent < max(budget, 0.05), f"{spent:.3f} s for {len(text)} chars (budget {budget:.3f})"


def test_time_grows_linearly_with_the_escapes():
    """Twice the escapes, about twice the time (not four times)."""
    scrubber = _scrubber()
    scrubber.scrub("warm up")
    unit = "\\x41\\u002B&#x5a;%2f"
    small, large = unit * 20_000, unit * 80_000
    ratio = best_of_three(lambda: scrubber.scrub(large)) / best_of_three(
        lambda: scrubber.scrub(small)
    )
    assert ratio < 10, ratio  # linear: about 4; quadratic: about 16


@pytest.mark.parametrize("secret", ["ZZZZZZZZ", "Zq7Zq7Zq7Zq7"])
def test_a_periodic_secret_repeated_is_scrubbed_in_linear_time(empty_registry, secret):
    """Round 42a F4: RE2 resumed at each match's end inside a run the scrubber had already
    extended to its end, and extended it again: quadratic, 41 s for 60 KB."""
    scrubber = Scrubber([], environ={"CI_DEPLOY_TOKEN": secret})
    text = "server: " + secret * ((1 << 18) // len(secret)) + " end"
    budget = best_of_three(lambda: text.find("\x01never there\x02")) * SCRUB_BUDGET_FACTOR
    spent = best_of_three(lambda: scrubber.scrub(text))
    assert scrubber.scrub(text) == "server: *** end"
    assert spent < max(budget, 0.05), f"{spent:.3f} s for {len(text)} chars (budget {budget:.3f})"
