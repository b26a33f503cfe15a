"""Bodies as a hostile server shapes them (attack round 1 on issue 10, L4 and L5): the
declared charset decides how the body is read, a secret in an HTML page is masked before
the tags are dropped, and a JMESPath expression the body's shape breaks is one readable
problem, never a traceback that quotes the document."""

from __future__ import annotations

import json
import secrets

import pytest

from smokegate.config import Endpoint
from smokegate.facts.http import Headers, ProbeResult, decode_body
from smokegate.redact import MASK, configure_secret_variables
from smokegate.rules.health import body_excerpt, check_endpoint

VAR = "HOSTILE_BODY_SECRET"


@pytest.fixture
def secret(monkeypatch):
    value = f"s3cr<i>{secrets.token_hex(5)}</i>Pw!"
    monkeypatch.setenv(VAR, value)
    configure_secret_variables([VAR])
    yield value
    configure_secret_variables(())


def _result(body: bytes, content_type: str, status: int = 500) -> ProbeResult:
    return ProbeResult(
        key="k",
        url="https://a.example/",
        status=status,
        latency_ms=3.0,
        body=body,
        headers=Headers({"Content-Type": content_type}),
    )


@pytest.mark.parametrize(
    "codec", ["utf-16-le", "utf-16-be", "utf-16", "utf-32", "latin-1", "cp1252", "utf-8"]
)
def test_a_body_is_read_in_its_declared_charset_and_masked(secret, codec):
    body = f"bad credentials: {secret}".encode(codec, errors="replace")
    result = _result(body, f'text/plain; charset="{codec.upper()}"')
    assert secret in result.text  # read as the server wrote it, so the scrubber sees it
    shown = body_excerpt(result)
    assert secret not in shown and MASK in shown and "\\x00" not in shown


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_wins_over_a_missing_charset(codec):
    assert decode_body("héllo".encode(codec), "text/plain").lstrip("\ufeff") == "héllo"


def test_an_unknown_charset_is_read_as_utf8():
    assert decode_body(b"ok \xff", "text/plain; charset=x-nonsense") == "ok \ufffd"


def test_a_secret_holding_tags_is_masked_before_the_tags_are_dropped(secret):
    page = f"<html><body><b>password was</b> {secret}<p>retry</p></body></html>"
    shown = body_excerpt(_result(page.encode(), "text/html"))
    assert MASK in shown and "retry" in shown
    for piece in secret.replace("<i>", " ").replace("</i>", " ").split():
        assert len(piece) < 4 or piece not in shown, shown


@pytest.mark.parametrize(
    ("expression", "document"),
    [
        ("length(orders)", {"orders": 5}),
        ("sort_by(items, &id)", {"items": [{"id": 1}, {"id": "a"}]}),
        ("max(values)", {"values": [1, "x"]}),
        ("abs(name)", {"name": "alice"}),
    ],
)
def test_a_jmespath_type_error_is_one_problem_naming_the_expression(secret, expression, document):
    document = {**document, "pad": "p" * 80 + secret + "q" * 300}
    endpoint = Endpoint(
        name="orders", url="https://a.example/", jmespath={expression: {"exists": True}}
    )
    verdict = check_endpoint(
        endpoint, _result(json.dumps(document).encode(), "application/json", 200)
    )
    assert not verdict.passed and verdict.verified
    (problem,) = verdict.problems
    assert problem.startswith(f"jmespath {expression} cannot be evaluated on this body: ")
    assert secret[:8] not in problem and "pppp" not in problem


def test_a_parsed_body_does_not_outlive_its_check():
    """`[{},{},...]` costs ~30x its bytes once parsed; a cached parse lived for the whole
    run, outside the body budget (attack round 8b, F7: 40 endpoints of 1 MiB, 1.2 GB).
    After the check, what the result holds is its bytes again."""
    import gc
    import tracemalloc

    body = b"[" + b",".join([b"{}"] * (1024 * 1024 // 3)) + b"]"
    results = [_result(body, "application/json", status=200) for _ in range(5)]
    endpoint = Endpoint(url="https://a.example/", json={"a": 1})
    gc.collect()
    tracemalloc.start()
    try:
        for result in results:
            verdict = check_endpoint(endpoint, result)
            (problem,) = verdict.problems
            assert problem.startswith("json $ is [{}, {}") and problem.endswith("an object")
        gc.collect()
        _, peak = tracemalloc.get_traced_memory()
        # what json's decoder allocated and is still alive: other threads of this process
        # (an xdist worker's servers) allocate meanwhile, but not through json.decoder
        parsed = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, json.decoder.__file__)]
        )
        kept = sum(stat.size for stat in parsed.statistics("filename"))
    finally:
        tracemalloc.stop()
    assert peak > 10 * len(body)  # one parse at a time did cost this much...
    assert kept < len(body)  # ...and none of it is kept: five cached parses were ~150 MiB
    assert results[0].json() is not results[0].json()  # parsed on demand, never cached


