"""What to do about a failing health probe: the line an on-call engineer reads first."""

from __future__ import annotations

from smokegate import linear_re
from smokegate.facts.http import ProbeResult
from smokegate.rules.tls import certificate_hints

_ERROR_HINTS = (
    (
        "closed during the TLS handshake: the proxy",
        "the proxy's tunnel ended before TLS was up: check the proxy's logs and that it "
        "reaches the target (or name the host in NO_PROXY to reach it directly)",
    ),
    (  # first: a proxy's failure also says "refused", "timed out" or "reset"
        "the proxy ",
        "the proxy failed, not the target: check HTTP_PROXY / HTTPS_PROXY / NO_PROXY and "
        "that the proxy runs",
    ),
    (
        "did not answer in TLS",
        "the URL says https:// but the port does not speak TLS: fix the scheme or the port",
    ),
    (
        "TLS handshake refused: ",
        "the server's TLS side refused or dropped smokegate's client: see the message (no "
        "shared cipher suite, mutual TLS, a TLS version below 1.2, or nothing healthy behind "
        "a TLS pass-through)",
    ),
    ("connection refused", "nothing listens there: is the service deployed, and the port right?"),
    ("DNS lookup failed", "the host name does not resolve: check the URL and the DNS record"),
    # a certificate's own property, which no ca_bundle fixes (round 28c)
    *certificate_hints(),
    (
        "certificate verify failed",
        "the certificate does not verify: check its chain and names, "
        "or set ca_bundle for a private CA",
    ),
    (  # any other TLS failure is no certificate's (round 16: an EOF got the chain hint)
        "TLS error",
        "the TLS handshake failed on the server's TLS setup, not its certificate: see the message",
    ),
    (  # it answered in part: reachable, so no firewall's (rounds 21c, 22c)
        "then stalled inside its status line",
        "the server began its answer and stopped: check the application server (a worker "
        "stuck after writing its status) and any proxy in front of it",
    ),
    (
        "then the head stalled",
        "the server began its answer and stopped: check the application server (a worker "
        "stuck after writing its status) and any proxy in front of it",
    ),
    (
        "then no final answer",
        "the server accepted the request (an interim answer) and never finished it: check the "
        "application behind it for a hang",
    ),
    (
        "then the body did not end within",
        "the server answered and never finished its body: check the application (a stream "
        "that never closes, a worker stuck while writing) and any proxy that buffers it",
    ),
    ("timed out", "the service is slow or unreachable: check load, firewalls and security groups"),
    ("(timeout)", "the service is slow or unreachable: check load, firewalls and security groups"),
    ("redirect loop", "the redirects never end: check the proxy's and the app's redirect rules"),
    (
        "redirects: the last went",
        "a longer redirect chain than allowed: check the proxy's and the app's redirect rules, "
        "or raise max_redirects if the chain is intended",
    ),
    (
        "OAuth2 token request",
        "no token, so nothing was checked: check the client id and secret variables, the "
        "token_url, scope and audience",
    ),
    (
        "Content-Encoding",
        "the server compresses the body in a way the client cannot read: check its "
        "compression settings (smokegate asks for gzip, deflate or br)",
    ),
    (
        "empty reply:",
        "the server (or what is in front of it) took the request and closed without an "
        "answer: check the service's crash logs, and the port and protocol",
    ),
    ("reset", "the connection was cut: check the load balancer and the service's crash logs"),
)


_CLOSED_MARKERS = ("empty reply:", "reset")


