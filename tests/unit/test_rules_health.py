"""Health expectations judged on a ProbeResult: every unmet one is named with what was measured."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smokegate.config import Endpoint
from smokegate.facts.http import Headers, ProbeResult
from smokegate.rules.health import check_endpoint, json_subset_problems, measured_http

URL = "https://api.example.com/health"


def endpoint(**fields: Any) -> Endpoint:
    return Endpoint.model_validate({"name": "api", "url": URL, **fields})


def result(
    status: int | None = 200,
    body: bytes | str | dict[str, Any] = b"",
    headers: dict[str, str] | None = None,
    latency_ms: float | None = 12.0,
    truncated: bool = False,
    error: str | None = None,
) -> ProbeResult:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return ProbeResult(
        key="endpoint:api",
        url=URL,
        status=status,
        latency_ms=latency_ms,
        headers=Headers(headers or {}),
        body=body,
        truncated=truncated,
        error=error,
    )


def test_all_met_passes_and_shows_the_measured_value() -> None:
    verdict = check_endpoint(
        endpoint(
            expect_status=200,
            max_latency_ms=500,
            json={"status": "ok"},
            body_contains="ok",
            body_regex=r'"status":\s*"ok"',
            headers={"Content-Type": "application/json"},
        ),
        result(body={"status": "ok"}, headers={"content-type": "application/json; charset=utf-8"}),
    )
    assert verdict.passed, verdict.message
    assert verdict.measured == "200 · 12 ms"


@pytest.mark.parametrize(
    ("expect", "status", "problem"),
    [
        (200, 200, None),
        (200, 503, "status 503, expected 200"),
        ([200, 204], 204, None),
        ([301, 302], 200, "status 200, expected 301 or 302"),
    ],
)
def test_status_int_or_list(expect: Any, status: int, problem: str | None) -> None:
    verdict = check_endpoint(endpoint(expect_status=expect), result(status=status))
    assert verdict.problems == ((problem,) if problem else ())


def test_latency_over_the_limit() -> None:
    verdict = check_endpoint(endpoint(max_latency_ms=1000), result(latency_ms=1840.4))
    assert verdict.problems == ("latency 1840 ms > 1000 ms",)
    assert check_endpoint(endpoint(max_latency_ms=1000), result(latency_ms=999)).passed


def test_every_unmet_expectation_in_one_message() -> None:
    """The issue's own example, plus body and header expectations, all in one failure."""
    verdict = check_endpoint(
        endpoint(
            max_latency_ms=1000,
            body_contains="healthy",
            headers={"X-Version": "2."},
            json={"status": "ok"},
        ),
        result(status=503, latency_ms=1840, body={"status": "down"}, headers={"X-Version": "1.9"}),
    )
    assert verdict.message == (
        "status 503, expected 200; latency 1840 ms > 1000 ms; "
        "header X-Version is '1.9', expected '2.…'; "
        "body does not contain 'healthy'; "
        'json $.status is "down", expected "ok"'
    )
    assert verdict.measured == "503 · 1840 ms"


def test_no_response_reports_the_probe_error() -> None:
    verdict = check_endpoint(
        endpoint(json={"status": "ok"}),
        result(status=None, latency_ms=300, error="timed out after 0.3 s waiting for the response"),
    )
    assert verdict.problems == ("timed out after 0.3 s waiting for the response",)
    assert verdict.measured == "no response · 300 ms"


def test_a_request_never_sent_verified_nothing_and_says_what_to_add() -> None:
    unsent = result(
        status=None,
        error="request failed: not mocked: GET https://api.test/password-reset is not listed",
    )
    unsent.sent = False
    verdict = check_endpoint(endpoint(), unsent)
    assert not verdict.passed
    assert not verdict.verified
    # "reset" in the URL must not pass for a connection reset
    assert verdict.hint == (
        "add this URL to the mocked world's http.yaml, or remove the env file's `mock:` "
        "line to probe the real target"
    )
    refused = check_endpoint(endpoint(), result(status=None, error="connection refused by x"))
    assert refused.verified


