"""The files' last pass, when a secret was learnt after their first texts came in: each
character of the secret spread over separators is starred where it stands outside the
file's markup, and the markup stays whole (round 54a F2; round 42a F5: a spread masked as
one stretch across a file's own markup and JSON left report.html without its cases)."""

import html
import json
import random
import string
import xml.etree.ElementTree as ET

import pytest

from smokegate import redact
from smokegate.redact import Scrubber
from tests.support.timing import best_of_three

TOKEN = "Lt7kQ2xW9pZ4mR8vN3cB"


def _knowing(token: str, monkeypatch: pytest.MonkeyPatch) -> Scrubber:
    """A scrubber that knows `token` (only) as a secret the run sent (a fetched token)."""
    monkeypatch.setattr(redact, "_registered", set())
    redact.register_secret(token)
    return Scrubber([])


@pytest.fixture
def scrubber(monkeypatch: pytest.MonkeyPatch) -> Scrubber:
    return _knowing(TOKEN, monkeypatch)


def _spread(value: str, separator: str) -> str:
    return separator.join(value[i : i + 2] for i in range(0, len(value), 2))


def test_a_spread_in_text_and_in_an_attribute_is_starred_character_by_character(scrubber):
    body = f"id {_spread(TOKEN, ':')} end"
    xml = (
        f'<testsuite><testcase name="t"><failure message="{_spread(TOKEN, ".")}">'
        f"{html.escape(body)}</failure></testcase></testsuite>"
    )
    assert scrubber.mask_known(xml) == xml  # whole forms only: no spread is searched
    masked = scrubber.mask_known(xml, spreads=True)
    assert len(masked) == len(xml)
    kept = "".join(c for c in masked if c.isalnum())
    assert TOKEN not in kept and TOKEN[:8] not in kept
    tree = ET.fromstring(masked)  # the markup is whole
    failure = tree.find("testcase/failure")
    assert failure is not None and failure.text == "id **:**:**:**:**:**:**:**:**:** end"
    assert failure.get("message") == _spread("*" * len(TOKEN), ".")


def test_a_spread_that_crosses_markup_is_left_whole(monkeypatch):
    """A token endpoint a hostile target controls may hand out a token spelled like the
    file's own markup (`div`, `id`) and a value after it: nothing of that stretch is
    starred, as its value may be the writers' own (round 54d G1); a secret's letters cross
    markup only when the secret was made to (its maker knows it), and the page parses."""
    scrubber = _knowing("divtitle7Q4Z9W8X", monkeypatch)
    page = '<p><div title="7Q4Z9W8X">x</div></p>'
    assert scrubber._literal_pattern().spread_characters(page)  # found across the markup
    assert scrubber.mask_known(page, spreads=True) == page
    # the same letters spread inside one value are starred
    inside = '<p><div title="d-i-v-t-i-t-l-e-7Q4Z9W8X">x</div></p>'
    starred = '<p><div title="*-*-*-*-*-*-*-*-********">x</div></p>'
    assert scrubber.mask_known(inside, spreads=True) == starred


