"""Mocked worlds: `fixtures/<world>/http.yaml` answers every request in-process.

The promise is that a mocked run sends no real traffic, so the proof is a live local
server that must see zero requests even for URLs pointing at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smokegate.config import ConfigError
from smokegate.facts.http import ProbeResult
from smokegate.gather.probe import Prober, ProbeRequest
from smokegate.mock.http import load_http_world, start_http_world
from tests.e2e import run_checks
from tests.servers import LocalServer

WORLD = """\
routes:
  - url: https://api.mock.internal/health
    json: {status: ok, db: {connected: true}}
    latency_ms: 150
  - url: https://api.mock.internal/text
    body: hello from the mock
    headers: {X-Served-By: mock}
  - url: https://api.mock.internal/items
    method: POST
    status: 201
  - url: https://api.mock.internal/search?q=health
    body: found
  - url: https://old.mock.internal/
    status: 301
    headers: {Location: https://api.mock.internal/text}
  - url: https://api.mock.internal/down
    status: 503
    body: upstream connect error
"""


def make_world(tmp_path: Path, text: str = WORLD) -> Path:
    world = tmp_path / "world"
    world.mkdir(exist_ok=True)
    (world / "http.yaml").write_text(text, encoding="utf-8")
    return world


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


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("routes:\n  - url: https://a/\n   status: 200\n", ["line 3", "invalid YAML"]),
        ("routes:\n  - url: https://a/\n    staus: 200\n", ["routes[0].staus", "unknown field"]),
        ("routes:\n  - url: https://a/\n    status: many\n", ["routes[0].status", "integer"]),
        ("routes:\n  - url: https://a/\n    status: 999\n", ["routes[0].status", "599"]),
        ("routes:\n  - status: 200\n", ["routes[0].url", "required"]),
        ("- url: https://a/\n", ["top level must be a mapping"]),
    ],
    ids=["yaml", "unknown-field", "wrong-type", "bad-status", "no-url", "top-level-list"],
)
def test_bad_world_file_is_a_clear_error(tmp_path: Path, text: str, fragments: list[str]) -> None:
    folder = make_world(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_http_world(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'http.yaml'}:")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_world_without_http_yaml_mocks_nothing(tmp_path: Path) -> None:
    assert load_http_world(tmp_path).routes == []


def test_mocked_env_end_to_end(tmp_path: Path) -> None:
    folder = make_world(tmp_path)
    env = {
        "mock": str(folder),
        "endpoints": [
            {
                "name": "health",
                "url": "https://api.mock.internal/health",
                "json": {"db": {"connected": True}},
            },
            {"name": "down", "url": "https://api.mock.internal/down"},
            {"name": "unlisted", "url": "https://api.mock.internal/unlisted"},
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    assert run.outcomes() == {
        "test_endpoint[health]": "passed",
        "test_endpoint[down]": "failed",
        "test_endpoint[unlisted]": "failed",
    }
    unlisted = run.testcases()["test_endpoint[unlisted]"].find("failure")
    assert unlisted is not None
    assert "not mocked" in unlisted.get("message", "")
    assert str(folder / "http.yaml") in unlisted.get("message", "")
    # An unmocked URL checked nothing: it gates at any --fail-on, the 503 (a finding) does not.
    strict = run_checks(
        tmp_path, {**env, "endpoints": env["endpoints"][:2]}, "--fail-on", "critical"
    )
    assert strict.returncode == 0, strict.output
    run = run_checks(tmp_path, env, "--fail-on", "critical")
    assert run.returncode == 1, run.output
    assert "1 verified nothing (gates at any --fail-on)" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "| high (verified nothing) | endpoint | unlisted" in summary


def test_bad_world_file_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    folder = make_world(tmp_path, "routes:\n  - url: https://a/\n    staus: 200\n")
    run = run_checks(tmp_path, {"mock": str(folder), "endpoints": [{"url": "https://a/"}]})
    assert run.returncode == 4, run.output
    assert "Traceback" not in run.output
    assert f"{folder / 'http.yaml'}: routes[0].staus: unknown field" in run.output
