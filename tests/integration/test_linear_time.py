"""Linear-time matching of hostile text (issue 10 item 6). Pure, but minutes: here rather
than in tests/unit, which stays a few seconds.

The guard: Python's backtracking `re` is imported only by the modules that read smokegate's
own files (the mocked worlds, the checks folder); every pattern applied to a server's text,
an exception's or an env file's runs on RE2 (`smokegate.linear_re`).

The proof: every such pattern, and the scrubber, `excerpt` and the credential-shape check
as a whole, fed a quarter megabyte of worst-case text for each shape that makes a
backtracking engine quadratic (a prefix of the pattern repeated: `eyJ-eyJ-...`,
`<SessionToken <...`, `authorization: authorization: ...`, digits without a dot, `<` without
`>`), finishes within a budget relative to a plain `str.find` over the same text. A
quadratic pattern needs ~3x10^10 steps there (minutes); a linear one well under the budget
(a second at most). A megabyte proved no more, and took the suite's CI six minutes as the
scrubber and the seeds grew (two sets of 86 seeds at ~2 s each).
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable

import pytest

from smokegate import http_spec, linear_re, redact, secrets_shape
from smokegate.redact import Scrubber, excerpt
from smokegate.rules import headers, health
from tests.support.paths import ROOT

SIZE = 256 * 1024
# How many times a plain str.find over the same text a pattern may take. str.find runs at
# memory speed (~0.1 ms for 1 MB); RE2 plus a Python callback per match (a scrubbing
# pattern matched 100 000 times) stays well below this, a quadratic pattern far above.
BUDGET_FACTOR = 200_000
BACKTRACKING_ALLOWED = {"mock/http.py", "mock/iam.py", "pytest_plugin/plugin.py"}

SEEDS = (
    "eyJ-",
    "/auth HTTP/1.",  # round 21a: a request line's version is no value
    "abcdefgh",
    "&lt;password ",
    "&lt;password&gt;",
    "&quot;token&quot;:&quot;",
    "token:\n- ",
    "(password,",
    "(password) values (",
    "password: !!a ",
    "password=a ,",
    "'pass' => '!",
    "eyJa.eyJb.",
    "eyJ",
    "authorization:",
    "Authorization: b'",
    "proxy-authorization ",
    "bearer ",
    "Bearer a=",
    "<SessionToken ",
    "<a:SecretAccessKey x",
    "SessionToken=",
    "Signature:\n",
    "http://a",
    "://",
    "http://a:",
    "http://a:1?",
    " a:b@",
    " a:b@c@",
    "(S(",
    "(S(aaaaaaaaaaaaaaaa)",
    "?token",
    "&a=",
    "?",
    "<",
    "<script",
    "<style ",
    "1",
    "1.",
    "/ v",
    "; max-age=",
    ";frame-ancestors",
    "a",
    " ",
    "\t\n",
    "-----BEGIN ",
    "-----BEGIN A",
    "ghp_",
    "xoxb-",
    "AKIA",
    "=",
    "%2F",
    '"token":"',
    '"a": "',
    '\\"token\\":\\"',
    ' token="',
    " a=",
    '"token":[',
    '{"token":{"a":"',
    "token: x\n",
    "<token>x</token>",
    "<a:token b='",
    "key: |\n  ",
    " password: x1234567",
    '"a\\u0062":"',
    '"\\',
    '{"\\u0074oken":{"a":"',
    "{apiToken: `",
    "token=`",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA ",
    "Cookie: a=",
    "set-cookie:",
    "<password><![CDATA[",
    "<token><![CDATA[]",
    '{"name":"token","value":"',
    "['auth', '",
    "%3Ftoken%3D",
    "%3D%26",
    'Authorization: "\\',
    "<SessionToken><!--",
    "<SecretAccessKey><![CDATA[",
    "token ",
    "token => 1",
    'key="token" ',
    "[token] => string(1) ",
)


def _scrubber() -> Scrubber:
    return Scrubber(
        ["T1", "T2"],
        environ={"T1": "eyJ-eyJ-secret-value", "T2": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"},
    )


def _substitute(pattern: object) -> Callable[[str], object]:
    return lambda text: pattern.sub("", text)  # type: ignore[attr-defined]


_SCRUB_PATTERNS = (
    "_AUTH_HEADER",
    "_BEARER",
    "_AWS_XML",
    "_AWS_KEY_VALUE",
    "_JWT",
    "_URL_USERINFO",
    "_BARE_USERINFO",
    "_ASPNET_COOKIELESS",
    "_QUERY_PARAM",
    "_NAME_VALUE",
    "_JSON_MEMBER",
    "_JSON_MEMBER_ESCAPED",
    "_JSON_MEMBER_NAME_ESCAPED",
    "_COLON_VALUE",
    "_XML_ELEMENT",
    "_JSON_OPENING",
    "_JSON_TOKEN",
    "_YAML_BLOCK",
    "_PEM_PRIVATE_KEY",
    "_COOKIE_LINE",
    "_NAMED_VALUE_PAIR",
    "_ENCODED_PARAM",
    "_NEAR_VALUE",
    "_ATTR_NAMED",
    "_XML_ELEMENT_ESCAPED",
    "_JSON_MEMBER_ENTITIES",
    "_YAML_SEQUENCE",
    "_SEQUENCE_ITEM",
    "_SQL_VALUES",
    "_SQL_ITEM",
)
CASES: dict[str, Callable[[str], object]] = {
    **{f"redact.{name}": _substitute(getattr(redact, name)) for name in _SCRUB_PATTERNS},
    "Scrubber.scrub": lambda text: _scrubber().scrub(text),
    "redact._mask_json_values": redact._mask_json_values,
    "excerpt": lambda text: excerpt(text, 160, scrubber=_scrubber()),
    "looks_like_credential": secrets_shape.looks_like_credential,
    "headers._hsts_max_ages": headers._hsts_max_ages,
    "headers._VERSION": lambda text: headers._VERSION.search(text),
    "headers._frame_ancestors": headers._frame_ancestors,
    "health._TAG": lambda text: health._TAG.sub(" ", text),
    "health._SCRIPT": lambda text: health._SCRIPT.sub(" ", text),
    "body_regex \\d+\\.\\d+": lambda text: linear_re.search(r"\d+\.\d+", text),
    "body_regex (a|aa)*b": lambda text: linear_re.search(r"(a|aa)*b", text),
    "http_spec._ENV_VAR": lambda text: http_spec._ENV_VAR.search(text),
    "http_spec._HEADER_NAME": lambda text: http_spec._HEADER_NAME.search(text),
    "http_spec._ONE_WORD": lambda text: http_spec._ONE_WORD.search(text),
    "redact._PROTOCOL_VERSION": lambda text: redact._PROTOCOL_VERSION.fullmatch(text),
    "redact._would_mask_own_text": lambda text: redact._would_mask_own_text(text, frozenset()),
    "redact._ISSUED_SHAPE": lambda text: redact._ISSUED_SHAPE.fullmatch(text),
}


def _best_of(runs: int, call: Callable[[], object]) -> float:
    """The least CPU time of `runs` runs (see tests.support.timing)."""
    best = float("inf")
    for _ in range(runs):
        start = time.thread_time()
        call()
        best = min(best, time.thread_time() - start)
    return best


@pytest.fixture(autouse=True)
def _registry_as_a_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scrubber's run-time registry emptied: the secrets earlier tests of this process
    registered (hundreds, in a whole suite's run) made the first scrub of a test build
    their forms, ~60 ms each once, inside the timed call: `excerpt` took 145 s in CI and
    6 s alone. What is timed here is the scan, over the env's and the run's own secrets."""
    monkeypatch.setattr(redact, "_registered", set())
    monkeypatch.setattr(redact, "_issued", set())
    monkeypatch.setattr(redact, "_own_facts", {})


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_pattern_is_linear_on_worst_case_text(name):
    run = CASES[name]
    worst = ("", 0.0)
    for seed in SEEDS:
        text = (seed * (SIZE // len(seed) + 1))[:SIZE]
        baseline = _best_of(5, lambda text=text: text.find("\x00\x01"))
        took = _best_of(1, lambda text=text: run(text))
        ratio = took / max(baseline, 1e-9)
        if ratio > worst[1]:
            worst = (seed, ratio)
        print(f"{name}: worst {worst[0]!r} at {worst[1]:.0f}x str.find")
        assert took <= BUDGET_FACTOR * baseline, (
            f"{name} on {len(text)} chars of {seed!r}: {took:.3f} s, "
            f"{ratio:.0f}x str.find ({baseline * 1000:.3f} ms)"
        )


def test_95_headers_of_63_kb_scrub_in_linear_time():
    """The issue's stall: ~95 header values of 63 KB each, as the scrubber sees a report."""
    value = ("Authorization: " + "a" * 200 + " eyJ-") * (63 * 1024 // 220)
    text = "\n".join(f"X-Pad-{i}: {value}" for i in range(95))
    baseline = _best_of(5, lambda: text.find("\x00\x01"))
    took = _best_of(1, lambda: _scrubber().scrub(text))
    assert took <= BUDGET_FACTOR * baseline, f"{took:.2f} s for {len(text) / 1e6:.1f} MB"


def test_backtracking_re_is_used_only_on_smokegates_own_files():
    found = []
    for path in sorted((ROOT / "smokegate").rglob("*.py")):
        relative = path.relative_to(ROOT / "smokegate").as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if {"re", "regex"} & set(names) and relative not in BACKTRACKING_ALLOWED:
                found.append(f"smokegate/{relative}:{node.lineno}")
    assert not found, "use smokegate.linear_re for text smokegate does not control: " + str(found)


def test_user_regexes_that_need_backtracking_are_refused_when_the_env_is_loaded():
    assert http_spec.regex_problem(r"v\d+\.\d+") is None
    assert "RE2" in (http_spec.regex_problem(r"(?<=a)b") or "")
    assert "RE2" in (http_spec.regex_problem(r"(a)\1") or "")
