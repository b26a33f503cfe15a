"""A secret the run learns late is masked in every output, the console too (round 43a
F3): a case quoting a value before the run fetched it as a token was scrubbed when it
ended, with the secrets known then; the files got a last pass with every secret, the
console's FAILURES section and case lines did not. Payloads are this file's own."""

from __future__ import annotations

import html as htmlmod
import json
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.e2e import Run, run_checks

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


LATE_CLIENT = {"LATE_CLIENT_ID": "late-client-7", "LATE_CLIENT_SECRET": "Cs9Lq2Wm7Xp4Zr8"}


def _orders(base: str) -> dict[str, object]:
    """An endpoint behind the system's token endpoint: the run fetches FETCHED for it."""
    oauth2 = {"token_url": f"{base}/token", "client_id_env": "LATE_CLIENT_ID",
              "client_secret_env": "LATE_CLIENT_SECRET"}  # fmt: skip
    return {"name": "orders", "url": f"{base}/orders", "credentials": {"oauth2": oauth2}}


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
            _orders(system),
        ]
    }
    run = run_checks(tmp_path, env, "-p", "no:randomly", env_vars=LATE_CLIENT)
    assert run.outcomes()["test_security_headers[web]"] == "failed", run.output
    assert run.outcomes()["test_endpoint[orders]"] == "passed", run.output
    assert "reveals a version" in run.output
    outputs = {"console": run.output}
    for name in ("summary.md", "junit.xml", "report.html"):
        outputs[name] = (run.reports_dir / name).read_text()
    for name, text in outputs.items():
        assert FETCHED[:12] not in text and FETCHED[-12:] not in text, name


def test_an_env_file_writing_a_secret_or_a_piece_of_one_is_refused(tmp_path):
    """Round 48a F2/F3: an endpoint's name or a TLS host holding API_TOKEN's value was the
    case id pytest prints in its own lines, and lower-cased by every URL parser; rounds 50a
    and 51a: a piece of it in a URL's path, a host (ssl's "not valid for" and an echoed
    `Host:` quoted it lower-cased) or spread over a host's dashes. Refused before anything
    is sent, naming each place and the variable, never the value."""
    token = "Pr0dK" + secrets.token_hex(4) + "Tq"  # a digit: no word, 15 characters
    spread = f"{token[:7]}-{token[7:]}".lower()
    env = {
        "defaults": {"timeout_s": 2},
        "endpoints": [
            {"name": f"api-{token[:10]}", "url": "http://127.0.0.1:9/o", "token_env": "API_TOKEN"},
            {"url": f"http://{spread}.invalid/orders", "token_env": "API_TOKEN"},
            {"url": f"http://127.0.0.1:9/t/{token[:11]}/x",
             "request": {"headers": {"X-Tenant": token[2:12]}}},
        ],
        "tls": [{"host": f"{token[:9]}.localhost", "port": 9}],
    }  # fmt: skip
    run = run_checks(tmp_path, env, env_vars={"API_TOKEN": token})
    assert run.returncode == 4, run.output[-2000:]
    for place in ("endpoints[0].name", "endpoints[1].url", "endpoints[2].url", "tls[0].host"):
        assert f"{place} holds part of the value of API_TOKEN" in run.output, run.output
    assert "endpoints[2].request.headers.X-Tenant holds part" in run.output, run.output
    shown = sorted(piece for piece in _pieces(token) if piece in run.output.lower())
    assert not shown, shown


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


