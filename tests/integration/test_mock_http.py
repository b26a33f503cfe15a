"""Mocked worlds: `fixtures/<world>/http.yaml` answers every request in-process (through
`responses`): JSON, text, headers, methods, query strings, redirects, simulated latency, and
a clear error for an unmocked URL.

The promise is that a mocked run sends no real traffic, so the proof is a live local
server that must see zero requests even for URLs pointing at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smokegate.facts.http import ProbeResult
from smokegate.gather.probe import Prober, ProbeRequest
from smokegate.mock.http import start_http_world
from tests.support.servers import LocalServer
from tests.support.worlds import make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    """The world active in this process for the test's duration."""
    folder = make_world(tmp_path)
    mock = start_http_world(folder)
    try:
        yield folder
    finally:
        mock.stop()


def probe(url: str, method: str = "GET", follow_redirects: bool = True) -> ProbeResult:
    prober = Prober()
    try:
        return prober.probe(
            ProbeRequest(key="k", url=url, method=method, follow_redirects=follow_redirects)
        )
    finally:
        prober.close()


def test_mocked_json_and_simulated_latency(world: Path) -> None:
    result = probe("https://api.mock.internal/health")
    assert result.ok and result.status == 200
    assert result.json() == {"status": "ok", "db": {"connected": True}}
    assert result.headers["content-type"] == "application/json"
    # The world sleeps 150 ms before answering: the probe cannot measure less.
    assert result.latency_ms is not None and result.latency_ms >= 150


def test_mocked_text_headers_status_and_method(world: Path) -> None:
    text = probe("https://api.mock.internal/text")
    assert text.body == b"hello from the mock"
    assert text.headers["X-Served-By"] == "mock"
    assert probe("https://api.mock.internal/items", method="POST").status == 201
    assert probe("https://api.mock.internal/down").status == 503


def test_unmocked_url_fails_naming_the_world_file(world: Path) -> None:
    result = probe("https://api.mock.internal/not-listed")
    assert result.status is None
    assert result.error is not None
    assert "not mocked: GET https://api.mock.internal/not-listed" in result.error
    assert str(world / "http.yaml") in result.error
    assert result.sent is False  # nothing about the target was measured
    assert probe("https://api.mock.internal/down").sent is True


def test_route_is_method_specific(world: Path) -> None:
    result = probe("https://api.mock.internal/items")  # listed for POST only
    assert result.status is None
    assert result.error is not None and "not mocked" in result.error


def test_query_string_is_part_of_the_url(world: Path) -> None:
    assert probe("https://api.mock.internal/search?q=health").body == b"found"
    assert probe("https://api.mock.internal/search?q=other").status is None
    assert probe("https://api.mock.internal/search").status is None


def test_redirects_are_followed_inside_the_world(world: Path) -> None:
    assert probe("https://old.mock.internal/").body == b"hello from the mock"
    assert probe("https://old.mock.internal/", follow_redirects=False).status == 301


def test_local_server_sees_nothing_while_mocked(tmp_path: Path) -> None:
    with LocalServer() as server:
        folder = make_world(tmp_path, f"routes:\n  - url: {server.url('/ok')}\n    body: mocked\n")
        mock = start_http_world(folder)
        try:
            assert probe(server.url("/ok")).body == b"mocked"
            assert probe(server.url("/text")).status is None  # unmocked: refused, not sent
        finally:
            mock.stop()
        assert server.count() == 0
        assert probe(server.url("/ok")).status == 200  # stopped: real traffic again
        assert server.count() == 1


MATCHING_WORLD = """\
routes:
  - url: https://deploy.mock.internal/deployments
    method: POST
    match:
      headers: {Content-Type: application/json}
      json: {environment: staging}
    status: 201
    json: {status: queued}
  - url: https://deploy.mock.internal/deployments
    method: POST
    match: {form: {environment: prod}}
    status: 202
  - url: https://deploy.mock.internal/deployments
    method: DELETE
    match: {headers: {X-Confirm: "yes"}, body: "all"}
    status: 204
"""


def send(method: str, url: str, headers: dict[str, str], body: bytes) -> ProbeResult:
    prober = Prober()
    try:
        return prober.probe(
            ProbeRequest(key="k", url=url, method=method, headers=headers, body=body)
        )
    finally:
        prober.close()


def test_routes_match_on_method_headers_and_body(tmp_path: Path) -> None:
    mock = start_http_world(make_world(tmp_path, MATCHING_WORLD))
    url = "https://deploy.mock.internal/deployments"
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        created = send("POST", url, json_type, b'{"environment": "staging", "sha": "abc"}')
        accepted = send("POST", url, form_type, b"environment=prod")
        deleted = send("DELETE", url, {"X-Confirm": "yes"}, b"all")
        wrong_body = send("POST", url, json_type, b'{"environment": "prod"}')
        wrong_type = send("POST", url, {"Content-Type": "text/plain"}, b"environment=dev")
    finally:
        mock.stop()
    assert (created.status, created.json()) == (201, {"status": "queued"})
    assert accepted.status == 202 and deleted.status == 204
    for refused in (wrong_body, wrong_type):
        assert refused.status is None and refused.sent is False
        assert refused.error is not None
        assert "is listed in" in refused.error and "no route for it matches" in refused.error
    assert wrong_body.error is not None and 'json $.environment is "prod"' in wrong_body.error
    assert (
        wrong_type.error is not None and "header Content-Type is 'text/plain'" in wrong_type.error
    )
