"""Characters that a name printed raw must not hold: C0 and C1 controls and DEL (ESC, CR,
LF, CSI U+009B drive a terminal: erase the verdict, print another, conceal the rest) and the
Unicode format characters (category Cf: bidi overrides such as U+202E reorder a line; zero
width characters hide text) and line and paragraph separators (U+2028, U+2029).

smokegate escapes them in everything it prints itself; a name that pytest prints too (the
env file's name is part of reports/<env>/junit.xml, which pytest's "generated xml file"
line shows as it is) is refused instead, and these say which characters and how to show
them.
"""

from __future__ import annotations

import unicodedata

_SEPARATORS = frozenset("\u2028\u2029")


def is_unsafe(char: str) -> bool:
    """True for a control character (C0, DEL, C1), a format character or a separator."""
    code = ord(char)
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or char in _SEPARATORS
        or unicodedata.category(char) == "Cf"
    )


def unsafe_characters(text: str) -> list[str]:
    """The distinct unsafe characters of `text`, in order of appearance."""
    return list(dict.fromkeys(char for char in text if is_unsafe(char)))


def escape_char(char: str) -> str:
    """`\\x1b`, `\\u202e`, `\\U000e0001`: the character's code, never the character."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_unsafe(text: str) -> str:
    """`text` with every unsafe character shown as its escape, the rest as it is."""
    return "".join(escape_char(char) if is_unsafe(char) else char for char in text)
