"""The request side against a real application server (httpbin under gunicorn, on
127.0.0.1): every method, a JSON, form or text body, literal headers and query parameters,
and credentials, asserted on what httpbin says it RECEIVED (its echo endpoints), with
JMESPath over its answers."""

from __future__ import annotations

from typing import Any

import pytest

from smokegate.config import Defaults, Endpoint
from smokegate.gather.http import HttpGatherer
from smokegate.rules.health import check_endpoint
from smokegate.verdict import Verdict
from tests.support.processes import Httpbin


def check(**fields: Any) -> Verdict:
    endpoint = Endpoint.model_validate({"name": "t", **fields})
    gatherer = HttpGatherer(Defaults(timeout_s=5), lambda: [endpoint])
    try:
        return check_endpoint(endpoint, gatherer.endpoint(endpoint))
    finally:
        gatherer.close()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_every_method_is_sent(httpbin: Httpbin, method: str) -> None:
    if method in ("HEAD", "OPTIONS"):  # no echo body: the status says it arrived
        verdict = check(url=httpbin.url("/anything"), method=method)
    else:
        verdict = check(url=httpbin.url("/anything"), method=method, jmespath={"method": method})
    assert verdict.passed, verdict.message


def test_a_post_with_a_json_body_answering_201(httpbin: Httpbin) -> None:
    verdict = check(
        url=httpbin.url("/status/201"),
        method="POST",
        request={"json": {"branch": "main"}},
        expect_status="2xx",
    )
    assert verdict.passed, verdict.message
    echoed = check(
        url=httpbin.url("/post"),
        method="POST",
        request={"json": {"branch": "main", "environment": "staging", "retries": 2}},
        jmespath={
            "json": {"equals": {"branch": "main", "environment": "staging", "retries": 2}},
            'headers."Content-Type"': "application/json",
        },
    )
    assert echoed.passed, echoed.message


def test_a_form_body(httpbin: Httpbin) -> None:
    verdict = check(
        url=httpbin.url("/post"),
        method="POST",
        request={"form": {"name": "smoke", "tags": ["a", "b"]}},
        jmespath={
            "form.name": "smoke",
            "form.tags": ["a", "b"],
            'headers."Content-Type"': "application/x-www-form-urlencoded",
        },
    )
    assert verdict.passed, verdict.message


def test_a_text_body_with_its_content_type(httpbin: Httpbin) -> None:
    verdict = check(
        url=httpbin.url("/put"),
        method="PUT",
        request={"body": "<ping/>", "content_type": "application/xml"},
        jmespath={"data": "<ping/>", 'headers."Content-Type"': "application/xml"},
    )
    assert verdict.passed, verdict.message


def test_literal_headers_and_query_parameters(httpbin: Httpbin) -> None:
    verdict = check(
        url=httpbin.url("/get?region=eu"),
        request={
            "headers": {"Accept": "application/json", "X-Smoke-Run": "smoke-1"},
            "params": {"limit": 10, "verbose": True},
        },
        jmespath={
            "args": {"equals": {"region": "eu", "limit": "10", "verbose": "true"}},
            'headers."X-Smoke-Run"': "smoke-1",
            'headers."Accept"': "application/json",
        },
    )
    assert verdict.passed, verdict.message


def test_bearer_basic_header_and_query_credentials_as_httpbin_received_them(
    httpbin: Httpbin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HB_TOKEN", "hb-token-1")
    monkeypatch.setenv("HB_PASSWORD", "hb-pass-1")
    monkeypatch.setenv("HB_KEY", "hb-key-1")
    bearer = check(
        url=httpbin.url("/bearer"),
        credentials={"bearer_env": "HB_TOKEN"},
        jmespath={"authenticated": True, "token": "hb-token-1"},
    )
    assert bearer.passed, bearer.message
    basic = check(
        url=httpbin.url("/basic-auth/svc/hb-pass-1"),
        credentials={"basic": {"username": "svc", "password_env": "HB_PASSWORD"}},
        jmespath={"authenticated": True, "user": "svc"},
    )
    assert basic.passed, basic.message
    wrong = check(
        url=httpbin.url("/basic-auth/svc/other-password"),
        credentials={"basic": {"username": "svc", "password_env": "HB_PASSWORD"}},
    )
    assert wrong.problems == ("status 401, expected 200",)
    header = check(
        url=httpbin.url("/headers"),
        credentials={"header": {"name": "X-API-Key", "value_env": "HB_KEY"}},
        jmespath={'headers."X-Api-Key"': "hb-key-1", 'headers."Authorization"': {"exists": False}},
    )
    assert header.passed, header.message
    query = check(
        url=httpbin.url("/get"),
        credentials={"query": {"name": "api_key", "value_env": "HB_KEY"}},
        jmespath={"args.api_key": "hb-key-1"},
    )
    assert query.passed, query.message


def test_a_jmespath_failure_lists_each_unmet_line_with_the_value_found(
    httpbin: Httpbin,
) -> None:
    verdict = check(
        url=httpbin.url("/json"),
        jmespath={
            "slideshow.title": "Sample Slide Show",  # met
            "length(slideshow.slides)": {"gt": 5},
            "slideshow.author": {"matches": "^Jane"},
            "slideshow.missing": {"exists": True},
        },
    )
    assert verdict.problems == (
        "jmespath length(slideshow.slides) is 2, expected > 5",
        'jmespath slideshow.author is "Yours Truly", expected to match /^Jane/',
        "jmespath slideshow.missing is null (not found), expected to exist",
    )
