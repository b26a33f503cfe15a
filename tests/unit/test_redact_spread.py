"""Secrets spread, wrapped, escaped per character or cut by someone else (attack round 1 on
issue 10: L3, L5, H3). Payloads of this file's own: a secret of every character class,
each form built here, not taken from the scrubber.

- Forms spread over gaps: MIME base64 wrapped at any width (CRLF or LF), characters
  separated by spaces, UTF-16 read as UTF-8 (NUL between the characters).
- Every character escaped: JSON `\\uXXXX` (either case), HTML decimal and hex entities.
- Fragments: what is left of a secret that something else cut (a size cap, a reset, a
  server's own partial echo) is masked wherever `excerpt` quotes text, at any offset.
- Time: a huge periodic or random secret echoed many times is scrubbed in time linear in
  the text, within a budget relative to `str.find` over the same text.
"""

from __future__ import annotations

import base64
import secrets
import unicodedata

import pytest

from smokegate.redact import MASK, MIN_SECRET_CHARS, Scrubber, excerpt
from tests.support.timing import SCRUB_BUDGET_FACTOR, best_of_three


def _token() -> str:
    return f"Kx9{secrets.token_urlsafe(18)}/+q{secrets.token_hex(3)}"


@pytest.fixture
def token() -> str:
    return _token()


def _scrubber(token: str) -> Scrubber:
    return Scrubber(["SPREAD_TOKEN"], environ={"SPREAD_TOKEN": token})


def _visible_fragment(text: str, token: str, size: int = MIN_SECRET_CHARS) -> str | None:
    for start in range(len(token) - size + 1):
        if token[start : start + size] in text:
            return token[start : start + size]
    return None


@pytest.mark.parametrize("width", [8, 19, 60, 76])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("prefix", [b"", b"X-Token: ", b"user:"])
def test_base64_wrapped_at_any_width_is_masked(token, width, newline, prefix):
    encoded = base64.b64encode(prefix + token.encode()).decode()
    wrapped = newline.join(encoded[i : i + width] for i in range(0, len(encoded), width))
    out = _scrubber(token).scrub(f"body:{newline}{wrapped}{newline}end")
    joined = "".join(out.split())
    whole = base64.b64encode(token.encode()).decode().rstrip("=")
    assert whole not in joined and token not in out
    assert MASK in out and out.endswith("end")


@pytest.mark.parametrize("separator", [" ", "\x00", "\t", " \n "])
def test_a_secret_spread_over_gaps_is_masked_whole(token, separator):
    spread = separator.join(token)
    out = _scrubber(token).scrub(f"token was: {spread} (rejected)")
    assert out == f"token was: {MASK} (rejected)"


def test_utf16_read_as_utf8_is_masked(token):
    text = ("bad token " + token).encode("utf-16-le").decode("utf-8")
    out = _scrubber(token).scrub(text)
    assert _visible_fragment(out.replace("\x00", ""), token) is None


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
        lambda t: "".join(f"\\u{ord(c):04X}" for c in t),
        lambda t: "".join(f"&#{ord(c)};" for c in t),
        lambda t: "".join(f"&#x{ord(c):x};" for c in t),
        lambda t: "".join(f"&#x{ord(c):X};" for c in t),
        lambda t: t[::-1],
        lambda t: t.encode().hex(),
    ],
    ids=["json-u", "json-U", "html-dec", "html-hex", "html-HEX", "rev", "hex"],
)
def test_every_character_escaped_or_a_cheap_transform_is_masked(token, encode):
    form = encode(token)
    assert _scrubber(token).scrub(f'{{"error": "{form}"}}') == f'{{"error": "{MASK}"}}'


