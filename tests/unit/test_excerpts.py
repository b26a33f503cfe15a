"""Scrub before you cut (issue 10 item 1) and no terminal control from a server (item 13).

Two halves. The guard: no module of smokegate shortens text another way than through
`smokegate.redact.excerpt` (a slice, a `split(...)[i]`, a first line taken) unless the line
says why it is not quoted text (`# cut-ok: ...`). The proof: every path that quotes a
server's or an exception's text, fed a secret at every offset around its cut, shows no
prefix and no suffix of it; and no control character of that text comes out raw.
"""

from __future__ import annotations

import ast
import base64
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smokegate.config import Endpoint, TlsTarget
from smokegate.facts.http import Headers, ProbeResult
from smokegate.facts.tls import TlsFacts
from smokegate.gather.oauth2 import OAuth2Client, TokenOutcome, token_from
from smokegate.gather.probe import ProbeRequest, describe_error
from smokegate.redact import configure_secret_variables, escape_control, excerpt
from smokegate.rules.auth import check_auth
from smokegate.rules.headers import check_security_headers
from smokegate.rules.health import check_endpoint
from smokegate.rules.tls import check_certificate
from smokegate.targets import AuthCase, token_cases
from tests.support.paths import ROOT

PACKAGE = ROOT / "smokegate"
# Not scanned: the excerpt itself, and the HTML/report renderers another change owns.
NOT_SCANNED = {"redact.py", "linear_re.py", "pytest_plugin/html.py"}
CUTTING_METHODS = {"split", "splitlines", "rsplit", "partition", "rpartition"}


def _modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative not in NOT_SCANNED and not relative.startswith("report/"):
            yield path


def _cuts(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            value = node.value
            if isinstance(node.slice, ast.Slice) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in CUTTING_METHODS
            ):
                yield node
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"shorten", "wrap", "fill"}  # textwrap
        ):
            yield node


def test_no_module_cuts_text_another_way_than_through_excerpt():
    found = []
    for path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in _cuts(ast.parse("\n".join(lines))):
            around = lines[max(node.lineno - 2, 0) : node.end_lineno]  # type: ignore[attr-defined]
            if not any("# cut-ok:" in line for line in around):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1]}")
    assert not found, "cut through smokegate.redact.excerpt, or say why not:\n" + "\n".join(found)


def test_the_guard_finds_what_it_is_for():
    tree = ast.parse("a = text[:80]\nb = text.splitlines()[0]\nc = textwrap.shorten(t, 9)\n")
    assert len(list(_cuts(tree))) == 3


# -- every quoting path, a secret at every offset around its cut ----------------------------

TOKEN_VAR = "EXCERPT_TEST_TOKEN"


@pytest.fixture(params=["plain", "long", "jwt"])
def secret(request, monkeypatch) -> Iterator[str]:
    """A secret the process knows (named by the env file's credentials), or, for the JWT, one
    only its shape gives away."""
    value = {
        "plain": f"tok{secrets.token_hex(7)}",  # 17 characters
        "long": secrets.token_urlsafe(250),  # 335 characters
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9." + secrets.token_urlsafe(32),
    }[request.param]
    if request.param != "jwt":
        monkeypatch.setenv(TOKEN_VAR, value)
    configure_secret_variables([TOKEN_VAR])
    yield value
    configure_secret_variables(())


def _result(body: str = "", headers: dict[str, str] | None = None, status: int = 503):
    return ProbeResult(
        key="k",
        url="https://a.example.com/",
        status=status,
        latency_ms=1.0,
        body=body.encode(),
        headers=Headers(headers or {"Content-Type": "text/plain"}),
    )


def _endpoint(**fields) -> Endpoint:
    return Endpoint(name="x", url="https://a.example.com/", **fields)


def _verdict_text(verdict) -> str:
    return "\n".join((*verdict.problems, verdict.detail, verdict.measured, verdict.hint))


