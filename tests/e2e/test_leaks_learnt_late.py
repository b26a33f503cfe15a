"""A secret the run learns late is masked in every output, the console too (round 43a
F3): a case quoting a value before the run fetched it as a token was scrubbed when it
ended, with the secrets known then; the files got a last pass with every secret, the
console's FAILURES section and case lines did not. Payloads are this file's own."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.e2e import run_checks

# handed out by the token endpoint, and shown beforehand by another page of the system (a
# static per-client token)
FETCHED = f"Ft7{secrets.token_urlsafe(18)}Q4"
TOKEN_GIVEN = threading.Event()


class _System(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None

    def _send(self, status: int, body: str, server: str | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        if server:
            self.send_header("Server", server)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # handed out only once the page quoting it has answered, so its case ends first
        TOKEN_GIVEN.wait(5)
        self._send(200, json.dumps({"access_token": FETCHED, "token_type": "Bearer"}))

    def do_GET(self) -> None:
        if self.path.startswith("/web"):
            self._send(200, "{}", server=f"nginx/1.2 ({FETCHED})")
            TOKEN_GIVEN.set()
        elif self.headers.get("Authorization") == f"Bearer {FETCHED}":
            self._send(200, '{"ok": true}')
        else:
            self._send(401, '{"error": "unauthorized"}')


@pytest.fixture
def system() -> Iterator[str]:
    TOKEN_GIVEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _System)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_value_quoted_before_it_was_fetched_as_a_token_is_masked_in_the_console(tmp_path, system):
    env = {
        "endpoints": [
            {"name": "web", "url": f"{system}/web", "security_headers": True},
            {
                "name": "orders",
                "url": f"{system}/orders",
                "credentials": {
                    "oauth2": {
                        "token_url": f"{system}/token",
                        "client_id_env": "LATE_CLIENT_ID",
                        "client_secret_env": "LATE_CLIENT_SECRET",
                    }
                },
            },
        ]
    }
    run = run_checks(
        tmp_path,
        env,
        "-p",
        "no:randomly",
        env_vars={"LATE_CLIENT_ID": "late-client-7", "LATE_CLIENT_SECRET": "Cs9Lq2Wm7Xp4Zr8"},
    )
    assert run.outcomes()["test_security_headers[web]"] == "failed", run.output
    assert run.outcomes()["test_endpoint[orders]"] == "passed", run.output
    assert "reveals a version" in run.output
    outputs = {"console": run.output}
    for name in ("summary.md", "junit.xml", "report.html"):
        outputs[name] = (run.reports_dir / name).read_text()
    for name, text in outputs.items():
        assert FETCHED[:12] not in text and FETCHED[-12:] not in text, name


def test_a_target_named_after_a_secret_is_masked_in_pytest_s_own_lines(tmp_path):
    """Round 48a F2: an endpoint's name or a TLS host holding API_TOKEN's value is the case
    id, which pytest prints in its own lines (`FAILED checks/...[id]`, the failure
    section's header) that smokegate's console block does not write; F3: a host holding it
    is lower-cased by every URL parser (the derived name, "DNS lookup failed for")."""
    token = "Pr0dK" + secrets.token_hex(4) + "Tq"  # a digit: no word, 15 characters
    env = {
        "defaults": {"timeout_s": 2},
        "endpoints": [
            {"name": f"api-{token}", "url": "http://127.0.0.1:9/orders", "token_env": "API_TOKEN"},
            {"url": f"http://{token}.invalid/orders", "token_env": "API_TOKEN"},
        ],
        "tls": [{"host": f"{token}.localhost", "port": 9}],
    }
    run = run_checks(tmp_path, env, "-rA", env_vars={"API_TOKEN": token})
    assert run.returncode == 1, run.stdout[-2000:]
    outputs = [run.output, *(p.read_text() for p in run.reports_dir.iterdir())]
    for text in outputs:
        assert token not in text and token.lower() not in text and token.upper() not in text


class _RefusingProxy(BaseHTTPRequestHandler):
    """A forward proxy that refuses every request, quoting back the request line and Host it
    was sent, as httpbin's /anything and many a proxy's error page do."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        data = f"refused: {self.requestline} Host: {self.headers.get('Host')}".encode()
        self.send_response(502)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _pieces(token: str) -> set[str]:
    return {form[i : i + 8] for form in (token, token.lower()) for i in range(len(token) - 7)}


def test_a_secret_in_a_host_is_masked_as_sent_and_no_cut_leaves_a_piece(tmp_path):
    """Round 50a: F1, F2: a secret written in a host is sent lower-cased (urllib3 lower-cases
    the host of the request line and Host header), and a proxy quoting them back showed it;
    F3: the location beside a case id quoted a piece of the token the id masked; F4: the
    --debug file's reprs are cut at 240 characters by pytest, and the token placed at the
    cut (by the padding of 30 paths) left its first characters there."""
    token = "Pr0dK" + secrets.token_hex(4) + "Tq"  # a digit, mixed case, 15 characters
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    refused = [
        {"url": f"http://127.0.0.1:9/p{'a' * n}/{token}/health", "token_env": "API_TOKEN"}
        for n in range(30)
    ]
    env = {
        "defaults": {"timeout_s": 2},
        "endpoints": [
            {"name": "echoed", "url": f"http://{token}.example:8080/h", "token_env": "API_TOKEN"},
            {"url": f"http://127.0.0.1:9/tenants/{token[:11]}/health"},
            *refused,
        ],
    }
    debug = tmp_path / "debug.log"
    try:
        run = run_checks(
            tmp_path,
            env,
            f"--debug={debug}",
            env_vars={
                "API_TOKEN": token,
                "HTTP_PROXY": f"http://127.0.0.1:{proxy.server_port}",
                "NO_PROXY": "127.0.0.1",
            },
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert run.returncode == 1, run.stdout[-2000:]
    assert "refused: GET http://***.example:8080/h" in run.stdout  # the proxy was asked
    outputs = {"console": run.output, "debug": debug.read_text()}
    outputs |= {p.name: p.read_text() for p in run.reports_dir.iterdir() if p.is_file()}
    for name, text in outputs.items():
        shown = sorted(piece for piece in _pieces(token) if piece in text)
        assert not shown, (name, shown)