@pytest.mark.parametrize(
    "shown",
    [
        lambda t: "[" + " ".join(str(b) for b in t.encode()) + "]",  # Go's fmt of a []byte
        lambda t: str(list(t.encode())),  # Python, Java's Arrays.toString, Rust's {:?}
        lambda t: '{"type":"Buffer","data":[' + ",".join(map(str, t.encode())) + "]}",  # Node
        lambda t: "String.fromCharCode(" + ",".join(str(ord(c)) for c in t) + ")",
        lambda t: " ".join(f"{b:03o}" for b in t.encode()),  # od -b
        lambda t: t.encode("utf-16-le").hex(),  # varbinary of an N'' string
        lambda t: "".join(f"%u{ord(c):04X}" for c in t),  # JavaScript's escape()
        lambda t: "[" + ", ".join(t) + "]",  # Java's Arrays.toString(char[])
        lambda t: str(list(t)),  # Python's list of characters
        lambda t: "\ufff9".join(t).encode().decode("unicode_escape"),  # interlinear marks
        lambda t: "\u0600".join(t).encode().decode("unicode_escape"),  # a number sign
    ],
    ids=[
        "go",
        "list",
        "node",
        "fromcharcode",
        "octal",
        "utf16le-hex",
        "js-escape",
        "java-chars",
        "py-chars",
        "interlinear",
        "number-sign",
    ],
)
def test_a_secret_shown_as_its_bytes_or_characters_is_masked(token, shown):
    """Round 18a: a server that logs what it received as a byte buffer (Go, Node, Java,
    Python) showed the token as decimal numbers, which anyone decodes with `bytes([...])`;
    format characters between its characters were escaped for display and left readable."""
    out = _scrubber(token).scrub(f"invalid credentials: {shown(token)} (rejected)")
    assert MASK in out
    for size in (MIN_SECRET_CHARS, 4):
        digits = " ".join(str(b) for b in token.encode()[:size])
        assert digits not in out and ",".join(digits.split()) not in out
    assert (
        _visible_fragment(
            out.replace(", ", "").replace("'", "").replace("\ufff9", "").replace("\u0600", ""),
            token,
        )
        is None
    )


@pytest.mark.parametrize(
    "mark",
    [
        "\u0301",
        "\u0338",
        "\u20e3",
        "\u1dc0",
        "\ufe20",
        "\u0301\u0302",
        # round 22a: marks of other scripts (Hebrew, Arabic, Thai, Devanagari, kana,
        # Cyrillic, musical), and invisible Mongolian selectors and plane-14 ignorables
        "\u05b0",
        "\u064b",
        "\u0e39",
        "\u0901",
        "\u3099",
        "\u0483",
        "\u0488",
        "\U0001d167",
        "\u180b",
        "\u180f",
        "\U000e0080",
        "\U000e0fff",
    ],
)
@pytest.mark.parametrize("composed", [False, True], ids=["marks", "nfc"])
def test_a_secret_under_combining_marks_is_masked(token, mark, composed):
    """Accents, overlays or keycaps after each character leave the token readable; so do
    the accented letters Unicode composes of them (`Z` + U+0301 is `Ź`)."""
    marked = "".join(c + mark for c in token)
    if composed:
        marked = unicodedata.normalize("NFC", marked)
    out = _scrubber(token).scrub(f"invalid token {marked} (rejected)")
    assert MASK in out
    bare = "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))
    assert _visible_fragment(bare, token) is None, out


def test_accented_words_without_a_secret_are_kept(token):
    text = "café résumé naïve Zürich Ź̸q́ ⃣"
    assert _scrubber(token).scrub(text) == text


@pytest.mark.parametrize("kept", [MIN_SECRET_CHARS, 13, 20])
def test_a_secret_cut_by_someone_else_shows_no_fragment_in_an_excerpt(token, kept):
    scrubber = _scrubber(token)
    # a body cut at its size cap after `kept` characters of the token, and the whitespace
    # collapse that brings the end of the body to the front
    head = token[:kept]
    tail = token[-kept:]
    for body in (" " * 5000 + head, f"error: {head}", f"{tail} and more", f"x{head}y"):
        shown = excerpt(body, 80, scrubber=scrubber)
        assert _visible_fragment(shown, token) is None, shown
        assert MASK in shown


def test_a_fragment_straddling_the_excerpt_cut_is_masked_before_the_cut(token):
    scrubber = _scrubber(token)
    for offset in range(0, 40):
        body = "a" * (60 - offset) + token[:20]
        shown = excerpt(body, 64, scrubber=scrubber)
        assert _visible_fragment(shown, token, 6) is None, (offset, shown)


def test_fragments_shorter_than_the_minimum_stay_visible(token):
    """The documented edge: fewer than MIN_SECRET_CHARS characters of a secret are not
    told apart from ordinary text."""
    piece = token[: MIN_SECRET_CHARS - 1]
    assert piece in excerpt(f"error {piece}!", 80, scrubber=_scrubber(token))


