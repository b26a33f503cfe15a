"""The request side of the env file (DESIGN.md §3a): credentials, request, expect_status
classes and jmespath compiled at load time; case ids per credential scheme; what the
scrubber is told to hide."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from smokegate.config import AuthEntry, Endpoint, EnvConfig
from smokegate.http_spec import Credentials, RequestSpec, compile_jmespath
from smokegate.targets import forbidden_cases, secret_env_names, token_cases

URL = "https://api.example.com/x"


def endpoint(**fields: Any) -> Endpoint:
    return Endpoint.model_validate({"url": URL, **fields})


@pytest.mark.parametrize(
    ("spec", "ok", "bad"),
    [
        (200, [200], [201, 204]),
        ([200, 204], [200, 204], [201]),
        ("2xx", [200, 201, 299], [199, 300, 404]),
        (["2xx", 304], [201, 304], [301, 500]),
        ("5XX", [500, 503], [404]),
        ("201", [201], [200]),
    ],
)
def test_expect_status_takes_ints_lists_and_classes(spec: Any, ok: list, bad: list) -> None:
    entry = endpoint(expect_status=spec)
    assert all(entry.status_ok(s) for s in ok)
    assert not any(entry.status_ok(s) for s in bad)


def test_status_text_names_what_passes() -> None:
    assert endpoint(expect_status=["2xx", 304]).expected_status_text == "2xx or 304"
    assert endpoint().expected_status_text == "200"


@pytest.mark.parametrize("bad", ["6xx", "2x", "ok", True, [], [200, "abc"], 99])
def test_a_status_that_is_none_is_refused(bad: Any) -> None:
    with pytest.raises(ValidationError):
        endpoint(expect_status=bad)


@pytest.mark.parametrize(
    ("raw", "scheme", "case_env", "secrets"),
    [
        ({"bearer_env": "T"}, "bearer", "T", ("T",)),
        ({"header": {"name": "X-API-Key", "value_env": "K"}}, "header", "K", ("K",)),
        ({"query": {"name": "api_key", "value_env": "K"}}, "query", "K", ("K",)),
        ({"basic": {"username": "u", "password_env": "P"}}, "basic", "P", ("P",)),
        ({"basic": {"username_env": "U", "password_env": "P"}}, "basic", "P", ("P",)),
        (
            {"oauth2": {"token_url": URL, "client_id_env": "I", "client_secret_env": "S"}},
            "oauth2",
            "I",
            ("S",),
        ),
    ],
)
def test_each_scheme_names_its_case_and_its_secrets(
    raw: dict, scheme: str, case_env: str, secrets: tuple
) -> None:
    credentials = Credentials.model_validate(raw)
    assert credentials.scheme == scheme
    assert credentials.case_env == case_env
    assert credentials.secret_env_names == secrets


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"bearer_env": "A", "query": {"name": "k", "value_env": "B"}},
        {"basic": {"password_env": "P"}},  # no user name
        {"basic": {"username": "u", "username_env": "U", "password_env": "P"}},
        {"basic": {"username": "a:b", "password_env": "P"}},
        {"header": {"name": "Bad Header", "value_env": "K"}},
        {"bearer_env": "not a variable"},
        {"oauth2": {"token_url": "ftp://x", "client_id_env": "I", "client_secret_env": "S"}},
        {"oauth2": {"token_url": URL, "client_id_env": "I", "client_secret_env": "S", "x": 1}},
    ],
)
def test_bad_credentials_are_refused(raw: dict) -> None:
    with pytest.raises(ValidationError):
        Credentials.model_validate(raw)


def test_forbidden_case_ids_per_scheme_and_the_scrubbers_variables() -> None:
    entry = AuthEntry.model_validate(
        {
            "name": "api",
            "url": URL,
            "credentials": {"basic": {"username": "svc", "password_env": "PW"}},
            "forbidden": [
                {"token_env": "RO_TOKEN"},
                {"credentials": {"header": {"name": "X-Key", "value_env": "RO_KEY"}}},
                {"credentials": {"query": {"name": "key", "value_env": "RO_QUERY"}}},
                {"credentials": {"basic": {"username": "ro", "password_env": "RO_PW"}}},
                {
                    "credentials": {
                        "oauth2": {
                            "token_url": URL,
                            "client_id_env": "RO_ID",
                            "client_secret_env": "RO_SECRET",
                        }
                    }
                },
            ],
        }
    )
    config = EnvConfig(
        auth=[entry], endpoints=[endpoint(name="e", credentials={"bearer_env": "E_TOKEN"})]
    )
    ids = [c.case_id for c in forbidden_cases(config)]
    assert ids == ["api-RO_TOKEN", "api-RO_KEY", "api-RO_QUERY", "api-RO_PW", "api-RO_ID"]
    assert [c.case_id for c in token_cases(config)] == ["api"]
    assert secret_env_names(config) == [
        "E_TOKEN",
        "PW",
        "RO_TOKEN",
        "RO_KEY",
        "RO_QUERY",
        "RO_PW",
        "RO_SECRET",
    ]


def test_request_bodies_are_encoded_with_their_content_type() -> None:
    assert RequestSpec(json={"a": [1, True]}).encoded_body() == (
        b'{"a":[1,true]}',
        "application/json",
    )
    assert RequestSpec(form={"a": "1 2", "b": ["x", "y"]}).encoded_body() == (
        b"a=1+2&b=x&b=y",
        "application/x-www-form-urlencoded",
    )
    assert RequestSpec(body="hi").encoded_body() == (b"hi", "text/plain; charset=utf-8")
    assert RequestSpec(body="<a/>", content_type="application/xml").encoded_body()[1] == (
        "application/xml"
    )
    assert RequestSpec(params={"n": 1, "v": False}).param_items == [("n", "1"), ("v", "false")]


@pytest.mark.parametrize(
    "raw",
    [
        {"json": {"a": 1}, "body": "x"},
        {"form": {"a": "1"}, "body": "x"},
        {"content_type": "text/plain"},  # no body
        {"body": "x", "content_type": "a/b", "headers": {"content-type": "a/b"}},
        {"headers": {"Cookie": "sid=1"}},
        {"headers": {"X-Auth-Token": "abc"}},
        {"params": {"access_token": "abc"}},
        {"params": {"api_key": "abc123"}},  # a short value under a name that is only a key
        {"params": {"code": "0123456789abcdef"}},  # a value long enough to be an auth code
        {"params": {"key": ["DE", "a-real-key-1"]}},
    ],
)
def test_bad_requests_are_refused(raw: dict) -> None:
    with pytest.raises(ValidationError):
        RequestSpec.model_validate(raw)


@pytest.mark.parametrize(
    "params",
    [{"code": "200"}, {"code": 404}, {"key": "DE"}, {"otp": False}, {"page_token": "abc"}],
)
def test_a_plain_value_under_a_word_some_apis_use_for_credentials_is_sent(params: dict) -> None:
    """Round 24c: httpbin's `/drip?code=200` could be probed by no route: the URL and
    `request.params` refused `code`, and `credentials: {query:}` a value too short to mask."""
    assert RequestSpec(params=params).params == params


def test_a_credential_in_a_url_points_a_plain_value_at_request_params() -> None:
    from smokegate.http_spec import check_url
    from smokegate.redact import process_scrubber

    with pytest.raises(ValueError) as plain:
        check_url("http://127.0.0.1/drip?code=200")
    said = "such as 200 or DE, goes under request.params instead)"
    # the advice survives the scrubber that every message passes (round 25c: "code=***}})")
    assert said in process_scrubber().scrub(str(plain.value))
    with pytest.raises(ValueError) as raised:
        check_url("http://127.0.0.1/x?api_key=1")
    assert "request.params" not in str(raised.value)


def test_non_secret_headers_are_fine() -> None:
    spec = RequestSpec(headers={"Idempotency-Key": "run-1", "Accept": "application/json"})
    assert spec.header_items == {"Idempotency-Key": "run-1", "Accept": "application/json"}


def test_jmespath_values_and_predicates() -> None:
    checks = compile_jmespath(
        {
            "a": 1,
            "b": {"gt": 0, "lt": 9},
            "c": {"name": "x"},  # an expected object
            "d": {"equals": {"gt": 1}},  # an object that looks like predicates
        }
    )
    assert [c.predicates for c in checks] == [
        (("equals", 1),),
        (("gt", 0), ("lt", 9)),
        (("equals", {"name": "x"}),),
        (("equals", {"gt": 1}),),
    ]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"a[": 1}, "not a valid JMESPath expression"),
        ({"a": {"gt": "1"}}, "gt compares numbers"),
        ({"a": {"le": True}}, "le compares numbers"),
        ({"a": {"matches": 5}}, "matches wants a regular expression"),
        ({"a": {"exists": "yes"}}, "exists is true or false"),
        ({"a": {"type": "int"}}, "type is one of string, number"),
        ({"a": {"gt": 1, "name": "x"}}, "mixes predicates (gt) with other keys"),
        ({"": 1}, "is not a JMESPath expression"),
    ],
)
def test_bad_jmespath_is_refused_naming_the_expression(raw: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=r".*") as raised:
        compile_jmespath(raw)
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("127.000.000.001", "write 127.0.0.1"),
        ("127.0.0.01", "write 127.0.0.1"),
        ("0177.0.0.1", "write 127.0.0.1"),  # octal to the socket, 177 to OpenSSL
        ("0x7f.0.0.1", "write 127.0.0.1"),
        ("127.1", "write 127.0.0.1"),
        ("2130706433", "write 127.0.0.1"),
        ("1.2.3.999", "is written like an IPv4 address but is none"),
    ],
)
def test_an_ipv4_address_spelled_two_ways_is_refused(host, said):
    """Round 17c, F4: `127.000.000.001` verified in the HTTP check (OpenSSL reads it as
    127.0.0.1) and failed the TLS check as a wrong host name (`ipaddress` refuses it)."""
    from smokegate.http_spec import check_url, ipv4_spelling_problem

    assert said in (ipv4_spelling_problem(host) or "")
    with pytest.raises(ValueError, match="IPv4 address"):
        check_url(f"https://{host}:8443/health")


@pytest.mark.parametrize("host", ["127.0.0.1", "10.20.30.40", "localhost", "1e100.net", "a.1"])
def test_plain_addresses_and_names_are_no_ipv4_spelling_problem(host):
    from smokegate.http_spec import ipv4_spelling_problem

    assert ipv4_spelling_problem(host) is None


@pytest.mark.parametrize(
    "pattern", [r"^[^<>]*$", r"^[^@]*$", r"v\d+\.\d+", r'"status": ?"ok"', r"(?i)healthy", "^$"]
)
def test_a_regex_that_some_failing_answer_fails_is_accepted(pattern):
    """Round 20, F5: regexes asserting an absence (no markup, no e-mail) were refused as
    matching an empty text; a body regex is refused only when every failing answer tried
    matches it."""
    from smokegate.http_spec import vacuous_regex_problem

    assert vacuous_regex_problem(pattern) is None


@pytest.mark.parametrize("pattern", [r"^[^<>]*$", r"^[^@]*$", r"^v\d+", "^(ok|up)$"])
def test_a_value_regex_that_some_failing_value_fails_is_accepted(pattern):
    """Round 20 (again): `matches: '^[^<>]*$'` (a name holds no markup) was refused for a
    JMESPath value; `\\b` and `.` are still refused."""
    from smokegate.http_spec import vacuous_regex_problem

    assert vacuous_regex_problem(pattern, of_a_value=True) is None
    assert vacuous_regex_problem(r"\b", of_a_value=True) is not None
