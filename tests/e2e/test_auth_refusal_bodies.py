"""Auth cases judge a refusal's body too: a server that sets 401 (or a 302 to its login
page) and goes on to render the page sends the protected data to anyone (round 41c F1),
whatever per-request words (a request id, a time, a key order) the page holds (42b F1)."""

from __future__ import annotations

import json
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.support.e2e import run_checks
from tests.support.hostile_server import HostileServer

TOKEN = f"Ear{secrets.token_urlsafe(18)}9z"
ORDER_LIST = [{"id": 1042, "customer": "alice@example.com", "total": "129.90 EUR"}]
ORDERS = json.dumps({"orders": ORDER_LIST}).encode()


LAYOUT = (
    b"<html><head><title>Acme shop</title><link rel=stylesheet href=/s.css></head><body>"
    b"<nav><a href=/>Home</a> <a href=/orders>Orders</a> <a href=/help>Help</a></nav>"
)
ORDERS_PAGE = LAYOUT + b"<table><tr><td>1042</td><td>alice@example.com</td></tr></table>"
LOGIN_PAGE = LAYOUT + b"<form action=/login><input name=user><input name=password></form>"

# what each route was asked, by whom: (route, "token" or "other")
ASKED: Counter[tuple[str, str]] = Counter()


def _rendered_now() -> bytes:
    """The orders as a framework renders them: a request id, a time, any key order."""
    page = {"request_id": str(uuid.uuid4()), "generated_at": time.time(), "orders": ORDER_LIST}
    keys = list(page)
    random.shuffle(keys)
    return json.dumps({key: page[key] for key in keys}).encode()


def _answer(server, conn, request, route: str, status_refused: str, body_refused) -> None:
    sent = request.get("authorization", "").partition(" ")[2]
    ASKED[route, "token" if sent == TOKEN else "other"] += 1
    head = [("Content-Type", "application/json")]
    if sent == TOKEN:
        let_in = body_refused() if route == "/per-request" else ORDERS
        server._respond(conn, "200 OK", head, ORDERS_PAGE if route == "/login-page" else let_in)
    else:
        if status_refused.startswith("302"):
            head.append(("Location", "/login"))
        body = body_refused() if callable(body_refused) else body_refused
        server._respond(conn, status_refused, head, body)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=6) as running:
        routes = {
            "/renders-anyway": ("401 Unauthorized", ORDERS),
            "/redirects-and-renders": ("302 Found", ORDERS),
            "/refuses": ("401 Unauthorized", b'{"error": "unauthorized", "detail": "no token"}'),
            "/per-request": ("401 Unauthorized", _rendered_now),
            "/login-page": ("401 Unauthorized", LOGIN_PAGE),
        }
        for route, (status, body) in routes.items():
            running.custom[route] = lambda c, r, s, rt=route, st=status, b=body, srv=running: (
                _answer(srv, c, r, rt, st, b)
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
    assert "but its body holds the real credential's answer:" in run.stdout
    for check in ("test_rejects_anonymous", "test_rejects_invalid_token", "test_accepts_token"):
        assert outcomes[f"{check}[honest]"] == "passed", run.output


def test_a_refusal_carrying_the_data_with_per_request_words_fails(tmp_path, hostile):
    """A request id, a time and the key order change per answer: the data does not."""
    ASKED.clear()
    env = {
        "auth": [
            {"name": "orders", "url": hostile.url("/per-request"), "token_env": "EAR_TOKEN"},
            {"name": "shop", "url": hostile.url("/login-page"), "token_env": "EAR_TOKEN"},
        ]
    }
    run = run_checks(tmp_path, env, env_vars={"EAR_TOKEN": TOKEN})
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    for check in ("test_rejects_anonymous", "test_rejects_invalid_token"):
        assert outcomes[f"{check}[orders]"] == "failed", (check, run.output)
        # a login page sharing the orders page's layout, without the orders, is honest
        assert outcomes[f"{check}[shop]"] == "passed", (check, run.output)
    assert "but its body holds the real credential's answer:" in run.stdout
    # nothing is sent twice to tell per-request words from data (43c F2, F4)
    assert ASKED["/per-request", "token"] == 1
    assert ASKED["/login-page", "token"] == 1


def test_a_post_entry_s_refusal_is_judged_alike(tmp_path, hostile):
    """No request is repeated, so an entry of any method is judged the same way."""
    ASKED.clear()
    env = {
        "auth": [
            {
                "name": "orders",
                "url": hostile.url("/per-request"),
                "token_env": "EAR_TOKEN",
                "method": "POST",
            }
        ]
    }
    run = run_checks(tmp_path, env, env_vars={"EAR_TOKEN": TOKEN})
    assert ASKED["/per-request", "token"] == 1, run.output
    assert run.outcomes()["test_rejects_anonymous[orders]"] == "failed", run.output