def _auth_case() -> AuthCase:
    from smokegate.config import EnvConfig

    config = EnvConfig.model_validate(
        {"auth": [{"name": "a", "url": "https://a.example.com/", "token_env": "T_VAR"}]}
    )
    return token_cases(config)[0]


# Each path: (how long its cut is, text -> everything it outputs for that text)
PATHS: dict[str, tuple[int, Callable[[str], str]]] = {
    "health body excerpt": (160, lambda t: _verdict_text(check_endpoint(_endpoint(), _result(t)))),
    "auth body excerpt": (
        200,
        lambda t: _verdict_text(check_auth(_auth_case(), _result(t, status=200))),
    ),
    "auth challenge": (
        200,
        lambda t: _verdict_text(
            check_auth(_auth_case(), _result("", {"WWW-Authenticate": t}, status=200))
        ),
    ),
    "json mismatch value": (
        80,
        lambda t: _verdict_text(
            check_endpoint(_endpoint(json={"a": 1}), _result(json.dumps({"a": t}), status=200))
        ),
    ),
    "jmespath value": (
        80,
        lambda t: _verdict_text(
            check_endpoint(_endpoint(jmespath={"a": 1}), _result(json.dumps({"a": t}), status=200))
        ),
    ),
    "expected header value": (
        200,
        lambda t: _verdict_text(
            check_endpoint(_endpoint(headers={"X-A": "zzz"}), _result("", {"X-A": t}, status=200))
        ),
    ),
    "security header value": (
        120,
        lambda t: _verdict_text(
            check_security_headers(
                _endpoint(security_headers=["x-content-type-options"]),
                _result("", {"X-Content-Type-Options": t}, status=200),
            )
        ),
    ),
    "oauth2 error body": (
        200,
        lambda t: (
            token_from(
                OAuth2Client(
                    token_url="https://idp.example.com/t", client_id="c", client_secret="s"
                ),
                _result(t, status=401),
            ).error
            or ""
        ),
    ),
    "oauth2 error_description": (
        200,
        lambda t: (
            token_from(
                OAuth2Client(
                    token_url="https://idp.example.com/t", client_id="c", client_secret="s"
                ),
                _result(json.dumps({"error": "x", "error_description": t}), status=401),
            ).error
            or ""
        ),
    ),
    "exception text": (
        300,
        lambda t: describe_error(
            ValueError(t), ProbeRequest(key="k", url="https://a.example.com/")
        ),
    ),
    "certificate subject": (
        200,
        lambda t: _verdict_text(
            check_certificate(
                TlsTarget(host="a.example.com"),
                TlsFacts(
                    target="a.example.com:443",
                    server_name="a.example.com",
                    subject=t,
                    issuer=t,
                    names=(t,),
                    name_matches=False,
                    self_signed=True,
                    not_after=datetime(2099, 1, 1, tzinfo=UTC),
                ),
            )
        ),
    ),
    "certificate error": (
        1000,
        lambda t: _verdict_text(
            check_certificate(
                TlsTarget(host="a.example.com"),
                TlsFacts(target="a.example.com:443", server_name="a.example.com", error=t),
            )
        ),
    ),
}


def _leaks(output: str, secret: str) -> bool:
    """Any 6 characters of the secret's start or end shown: a prefix or suffix cut loose."""
    return secret[:6] in output or secret[-6:] in output


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_secret_at_any_offset_around_the_cut_is_masked_whole(path, secret):
    limit, render = PATHS[path]
    for offset in range(max(limit - len(secret) - 4, 0), limit + 4):
        text = "~" * offset + secret + " " + "~" * 40
        output = render(text)
        assert not _leaks(output, secret), f"{path}, secret at {offset}: {output!r}"


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_secret_split_over_lines_is_masked_before_the_first_line_is_taken(path, monkeypatch):
    value = "line-one-of-a\nsecret-value-9f8e"
    monkeypatch.setenv(TOKEN_VAR, value)
    configure_secret_variables([TOKEN_VAR])
    try:
        output = PATHS[path][1](f"error {value} end")
    finally:
        configure_secret_variables(())
    assert "line-one-of-a" not in output and "secret-value-9f8e" not in output


