"""Auth cases judge a refusal's body too: a server that sets 401 (or a 302 to its login
page) and goes on to render the page sends the protected data to anyone (round 41c F1)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from tests.support.e2e import run_checks
from tests.support.hostile_server import HostileServer

TOKEN = f"Ear{secrets.token_urlsafe(18)}9z"
ORDERS = json.dumps(
    {"orders": [{"id": 1042, "customer": "alice@example.com", "total": "129.90 EUR"}]}
).encode()


def _answer(server, conn, request, status_refused: str, body_refused: bytes) -> None:
    sent = request.get("authorization", "").partition(" ")[2]
    head = [("Content-Type", "application/json")]
    if sent == TOKEN:
        server._respond(conn, "200 OK", head, ORDERS)
    else:
        if status_refused.startswith("302"):
            head.append(("Location", "/login"))
        server._respond(conn, status_refused, head, body_refused)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=6) as running:
        routes = {
            "/renders-anyway": ("401 Unauthorized", ORDERS),
            "/redirects-and-renders": ("302 Found", ORDERS),
            "/refuses": ("401 Unauthorized", b'{"error": "unauthorized", "detail": "no token"}'),
        }
        for route, (status, body) in routes.items():
            running.custom[route] = lambda c, r, s, st=status, b=body, srv=running: _answer(
                srv, c, r, st, b
            )
        yield running


def test_a_refusal_carrying_the_protected_body_fails_every_refusal_case(tmp_path, hostile):
    env = {
        "auth": [
            {"name": "orders", "url": hostile.url("/renders-anyway"), "token_env": "EAR_TOKEN"},
            {
                "name": "php-orders",
                "url": hostile.url("/redirects-and-renders"),
                "token_env": "EAR_TOKEN",
                "anonymous_status": 302,
            },
            {"name": "honest", "url": hostile.url("/refuses"), "token_env": "EAR_TOKEN"},
        ]
    }
    run = run_checks(tmp_path, env, env_vars={"EAR_TOKEN": TOKEN})
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    for name in ("orders", "php-orders"):
        for check in ("test_rejects_anonymous", "test_rejects_invalid_token"):
            assert outcomes[f"{check}[{name}]"] == "failed", (name, check, run.output)
        assert outcomes[f"test_accepts_token[{name}]"] == "passed"
    assert f"but its body is the real credential's answer, byte for byte ({len(ORDERS)} bytes)" in (
        run.stdout
    )
    for check in ("test_rejects_anonymous", "test_rejects_invalid_token", "test_accepts_token"):
        assert outcomes[f"{check}[honest]"] == "passed", run.output