def test_a_periodic_secret_echoed_back_to_back_leaves_nothing_between_masks():
    value = "ab/" * 300  # periodic, long enough to be searched with str.find
    scrubber = Scrubber(["P"], environ={"P": value})
    for extra in ("", "a", "ab", "ab/a", "ab/ab/ab/"):
        out = scrubber.scrub("[" + value * 3 + extra + "]")
        # what is left is less than one period of the value: no fragment of it
        assert out.startswith(f"[{MASK}") and out.endswith("]"), out[:60]
        assert len(out) - len(f"[{MASK}]") < 3, out[:60]


@pytest.mark.parametrize(
    ("value", "echoes"),
    [
        ("/" * 64_000, 16),
        (base64.b64encode(secrets.token_bytes(6_000)).decode(), 100),
        ("%2f" * 5_000, 40),
    ],
    ids=["64k-slashes", "8k-random", "percent"],
)
def test_huge_secrets_echoed_many_times_are_scrubbed_in_linear_time(value, echoes):
    scrubber = Scrubber(["HUGE"], environ={"HUGE": value})
    scrubber.scrub("warm up: compile the forms")
    filler = "lorem ipsum " * 2000
    text = (filler + value) * echoes
    budget = best_of_three(lambda: text.find("\x01never there\x02")) * SCRUB_BUDGET_FACTOR
    spent = best_of_three(lambda: scrubber.scrub(text))
    out = scrubber.scrub(text)
    assert value not in out and _visible_fragment(out, value, 32) is None
    assert spent < max(budget, 0.05), f"{spent:.3f} s for {len(text)} chars (budget {budget:.3f})"


@pytest.mark.parametrize(
    "piece",
    [
        lambda t: " ".join(t[:12]),  # spread with blanks
        lambda t: "\u200b".join(t[:19]),  # zero-width spaces between
        lambda t: "\u00ad".join(t[:10]),  # soft hyphens
        lambda t: t[:4] + f"\\u{ord(t[4]):04x}" + t[5:12],  # one character escaped
        lambda t: "".join(f"\\x{ord(c):02x}" for c in t[:10]),  # every byte escaped
        lambda t: t[:5] + f"%{ord(t[5]):02X}" + t[6:13],  # percent-escaped in part
    ],
    ids=["blanks", "zwsp", "soft-hyphen", "one-escape", "every-byte", "percent"],
)
def test_a_piece_spread_or_escaped_is_masked_as_a_fragment(token, piece):
    """Round 19a, F2: fragments were looked for in the raw text only: a piece of the token
    spread over gaps or escaped in part showed up to 19 of 20 characters."""
    scrubber = _scrubber(token)
    out = scrubber.mask_fragments(scrubber.scrub(f"your token was {piece(token)} and expired"))
    assert MASK in out
    readable = out.replace(" ", "").replace("\u200b", "").replace("\u00ad", "")
    assert _visible_fragment(readable, token, 6) is None, out


def test_a_log_record_holding_a_piece_of_a_secret_is_masked(token):
    """Round 19a, F1: urllib3's retry warning quoted a redirect URL holding 12 characters of
    the token; log records were scrubbed for whole forms only."""
    import logging

    from smokegate.redact import ScrubFilter

    record = logging.LogRecord(
        "urllib3.connectionpool", logging.WARNING, __file__, 1,
        "Retrying after connection broken: %s", (f"/next?trace={token[:12]}",), None,
    )  # fmt: skip
    ScrubFilter(_scrubber(token)).filter(record)
    assert token[:8] not in record.getMessage() and MASK in record.getMessage()


def test_an_aws_error_message_quoting_a_piece_of_a_secret_is_masked(monkeypatch):
    """Round 19a: AWS's own message (a hostile endpoint's) quoted the session token spread
    with blanks; it is a server's text, quoted through `excerpt`."""
    from botocore.exceptions import ClientError

    from smokegate import redact
    from smokegate.gather.iam import explain_client_error

    session = "FwoGZXIvYXdzEJr19aTok9Hq7xK2mPw"
    monkeypatch.setenv("AWS_SESSION_TOKEN", session)
    monkeypatch.setattr(
        redact, "_process_scrubber", Scrubber([], environ={"AWS_SESSION_TOKEN": session})
    )
    spread = " ".join(session[:14])
    error = ClientError(
        {"Error": {"Code": "InvalidClientTokenId", "Message": f"token {spread} is invalid"}},
        "GetCallerIdentity",
    )
    said = explain_client_error("sts:GetCallerIdentity", error)
    assert "token *** is invalid" in said


