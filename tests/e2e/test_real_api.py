"""A new user's first env for a real application server, end to end: httpbin under gunicorn
on 127.0.0.1, `pytest checks/ --env <file>` in a subprocess, then the JUnit, the summary and
the HTML read as a pipeline and a person would.

The env is what the README shows: a token on a health check, a POST with a JSON body
answering 201-class, an API key in a header and one in the query string, Basic auth in the
auth triad, JMESPath predicates (one failing on purpose), and an https:// URL pointed at the
plain-HTTP port by mistake.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from tests.support.e2e import run_checks
from tests.support.processes import Httpbin, httpbin_server

SECRETS = {
    "HB_TOKEN": "hb-token-9f8e7d",
    "HB_KEY": "hb-key-1a2b3c",
    "HB_PASSWORD": "hb-pass-4d5e6f",
    "HB_WRONG_PASSWORD": "hb-wrong-7a8b9c",
}


@pytest.fixture(scope="module")
def httpbin() -> Iterator[Httpbin]:
    with httpbin_server() as running:
        yield running


def new_user_env(base: str) -> dict[str, Any]:
    port = base.rsplit(":", 1)[1]
    return {
        "endpoints": [
            {
                "name": "health-with-token",
                "url": f"{base}/bearer",
                "token_env": "HB_TOKEN",
                "jmespath": {"authenticated": True},
            },
            {
                "name": "create-thing",
                "url": f"{base}/post",
                "method": "POST",
                "credentials": {"bearer_env": "HB_TOKEN"},
                "request": {"json": {"name": "smoke", "tags": ["a", "b"]}},
                "expect_status": "2xx",
                "jmespath": {"json.name": "smoke", "length(json.tags)": {"ge": 2}},
            },
            {
                "name": "api-key-header",
                "url": f"{base}/headers",
                "credentials": {"header": {"name": "X-API-Key", "value_env": "HB_KEY"}},
                "jmespath": {'headers."X-Api-Key"': {"exists": True}},
            },
            {
                "name": "api-key-query",
                "url": f"{base}/get",
                "credentials": {"query": {"name": "api_key", "value_env": "HB_KEY"}},
                "jmespath": {"args.api_key": {"exists": True}},
            },
            {
                "name": "slideshow",
                "url": f"{base}/json",
                "jmespath": {"length(slideshow.slides)": {"gt": 3}},
            },
            {"name": "wrong-scheme", "url": f"https://127.0.0.1:{port}/get"},
        ],
        "auth": [
            {
                "name": "basic-protected",
                "url": f"{base}/basic-auth/svc/{SECRETS['HB_PASSWORD']}",
                "credentials": {"basic": {"username": "svc", "password_env": "HB_PASSWORD"}},
                "forbidden": [
                    {
                        "credentials": {
                            "basic": {"username": "svc", "password_env": "HB_WRONG_PASSWORD"}
                        },
                        "status": 401,
                    }
                ],
            },
            # httpbin's /bearer lets in any bearer token: it checks that one is sent
            {"name": "presence-only", "url": f"{base}/bearer", "token_env": "HB_TOKEN"},
        ],
    }


def test_a_new_users_env_against_httpbin(tmp_path, httpbin: Httpbin) -> None:
    run = run_checks(tmp_path, new_user_env(httpbin.base_url), env_vars=SECRETS)
    assert run.returncode == 1, run.output
    assert run.outcomes() == {
        "test_rejects_anonymous[basic-protected]": "passed",
        "test_accepts_token[basic-protected]": "passed",
        "test_forbids_low_privilege[basic-protected-HB_WRONG_PASSWORD]": "passed",
        "test_rejects_invalid_token[basic-protected]": "passed",
        "test_rejects_anonymous[presence-only]": "passed",
        "test_accepts_token[presence-only]": "passed",
        "test_rejects_invalid_token[presence-only]": "failed",
        "test_endpoint[health-with-token]": "passed",
        "test_endpoint[create-thing]": "passed",
        "test_endpoint[api-key-header]": "passed",
        "test_endpoint[api-key-query]": "passed",
        "test_endpoint[slideshow]": "failed",
        "test_endpoint[wrong-scheme]": "failed",
    }
    cases = run.testcases()
    slideshow = cases["test_endpoint[slideshow]"].find("failure")
    assert slideshow is not None
    assert "jmespath length(slideshow.slides) is 2, expected > 3" in slideshow.get("message", "")
    # round 28c: the two other auth cases pass an endpoint that checks no token at all
    presence = cases["test_rejects_invalid_token[presence-only]"].find("failure")
    assert presence is not None
    said = "got 200 with a token nobody issued (of the real one's shape, invented by smokegate)"
    assert said in presence.get("message", "")
    wrong = cases["test_endpoint[wrong-scheme]"].find("failure")
    assert wrong is not None and "did not answer in TLS" in wrong.get("message", "")
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "jmespath length(slideshow.slides) is 2, expected > 3" in summary
    html = unescape(run.html_path.read_text(encoding="utf-8"))
    assert "create-thing" in html and "jmespath length(slideshow.slides) is 2" in html
    everything = run.output + summary + html + run.junit_path.read_text(encoding="utf-8")
    for value in SECRETS.values():
        assert value not in everything  # httpbin echoes the token and key back: all masked


def test_an_unset_key_fails_naming_it_and_gates_at_any_threshold(
    tmp_path, httpbin: Httpbin
) -> None:
    env = new_user_env(httpbin.base_url)
    env["endpoints"] = env["endpoints"][2:4]
    env.pop("auth")
    run = run_checks(tmp_path, env, "--fail-on", "critical", env_vars={"HB_KEY": ""})
    assert run.returncode == 1, run.output  # verified nothing: gates even at critical
    for name in ("test_endpoint[api-key-header]", "test_endpoint[api-key-query]"):
        failure = run.testcases()[name].find("failure")
        assert failure is not None
        assert "environment variable HB_KEY is not set (or empty): no API key to send" in (
            failure.get("message", "")
        )