@pytest.mark.parametrize(
    "error",
    [
        "environment variable SG_SHORT holds 6 characters: a secret shorter than 8 cannot be "
        "masked in the reports, so smokegate does not send it",
        "SG_NL holds a line break, which an HTTP header cannot carry; it was not sent",
    ],
)
def test_a_request_refused_for_its_own_reason_gets_no_mocked_world_hint(error: str) -> None:
    """Round 24c F1: every unsent request was told to edit the mocked world's http.yaml,
    in envs with no `mock:` line."""
    unsent = result(status=None, error=error)
    unsent.sent = False
    verdict = check_endpoint(endpoint(), unsent)
    assert not verdict.verified and verdict.hint == ""


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_of_the_credentials_sent_is_hinted_as_such(status: int) -> None:
    """Round 24c L4: an endpoint with `credentials:` answering 401 was hinted "health URLs
    are usually public"."""
    sending = endpoint(credentials={"bearer_env": "API_TOKEN"})
    assert "credentials sent were refused" in check_endpoint(sending, result(status)).hint
    assert "usually public" in check_endpoint(endpoint(), result(status)).hint


@pytest.mark.parametrize("status", [600, 999])
def test_a_status_past_599_is_not_called_a_server_error(status: int) -> None:
    """Round 24c L3: `status >= 500` hinted 600-999 as the service's server error."""
    hint = check_endpoint(endpoint(), result(status)).hint
    assert "no HTTP status (100-599)" in hint and "server error" not in hint
    cut = result(status=None, error="an interim 199 answer came, then the connection closed")
    assert "no HTTP status" not in check_endpoint(endpoint(), cut).hint


def test_error_after_headers_is_listed_with_the_status() -> None:
    verdict = check_endpoint(
        endpoint(),
        result(status=200, truncated=True, error="connection reset while reading the body"),
    )
    assert verdict.problems == ("connection reset while reading the body",)


def test_json_nested_subset() -> None:
    document = {"status": "ok", "db": {"connected": True, "pool": 12}, "extra": [1, 2]}
    assert check_endpoint(endpoint(json={"db": {"connected": True}}), result(body=document)).passed
    verdict = check_endpoint(
        endpoint(json={"db": {"connected": True, "replica": "up"}, "status": "ok"}),
        result(body={"status": "ok", "db": {"connected": False}}),
    )
    assert verdict.problems == (
        "json $.db.connected is false, expected true",
        'json $.db.replica missing, expected "up"',
    )


@pytest.mark.parametrize(
    ("expected", "actual", "problems"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, []),
        ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 2}}}, ["json $.a.b.c is 2, expected 1"]),
        ({"a": 1}, [1], ["json $ is [1], expected an object"]),
        ({"a": {"b": 1}}, {"a": "x"}, ['json $.a is "x", expected an object']),
        ({"k": None}, {}, ["json $.k missing, expected null"]),
        ([1, 2], [1, 2], []),
        ({"up": True}, {"up": 1}, ["json $.up is 1, expected true"]),
        ({"n": 1}, {"n": True}, ["json $.n is true, expected 1"]),
        ({"n": 0}, {"n": False}, ["json $.n is false, expected 0"]),
    ],
)
def test_json_subset_problems(expected: Any, actual: Any, problems: list[str]) -> None:
    assert json_subset_problems(expected, actual) == problems


def test_json_expectation_on_a_non_json_body() -> None:
    verdict = check_endpoint(endpoint(json={"status": "ok"}), result(body="<html>down</html>"))
    assert len(verdict.problems) == 1
    assert verdict.problems[0].startswith("body is not valid JSON")