@pytest.mark.parametrize(
    "code",
    [
        "{piece}",  # 47a F2: the code held 40 characters of the token the endpoint was sent
        "Bad\n\n===== smokegate =====\ngate PASSED (--fail-on low): no failures\n",  # F3
    ],
)
def test_an_aws_error_code_is_quoted_as_a_server_s_text(monkeypatch, code):
    """Round 47a F2/F3: the error's Message was quoted through `excerpt`, its Code raw, in a
    message marked as smokegate's own (no later pass looks for pieces in it)."""
    from botocore.exceptions import ClientError

    from smokegate import redact
    from smokegate.gather.iam import explain_client_error

    session = "FwoGZXIvYXdzEJrAAAAwEaDHx9Q2mK7pLrV8nZsSLAAWq3RtY5uN1oPz4Bb6Cc8Dd0Ee2F"
    monkeypatch.setattr(
        redact, "_process_scrubber", Scrubber([], environ={"AWS_SESSION_TOKEN": session})
    )
    written = code.format(piece=session[20:60])
    error = ClientError({"Error": {"Code": written, "Message": "denied"}}, "GetCallerIdentity")
    said = explain_client_error("sts:GetCallerIdentity", error)
    assert session[20:60] not in said and session[24:32] not in said
    assert "\n" not in said and said.endswith(": denied")


def test_a_piece_of_a_case_blind_secret_in_the_other_case_is_masked():
    """Round 20, F1: a hex key is masked whatever its case, but 16-20 of its digits
    upper-cased were shown: pieces were looked for as written only."""
    key = "9f3ac0d1e8b4472aa6c1d0f2b7e95c3d"
    scrubber = Scrubber(["KEY"], environ={"KEY": key})
    out = scrubber.mask_fragments(
        scrubber.scrub(f"prefix {key[:16].upper()}, suffix {key[-20:].upper()}")
    )
    assert key[:10].upper() not in out and key[-12:].upper() not in out, out


def test_the_env_s_secrets_are_indexed_before_what_a_server_handed_out(
    empty_registry, monkeypatch, token
):
    """Round 20, F2: values a server handed out filled the index of pieces first (shortest
    forms first), and 20 characters of the env's own token were then shown bare."""
    import json
    import random
    import string

    redact = empty_registry
    monkeypatch.setattr(redact, "_FRAGMENT_INDEX_MAX", 400)
    rnd = random.Random(20)
    values = ["".join(rnd.choices(string.ascii_letters + string.digits, k=20)) for _ in range(16)]
    redact.register_issued_credentials(json.dumps({"access_token": values}))
    literals = _scrubber(token)._literal_pattern()
    assert token[:8] in literals.grams()  # the index is full, and holds the token first
    assert not all(v[:8] in literals.grams() for v in values)


def test_the_env_s_token_echoed_as_a_server_s_credential_stays_the_env_s(
    empty_registry, monkeypatch, token
):
    """Round 21a, F1: a server answering `{"access_token": <the token it was sent>}` made
    the env's token a value it had handed out; it lost its first place in the index of
    pieces, and a flood of other values evicted them (30 characters shown spread)."""
    import json
    import random
    import string

    redact = empty_registry
    monkeypatch.setenv("R21A_API_TOKEN", token)  # a credential by its name
    monkeypatch.setattr(redact, "_FRAGMENT_INDEX_MAX", 400)
    rnd = random.Random(21)
    values = ["".join(rnd.choices(string.ascii_letters + string.digits, k=20)) for _ in range(15)]
    redact.register_issued_credentials(json.dumps({"access_token": [token, *values]}))
    assert token not in redact._issued and len(redact._issued) == 15
    literals = redact.process_scrubber()._literal_pattern()
    assert token[:8] in literals.grams()
    spread = " ".join(token[2:20])
    out = redact.excerpt(f"caller {spread} was revoked", 200)
    assert _visible_fragment(out.replace(" ", ""), token) is None, out


def test_a_long_value_a_server_hands_out_is_masked_by_its_name_not_registered(empty_registry):
    """Round 20, F3: values were capped by count, not size: 60 values of 16 000 characters
    took 0.5 GB and seconds per rebuild of the scrubber."""
    import json

    redact = empty_registry
    long_value = "L" + "q7xK2mP9" * 500
    redact.register_issued_credentials(
        json.dumps({"access_token": [long_value, "R20short-9fZq7xK2mP"]})
    )
    assert redact.registered_secrets() == ["R20short-9fZq7xK2mP"]
    assert len(long_value) > redact.MAX_ISSUED_CHARS