class _Quoting(BaseHTTPRequestHandler):
    """A target that sends its client's token back: in a body after `n` characters
    (`/pad/<n>`), or as the host of a redirect (`/jump`)."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.path == "/jump":
            self.send_response(302)
            self.send_header("Location", f"http://{token}.example:8080/h")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = ("a" * int(self.path.rpartition("/")[2]) + token).encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _pieces(token: str) -> set[str]:
    return {form[i : i + 8] for form in (token, token.lower()) for i in range(len(token) - 7)}


def test_a_secret_a_target_sends_back_is_masked_lowered_and_at_any_cut(tmp_path):
    """Round 51a F3: a target redirected to a host holding the token it was sent, and the
    request to it (lower-cased by urllib3) came back quoted by a proxy: masked as written
    in the Location, shown lower-cased beside it. Round 50a F4: pytest's saferepr cuts its
    reprs in the --debug file at 240 characters; bodies holding the token after 30
    paddings put it at a cut, and its first characters were left there."""
    token = "Pr0dK" + secrets.token_hex(4) + "Tq"  # a digit, mixed case, 15 characters
    servers = [
        ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (_RefusingProxy, _Quoting)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy, target = (server.server_port for server in servers)
    env = {
        "defaults": {"timeout_s": 2},
        "endpoints": [
            {"name": "jump", "url": f"http://127.0.0.1:{target}/jump", "token_env": "API_TOKEN"},
            *({"name": f"pad-{n}", "url": f"http://127.0.0.1:{target}/pad/{n}",
               "token_env": "API_TOKEN"} for n in range(30)),
        ],
    }  # fmt: skip
    debug = tmp_path / "debug.log"
    try:
        run = run_checks(
            tmp_path,
            env,
            f"--debug={debug}",
            env_vars={
                "API_TOKEN": token,
                "HTTP_PROXY": f"http://127.0.0.1:{proxy}",
                "NO_PROXY": "127.0.0.1",
            },
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert run.returncode == 1, run.stdout[-2000:]
    assert "refused: GET http://***.example:8080/h" in run.stdout  # the proxy was asked
    outputs = {"console": run.output, "debug": debug.read_text()}
    outputs |= {p.name: p.read_text() for p in run.reports_dir.iterdir() if p.is_file()}
    for name, text in outputs.items():
        shown = sorted(piece for piece in _pieces(token) if piece in text)
        assert not shown, (name, shown)


class _SpreadBeforeFetched(_System):
    """Echoes the token with a separator every two characters (`Ab:cD:...`) in a failing
    answer, two seconds before the token endpoint hands that token out: the case quoting it
    is written into the reports before the run knows the token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        TOKEN_GIVEN.wait(5)
        threading.Event().wait(2)  # the cases before `orders` end meanwhile
        self._send(200, json.dumps({"access_token": FETCHED, "token_type": "Bearer"}))

    def do_GET(self) -> None:
        if self.path.startswith("/spread/"):
            separator = self.path.rpartition("/")[2]
            pairs = [FETCHED[i : i + 2] for i in range(0, len(FETCHED), 2)]
            self._send(500, json.dumps({"debug": f"id {separator.join(pairs)} end"}))
            TOKEN_GIVEN.set()
        else:
            super().do_GET()