@pytest.mark.parametrize(
    ("expectation", "prefix", "passes_uncut"),
    [
        ({"json": {"status": "ok"}}, '{"status": "ok", "pad": "xxx', False),  # no JSON
        # Round 17b: prefixes that parse. A document, then padding to past the cap, then a
        # second one (the whole is no JSON); `0.000…` of `0.000…1e999999` (the whole: inf).
        ({"json": {"status": "ok"}}, '{"status": "ok"}' + " " * 100, True),
        ({"jmespath": {"@": {"lt": 100}}}, "0." + "0" * 100, True),
    ],
)
def test_json_is_never_judged_on_a_body_cut_at_the_cap(expectation, prefix, passes_uncut):
    """Whatever the prefix: the same text read whole (not cut) is judged as it is."""
    cut = result(body=prefix, truncated=True)
    verdict = check_endpoint(endpoint(**expectation), cut)
    assert verdict.problems == (
        "body is larger than the size cap and was cut there: its JSON was not read whole, "
        "so it cannot be judged (raise defaults.max_body_kb)",
    )
    assert "max_body_kb" in verdict.hint
    assert check_endpoint(endpoint(**expectation), result(body=prefix)).passed is passes_uncut


def test_body_contains() -> None:
    assert check_endpoint(endpoint(body_contains="Welcome"), result(body="<h1>Welcome</h1>")).passed
    verdict = check_endpoint(endpoint(body_contains="Welcome"), result(body="<h1>Oops</h1>"))
    assert verdict.problems == ("body does not contain 'Welcome'",)


@pytest.mark.parametrize(
    ("pattern", "passed"),
    [
        ("(?s)^status: ok\n[^\n]*$", False),  # `$` met only because the body was cut
        ("y+$", False),
        ("(?s)ok.*", False),  # runs to the cut: the rest decides nothing, yet is unread
        ("(?m)^status: ok$", True),  # `$` before a line break that was read
        ("status: (ok|FAILED)\n", True),  # ends before the cut: a match in the whole body
        ("\\bstatus\\b", True),
    ],
)
def test_a_regex_on_a_cut_body_passes_only_on_a_match_before_the_cut(pattern, passed) -> None:
    """Round 14, F6: `(?s)^status: ok\\n[^\\n]*$` passed on a body cut at the cap, though
    the unread rest (`\\nstatus: FAILED`) makes the whole body fail it."""
    cut = result(body="status: ok\n" + "y" * 1000, truncated=True)
    verdict = check_endpoint(endpoint(body_regex=pattern), cut)
    assert verdict.passed is passed, verdict.problems
    if not passed:
        assert verdict.problems == (
            f"body matches /{pattern}/ only up to where it was cut at the size cap: the rest "
            "was not read, so the match cannot be judged (raise defaults.max_body_kb)",
        )
    whole = result(body="status: ok\n" + "y" * 1000)  # the same text, not cut: each matches
    assert check_endpoint(endpoint(body_regex=pattern), whole).passed


def test_body_expectations_on_a_truncated_body_say_so() -> None:
    verdict = check_endpoint(
        endpoint(body_contains="footer", body_regex="</html>$"),
        result(body="<html>" + "x" * 100, truncated=True),
    )
    assert verdict.problems == (
        "body does not contain 'footer' (body truncated at the size cap)",
        "body does not match /</html>$/ (body truncated at the size cap)",
    )


def test_body_regex_searches_anywhere() -> None:
    phone = r"\(\d{3}\)\s\d{3}-\d{4}"
    assert check_endpoint(endpoint(body_regex=phone), result(body="call (555) 123-4567")).passed
    verdict = check_endpoint(endpoint(body_regex=phone), result(body="call 555-1234"))
    assert verdict.problems == (f"body does not match /{phone}/",)


def test_headers_names_case_insensitive_values_prefix() -> None:
    wanted = {"content-type": "application/json", "X-FRAME-OPTIONS": "DENY"}
    got = {"Content-Type": "application/json; charset=utf-8", "x-frame-options": "DENY"}
    assert check_endpoint(endpoint(headers=wanted), result(headers=got)).passed