@pytest.mark.parametrize("gap", ["\t", "\n", "\r\n"])
def test_a_piece_spread_over_tabs_or_line_breaks_is_masked_before_they_are_escaped(token, gap):
    """Round 20, F6: a quoted status or header line turned tabs and line breaks into the
    text `\\t` / `\\n` before pieces were looked for; 14 characters spread over tabs showed."""
    from smokegate.redact import excerpt

    text = "bad header " + gap.join(token[:14]) + " end"
    out = excerpt(text, 200, scrubber=_scrubber(token), one_line=True, spacing=True)
    readable = out.replace("\\t", "").replace("\\n", "").replace("\\r", "").replace(" ", "")
    assert _visible_fragment(readable, token, 6) is None, out


def test_a_case_blind_piece_of_letters_only_leaves_words_alone():
    """A word-like run of a case-blind value (`readonly` of `readonly-smoke-token-1`) hit
    `SG_READONLY_TOKEN` in smokegate's own words once pieces were looked for case-blind;
    pieces of letters only are looked for as written."""
    scrubber = Scrubber(["T"], environ={"T": "readonly-smoke-token-1"})
    said = "got 403 with SG_READONLY_TOKEN: token accepted, access refused"
    assert scrubber.mask_fragments(scrubber.scrub(said)) == said


def test_a_token_handed_out_then_sent_is_searched_spread(empty_registry):
    """Round 43a F2: the token endpoint's answer is read for handed-out credentials before
    its token is taken and sent; counted as handed out, the token was never searched
    spread, and a resource server echoing it `K/x/7/...` showed it whole."""
    import json

    redact = empty_registry
    fetched = "Kx7Qm2Rv9Tz4Wp6Ny8Lb3Hd5"
    redact.register_issued_credentials(json.dumps({"access_token": fetched}))
    assert fetched in redact._issued
    # the scrubber's forms are built while the token counts as handed out
    assert "/".join(fetched) in redact.excerpt("/".join(fetched), 200)
    redact.register_secret(fetched)  # what oauth2.token_from does once it takes the token
    out = redact.excerpt(f"Server: nginx ({'/'.join(fetched)})", 200)
    assert _visible_fragment(out.replace("/", ""), fetched) is None, out


@pytest.mark.parametrize("separator", ["é", "²", "ª", "Å", "ü", "①", "ａ"])
def test_a_secret_spread_over_letters_folded_to_ascii_is_masked(token, separator):
    """Round 43a F4: the spread search read the folded view, where `é` is `e` and `²` is
    `2`: letters and digits that broke the spread, and the token echoed over them showed."""
    out = _scrubber(token).scrub(f"Server: nginx ({separator.join(token)})")
    assert _visible_fragment(out.replace(separator, ""), token) is None, out


def test_a_secret_spelled_in_fullwidth_and_spread_is_still_masked(token):
    """The folded reading stays searched too: fullwidth letters are the secret's own."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in token)
    out = _scrubber(token).scrub(f"echo {'/'.join(wide)} end")
    assert MASK in out and wide[:8] not in out.replace("/", ""), out


@pytest.mark.parametrize("separator", ["é", "²"])
def test_a_secret_in_fullwidth_letters_spread_over_latin_folds_is_masked(token, separator):
    """Round 44a F1: fullwidth letters with `é` between them were in no reading of two:
    both fold to letters, or both to separators."""
    wide = [chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in token]
    echoed = separator.join(wide)
    out = _scrubber(token).scrub(f"upstream said: {echoed}")
    assert MASK in out and "".join(wide[:8]) not in out.replace(separator, ""), out


def test_a_secret_written_with_look_alike_letters_is_masked(token):
    """Round 44a F2: Cyrillic, Greek and Cherokee letters drawn as Latin ones read as the
    token and were shown; they are folded to the Latin letter they look like."""
    look = {"K": "К", "x": "х", "T": "Т", "p": "р", "y": "у", "H": "Н", "R": "Ꭱ", "z": "ᴢ"}
    secret = "Kx7Qm2Rv9Tz4Wp6Ny8Lb3Hd5"
    echoed = "".join(look.get(c, c) for c in secret)
    out = _scrubber(secret).scrub(f"upstream said: {echoed} (rejected)")
    assert out == f"upstream said: {MASK} (rejected)", out