def test_a_body_too_costly_to_parse_is_refused_before_parsing():
    """One parse is bounded too: 5 MiB of `[{},{},...]` is estimated past 256 MiB parsed
    (64 MiB of it took 1.7 GB) and refused by counting bytes; up to 4 MiB always parses."""
    import tracemalloc

    from smokegate.facts.http import MAX_PARSED_JSON_BYTES, parsed_cost

    dense = b"[" + b",".join([b"{}"] * (5 * 1024 * 1024 // 3)) + b"]"
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^body is JSON too large to judge: about 2"):
            _result(dense, "application/json", status=200).json()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(dense)  # counted, not parsed
    for shape in (b"{}", b"[]", b'"ab"', b"1", b'{"a":"xyz"}'):
        body = b"[" + b",".join([shape] * (4 * 1024 * 1024 // (len(shape) + 1))) + b"]"
        assert parsed_cost(body) < MAX_PARSED_JSON_BYTES, shape


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32", "cp500", "hz", "utf-7"])
def test_plain_bytes_labelled_in_a_charset_that_hides_them_are_read_as_utf8(secret, codec):
    """Round 19a, F3: the token echoed in ASCII under `charset=utf-16` (or EBCDIC) was
    decoded into CJK or EBCDIC characters before the scrub, and shown unmasked to anyone
    who re-encodes it."""
    body = f"denied token={secret} end".encode()
    result = _result(body, f"text/plain; charset={codec}")
    assert secret in result.text
    shown = body_excerpt(result)
    assert secret not in shown and MASK in shown


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "cp500"])
def test_a_piece_of_the_token_labelled_in_a_charset_that_hides_it_is_masked(secret, codec):
    """Round 21a, F2: the UTF-8 reading was chosen when it held the whole token only; a
    piece of it (24 of 32 characters) was shown as CJK or EBCDIC letters."""
    piece = secret[4:28]
    body = f"ab{piece}cd".encode()
    result = _result(body, f"text/plain; charset={codec}")
    assert piece in result.text
    shown = body_excerpt(result)
    assert piece[:8] not in shown and piece[-8:] not in shown and MASK in shown


@pytest.mark.parametrize(
    "shape",
    [
        lambda t: (t.encode("utf-16-le") + b"  " + t.encode(), "text/plain; charset=utf-16-le"),
        lambda t: (b"\xff\xfe" + f"caller {t} revoked!".encode(), "text/plain"),
        lambda t: (b"\xfe\xff" + f"caller {t} revoked!".encode(), "text/plain"),
        lambda t: (f"caller {t} revoked".encode("utf-16-be"), "text/plain; charset=utf-16"),
        lambda t: (f"caller {t} revoked".encode("utf-16-be"), "text/plain; charset=utf-16le"),
        lambda t: (f"caller {t} revoked".encode("utf-16-le"), "text/plain; charset=utf-16be"),
    ],
    ids=[
        "both-encodings",
        "bom-le-then-ascii",
        "bom-be-then-ascii",
        "be-as-utf16",  # round 23a, F3: the other byte order
        "be-as-le",
        "le-as-be",
    ],
)
def test_the_token_in_ascii_behind_a_utf16_reading_is_masked(secret, shape):
    """Round 22a, F2, F3: a body holding the token in UTF-16 and again in ASCII, or a
    UTF-16 byte-order mark before the token in ASCII, was read as UTF-16, and the ASCII
    copy shown as CJK characters that re-encode to it."""
    body, content_type = shape(secret)
    shown = body_excerpt(_result(body, content_type))
    assert MASK in shown
    for codec in ("utf-16-le", "utf-16-be"):
        again = shown.encode(codec, errors="replace")
        assert secret.encode() not in again and secret[:8].encode() not in again


@pytest.mark.parametrize("charset", ["base64", "hex", "rot13", "zlib", "idna", "undefined"])
def test_a_codec_that_is_no_text_encoding_is_read_as_utf8(charset):
    """Round 19a, F4: `charset=base64` passed codecs.lookup, then raised a traceback of
    smokegate's own when the body was decoded."""
    assert decode_body(b"ok \xff", f"text/plain; charset={charset}") == "ok \ufffd"
