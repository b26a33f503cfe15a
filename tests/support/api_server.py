"""A real API server on 127.0.0.1 that understands every credential scheme smokegate sends,
and an OAuth2 token endpoint: what the credential, triad and canary tests run against.

It records every request exactly as received (method, path, query, headers, body), so a
test asserts on what went over the wire, not on what the client meant to send.

Routes:
- `/api` (any method): the credentials found in the request (`bearer:<token>`,
  `basic:<user>:<password>`, `header:<Name>:<value>` for `header_names`,
  `query:<name>:<value>` for `query_names`) are looked up in `grants` (identity -> status):
  a known one gets its status, an unknown one 401 `invalid_token`, none 401 with a challenge.
- `/redirect?to=<url>`: 302 to that URL.
- `/echo` (any method): 401 echoing everything it received, credentials included, in its
  body and its challenge, as careless servers do: what the scrubber must hide.
- `/oauth/token` (POST): client credentials, by HTTP Basic or form fields; `clients` maps a
  client id to (secret, token to issue). Counted in `token_requests`. An unknown client gets
  401 `invalid_client`.
- `/oauth/lax` (POST): `/oauth/token` that never compares the client secret (a known
  client id is enough): the broken token endpoint of attack round 33c.
- `/oauth/broken` (POST): 503 with a text body: a token endpoint that is down.
- `/oauth/busy`, `/oauth/down`, `/oauth/blank`, `/oauth/empty`, `/oauth/forbidden`: the
  real client secret gets its token, any other one 429, 503, 200 with a token holding
  blanks, 200 with no token, 403 (`_ANSWERS_TO_A_WRONG_SECRET`); `/oauth/unauthorized`,
  `/oauth/waf`, `/oauth/challenge` likewise (401 invalid_client, an HTML 403, a 202 page).
- `/oauth/deep` (POST): 200 with JSON nested 200 000 deep: a hostile token endpoint.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class ApiServer:
    base_url: str
    received: list[Received] = field(default_factory=list)
    token_requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def identities(
    received: Received, header_names: tuple[str, ...], query_names: tuple[str, ...]
) -> list[str]:
    found = []
    authorization = received.header("Authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        found.append(f"bearer:{value}")
    elif scheme.lower() == "basic" and value:
        try:
            found.append("basic:" + base64.b64decode(value).decode())
        except ValueError:
            found.append("basic:<undecodable>")
    elif authorization:
        found.append(f"authorization:{authorization}")
    for name in header_names:
        sent = received.header(name)
        if sent is not None:
            found.append(f"header:{name}:{sent}")
    for name in query_names:
        for sent in received.query.get(name, []):
            found.append(f"query:{name}:{sent}")
    return found


def _handler(
    server_state: ApiServer,
    grants: Mapping[str, int],
    clients: Mapping[str, tuple[str, str]],
    header_names: tuple[str, ...],
    query_names: tuple[str, ...],
) -> type:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _send(self, status: int, document: Any, **headers: str) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            received = Received(
                self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
            )
            if parts.path.startswith("/oauth/"):
                with lock:
                    server_state.token_requests.append(received)
                self._token(parts.path, received)
                return
            with lock:
                server_state.received.append(received)
            if parts.path == "/echo":
                self._send(
                    401,
                    {"error": "invalid_token", "you_sent": received.headers, "query": parts.query},
                    WWW_Authenticate=f'Bearer error="invalid_token", got="{received.headers}"',
                )
                return
            if parts.path == "/redirect":
                location = parse_qs(parts.query)["to"][0]
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if parts.path != "/api":
                self._send(404, {"error": "not found"})
                return
            found = identities(received, header_names, query_names)
            for identity in found:
                if identity in grants:
                    self._send(grants[identity], {"identity": "known"})
                    return
            if found:
                self._send(
                    401,
                    {"error": "invalid_token"},
                    WWW_Authenticate='Bearer realm="api", error="invalid_token"',
                )
            else:
                self._send(401, {"error": "unauthorized"}, WWW_Authenticate='Bearer realm="api"')

        def _token(self, path: str, received: Received) -> None:
            if path == "/oauth/deep":
                payload = b"[" * 200_000 + b"]" * 200_000
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if path == "/oauth/slow":  # a token endpoint that answers after 1.5 s
                time.sleep(1.5)
                path = "/oauth/token"
            if path == "/oauth/broken":
                payload = b"token service unavailable"
                self.send_response(503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            form = dict(parse_qsl(received.body.decode()))
            client_id, secret = form.get("client_id"), form.get("client_secret")
            authorization = received.header("Authorization") or ""
            if authorization.startswith("Basic "):
                pair = base64.b64decode(authorization[6:]).decode()
                quoted_id, _, quoted_secret = pair.partition(":")  # RFC 6749 §2.3.1: encoded
                client_id, secret = unquote_plus(quoted_id), unquote_plus(quoted_secret)
            known = clients.get(client_id or "")
            # `/oauth/lax`: a token endpoint that never compares the client secret
            checked = path != "/oauth/lax"
            wrong_secret = known is not None and known[0] != secret
            if wrong_secret and path in _ANSWERS_TO_A_WRONG_SECRET:
                status, document = _ANSWERS_TO_A_WRONG_SECRET[path]
                if isinstance(document, str):  # a page, not JSON
                    page = document.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                else:
                    self._send(status, document, Retry_After="60")
            elif form.get("grant_type") != "client_credentials":
                self._send(400, {"error": "unsupported_grant_type"})
            elif known is None or (checked and known[0] != secret):
                self._send(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "client authentication failed",
                    },
                )
            else:
                self._send(
                    200, {"access_token": known[1], "token_type": "Bearer", "expires_in": 3600}
                )

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return Handler


# Token endpoints that hand the real client secret its token and answer any other one
# otherwise (round 37a): no refusal (busy, down), a token smokegate will not send (one
# holding blanks), a 2xx without a token (a refusal), 403.
_ANSWERS_TO_A_WRONG_SECRET: dict[str, tuple[int, dict[str, Any] | str]] = {
    "/oauth/busy": (429, {"error": "slow_down"}),
    "/oauth/down": (503, {"error": "temporarily_unavailable"}),
    "/oauth/blank": (200, {"access_token": "issued to anyone 42", "token_type": "Bearer"}),
    "/oauth/empty": (200, {}),
    "/oauth/forbidden": (403, {"error": "access_denied"}),
    "/oauth/unauthorized": (401, {"error": "invalid_client"}),
    # a front end's answers, not the IdP's (round 38c): a rate limit's or WAF's HTML 403,
    # a challenge page's 202
    "/oauth/waf": (403, "<html><body>Request blocked</body></html>"),
    "/oauth/challenge": (202, "<html><body>Checking your browser</body></html>"),
}


@contextmanager
def api_server(
    grants: Mapping[str, int] | None = None,
    *,
    clients: Mapping[str, tuple[str, str]] | None = None,
    header_names: tuple[str, ...] = ("X-API-Key",),
    query_names: tuple[str, ...] = ("api_key",),
) -> Iterator[ApiServer]:
    state = ApiServer("")
    handler = _handler(state, dict(grants or {}), dict(clients or {}), header_names, query_names)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