@pytest.mark.parametrize(
    ("token", "page", "whole"),
    [
        # junit.xml's declaration: `version="*.*"` is no XML a CI system reads
        (
            "xmlversion10",
            '<?xml version="1.0" encoding="utf-8"?><testsuites name="x"/>',
            '<?xml version="1.0" encoding="utf-8"?>',
        ),
        # report.html's JSON member names: `"*****"` for `"tests"` left the page without cases
        (
            "lowtestschecks",
            '<div data-jsonblob="{&#34;low&#34;: {&#34;tests&#34;: {&#34;checks&#34;: 2}}}">',
            "&#34;tests&#34;: {&#34;checks&#34;:",
        ),
        # report.html's script finds its data by this id: starred, the page showed no case
        (
            "iddatacontainer",
            '<div id="data-container" data-jsonblob="{}"></div>',
            'id="data-container"',
        ),
        # a value the writers put there themselves, spelled within it
        (
            "datacontainer",
            '<div id="data-container" data-jsonblob="{}"></div>',
            'id="data-container"',
        ),
        ("colresultx", '<td class="col-result-x">Failed</td>', 'class="col-result-x"'),
        # junit.xml's gate verdict, read by CI steps
        (
            "gatevalueFAILED",
            '<properties><property name="gate" value="FAILED" /></properties>',
            '<property name="gate" value="FAILED" />',
        ),
        (
            "2highxyz",
            '<properties><property name="fail_on" value="2-high-xyz" /></properties>',
            '<property name="fail_on" value="2-high-xyz" />',
        ),
        # report.html's blob: the result a case is counted and filtered by
        (
            "resultFailed",
            '<div data-jsonblob="{&#34;result&#34;: &#34;Failed&#34;}"></div>',
            "&#34;result&#34;: &#34;Failed&#34;",
        ),
        # report.html's own script and style are no server's text
        (
            "Lt7kQ2xW9p",
            "<script>const d = find('Lt-7k-Q2-xW-9p');</script>",
            "find('Lt-7k-Q2-xW-9p')",
        ),
        (
            "colorwhitebg",
            "<style>td { color: white; bg: 1 }</style>",
            "td { color: white; bg: 1 }",
        ),
    ],
    ids=[
        "xml-declaration",
        "json-member-names",
        "id-name-and-value",
        "id-value",
        "class-value",
        "junit-gate",
        "junit-property-value",
        "blob-result",
        "script",
        "style",
    ],
)
def test_a_token_spelled_like_a_files_structure_leaves_it_whole(monkeypatch, token, page, whole):
    """A hostile token endpoint's token, learnt late, spelled like the files' own structure
    (round 54c F2: the XML declaration, report.html's JSON member names) or like an
    attribute value the writers put there (round 54d G1: `id="data-container"`, junit.xml's
    `gate` property, a case's `"result"`): starred, junit.xml was unparseable or lost its
    verdict, report.html showed no case."""
    scrubber = _knowing(token, monkeypatch)
    assert scrubber._literal_pattern().spread_characters(page)  # a spread is found there
    assert whole in scrubber.mask_known(page, spreads=True)


def test_a_spread_inside_an_html_escaped_json_blob_keeps_the_blob_readable(scrubber):
    data = {"tests": {"t::a": [{"log": f"said {_spread(TOKEN, ',')}", "result": "Failed"}]}}
    page = f'<div id="data-container" data-jsonblob="{html.escape(json.dumps(data))}"></div>'
    masked = scrubber.mask_known(page, spreads=True)
    blob = masked.partition('data-jsonblob="')[2].partition('"')[0]
    read = json.loads(html.unescape(blob))
    assert read["tests"]["t::a"][0]["log"] == "said " + _spread("*" * len(TOKEN), ",")
    assert read["tests"]["t::a"][0]["result"] == "Failed"


def test_a_late_secret_under_the_writers_own_escaping_is_found_too(scrubber):
    """Round 54c F1: a server's `&` between the characters (`Lt&amp;Tk…`) or `&lt;` inside
    the token is `&amp;amp;` / `&amp;amp;lt;` once report.html's cell and its JSON blob
    have escaped it again; the last pass read one level of escapes and left it whole."""
    amp_spread = "&amp;".join(TOKEN[i : i + 2] for i in range(0, len(TOKEN), 2))
    lt_inside = f"{TOKEN[:9]}&lt;{TOKEN[9:]}"
    for echo in (amp_spread, lt_inside):
        cell = html.escape(f"response body: id {echo} end")  # the cell's own escaping
        blob = html.escape(json.dumps({"log": cell}))  # the JSON blob in an attribute
        page = f'<div data-jsonblob="{blob}"></div>'
        masked = scrubber.mask_known(page, spreads=True)
        kept = "".join(c for c in masked if c.isalnum())
        assert TOKEN[:8] not in kept and TOKEN[-8:] not in kept, masked
        json.loads(html.unescape(masked.partition('data-jsonblob="')[2].partition('"')[0]))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_a_secret_spread_over_backslashes_is_masked(scrubber, size):
    """Round 54c F4: `Lt\\Tk\\7f\\3a…` read as escapes (`\\7f`, `\\3a`) in the normalised view
    hid the spread there; the text is read as it is too."""
    echo = "\\".join(TOKEN[i : i + size] for i in range(0, len(TOKEN), size))
    assert scrubber.scrub(f"id {echo} end") == "id *** end"


