"""Whether an auth refusal's body holds what the real credential's answer held.

An app that sets 401 (or a 302 to its login page) and goes on to render the page sends the
protected data to anyone. Comparing the two bodies byte for byte caught only a static page:
a request id, a timestamp, a CSRF nonce or another JSON key order makes two renderings of
one page differ, and such a refusal passed every auth case (round 42b F1).

So the bodies are compared as bags of words (key order and layout do not matter), and what
differs between two answers to the real credential is taken for the page's per-request
part: the refusal leaks when it holds every word those two answers share. What the real
answer holds that no refusal shows and that does not change (a user's name, "Welcome", the
data itself) keeps the refusal honest, however much layout a login page shares with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from smokegate import linear_re

# A body's words: runs of letters, digits and underscores, and of non-ASCII bytes (UTF-8
# text, read a byte per character so that nothing fails to decode)
_WORD = r"[0-9A-Za-z_\x80-\xff]+"
# Only this much of each body is compared: a leak shows in it, and a hostile body's distinct
# words past it would only cost memory
_COMPARED_BYTES = 1 << 20
# A real answer whose lasting words weigh less than this is as often a stub an API writes
# whatever the status (`{"identity": "known"}`) as the data itself
MIN_WORD_BYTES = 32
# The numbers a refusal may lack and still hold the real answer: at most 1/4 of its words
_NUMBERS_SHARE = 4


def words(body: bytes) -> Counter[str]:
    """The body's words with how often each occurs."""
    text = body[:_COMPARED_BYTES].decode("latin-1")  # cut-ok: compared, never shown
    return Counter(linear_re.compile(_WORD).findall(text))


def weight(bag: Counter[str]) -> int:
    """The bytes the bag's words take, each counted as often as it occurs."""
    return sum(len(word) * count for word, count in bag.items())


def leaked_words(let_in: bytes, refused: bytes, let_in_again: Callable[[], bytes | None]) -> int:
    """The bytes of the real answer's lasting words that the refusal holds when it holds
    them all, else 0.

    `let_in_again` asks the real credential's request once more (None when it cannot be
    asked again, or was not let in again): it is called only when the refusal holds a
    good part of the real answer, but not all of it, so that an honest refusal costs no
    request.
    """
    real, shown = words(let_in), words(refused)
    if weight(real & shown) < MIN_WORD_BYTES:
        return 0
    if _holds_all(shown, real):
        return weight(real & shown)
    again = let_in_again()
    if again is None:
        return 0
    lasting = real & words(again)
    if weight(lasting) < MIN_WORD_BYTES or not _holds_all(shown, lasting):
        return 0
    return weight(lasting & shown)


def _holds_all(shown: Counter[str], wanted: Counter[str]) -> bool:
    """Whether `shown` holds every wanted word, but for a few numbers: a time to the second
    is the same in two answers asked within one second and another in the refusal asked
    beside them, and is no data the refusal lacks."""
    lacking = wanted - shown
    numbers = all(word.isdigit() for word in lacking)
    return not lacking or (numbers and weight(lacking) * _NUMBERS_SHARE <= weight(wanted))
