"""The scrubber on its own: values, encodings, header/bearer shapes, tracebacks and logs."""

import io
import logging
from collections import namedtuple

import pytest

from smokegate.redact import MASK, Scrubber, ScrubFilter

TOKEN = "tok_S3cret/value+with=chars"
AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def scrubber() -> Scrubber:
    environ = {"API_TOKEN": TOKEN, "AWS_SECRET_ACCESS_KEY": AWS, "SHORT": "ab", "OTHER": "public"}
    return Scrubber(["API_TOKEN", "SHORT"], environ=environ)


def test_values_of_the_named_variables_and_aws_secrets_are_masked(scrubber):
    text = f"sent {TOKEN} and {AWS}; public stays"
    assert scrubber.scrub(text) == f"sent {MASK} and {MASK}; public stays"


def test_encoded_forms_are_masked_too(scrubber):
    from urllib.parse import quote

    encoded = quote(TOKEN, safe="")
    assert encoded != TOKEN
    assert scrubber.scrub(f"?t={encoded}") == f"?t={MASK}"


def test_values_too_short_to_be_secrets_are_left_alone(scrubber):
    assert scrubber.scrub("ab cab") == "ab cab"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz\r\nHost: x", "Authorization: ***\r\nHost: x"),
        (
            "{'Authorization': 'Token abc', 'Accept': '*/*'}",
            "{'Authorization': '***', 'Accept': '*/*'}",
        ),
        ('{"authorization": "anything"}', '{"authorization": "***"}'),
        ("curl -H 'Bearer eyJabc.def-ghi'", "curl -H 'Bearer ***'"),
        (
            'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
            'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
        ),
        ("Proxy-Authorization: secret", "Proxy-Authorization: ***"),
        ("nothing to see", "nothing to see"),
        # a token-shaped word after Bearer, on the same line, is masked ...
        ("retry with Bearer abcdefgh1 later", "retry with Bearer *** later"),
        ("Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ", "Bearer ***"),
        # ... prose, challenge parameters and the next line are not (a case named
        # health-bearer, a URL ending in /bearer, above the report's own fields)
        ("Bearer authentication is required", "Bearer authentication is required"),
        ("WWW-Authenticate: Bearer realm=api", "WWW-Authenticate: Bearer realm=api"),
        ("target: health-bearer\nseverity: high", "target: health-bearer\nseverity: high"),
        ("GET http://x/bearer\nlocation: x", "GET http://x/bearer\nlocation: x"),
    ],
)
def test_credential_shapes_are_masked_whatever_their_origin(scrubber, text, expected):
    assert scrubber.scrub(text) == expected


def test_values_are_read_when_scrubbing_so_a_late_change_is_seen():
    environ = {"API_TOKEN": "first-value"}
    scrubber = Scrubber(["API_TOKEN"], environ=environ)
    assert scrubber.scrub("first-value") == MASK
    environ["API_TOKEN"] = "second-value"
    assert scrubber.scrub("first-value second-value") == f"first-value {MASK}"


def test_containers_are_scrubbed_in_place(scrubber):
    Pair = namedtuple("Pair", "name value")
    data = {"a": [TOKEN, ("x", TOKEN)], "b": Pair("n", TOKEN)}
    scrubber.scrub_data(data)
    assert data == {"a": [MASK, ("x", MASK)], "b": Pair("n", MASK)}


def _leaky_exception_repr(token: str):
    def call_with(secret: str) -> None:
        raise RuntimeError(f"server refused {secret}")

    try:
        call_with(token)
    except RuntimeError as exc:
        return pytest.ExceptionInfo.from_exception(exc).getrepr(showlocals=True, style="long")


def test_a_traceback_keeps_its_structure_and_loses_the_secret(scrubber):
    longrepr = _leaky_exception_repr(TOKEN)
    assert TOKEN in str(longrepr)
    cleaned = scrubber.scrub_longrepr(longrepr)
    assert cleaned is longrepr  # still a traceback repr: console layout and JUnit message intact
    text = str(cleaned)
    assert TOKEN not in text
    assert f"server refused {MASK}" in text
    assert cleaned.reprcrash.message == f"RuntimeError: server refused {MASK}"


def test_native_tracebacks_and_strings(scrubber):
    try:
        raise ValueError(TOKEN)
    except ValueError as exc:
        native = pytest.ExceptionInfo.from_exception(exc).getrepr(style="native")
    assert TOKEN not in str(scrubber.scrub_longrepr(native))
    assert scrubber.scrub_longrepr(("file.py", 3, f"Skipped: {TOKEN}")) == (
        "file.py",
        3,
        f"Skipped: {MASK}",
    )
    assert scrubber.scrub_longrepr(None) is None


def test_log_filter_scrubs_message_args_and_exception_text(scrubber):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubFilter(scrubber))
    logger = logging.getLogger("smokegate.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling with Authorization: Bearer %s", TOKEN)
        try:
            raise RuntimeError(f"boom {TOKEN}")
        except RuntimeError:
            logger.exception("failed with %s", AWS)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output
    assert AWS not in output
    assert "calling with Authorization: ***" in output
    assert f"failed with {MASK}" in output
    assert f"RuntimeError: boom {MASK}" in output