def test_a_member_name_inside_a_servers_quoted_json_is_text(scrubber):
    """Only the blob's own member names are structure: a server's JSON quoted inside a
    string (`\\&#34;Lt\\&#34;:`) is its text, and a token spread over such names is starred."""
    quoted = "".join(f"\\&#34;{TOKEN[i : i + 2]}\\&#34;: " for i in range(0, len(TOKEN), 2))
    page = f'<div data-jsonblob="{{&#34;log&#34;: &#34;{quoted}&#34;}}">'
    masked = scrubber.mask_known(page, spreads=True)
    kept = "".join(c for c in masked if c.isalnum())
    assert TOKEN[:8] not in kept and "&#34;log&#34;:" in masked


def test_a_late_secret_written_as_character_references_is_masked_under_the_writers_escaping(
    scrubber,
):
    """A server that wrote the token as `&#76;&#116;…`: `&amp;#76;…` in junit.xml,
    `&amp;amp;#76;…` in report.html's blob. The whole run of references is masked."""
    refs = "".join(f"&#{ord(c)};" for c in TOKEN)
    body = html.escape(f"id {refs} end")
    junit = f'<testcase name="t"><failure message="x">{body}</failure></testcase>'
    blob = html.escape(json.dumps({"log": html.escape(f"id {refs} end")}))
    for page in (junit, f'<div data-jsonblob="{blob}"></div>'):
        masked = scrubber.mask_known(page, spreads=True)
        assert "&#76;" not in html.unescape(html.unescape(masked)), masked
        assert "id *** end" in html.unescape(html.unescape(masked)), masked
    ET.fromstring(scrubber.mask_known(junit, spreads=True))


@pytest.mark.parametrize("name", ["why", "measured", "hint", "location"])
def test_a_spread_in_a_case_property_quoting_a_servers_text_is_starred(scrubber, name):
    """Round 55a F1: a case's `why` (its failure's one line, quoting a server's value) is
    a copy of its text in a property: taking every property for the writers' own left a
    late token spread there whole in junit.xml, and in a merged gate's summary.md."""
    echo = _spread(TOKEN, ":")
    page = (
        f'<testcase name="t"><properties><property name="severity" value="high" />'
        f'<property name="{name}" value="got {echo}" /></properties>'
        f'<failure message="got {echo}" /></testcase>'
    )
    masked = scrubber.mask_known(page, spreads=True)
    case = ET.fromstring(masked)
    values = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert values == {"severity": "high", name: "got " + _spread("*" * len(TOKEN), ":")}


def _late(token: str, monkeypatch: pytest.MonkeyPatch) -> Scrubber:
    """A scrubber whose first case was written before `token` was learnt."""
    monkeypatch.setattr(redact, "_registered", set())
    scrubber = Scrubber([])
    scrubber.note_first_written()
    redact.register_secret(token)
    return scrubber


@pytest.mark.parametrize("size", [8, 13, 17])
def test_a_piece_of_a_late_secret_is_starred_whole_in_a_file(monkeypatch, size):
    """Round 54a F1: an excerpt cut before the secret was known kept a piece of it; the
    last pass masked whole forms only. Each piece is found whole, however it lies against
    the one RE2 pass's matches."""
    scrubber = _late(TOKEN, monkeypatch)
    piece = TOKEN[3 : 3 + size]
    xml = f'<testcase name="t"><failure message="x">EEEE…E{piece}…</failure></testcase>'
    masked = scrubber.mask_known(xml, spreads=True)
    assert ET.fromstring(masked).find("failure").text == "EEEE…E" + "*" * size + "…"
    assert scrubber.mask_late_pieces(f"quoted {piece} here") == "quoted *** here"


def test_a_secret_known_when_the_first_case_was_written_is_not_late(monkeypatch):
    scrubber = _knowing(TOKEN, monkeypatch)
    scrubber.note_first_written()
    assert scrubber.late_pieces() is None
    assert scrubber.mask_late_pieces(f"a {TOKEN[2:14]} b") == f"a {TOKEN[2:14]} b"