def test_header_missing_or_wrong() -> None:
    verdict = check_endpoint(
        endpoint(headers={"Content-Type": "application/json", "Strict-Transport-Security": "max"}),
        result(headers={"Content-Type": "text/html"}),
    )
    assert verdict.problems == (
        "header Content-Type is 'text/html', expected 'application/json…'",
        "header Strict-Transport-Security missing, expected 'max'",
    )


def test_measured_value_without_latency() -> None:
    assert measured_http(result(status=None, latency_ms=None)) == "no response · -"


def test_json_true_is_not_one_inside_lists() -> None:
    # Lists are "contains these elements" (see the list-semantics tests below).
    assert json_subset_problems({"flags": [True, 0]}, {"flags": [1, False]}) == [
        "json $.flags has no element matching true (2 elements)",
        "json $.flags has no element matching 0 (2 elements)",
    ]
    assert json_subset_problems({"flags": [True, 1.0]}, {"flags": [True, 1]}) == []


# -- json: list semantics: "contains these elements", any order, others allowed ------------


def test_a_json_list_passes_when_it_holds_the_expected_elements_among_others() -> None:
    actual = {"items": [{"id": 3, "s": "x"}, {"id": 1, "s": "ok", "extra": 1}, {"id": 2}]}
    assert json_subset_problems({"items": [{"id": 1, "s": "ok"}]}, actual) == []
    assert json_subset_problems({"items": [{"id": 2}, {"id": 3}]}, actual) == []  # any order
    assert json_subset_problems({"tags": ["b"]}, {"tags": ["a", "b", "c"]}) == []


def test_a_json_list_fails_naming_each_expected_element_it_lacks() -> None:
    actual = {"items": [{"id": 1, "s": "failed"}, {"id": 2}]}
    assert json_subset_problems({"items": [{"id": 1, "s": "ok"}, {"id": 2}]}, actual) == [
        'json $.items has no element matching {"id": 1, "s": "ok"} (2 elements)'
    ]
    assert json_subset_problems({"items": [1]}, {"items": "1"}) == [
        'json $.items is "1", expected an array'
    ]


