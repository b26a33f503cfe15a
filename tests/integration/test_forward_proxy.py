"""An http:// endpoint through HTTP_PROXY: the proxy answers the request whole, so what
comes back may be the proxy's own (attack round 21c, F3: a proxy's 407 and squid's 502 for a
target nobody listened on were judged as the target's status, with the target's hint)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smokegate.config import Defaults, Endpoint
from smokegate.gather.http import HttpGatherer
from smokegate.rules.health import check_endpoint
from smokegate.verdict import Verdict
from tests.support.environment import clear_environment
from tests.support.servers import closed_port


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.request_lines: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Proxy

    def do_GET(self) -> None:
        self.server.request_lines.append(self.requestline)
        if not self.server.status:  # a head cut after its status line
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.close_connection = True
            return
        body = b"ERR_CONNECT_FAIL squid" if self.server.status == 502 else b"ok"
        self.send_response(self.server.status)
        if self.server.status == 407:
            self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def forward_proxy(monkeypatch, tmp_path) -> Iterator[Callable[..., _Proxy]]:
    clear_environment(monkeypatch, tmp_path)
    started: list[_Proxy] = []

    def start(status: int, credentials: str = "", headers: dict | None = None) -> _Proxy:
        proxy = _Proxy(status, headers)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        started.append(proxy)
        address = proxy.url.replace(
            "http://", f"http://{credentials}@" if credentials else "http://"
        )
        monkeypatch.setenv("HTTP_PROXY", address)
        return proxy

    yield start
    for proxy in started:
        proxy.shutdown()
        proxy.server_close()


def _check(url: str, **fields: object) -> Verdict:
    endpoint = Endpoint.model_validate({"name": "t", "url": url, "body_contains": "ok", **fields})
    gatherer = HttpGatherer(Defaults(timeout_s=5), lambda: [endpoint], verify=True)
    try:
        return check_endpoint(endpoint, gatherer.endpoint(endpoint))
    finally:
        gatherer.close()


@pytest.mark.parametrize(
    ("credentials", "said"),
    [
        ("", "it wants credentials: put them in the proxy URL"),
        ("svc:Zq7xK2mP91Fw", "it refused the credentials of the proxy URL"),
    ],
)
def test_a_forward_proxy_s_407_is_the_proxy_s_and_verifies_nothing(
    forward_proxy, credentials, said
):
    target = f"http://127.0.0.1:{closed_port()}/health"
    proxy = forward_proxy(407, credentials)
    verdict = _check(target)
    assert proxy.request_lines == [f"GET {target} HTTP/1.1"]
    assert not verdict.passed and not verdict.verified
    (problem,) = verdict.problems
    assert problem.startswith("the proxy http://")
    assert f"answered 407 Proxy Authentication Required ({said})" in problem
    assert problem.endswith(f"{target} was never reached")
    assert "Zq7xK2mP91Fw" not in problem
    assert verdict.hint.startswith("fix the proxy variable")


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_status_through_a_forward_proxy_names_the_proxy(forward_proxy, status):
    proxy = forward_proxy(status)
    verdict = _check(f"http://127.0.0.1:{closed_port()}/health")
    assert verdict.problems[0] == f"status {status}, expected 200"
    assert (
        f"answered through the proxy {proxy.url}: a {status} may be the proxy's own"
        in verdict.detail
    )
    assert verdict.hint.startswith("the answer came through a proxy")


def test_an_answer_through_a_forward_proxy_that_passes_says_nothing_of_it(forward_proxy):
    forward_proxy(200)
    verdict = _check(f"http://127.0.0.1:{closed_port()}/health")
    assert verdict.passed and not verdict.detail


@pytest.mark.parametrize(
    ("status", "headers", "said"),
    [
        (403, {"X-Squid-Error": "ERR_ACCESS_DENIED 0"}, "(X-Squid-Error: ERR_ACCESS_DENIED 0)"),
        (
            403,
            {"Proxy-Status": "corpproxy; error=destination_ip_prohibited"},
            "(Proxy-Status: corpproxy; error=destination_ip_prohibited)",
        ),
        (511, {}, "(511 Network Authentication Required)"),
    ],
    ids=["squid-403", "proxy-status-403", "511"],
)
def test_an_answer_a_forward_proxy_marks_as_its_own_verifies_nothing(
    forward_proxy, status, headers, said
):
    """Round 22c, F5: a proxy's 403 for a host its policy denies passed `expect_status:
    403` (and the anonymous and forbidden-token cases): the target was never reached."""
    forward_proxy(status, headers=headers)
    target = f"http://127.0.0.1:{closed_port()}/admin"
    verdict = _check(target, expect_status=status)
    assert not verdict.passed and not verdict.verified
    (problem,) = verdict.problems
    assert f"answered {status} for itself {said}: {target} was never reached" in problem


def test_a_failure_of_an_answer_through_a_forward_proxy_names_the_proxy(forward_proxy):
    """Round 22c, L2: a head cut by (or behind) a forward proxy did not name the proxy."""
    proxy = forward_proxy(0)
    verdict = _check(f"http://127.0.0.1:{closed_port()}/health")
    (problem,) = verdict.problems
    assert problem.startswith("the connection closed inside the response headers")
    assert problem.endswith(f"(through the proxy {proxy.url})")


def test_a_forward_proxy_written_without_a_scheme_is_seen_as_one(forward_proxy, monkeypatch):
    """Round 23b, F1: `HTTP_PROXY=127.0.0.1:3128` (requests reads it as http://) went unseen
    as a forward proxy: its own marked 403 passed `expect_status: 403`."""
    proxy = forward_proxy(403, headers={"X-Squid-Error": "ERR_ACCESS_DENIED 0"})
    monkeypatch.setenv("HTTP_PROXY", proxy.url.removeprefix("http://"))
    verdict = _check(f"http://127.0.0.1:{closed_port()}/admin", expect_status=403)
    assert not verdict.passed and not verdict.verified
    assert "answered 403 for itself (X-Squid-Error: ERR_ACCESS_DENIED 0)" in verdict.problems[0]