def test_a_late_pieces_run_of_lower_case_letters_is_no_piece(monkeypatch):
    """A run of lower-case letters of a late token is a word as often as a piece:
    `endpoint` of a token holding it stays in smokegate's own lines."""
    scrubber = _late("endpointQ7x9Lm2Zw4", monkeypatch)
    assert scrubber.mask_late_pieces("endpoint orders failed") == "endpoint orders failed"
    assert scrubber.mask_late_pieces("saw Q7x9Lm2Zw4 there") == "saw *** there"


def test_a_late_piece_in_a_writers_own_value_is_left_and_in_text_is_starred(monkeypatch):
    """The writers' own values (an `id`) are markup to the late pieces as to spreads; the
    same piece in the text beside them is starred (review 55: this test searched a page
    holding no piece at all)."""
    scrubber = _late(TOKEN, monkeypatch)
    piece = TOKEN[2:14]
    page = f'<div id="{piece}">said {piece}</div>'
    assert scrubber.mask_known(page) == f'<div id="{piece}">said {"*" * len(piece)}</div>'


@pytest.mark.parametrize("before", ["\\u00e9", "\\n", "\\&#34;"])
def test_a_late_piece_next_to_a_json_escape_leaves_the_blob_json(monkeypatch, before):
    """Review 55: starring began just after an escaping backslash (`\\u00e9` then the
    token's tail, `\\*...`), or ended on one, and report.html's blob was no JSON: the page
    showed no case."""
    scrubber = _late(TOKEN, monkeypatch)
    blob = "{&#34;log&#34;: &#34;x" + before + TOKEN[3:] + "\\&#34; end&#34;}"
    page = f'<div data-jsonblob="{blob}"></div>'
    masked = scrubber.mask_known(page)
    data = json.loads(html.unescape(masked.partition('data-jsonblob="')[2].partition('"')[0]))
    assert TOKEN[3:11] not in data["log"]


def test_the_late_pieces_index_is_bounded_for_a_huge_hostile_token(monkeypatch):
    """Review 55: every window of ~60 forms of one 64 KiB token took 3 GB; the index holds
    the token's own windows first, up to a bound."""
    rng = random.Random(7)
    token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(65536))
    pieces = redact._LatePieces([token])
    assert len(pieces.grams) <= redact._LATE_GRAMS_MAX
    windows = [token[i : i + 8] for i in range(0, len(token) - 8, 997)]
    # the value as given is indexed whole (each of its windows a token's, or a word's)
    assert all(w in pieces.grams for w in windows if redact._token_like(w))


def test_the_last_pass_with_a_late_piece_grows_linearly_with_the_file(monkeypatch):
    """Review 55: one late piece made the pass walk every tag, and each step re-encoded the
    whole file (RE2's wrapper): 110 s for 0.9 MB. Compared in CPU time, as the linear-time
    tests are: four times the file, about four times the work (not sixteen)."""
    scrubber = _late(TOKEN, monkeypatch)

    def junit(cases: int) -> str:
        props = "".join(f'<property name="p{k}" value="v{k}" />' for k in range(10))
        body = [
            f'<testcase name="t{i}"><properties>{props}</properties>'
            f'<failure message="m">{"x" * 300}</failure></testcase>'
            for i in range(cases)
        ]
        body[0] = body[0].replace("xxx", TOKEN[4:16], 1)
        return "<testsuite>" + "".join(body) + "</testsuite>"

    small, large = junit(300), junit(1200)
    ratio = best_of_three(lambda: scrubber.mask_known(large)) / best_of_three(
        lambda: scrubber.mask_known(small)
    )
    assert ratio < 9, ratio


def test_a_late_piece_shown_lower_cased_is_masked(monkeypatch):
    """Review 55: a redirect's host or a proxy's `Host:` echo shows a token lower-cased."""
    scrubber = _late(TOKEN, monkeypatch)
    piece = TOKEN[2:14].lower()
    assert scrubber.mask_late_pieces(f"host {piece}.example") == "host ***.example"