def test_each_expected_list_element_needs_an_element_of_its_own() -> None:
    assert json_subset_problems(["ok", "ok"], ["ok"]) == [
        'json $ has no element matching "ok" (1 element)'
    ]
    # a maximum matching, not a greedy one
    assert json_subset_problems([{"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"a": 1}]) == []


def test_a_wrong_status_quotes_the_start_of_the_body_without_markup() -> None:
    html = (
        "<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
        "<body><center><h1>400 Bad Request</h1></center></body></html>"
    )
    verdict = check_endpoint(
        endpoint(), result(status=400, body=html, headers={"Content-Type": "text/html"})
    )
    assert verdict.problems == ("status 400, expected 200",)
    assert verdict.detail == (
        'response body: "400 The plain HTTP request was sent to HTTPS port 400 Bad Request"'
    )
    assert verdict.hint.startswith("the URL says http:// but the port serves HTTPS")


def test_an_incomplete_body_is_not_judged_as_a_format_change() -> None:
    verdict = check_endpoint(
        endpoint(json={"status": "ok"}, jmespath={"status": "ok"}),
        result(body=b'{"sta', truncated=True, error="body not complete after 1 s (timeout)"),
    )
    assert verdict.problems == ("body not complete after 1 s (timeout)",)
    assert verdict.hint.startswith("the service is slow or unreachable")


def test_jmespath_on_a_body_that_is_not_json_says_so_once() -> None:
    verdict = check_endpoint(
        endpoint(json={"a": 1}, jmespath={"a": 1}), result(body=b"<html>", truncated=False)
    )
    assert len(verdict.problems) == 1 and "not valid JSON" in verdict.problems[0]


def test_json_on_a_body_whose_connection_ended_early_is_not_judged():
    cut = result(
        body='{"status": "ok"}', truncated=True, error="connection reset while reading the body"
    )
    verdict = check_endpoint(endpoint(json={"status": "ok"}), cut)
    assert verdict.problems == ("connection reset while reading the body",)
    assert "max_body_kb" not in verdict.hint
    with pytest.raises(ValueError, match=r"^body was truncated \(not read whole\)"):
        cut.json()


@pytest.mark.parametrize(
    "expectation",
    [{"body_contains": "ok"}, {"json": {"a": 1}}, {"jmespath": {"a": 1}}, {"body_regex": "o+k"}],
)
def test_a_body_expectation_of_a_head_request_is_refused_at_load(expectation) -> None:
    """Round 24c L5: accepted at load, then failed as "reports itself unhealthy"."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="method HEAD gets an answer without a body"):
        endpoint(method="HEAD", **expectation)
    assert endpoint(method="HEAD", headers={"server": "nginx"}).method == "HEAD"


@pytest.mark.parametrize(
    ("status", "headers", "body", "said"),
    [
        (429, {}, "", "the server rate-limits the requests"),
        (503, {"Retry-After": "1"}, "", "the server rate-limits the requests"),
        (400, {}, "400 No required SSL certificate was sent", "the server demands a client"),
    ],
)
def test_rate_limits_and_a_client_certificate_demand_are_hinted_as_such(
    status, headers, body, said
) -> None:
    """Round 27c: nginx's limit_req 429/503 got no hint or "check its logs", and its
    `ssl_verify_client on` 400 "the service reports itself unhealthy"."""
    hint = check_endpoint(endpoint(), result(status, body=body, headers=headers)).hint
    assert hint.startswith(said), hint


def test_a_pass_after_redirects_says_so_in_its_measured_value() -> None:
    """Round 27c-3: nginx's `error_page` turned a dead upstream's 502 into a 302 to a
    maintenance page on the same host; its 200 passed a status-only check, and nothing in
    the reports said a redirect had been followed."""
    moved = result(200)
    moved.redirects, moved.final_url = 1, "https://api.example.com/maintenance.html"
    verdict = check_endpoint(endpoint(), moved)
    assert verdict.passed and verdict.measured == "200 · 12 ms · after 1 redirect"
    assert check_endpoint(endpoint(), result(200)).measured == "200 · 12 ms"


@pytest.mark.parametrize(
    ("final", "passes"),
    [
        ("http://api.example.com/health", False),
        ("http://www.example.com/", False),
        ("https://www.example.com/", True),
    ],
)
def test_an_https_endpoint_redirected_to_plain_http_fails(final, passes) -> None:
    """Round 36c F4: an https:// endpoint that redirected to http:// and got a 200 passed,
    with only a note that another host answered."""
    moved = result(200)
    moved.redirects, moved.final_url = 1, final
    verdict = check_endpoint(endpoint(), moved)
    assert verdict.passed is passes, verdict.problems
    if not passes:
        assert verdict.problems[0].startswith("redirected from https to plain http: answered by")


def test_a_long_array_is_matched_without_a_message_for_each_element(monkeypatch) -> None:
    """Round 41c F6: each element of a 400 000-element array that did not match an expected
    one had a message built and scrubbed (0.3 ms each: minutes, past every timeout). Only
    what is reported is written now."""
    from smokegate.rules import health

    written: list[Any] = []
    real_short = health._short
    monkeypatch.setattr(health, "_short", lambda value: written.append(value) or real_short(value))
    actual = {"ids": [7] * 50_000 + [42], "nodes": [{"status": "NotReady"}] * 20_000}
    assert json_subset_problems({"ids": [42]}, actual) == []
    problems = json_subset_problems({"nodes": [{"status": "Ready"}]}, actual)
    assert problems == ['json $.nodes has no element matching {"status": "Ready"} (20000 elements)']
    assert len(written) == 1  # the one reported
