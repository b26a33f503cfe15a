"""One definition of the characters smokegate will not print raw: what `escape_control`
escapes is what `unsafe_characters` finds in a name pytest would print itself."""

from __future__ import annotations

import sys
import unicodedata

from smokegate.redact import escape_control, unsafe_characters

FORMAT_CHARACTERS = [
    chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"
]
CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)]


def test_every_format_and_control_character_is_escaped_and_found():
    for char in (*FORMAT_CHARACTERS, *CONTROLS):
        shown = escape_control(f"a{char}b", one_line=True)
        assert char not in shown and shown.startswith("a\\"), f"U+{ord(char):04X}"
        assert unsafe_characters(f"a{char}b") == [char], f"U+{ord(char):04X}"


def test_ordinary_names_hold_none():
    for name in ("prod", "eu-west-1_prod.v2", "prod-é-日本", "a b"):
        assert unsafe_characters(name) == [] and escape_control(name, one_line=True) == name


def test_each_character_once_in_order_of_appearance():
    assert unsafe_characters("x\x1b[2J\u202ey\x1b\x9b") == ["\x1b", "\u202e", "\x9b"]
