"""Messages a person can act on, each provoked against a real server on 127.0.0.1: nginx
(Debian's nginx-light), httpbin under gunicorn, and the suite's own LocalServer.

Each test runs the real rule on the real probe, and asserts on the message a pipeline's
JUnit shows and on the hint.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smokegate.config import Defaults, Endpoint, TlsTarget
from smokegate.gather.http import HttpGatherer
from smokegate.gather.tls import TlsGatherer
from smokegate.rules.health import check_endpoint
from smokegate.rules.tls import check_certificate
from smokegate.verdict import Verdict
from tests.integration.conftest import NginxSetup
from tests.support.connect_proxy import loopback_listener
from tests.support.environment import clear_environment
from tests.support.processes import Httpbin
from tests.support.servers import LocalServer, closed_port, private_ca_context


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def check(timeout_s: float = 5.0, ca: Any = True, **fields: Any) -> Verdict:
    endpoint = Endpoint.model_validate({"name": "t", **fields})
    gatherer = HttpGatherer(Defaults(timeout_s=timeout_s), lambda: [endpoint], verify=ca)
    try:
        return check_endpoint(endpoint, gatherer.endpoint(endpoint))
    finally:
        gatherer.close()


# -- nginx ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [("/hsts-app-then-proxy", None), ("/hsts-typo-then-proxy", "has no max-age")],
)
def test_hsts_sent_by_an_app_and_its_proxy_is_judged_by_its_first_field(
    nginx: NginxSetup, path: str, problem: str | None
) -> None:
    """Round 47c F1, with nginx's own `add_header` twice: each field reaches the rule
    apart (urllib3 joins them), and the first is what browsers heed."""
    from smokegate.rules.headers import check_security_headers

    endpoint = Endpoint.model_validate(
        {
            "name": "t",
            "url": nginx.server.url(path, scheme="https", port=nginx.server.https_port),
            "security_headers": ["strict-transport-security"],
        }
    )
    gatherer = HttpGatherer(Defaults(timeout_s=5), lambda: [endpoint], verify=str(nginx.ca_pem))
    try:
        verdict = check_security_headers(endpoint, gatherer.endpoint(endpoint))
    finally:
        gatherer.close()
    if problem is None:
        assert verdict.passed, verdict.problems
    else:
        (found,) = verdict.problems
        assert problem in found and "the first of several" in found


def test_plain_http_to_an_https_port_quotes_nginx(nginx: NginxSetup) -> None:
    verdict = check(url=nginx.server.url("/health", port=nginx.server.https_port))
    assert verdict.problems == ("status 400, expected 200",)
    assert "response body: " in verdict.detail
    assert "The plain HTTP request was sent to HTTPS port" in verdict.detail
    assert "<html>" not in verdict.detail  # the text, not the markup
    assert verdict.hint.startswith("the URL says http:// but the port serves HTTPS")


def test_tls_to_a_plain_http_port_says_so(nginx: NginxSetup) -> None:
    port = nginx.server.http_port
    verdict = check(url=nginx.server.url("/health", scheme="https", port=port))
    assert verdict.problems == (
        f"TLS error: 127.0.0.1:{port} did not answer in TLS (it speaks plain HTTP, or another "
        "protocol such as SSH or SMTP): use http:// if it serves plain HTTP, or the port that "
        "serves HTTPS",
    )
    assert "WRONG_VERSION_NUMBER" not in verdict.message
    assert verdict.hint.startswith("the URL says https:// but the port does not speak TLS")


def test_a_tls_check_against_a_plain_http_port_says_so(nginx: NginxSetup) -> None:
    target = TlsTarget(host="127.0.0.1", port=nginx.server.http_port, timeout_s=3)
    facts = TlsGatherer(lambda: [target]).certificate(target)
    verdict = check_certificate(target, facts)
    assert "did not answer in TLS (it speaks plain HTTP, or another protocol" in verdict.message


def test_a_failure_after_a_redirect_names_the_url_that_failed(nginx: NginxSetup) -> None:
    verdict = check(url=nginx.server.url("/moved"))
    port = nginx.closed_port
    assert verdict.problems == (
        f"after redirect to http://127.0.0.1:{port}/get: connection refused by 127.0.0.1:{port}",
    )
    assert verdict.hint.startswith("nothing listens there")


def test_per_endpoint_ca_bundle_is_trusted_and_the_top_level_default_is_not(
    nginx: NginxSetup,
) -> None:
    url = nginx.server.url("/health", scheme="https")
    trusted = check(url=url, ca_bundle=str(nginx.ca_pem), json={"status": "ok"})
    assert trusted.passed, trusted.message
    untrusted = check(url=url)
    assert untrusted.message.startswith("TLS error: certificate verify failed")


def test_tls_target_with_its_own_ca_bundle_and_timeout(nginx: NginxSetup) -> None:
    target = TlsTarget(
        host="127.0.0.1", port=nginx.server.https_port, ca_bundle=str(nginx.ca_pem), timeout_s=3
    )
    facts = TlsGatherer(lambda: [target]).certificate(target)
    assert facts.verified and facts.error is None
    assert check_certificate(target, facts).passed


# -- httpbin under gunicorn ----------------------------------------------------------------


def test_a_brotli_body_is_decoded(httpbin: Httpbin) -> None:
    """brotli (requirements.txt) makes urllib3 ask for and decode br."""
    verdict = check(url=httpbin.url("/brotli"), jmespath={"brotli": True, "method": "GET"})
    assert verdict.passed, verdict.message


def test_a_finite_redirect_chain_longer_than_allowed_is_not_called_a_loop(
    httpbin: Httpbin,
) -> None:
    verdict = check(url=httpbin.url("/relative-redirect/4"), max_redirects=2)
    (problem,) = verdict.problems
    assert problem.startswith("more than 2 redirects: the last went from ")
    assert problem.endswith("/relative-redirect/1 (max_redirects: 2)")
    assert "loop" not in problem
    assert "raise max_redirects" in verdict.hint
    assert check(url=httpbin.url("/relative-redirect/4")).passed  # the default allows it


def test_redirect_after_a_post_is_followed_as_a_get_like_a_browser(httpbin: Httpbin) -> None:
    target = httpbin.url("/anything/landed")
    verdict = check(
        url=httpbin.url(f"/redirect-to?url={target}&status_code=303"),
        method="POST",
        request={"json": {"a": 1}},
        jmespath={"method": "GET", "url": target},
    )
    assert verdict.passed, verdict.message


def test_a_status_failure_quotes_the_body_of_a_real_app(httpbin: Httpbin) -> None:
    verdict = check(url=httpbin.url("/status/418"))
    assert verdict.problems == ("status 418, expected 200",)
    assert "I'm a teapot" in verdict.detail or "teapot" in verdict.detail.lower()


# -- the suite's own server ----------------------------------------------------------------


def test_a_body_that_stalls_after_the_headers_gets_the_timeout_hint(server: LocalServer) -> None:
    verdict = check(url=server.url("/stall/3000"), timeout_s=0.5, json={"status": "ok"})
    assert verdict.problems == (
        "timed out after 0.5 s reading the body: the status and headers came, then the body "
        "stalled",
    )
    assert verdict.hint.startswith("the service is slow or unreachable")
    assert "format changed" not in verdict.hint


def test_a_body_in_an_encoding_the_client_cannot_decode_is_named(server: LocalServer) -> None:
    verdict = check(url=server.url("/zstd"), json={"status": "ok"})
    (problem,) = verdict.problems
    assert problem.startswith("the body is in Content-Encoding 'zstd', which smokegate cannot")
    assert "br" in problem and "gzip" in problem
    assert "not valid JSON" not in verdict.message  # not called a format change
    assert verdict.hint.startswith("the server compresses the body in a way")


def test_connection_refused_names_host_and_port() -> None:
    port = closed_port()
    verdict = check(url=f"http://localhost:{port}/get")
    assert verdict.problems == (f"connection refused by localhost:{port}",)


PROXY_PASSWORD = "Pr0xyPassw0rdXYZ"


@pytest.fixture
def closed_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """HTTP_PROXY and HTTPS_PROXY name a loopback port where nothing listens, with a user
    and password; returns the proxy as a message may show it."""
    clear_environment(monkeypatch, tmp_path)
    port = closed_port()
    for var in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, f"http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{port}")
    return f"http://***@127.0.0.1:{port}"


def test_a_refused_proxy_is_named_not_the_live_target(
    server: LocalServer, closed_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack round 9, F4: the target was up, the proxy port closed, and the message said
    "connection refused by <target>": on-call would look at the wrong service."""
    verdict = check(url=server.url("/ok"))
    target = f"127.0.0.1:{server.port}"
    assert verdict.problems == (
        f"connection refused by the proxy {closed_proxy}: the request never reached {target}",
    )
    assert PROXY_PASSWORD not in verdict.message and "proxyuser" not in verdict.message
    assert verdict.hint.startswith("the proxy failed, not the target")  # not "is it deployed?"
    assert server.paths == []  # the target was never asked
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert check(url=server.url("/ok")).passed  # and it is up