def _run_before_fetched(
    tmp_path,
    handler: type[BaseHTTPRequestHandler],
    endpoints: Any,
    workers: tuple[str, ...],
    *args: str,
    env_vars: dict[str, str] | None = None,
) -> Run:
    """A run against the system served by `handler`: its `endpoints(base)` quote FETCHED
    before the run fetches it for `orders` (the token endpoint waits for TOKEN_GIVEN)."""
    TOKEN_GIVEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    env = {"endpoints": [*endpoints(base), _orders(base)]}
    try:
        return run_checks(
            tmp_path,
            env,
            "-p",
            "no:randomly",
            *workers,
            *args,
            env_vars={**LATE_CLIENT, **(env_vars or {})},
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_token_echoed_spread_before_it_was_fetched_is_masked_in_every_file(tmp_path, workers):
    """Round 54a F2: a token fetched late, echoed earlier with a separator every two
    characters, was masked in the console and summary.md but stayed whole in report.html
    and junit.xml: their last pass searched no spreads. Now each of its characters is
    starred there, and neither file's markup changes: junit.xml still parses, and every
    case is still a row of report.html's data."""
    separators = {"colon": ":", "dot": ".", "slash": "%2F", "under": "_"}
    run = _run_before_fetched(
        tmp_path,
        _SpreadBeforeFetched,
        lambda base: [
            {"name": f"a-spread-{name}", "url": f"{base}/spread/{sep}", "severity": "low"}
            for name, sep in separators.items()
        ],
        workers,
    )
    assert run.outcomes()["test_endpoint[orders]"] == "passed", run.output[-3000:]
    assert run.outcomes()["test_endpoint[a-spread-colon]"] == "failed", run.output[-3000:]
    junit = (run.reports_dir / "junit.xml").read_text()
    html = (run.reports_dir / "report.html").read_text()
    outputs = {"console": run.output, "junit.xml": junit, "report.html": html}
    outputs["summary.md"] = (run.reports_dir / "summary.md").read_text()
    letters = "".join(c for c in FETCHED if c.isalnum())
    for name, text in outputs.items():
        kept = "".join(c for c in text if c.isalnum())
        assert letters not in kept and letters[:12] not in kept, name
    # the files' own markup is whole: junit.xml parses, with every case
    cases = ET.fromstring(junit).iter("testcase")
    assert {c.get("name") for c in cases} >= {f"test_endpoint[a-spread-{n}]" for n in separators}
    blob = html.partition('data-jsonblob="')[2].partition('"')[0]
    data = json.loads(htmlmod.unescape(blob))
    # its table holds the failing cases (the passing ones are static HTML)
    assert {t.rpartition("::")[2] for t in data["tests"]} == {
        f"test_endpoint[a-spread-{n}]" for n in separators
    }


class _PiecesBeforeFetched(_System):
    """Pages that quote FETCHED before the run fetches it, each so that only a piece of it
    is shown: a body and a header value that smokegate's excerpt cuts inside the token,
    and a body holding the token's first half (a server's own half echo)."""

    def do_GET(self) -> None:
        if self.path.startswith("/cut"):
            self._send(500, json.dumps({"debug": "E" * 140 + FETCHED}))
        elif self.path.startswith("/half"):
            self._send(500, json.dumps({"debug": f"prefix {FETCHED[:19]} end"}))
        elif self.path.startswith("/whole"):
            self._send(500, json.dumps({"debug": f"said {FETCHED} here"}))
        elif self.path.startswith("/redirect"):
            # answered late: probes start as collection ends, and a redirect logged before
            # pytest's runtestloop attaches the --log-file handler again is in no file (a
            # CI run lost the line it asserts on)
            time.sleep(1.0)
            self.send_response(302)
            self.send_header("Location", f"/landing/{FETCHED}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/landing"):
            self._send(200, "{}")
        elif self.path.startswith("/header"):
            data = b"{}"
            self.send_response(200)
            self.send_header("X-Build", "E" * 190 + FETCHED)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            super().do_GET()
            return
        if self.path.startswith("/header"):
            TOKEN_GIVEN.set()


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_piece_of_a_token_shown_before_it_was_fetched_is_masked_in_every_output(
    tmp_path, workers
):
    """Round 54a F1: a case's excerpt, cut before the run knew the token, kept a piece of
    it (a body and a header value cut inside it, a server's half echo); at the end only
    whole forms were masked, and the piece stayed in the console, report.html, junit.xml
    and summary.md. Now each piece of a secret learnt late is masked there too, and the
    files keep their structure."""
    run = _run_before_fetched(
        tmp_path,
        _PiecesBeforeFetched,
        lambda base: [
            {"name": "a-cut", "url": f"{base}/cut", "severity": "low"},
            {"name": "a-half", "url": f"{base}/half", "severity": "low"},
            {"name": "a-header", "url": f"{base}/header", "headers": {"X-Build": "v1"},
             "severity": "low"},
        ],
        workers,
    )  # fmt: skip
    outcomes = run.outcomes()
    assert outcomes["test_endpoint[orders]"] == "passed", run.output[-3000:]
    assert {outcomes[f"test_endpoint[a-{n}]"] for n in ("cut", "half", "header")} == {"failed"}
    junit = (run.reports_dir / "junit.xml").read_text()
    html = (run.reports_dir / "report.html").read_text()
    outputs = {"console": run.output, "junit.xml": junit, "report.html": html}
    outputs["summary.md"] = (run.reports_dir / "summary.md").read_text()
    for name, text in outputs.items():
        shown = [FETCHED[i : i + 8] for i in range(len(FETCHED) - 7) if FETCHED[i : i + 8] in text]
        assert not shown, (name, shown)
    assert "gate FAILED" in run.output and "3 low" in run.output
    ET.fromstring(junit)  # still parses
    blob = html.partition('data-jsonblob="')[2].partition('"')[0]
    data = json.loads(htmlmod.unescape(blob))
    assert {t.rpartition("::")[2] for t in data["tests"]} == {
        f"test_endpoint[a-{n}]" for n in ("cut", "half", "header")
    }


def _streamed_before_fetched(base: str) -> list[dict[str, object]]:
    return [
        {"name": "a-whole", "url": f"{base}/whole", "severity": "low"},
        {"name": "a-redirect", "url": f"{base}/redirect", "severity": "low"},
        {"name": "a-header", "url": f"{base}/header", "headers": {"X-Build": "v1"},
         "severity": "low"},
    ]  # fmt: skip


def test_the_debug_and_log_files_are_masked_again_when_the_run_ends(tmp_path):
    """Round 55c F1: what the run writes as it goes (`--debug`'s trace quoting each
    failure, urllib3's DEBUG line for a redirect to `/landing/<token>` in `--log-file`)
    was written before the token was fetched, and stayed whole. Both files are scrubbed
    again at the end, with every secret known then, pieces too."""
    debug, log = tmp_path / "debug.log", tmp_path / "run.log"
    run = _run_before_fetched(
        tmp_path, _PiecesBeforeFetched, _streamed_before_fetched, (),
        "--debug", str(debug), "--log-file", str(log), "--log-file-level", "DEBUG",
    )  # fmt: skip
    assert run.outcomes()["test_endpoint[orders]"] == "passed", run.output[-3000:]
    written = {"debug": debug.read_text(), "log": log.read_text(), "console": run.output}
    assert "/landing/" in written["log"]  # the redirect was logged, its token masked
    assert "test_endpoint[a-whole]" in written["debug"]
    for name, text in written.items():
        shown = [FETCHED[i : i + 8] for i in range(len(FETCHED) - 7) if FETCHED[i : i + 8] in text]
        assert not shown, (name, shown)


@pytest.mark.parametrize(
    ("args", "env_vars", "said"),
    [
        (("--log-cli-level", "DEBUG"), {}, "a live log"),
        (("--log-cli-level", "WARNING"), {}, "a live log"),
        (("-o", "log_cli=true"), {}, "a live log"),
        (("-p", "no:logging"), {}, "-p no:logging"),
        ((), {"PYTEST_DEBUG": "1"}, "PYTEST_DEBUG"),
        (("-n", "2", "--debug", "DEBUGFILE"), {}, "--debug under xdist"),
    ],
    ids=[
        "log-cli-debug",
        "log-cli-warning",
        "log-cli-ini",
        "no-logging",
        "pytest-debug",
        "xdist-debug",
    ],
)
def test_a_stream_to_the_terminal_is_refused(tmp_path, args, env_vars, said):
    """A live stream cannot be called back: before the token is fetched, an echo of it
    could not be masked there. Refused, naming the stream and what to do instead."""
    args = tuple(str(tmp_path / "debug.log") if a == "DEBUGFILE" else a for a in args)
    run = _run_before_fetched(
        tmp_path, _PiecesBeforeFetched, _streamed_before_fetched, (), *args, env_vars=env_vars
    )
    assert run.returncode == 4, run.output[-3000:]
    assert said in run.output and "before every secret of the run is known" in run.output
    assert FETCHED not in run.output


def test_a_live_log_is_refused_in_an_env_that_fetches_no_token_too(tmp_path, system):
    """Round 55d F1: a login's `access_token`, or a session cookie, a server hands out is a
    secret learnt late as much as a fetched token: an env of plain endpoints was not
    refused, and an earlier echo of such a value was whole under PYTEST_DEBUG. Round 55e
    F1: at any level (urllib3's WARNING for a retried redirect quotes its path)."""
    env = {"endpoints": [{"name": "web", "url": f"{system}/web"}]}
    run = run_checks(tmp_path, env, "--log-cli-level", "INFO")
    assert run.returncode == 4, run.output[-3000:]
    assert "a live log" in run.output
    to_file = run_checks(tmp_path, env, "--log-file", str(tmp_path / "run.log"))
    assert to_file.returncode == 0, to_file.output[-3000:]


class _EchoAnyway(BaseHTTPRequestHandler):
    """Quotes MIDRUN_VALUE in a failing answer, as a debug page of the system would."""

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        data = json.dumps({"debug": f"build {MIDRUN_VALUE} done"}).encode()
        self.send_response(500 if self.path.startswith("/debug") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


MIDRUN_VALUE = f"Mr9{secrets.token_hex(12)}Zq"
SETS_MIDRUN = """
import os

def pytest_runtest_call(item):
    if "z-last" in item.nodeid:
        os.environ["MIDRUN_API_KEY"] = os.environ["MIDRUN_SOURCE"]
"""


def _run_with_plugin(tmp_path, source: str, endpoints: int, *args: str, last: bool = False):
    """A run against `_EchoAnyway` with a plugin of `source` loaded in every process: the
    run, and its four outputs' texts. `last`: a passing `z-last` endpoint after the rest."""
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "sets_credential.py").write_text(source, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoAnyway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    env = {
        "endpoints": [
            *({"name": f"a-debug-{n}", "url": f"{base}/debug/{n}", "severity": "low"}
              for n in range(endpoints)),
            *([{"name": "z-last", "url": f"{base}/ok"}] if last else []),
        ]
    }  # fmt: skip
    try:
        run = run_checks(
            tmp_path,
            env,
            "-p",
            "sets_credential",
            *args,
            env_vars={"MIDRUN_SOURCE": MIDRUN_VALUE, "PYTHONPATH": str(plugin_dir)},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.outcomes()["test_endpoint[a-debug-0]"] == "failed", run.output[-3000:]
    outputs = {"console": run.output}
    for name in ("summary.md", "junit.xml", "report.html"):
        outputs[name] = (run.reports_dir / name).read_text()
    return run, outputs


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_credential_variable_a_plugin_sets_mid_run_is_masked_in_every_output(tmp_path, workers):
    """Round 54a F3: under `-n 2`, a conftest or plugin that set a credential-named
    variable on one worker left the controller and the other worker without it: the value,
    echoed by earlier cases, was whole in the console, report.html and junit.xml. A worker
    now hands over what its variables hold too."""
    run, outputs = _run_with_plugin(tmp_path, SETS_MIDRUN, 4, *workers, last=True)
    assert run.outcomes()["test_endpoint[z-last]"] == "passed", run.output[-3000:]
    for name, text in outputs.items():
        assert MIDRUN_VALUE[:12] not in text and MIDRUN_VALUE[-12:] not in text, name


SETS_ON_ONE_WORKER = """
import os

if os.environ.get("PYTEST_XDIST_WORKER") == "gw0":
    os.environ["MIDRUN_API_KEY"] = os.environ["MIDRUN_SOURCE"]
"""


def test_a_credential_variable_one_worker_sets_when_it_starts_is_masked_everywhere(tmp_path):
    """Round 54c F3: a plugin that gives one xdist worker a credential when it is imported
    (keyed on PYTEST_XDIST_WORKER): that worker held it from its start, handed over only
    what it learnt later, and the echoes on the other worker were whole."""
    _, outputs = _run_with_plugin(tmp_path, SETS_ON_ONE_WORKER, 6, "-n", "2")
    for name, text in outputs.items():
        assert MIDRUN_VALUE[:12] not in text and MIDRUN_VALUE[-12:] not in text, name
