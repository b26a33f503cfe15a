"""A real bearer-token HTTP server on 127.0.0.1 for the auth tests.

Routes:
- `/api`: 401 without credentials (with a `WWW-Authenticate` challenge), the status mapped
  to a known token (e.g. 200 or 403), 401 `invalid_token` for any other token. A successful
  token request also sets a session cookie that the server accepts as credentials, so a
  prober sharing cookies between requests would wrongly see the next anonymous call let in.
- `/open`: 200 for everyone (an endpoint someone forgot to protect).
- `/echo`: 401 that echoes the Authorization header back in its body and challenge, as
  careless servers do: what the scrubber must hide.
- `/login`: 302 to a login page for anonymous callers, 200 with a token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

SESSION_COOKIE = "sid=session-from-token"


@dataclass
class AuthServer:
    base_url: str
    seen: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _handler(tokens: Mapping[str, int], seen: list[dict[str, str]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _send(self, status: int, body: dict[str, object], **headers: str) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            authorization = self.headers.get("Authorization", "")
            seen.append(
                {
                    "path": path,
                    "authorization": authorization,
                    "cookie": self.headers.get("Cookie", ""),
                }
            )
            token = authorization.removeprefix("Bearer ") if authorization else ""
            if path == "/open":
                self._send(200, {"open": True})
            elif path == "/echo":
                self._send(
                    401,
                    {"error": "invalid_token", "you_sent": authorization, "quoted": quote(token)},
                    WWW_Authenticate=f'Bearer error="invalid_token", token="{token}"',
                )
            elif path == "/login" and not token:
                self.send_response(302)
                self.send_header("Location", "/login-page")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path in ("/api", "/login"):
                if token in tokens:
                    status = tokens[token]
                    cookie = {"Set-Cookie": SESSION_COOKIE} if status == 200 else {}
                    self._send(status, {"token": "known"}, **cookie)
                elif SESSION_COOKIE in self.headers.get("Cookie", ""):
                    self._send(200, {"via": "session cookie"})
                elif token:
                    self._send(
                        401,
                        {"error": "invalid_token"},
                        WWW_Authenticate='Bearer realm="api", error="invalid_token"',
                    )
                else:
                    self._send(
                        401, {"error": "unauthorized"}, WWW_Authenticate='Bearer realm="api"'
                    )
            else:
                self._send(404, {"error": "not found"})

    return Handler


@contextmanager
def auth_server(tokens: Mapping[str, int]) -> Iterator[AuthServer]:
    """`tokens` maps a token value to the status `/api` answers it with."""
    seen: list[dict[str, str]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dict(tokens), seen))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield AuthServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