def test_a_refused_proxy_of_an_https_target_is_named(closed_proxy: str, tmp_path: Path) -> None:
    """Through a CONNECT tunnel too: the failure is the proxy's, not the TLS server's."""
    context, bundle = private_ca_context(tmp_path)
    with LocalServer(ssl_context=context) as tls:
        verdict = check(url=tls.url("/ok"), ca=bundle)
        assert tls.paths == []
    assert verdict.problems == (
        f"connection refused by the proxy {closed_proxy}: the request never reached "
        f"127.0.0.1:{tls.port}",
    )
    assert verdict.hint.startswith("the proxy failed, not the target")


def test_a_proxy_whose_host_does_not_resolve_is_named(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`.invalid` is reserved (RFC 6761): the resolver refuses it without network traffic.
    The proxy's name failed, not the target's (which is an IP address here)."""
    clear_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTP_PROXY", "smokegate-proxy.invalid:3128")
    verdict = check(url=server.url("/ok"))
    assert verdict.problems == (
        "DNS lookup failed for smokegate-proxy.invalid, the host of the proxy "
        f"http://smokegate-proxy.invalid:3128: the request never reached 127.0.0.1:{server.port}",
    )


def resetting_proxy() -> contextlib.AbstractContextManager[int]:
    """A loopback "proxy" that reads what it is sent, then resets the connection (SO_LINGER
    0: close() sends RST); yields its port."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return loopback_listener(handle)


def test_a_proxy_that_resets_is_named_not_the_live_target(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The proxy took the request, so it may have asked the target: the message names the
    target only as what the request was for."""
    clear_environment(monkeypatch, tmp_path)
    with resetting_proxy() as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        verdict = check(url=server.url("/ok"))
    assert verdict.problems == (
        f"connection reset by the proxy http://127.0.0.1:{port} "
        f"(the request was for 127.0.0.1:{server.port})",
    )
    assert server.paths == []


def answering_once(answer: bytes | None) -> contextlib.AbstractContextManager[int]:
    """A loopback listener that reads what a client first sends (a ClientHello, a CONNECT),
    then sends `answer` and closes, or, for None, says nothing for 5 s; yields its port."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if answer is None:
                    stop.wait(5)
                else:
                    conn.sendall(answer)

    return loopback_listener(handle)


def test_a_tls_handshake_that_stalls_is_said_as_such_not_as_a_slow_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Round 18c, F2: the port took the connection and never answered the ClientHello; the
    HTTPS check said "waiting for the response" (and hinted at a slow application), where
    the TLS check said "during the TLS handshake"."""
    clear_environment(monkeypatch, tmp_path)
    with answering_once(None) as port:
        verdict = check(url=f"https://127.0.0.1:{port}/", timeout_s=0.5)
    (problem,) = verdict.problems
    assert problem.startswith(
        f"timed out after 0.5 s during the TLS handshake with 127.0.0.1:{port}"
    )
    assert "no request was sent" in problem


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (b"\x00\x01garbage\r\n\r\n", "did not answer CONNECT to {target} in HTTP"),
        (None, "to answer CONNECT to {target} (its answer dripped, stalled or did not end)"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n",
            "answered CONNECT to {target} with a line longer than 64 KiB",
        ),
    ],
    ids=["garbage", "stall", "huge-header"],
)
def test_a_proxy_failing_its_connect_tunnel_is_named_not_the_target(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answer: bytes | None, said: str
) -> None:
    """Round 18c, F4: a proxy answering CONNECT with garbage, a huge header or nothing was
    said as the target's fault ("is this the right port?", "waiting for the response"),
    though the target was never reached."""
    clear_environment(monkeypatch, tmp_path)
    target = closed_port()
    with answering_once(answer) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        verdict = check(url=f"https://127.0.0.1:{target}/", timeout_s=0.5)
    (problem,) = verdict.problems
    # read by the reader the TLS checks use (round 22c), in its words
    assert f"the proxy http://127.0.0.1:{port} " in problem
    assert said.format(target=f"127.0.0.1:{target}") in problem
    assert problem.endswith(", so the request never reached it"), problem


def test_the_target_refusing_behind_no_proxy_is_still_the_target(
    closed_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy in the environment changes nothing for a target it does not carry."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    port = closed_port()
    verdict = check(url=f"http://127.0.0.1:{port}/get")
    assert verdict.problems == (f"connection refused by 127.0.0.1:{port}",)


def test_a_redirect_to_a_closed_port_names_where(server: LocalServer) -> None:
    port = closed_port()
    verdict = check(url=server.url(f"/to-closed/{port}"))
    assert verdict.problems == (
        f"after redirect to http://127.0.0.1:{port}/get: connection refused by 127.0.0.1:{port}",
    )


def test_a_finite_chain_within_the_limit_passes_and_says_where_it_landed(
    server: LocalServer,
) -> None:
    verdict = check(url=server.url("/chain/3"), max_redirects=3, expect_status=204)
    assert verdict.problems == ("status 200, expected 204",)
    assert f"answered by {server.url('/chain/0')} after 3 redirects" in verdict.detail
    assert server.count("/chain/") == 4


def test_nginx_rules_that_verify_no_token_fail_an_auth_case(nginx: NginxSetup, tmp_path) -> None:
    """Round 29c, against nginx: a gateway rule that lets in any JWT-shaped token passed
    every auth case when the invented token had another shape; a proxy_cache keyed without
    Authorization passed on a cold cache when the anonymous request went before the
    token's. The invented token is a JWT of the real one's claims now, and an entry's other
    cases go once its token's answer is in."""
    from tests.support.e2e import run_checks
    from tests.support.processes import CACHED_TOKEN

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.Zq7xK2mP9vB4nT6wYc1dEf8gHj3kLm5n"
    env = {
        "auth": [
            {"name": "jwt-shape", "url": nginx.server.url("/jwt-shape"), "token_env": "JWT_T"},
            {"name": "cached", "url": nginx.server.url("/cached"), "token_env": "CACHED_T"},
        ]
    }
    run = run_checks(tmp_path, env, env_vars={"JWT_T": jwt, "CACHED_T": CACHED_TOKEN})
    outcomes = run.outcomes()
    assert outcomes["test_accepts_token[jwt-shape]"] == "passed"
    assert outcomes["test_rejects_anonymous[jwt-shape]"] == "passed"
    assert outcomes["test_rejects_invalid_token[jwt-shape]"] == "failed", run.output
    assert outcomes["test_accepts_token[cached]"] == "passed"
    assert outcomes["test_rejects_anonymous[cached]"] == "failed", run.output
    assert "the answer came from a cache (X-Cache-Status: HIT)" in run.output
    assert run.returncode == 1


def test_a_server_taking_any_unsigned_jwt_fails_the_invalid_token_case(
    server: LocalServer, tmp_path
) -> None:
    """Round 33c F1: with an unsigned JWT (`alg: none`) the forger redrew the end of its
    claims, which then were no JSON; a server that lets in any unsigned token anyone can
    mint refused that, and every auth case passed. The forgery is a well-formed unsigned
    token now, and such a server fails the case."""
    import base64
    import json

    from tests.support.e2e import run_checks

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'deploy-bot', 'n': 7})}."
    env = {"auth": [{"name": "none", "url": server.url("/unsigned-jwt"), "token_env": "NONE_T"}]}
    run = run_checks(tmp_path, env, env_vars={"NONE_T": token})
    outcomes = run.outcomes()
    assert outcomes["test_accepts_token[none]"] == "passed", run.output
    assert outcomes["test_rejects_anonymous[none]"] == "passed", run.output
    assert outcomes["test_rejects_invalid_token[none]"] == "failed", run.output
    assert run.returncode == 1