@pytest.mark.parametrize("path", sorted(PATHS))
def test_no_control_character_of_the_quoted_text_comes_out_raw(path):
    hostile = "\x1b[2K\x1b[1A\r\x07\x00\x7f\x9b31m gate PASSED \u202eevil\u200b"
    output = PATHS[path][1](hostile)
    for char in ("\x1b", "\r", "\x07", "\x00", "\x7f", "\x9b", "\u202e", "\u200b"):
        assert char not in output, f"{path}: {char!r} in {output!r}"


def test_excerpt_escapes_then_cuts_and_keeps_short_text_as_it_is():
    assert excerpt("plain text", 80) == "plain text"
    assert excerpt("a\n\tb", 80) == "a b"
    assert excerpt("x" * 100, 10) == "x" * 9 + "…"
    assert excerpt("\x1b[2Kok", 80) == "\\x1b[2Kok"
    assert excerpt("first\nsecond", 80, first_line=True) == "first"
    assert escape_control("tab\tnew\nline\x1b") == "tab\tnew\nline\\x1b"


def test_a_token_answer_whose_body_stalled_is_said_as_such() -> None:
    """Round 14c, F12: a 200 whose body stalled mid-way read "no access_token", sending the
    reader to the identity provider's configuration instead of its latency."""
    from smokegate.facts.http import ProbeResult

    client = OAuth2Client(token_url="https://idp.example.com/t", client_id="c", client_secret="s")
    stalled = ProbeResult(
        key="k",
        url="https://idp.example.com/t",
        method="POST",
        status=200,
        body=b'{"access_token": "abc',
        truncated=True,
        error="body not complete after 2 s (timeout)",
    )
    outcome = token_from(client, stalled)
    assert outcome.token is None
    assert outcome.error == (
        "OAuth2 token request to https://idp.example.com/t: status 200, but its body was not "
        "read whole: body not complete after 2 s (timeout)"
    )


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_token_endpoints_redirect_says_where_and_that_it_was_not_followed(status) -> None:
    """Round 24c L5: "status 307" alone, with the hint to check the client's secrets."""
    client = OAuth2Client(token_url="http://idp.example.com/t", client_id="c", client_secret="s")
    moved = ProbeResult(
        key="k",
        url="http://idp.example.com/t",
        method="POST",
        status=status,
        headers=Headers({"Location": "https://idp.example.com/t/?sig=0123456789abcdef"}),
    )
    outcome = token_from(client, moved)
    assert outcome.token is None and outcome.error is not None
    assert outcome.error.startswith(
        f"OAuth2 token request to http://idp.example.com/t: status {status}, a redirect to "
        "https://idp.example.com/t/?sig="
    )
    assert "0123456789abcdef" not in outcome.error
    assert "not followed (the client secret is sent to token_url only)" in outcome.error