def health_hint(result: ProbeResult, problems: list[str], *, credentialed: bool = False) -> str:
    """The likeliest cause of a failed health check, and where to look. `credentialed`:
    the endpoint sends credentials, so a 401 is their refusal, not a private path."""
    if not result.sent:  # before the markers: the URL in its message may contain "reset"
        error = result.error or ""
        if "is not set (or empty)" in error:
            return ""  # the message says what to do
        if "OAuth2 token request" in error:
            return dict(_ERROR_HINTS)["OAuth2 token request"]
        if error.startswith("the proxy ") and "407 Proxy Authentication Required" in error:
            return (
                "fix the proxy variable (HTTP_PROXY, http_proxy or ALL_PROXY): its credentials, "
                "or name the host in NO_PROXY to reach it directly"
            )
        if error.startswith("the proxy ") and " for itself (" in error:
            return (
                "the proxy refused or could not reach the target: allow the host in the "
                "proxy's policy, or name it in NO_PROXY to reach it directly"
            )
        if "TLS trust: " in error:  # a CA variable or ca_bundle that names no usable CAs
            return (
                "fix the CA setting the message names (a file or folder of PEM CAs that "
                'exists): see docs/auth-tls.md, "Trust: one decision for HTTPS checks and '
                'TLS checks"'
            )
        if "not mocked: " in error:  # the mocked world lacks it (a URL holds no blank)
            return (
                "add this URL to the mocked world's http.yaml, or remove the env file's "
                "`mock:` line to probe the real target"
            )
        return ""  # a secret too short or unsendable, the run's end: the message says it
    if result.error:
        # "(through the proxy ...)": the proxy carried the request, and what failed after may
        # be the target's as well; the target's hint, the message names the proxy (22c)
        own = _THROUGH_PROXY.sub("", _own_words(result.error))
        for marker, hint in _ERROR_HINTS:
            if marker in own:
                plain = result.url.startswith("http://") and result.status is None
                if marker in _CLOSED_MARKERS and plain:
                    # a TLS server closes or resets a plain request (round 28c)
                    return f"{hint}; or the port speaks HTTPS only: try https:// in the URL"
                return hint
    status = result.status or 0
    if "plain HTTP request was sent to HTTPS port" in result.text:
        return "the URL says http:// but the port serves HTTPS: use https:// (nginx's 400)"
    if status == 400 and "No required SSL certificate was sent" in result.text:
        # round 27c: nginx's `ssl_verify_client on` answers so, after the handshake
        return (
            "the server demands a client certificate (mutual TLS; nginx's 400), which "
            "smokegate does not send: probe an endpoint that does not, or allow the runner"
        )
    if status == 429 or (status == 503 and "retry-after" in result.headers):
        # round 27c: every endpoint of a host is probed at once, which trips rate limits
        return (
            "the server rate-limits the requests (429, or 503 with Retry-After): smokegate "
            "probes every endpoint at once; allow the runner's address, or lower "
            "defaults.max_workers"
        )
    if result.forward_proxy and status in (502, 503, 504):
        return (
            "the answer came through a proxy: check that the proxy reaches the target (or "
            "name the host in NO_PROXY), then the service's logs"
        )
    if result.status is not None and not 100 <= status <= 599:
        return (
            "that is no HTTP status (100-599): check that an HTTP server answers on this "
            "port, and the app's own status code"
        )
    if status >= 500:
        return "the service answers with a server error: check its logs and its dependencies"
    if status in (401, 403) and credentialed:
        return (
            "the credentials sent were refused: check that the variable holds a current token "
            "(not expired, not another env's) with the rights this endpoint needs"
        )
    if status in (401, 403):
        return "the endpoint wants credentials: health URLs are usually public, check the path"
    if status == 404:
        return "no such path: check the URL against the deployed routes"
    if any(p.startswith("latency") for p in problems):
        return "answers, but slowly: check load, cold starts and downstream latency"
    if result.truncated and any("size cap" in p for p in problems):
        return (
            "the body is larger than defaults.max_body_kb: raise it, or check why the "
            "endpoint answers with that much"
        )
    if any(p.startswith(("json", "jmespath", "body")) for p in problems):
        return "the service reports itself unhealthy, or its response format changed"
    if any(p.startswith("header") for p in problems):
        return "a proxy or the app changed its response headers"
    return ""


def _own_words(error: str) -> str:
    """The message without what a server put in it: the redirect target it named (`after
    redirect to <Location>: `) and quoted text of its own (`'...'`). A Location of
    `/(timeout)/` chose the "slow or unreachable" hint for a malformed answer (round 14)."""
    if error.startswith("after redirect to "):
        error = error.partition(": ")[2]  # cut-ok: looked at, never shown
    return _QUOTED.sub("''", error)


_QUOTED = linear_re.compile(r"'[^'\n]*'")
_THROUGH_PROXY = linear_re.compile(r" \(through the proxy [^()]*\)$")