class _CountingScrubber:
    """The process scrubber, recording how many characters each scrub is given."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.sizes: list[int] = []

    def scrub(self, text: str) -> str:
        self.sizes.append(len(text))
        return self.inner.scrub(text)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_quoting_the_start_of_a_huge_text_scrubs_only_a_window_of_it(path, secret, monkeypatch):
    """Round 18b, F5: a failing case quoted 160 characters of its 1 MiB body after scrubbing
    all of it three times (20 bodies of `&a=`: 197 s after every probe had ended). A secret
    split by the window's end is masked as the fragment it becomes."""
    from smokegate import redact

    counting = _CountingScrubber(redact.process_scrubber())
    monkeypatch.setattr(redact, "_process_scrubber", counting)
    monkeypatch.setattr(redact, "process_scrubber", lambda: counting)
    import smokegate.rules.health as health

    monkeypatch.setattr(health, "process_scrubber", lambda: counting)
    limit, render = PATHS[path]
    window = limit + redact.SCRUB_WINDOW_CHARS
    for at in (window - len(secret) // 2, window - 7):  # split by the window's end
        text = ("&a=" * window)[:at] + secret + "&a=" * 20_000
        counting.sizes.clear()
        output = render(text)
        assert max(counting.sizes, default=0) <= window, (path, max(counting.sizes))
        assert not _leaks(output, secret), f"{path}: {output!r}"
    spaced = " " * (window - 5) + secret + " tail"  # collapsed, the secret is quoted cut
    output = render(spaced)
    assert not _leaks(output, secret), f"{path}: {output!r}"


def _fetched(token: str) -> TokenOutcome:
    """What `token_from` makes of a token endpoint on 127.0.0.1 answering `token`."""
    client = OAuth2Client(token_url="http://127.0.0.1:8080/t", client_id="c", client_secret="s")
    answer = ProbeResult(
        key="k", url="http://127.0.0.1:8080/t", method="POST", status=200,
        body=json.dumps({"access_token": token, "token_type": "Bearer"}).encode(),
    )  # fmt: skip
    return token_from(client, answer)


@pytest.mark.parametrize(
    "token",
    [
        "1 critical, 1 low",
        "gateFAILED(--fail-onlow):1high",
        "Zx1endpointsQ9",
        "127.0.0.1",
        "http://127.0.0.1:8080/down",
    ],
)
def test_a_fetched_token_that_would_mask_smokegates_own_text_is_not_used(
    empty_registry, token
) -> None:
    """Round 25a: a token endpoint's `access_token` was registered as a secret whatever it
    held: the verdict, a count, the word "endpoint", an address or a target URL was masked
    in every report. Such a token is refused (verified nothing), never registered."""
    empty_registry.protect_own_facts(["http://127.0.0.1:8080/down", "127.0.0.1"])
    outcome = _fetched(token)
    assert outcome.token is None and outcome.error is not None
    # said by the rule for any secret (wholly smokegate's text) or the run's own credentials
    assert "the access_token it returned holds" in outcome.error
    assert "smokegate's own" in outcome.error
    assert token not in empty_registry.registered_secrets()


def test_a_fetched_random_token_is_used(empty_registry) -> None:
    empty_registry.protect_own_facts(["http://127.0.0.1:8080/down"])
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXBhcnQtOTk"
    assert _fetched(token).token == token
    assert token in empty_registry.registered_secrets()


def test_an_unsendable_token_that_would_mask_smokegate_s_text_is_not_registered(
    empty_registry,
) -> None:
    """Round 27a-1: a token with a control character (`gate\\x01FAILED`) was refused for
    sending but still registered, and masked the verdict in every output."""
    for token in ("gate\x01FAILED", "ex\x00pected-Zq9", "127.0.0\x01.1"):
        outcome = _fetched(token)
        assert outcome.token is None and outcome.error is not None
    assert empty_registry.registered_secrets() == []


@pytest.mark.parametrize(
    "token",
    [
        base64.b64encode(
            b'{"sub":"svc-orders","permissions":["orders:read"],"exp":1900000000}'
        ).decode(),
        "payments-readonly.7Yk2Qm9xLp4Zr8Tw",
        base64.b64encode(b'{"sub": "svc-orders", "exp": 1900000000}').decode(),
    ],
    ids=["base64-json", "readable-prefix", "base64-json-with-blanks"],
)
def test_an_idp_s_ordinary_token_is_used(empty_registry, token) -> None:
    """Round 27a-4: tokens of base64 JSON (their decoded text holds words and blanks) and
    readable ones (`payments-readonly.…`) were refused as smokegate's own text, and their
    checks verified nothing. A run's credential is held against what smokegate writes."""
    assert _fetched(token).token == token
