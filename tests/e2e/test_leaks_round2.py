"""No secret through pytest's own machinery or through text someone else cut (attack round
1 on issue 10: L1-L5, H1, H2, the summary's Markdown, LOW). Every payload is this file's:
a token of its own, sent by a real run to a local hostile server that echoes it cut at the
body's size cap, cut by a reset, cut by a stall, or inside a JSON value pytest shortens
under -l. Every output is read: console, summary.md, JUnit, HTML.
"""

from __future__ import annotations

import base64
import html
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import Run, checks_command, run_checks
from tests.support.env_files import write_env
from tests.support.hostile_server import HostileServer
from tests.support.paths import ROOT

TOKEN = f"Lk2{secrets.token_urlsafe(18)}Q9"
VAR = "ROUND2_TOKEN"
CAP = 1024 * 1024  # the prober's body cap


def _outputs(result: Run) -> dict[str, str]:
    found = {"console": result.output}
    for name in ("summary.md", "junit.xml", "report.html"):
        path = result.reports_dir / name
        if path.exists():
            found[name] = path.read_text(errors="replace")
    return found


def assert_no_fragment(result: Run, size: int = 8) -> None:
    """No run of `size` characters of the token in any output."""
    for where, text in _outputs(result).items():
        for start in range(len(TOKEN) - size + 1):
            piece = TOKEN[start : start + size]
            assert piece not in text, f"{piece!r} of the token in {where}"


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _sent_token(request: dict[str, str]) -> str:
    return request.get("authorization", "").partition(" ")[2]


def _cap_straddle(server, conn, request, started):
    body = (" " * (CAP - 20) + _sent_token(request) + " trailing").encode()
    server._send(conn, _head("500 Oops", [("Content-Length", str(len(body)))]) + body)


def _reset_in_token(server, conn, request, started):
    body = f"error: {_sent_token(request)}".encode()
    server._send(conn, _head("500 Oops", [("Content-Length", "100000")]) + body[:-10])
    conn.shutdown(socket.SHUT_RDWR)


def _stall_in_token(server, conn, request, started):
    body = f"error: {_sent_token(request)}".encode()
    server._send(conn, _head("500 Oops", [("Content-Length", "100000")]) + body[:-9])
    while server._alive(started):
        time.sleep(0.05)


def _jmespath_type_error(server, conn, request, started):
    document = '{"orders": 5, "a": "%s"}' % ("p" * 80 + _sent_token(request) + "q" * 300)
    body = document.encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    server._send(conn, _head("200 OK", headers) + body)


def _markdown_header(server, conn, request, started):
    value = '<h1>gate PASSED</h1><img src="https://example.invalid/p.png"> [ok](https://x.invalid/)'
    server._send(conn, _head("200 OK", [("X-Ver", value), ("Content-Length", "2")]) + b"ok")


def _armour_header(server, conn, request, started):
    value = "-----BEGIN PRIVATE KEY----- quoted by a server"
    server._send(conn, _head("200 OK", [("X-Ver", value), ("Content-Length", "2")]) + b"ok")


BASIC_PASSWORD = f"Pw{secrets.token_urlsafe(12)}x9"
BASIC_PAIR = f"svc-deploy:{BASIC_PASSWORD}"


def _decodes_basic(server, conn, request, started):
    """As a server's 401 page may: the credentials it was sent, decoded."""
    pair = base64.b64decode(_sent_token(request)).decode()
    body = f"denied: password={pair.partition(':')[2]} (pair {pair})".encode()
    server._send(conn, _head("401 Unauthorized", [("Content-Length", str(len(body)))]) + body)


ISSUED = f"Zs8{secrets.token_urlsafe(15)}Q7"  # a session a login hands out


def _issues_a_session(server, conn, request, started):
    body = json.dumps({"access_token": ISSUED, "token_type": "bearer"}).encode()
    head = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    server._send(conn, _head("200 OK", head) + body)


def _echoes_the_session(server, conn, request, started):
    body = f"session issued earlier: {ISSUED} is no longer valid".encode()
    server._send(conn, _head("503 Gone", [("Content-Length", str(len(body)))]) + body)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=6) as running:
        for route, handler in {
            "/cap": _cap_straddle,
            "/reset-in-token": _reset_in_token,
            "/stall-in-token": _stall_in_token,
            "/jmespath-type": _jmespath_type_error,
            "/markdown": _markdown_header,
            "/armour": _armour_header,
            "/decodes-basic": _decodes_basic,
            "/login": _issues_a_session,
            "/echo": _echoes_the_session,
        }.items():
            running.custom[route] = lambda c, r, s, h=handler, srv=running: h(srv, c, r, s)
        yield running


def run(tmp_path, env, *args: str, **env_vars: str) -> Run:
    return run_checks(tmp_path, env, *args, env_vars={VAR: TOKEN, **env_vars})


def test_a_token_cut_by_the_body_cap_a_reset_or_a_stall_shows_no_fragment(tmp_path, hostile):
    env = {
        "defaults": {"timeout_s": 2},
        "endpoints": [
            {"name": name, "url": hostile.url(f"/{name}"), "token_env": VAR}
            for name in ("cap", "reset-in-token", "stall-in-token")
        ],
    }
    result = run(tmp_path, env, "-rA", "-vv", "--tb=long")
    assert result.returncode == 1, result.output
    assert result.output.count("***") >= 2, result.output
    assert_no_fragment(result)


def test_showlocals_with_a_jmespath_type_error_shows_no_fragment(tmp_path, hostile):
    env = {
        "endpoints": [
            {
                "name": "orders",
                "url": hostile.url("/jmespath-type"),
                "token_env": VAR,
                "jmespath": {"length(orders)": {"gt": 0}},
            }
        ]
    }
    result = run(tmp_path, env, "-l", "--tb=long", "-rA")
    assert result.returncode == 1, result.output
    assert "jmespath length(orders) cannot be evaluated on this body" in result.stdout
    assert "Traceback" not in result.output and "JMESPathTypeError" not in result.output
    assert_no_fragment(result)


def _env_with_token(hostile) -> dict[str, object]:
    return {"endpoints": [{"name": "api", "url": hostile.url("/ok"), "token_env": VAR}]}


@pytest.mark.parametrize(
    "args",
    [
        ["--css=/proc/self/environ"],
        ["--fail-on", TOKEN],
        [f"--{TOKEN}"],
        ["-k", f"{TOKEN} and ("],
        [f"checks/{TOKEN}.py"],
        ["--pdbcls", f"{TOKEN}:Pdb"],
    ],
    ids=["css", "invalid-choice", "unrecognized", "bad-k", "no-such-file", "pdbcls"],
)
def test_pytest_s_own_argument_errors_never_show_the_secret(tmp_path, hostile, args):
    for given, env_vars in ((args, {}), ((), {"PYTEST_ADDOPTS": " ".join(args)})):
        result = run(tmp_path, _env_with_token(hostile), *given, **env_vars)
        assert result.returncode == 4, result.output
        assert "Traceback" not in result.output
        assert TOKEN not in result.output and TOKEN[:12] not in result.output


@pytest.mark.parametrize("kind", ["file", "fifo", "dev-zero", "bad-json"])
def test_pytest_metadata_s_json_options_are_refused_before_anything_is_read(
    tmp_path, hostile, kind
):
    """Round 25a: `--metadata-from-json-file` (through PYTEST_ADDOPTS) copied a runner's
    credentials file into report.html unmasked; a FIFO there hung the run, /dev/zero took
    gigabytes, bad JSON (there or in `--metadata-from-json`) was an INTERNALERROR."""
    source = tmp_path / "meta.json"
    if kind == "file":
        source.write_text(json.dumps({"auth": TOKEN}))
    elif kind == "fifo":
        os.mkfifo(source)
    elif kind == "dev-zero":
        source.symlink_to("/dev/zero")
    option = (
        f"--metadata-from-json={{bad {TOKEN}"
        if kind == "bad-json"
        else f"--metadata-from-json-file={source}"
    )
    result = run(tmp_path, _env_with_token(hostile), PYTEST_ADDOPTS=option)
    assert result.returncode == 4, result.output
    flag = option.split("=", 1)[0]
    assert f"{flag} copies a file's or a variable's JSON, unchecked" in result.output
    assert "INTERNALERROR" not in result.output and TOKEN not in result.output
    assert not (tmp_path / "reports").exists() or TOKEN not in "".join(
        p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file()
    )


def test_an_argument_file_is_refused_without_repeating_it(tmp_path, hostile):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    for given, env_vars in (([f"@{token_file}"], {}), ((), {"PYTEST_ADDOPTS": f"@{token_file}"})):
        result = run(tmp_path, _env_with_token(hostile), *given, **env_vars)
        assert result.returncode == 4, result.output
        assert "reads arguments from a file" in result.output or "(arguments read" in result.output
        assert TOKEN not in result.output


@pytest.mark.parametrize("option", ["-k", "--deselect"])
def test_a_selection_holding_the_secret_is_masked_in_every_report(tmp_path, hostile, option):
    result = run(
        tmp_path,
        _env_with_token(hostile),
        option,
        f"api or {TOKEN}" if option == "-k" else f"checks/x.py::{TOKEN}",
    )
    assert result.returncode in (0, 1, 5), result.output
    assert_no_fragment(result)


def test_css_is_refused(tmp_path, hostile):
    css = tmp_path / "evil.css"
    css.write_text("</style><script>alert(1)</script><style>")
    result = run(tmp_path, _env_with_token(hostile), f"--css={css}")
    assert result.returncode == 4 and "--css puts a file into report.html" in result.output
    assert not (result.reports_dir / "report.html").exists()


def test_the_environment_table_is_escaped_in_pytest_html_s_first_write(tmp_path, hostile):
    """`-o generate_report_on_test=true` writes the page at session start and after every
    case; killed before the end, the first write is what stays (H2)."""
    env = {
        "defaults": {"timeout_s": 5},
        "endpoints": [{"name": "slow", "url": hostile.url("/stall-in-token")}],
    }
    env_file = write_env(tmp_path, env)
    reports = tmp_path / "reports"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    environ["CI_COMMIT_REF_NAME"] = "feature/<svg/onload=alert(1)>"
    environ["GITLAB_CI"] = "true"
    command = checks_command(env_file, reports, "-o", "generate_report_on_test=true")
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = reports / "e2e" / "report.html"
        deadline = time.monotonic() + 60
        while not page.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.2)
        text = page.read_text()
        assert child.poll() is None, "the run ended before its first write could be read"
    finally:
        child.kill()
        child.wait()
    blob = text.split('data-jsonblob="', 1)[1].split('"', 1)[0]
    environment = json.loads(html.unescape(blob))["environment"]
    assert environment["CI_COMMIT_REF_NAME"] == "feature/&lt;svg/onload=alert(1)&gt;"


def test_server_markdown_is_escaped_in_summary_md(tmp_path, hostile):
    env = {
        "endpoints": [{"name": "md", "url": hostile.url("/markdown"), "headers": {"X-Ver": "v1"}}]
    }
    result = run(tmp_path, env)
    summary = (result.reports_dir / "summary.md").read_text()
    assert "&lt;img src=" in summary and "<img" not in summary and "<h1>" not in summary
    assert "[ok]\\(" in summary and "[ok](" not in summary


def test_a_reports_dir_with_control_characters_is_refused(tmp_path, hostile):
    command = checks_command(
        write_env(tmp_path, _env_with_token(hostile)), tmp_path / "x\x1b[2Kgate PASSED"
    )
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "control characters" in done.stderr


def test_a_secret_that_is_a_verdict_is_refused_and_the_verdict_stays_visible(tmp_path, hostile):
    env = {"endpoints": [{"name": "api", "url": hostile.url("/ok"), "token_env": "WORDY"}]}
    result = run_checks(tmp_path, env, env_vars={"WORDY": "gate FAILED"})
    assert result.returncode == 1
    block = result.stdout.split("smokegate ===")[1]
    assert "gate FAILED (--fail-on low)" in block and "WORDY" in block
    assert "smokegate's own reports use" in block


def test_a_pre_encoded_basic_credential_is_masked_decoded_too(tmp_path, hostile):
    """A header credential `scheme: Basic` whose variable holds base64(user:password): the
    server decodes it, and its echo of the password or the pair is masked like the value
    itself (attack round 9, F2)."""
    encoded = base64.b64encode(BASIC_PAIR.encode()).decode()
    env = {
        "endpoints": [
            {
                "name": "legacy",
                "url": hostile.url("/decodes-basic"),
                "credentials": {
                    "header": {"name": "Authorization", "scheme": "Basic", "value_env": "PRE"}
                },
            }
        ]
    }
    result = run_checks(tmp_path, env, env_vars={"PRE": encoded})
    assert result.returncode == 1, result.output
    assert "denied: password=***" in result.output, result.output  # the echo is shown, masked
    for where, text in _outputs(result).items():
        assert BASIC_PASSWORD not in text and BASIC_PAIR not in text, where


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "two-workers"])
def test_a_session_one_worker_was_handed_is_masked_in_what_another_quotes(
    tmp_path, hostile, workers
):
    """Round 18b, F6: a login's access_token is a known secret of the run, but under `-n 2`
    the endpoints echoing it ran on the worker that never saw the login: the token was
    quoted whole in the console, report.html and junit.xml. Every worker's secrets reach
    the controller, which masks them everywhere."""
    env = {
        "endpoints": [
            {"name": "login", "url": hostile.url("/login")},
            *({"name": f"echo{i}", "url": hostile.url(f"/echo?{i}")} for i in range(6)),
        ]
    }
    result = run_checks(tmp_path, env, *workers, "-rA", "--tb=long")
    assert result.returncode == 1, result.output
    assert "session issued earlier: *** is no longer valid" in result.output
    for where, text in _outputs(result).items():
        assert ISSUED not in text and ISSUED[3:-3] not in text, where


def test_a_password_of_smokegate_s_words_masks_no_case_line_and_its_echo_stays_masked(
    tmp_path, hostile
):
    """Rounds 28a-2 and 29a: a password holding smokegate's words (`critical-infra-…`, a
    passphrase of them) masked the severity, the check and "expected" of every failing
    case line; exempting such pieces everywhere let a server's echo of a secret made of
    such words, split at its separators, show whole. Now the case line is smokegate's own
    (pieces are searched only in what it quotes) and the echo is masked."""
    password = "Authorization-Credentials-critical-9x"

    def echo_split(conn, request, started) -> None:
        body = ("debug: " + " ".join(password.split("-"))).encode()
        hostile._respond(conn, "503 Service Unavailable", [("Content-Type", "text/plain")], body)

    hostile.custom["/echo-split"] = echo_split
    env = {"endpoints": [{"name": "down-api", "url": hostile.url("/echo-split")}]}
    run = run_checks(
        tmp_path, env, env_vars={"DB_PASSWORD": password, "PASSPHRASE": "the endpoint expected 9!"}
    )
    assert run.returncode == 1, run.output
    head = f"] endpoint down-api ({hostile.url('/echo-split')}): status 503, expected"
    failure = run.testcases()["test_endpoint[down-api]"].find("failure")
    assert failure is not None
    for shown in (run.stdout, failure.get("message", ""), html.unescape(run.html_path.read_text())):
        assert head in shown and "[***]" not in shown
    everything = run.output + run.junit_path.read_text() + run.html_path.read_text()
    assert "Authorization Credentials" not in everything
    assert "Credentials critical" not in everything


def test_a_ci_variable_of_counts_masks_no_verdict(tmp_path, hostile):
    """Round 29a-1: `1 critical, 1 high` in a credential-named CI variable masked the most
    common failing verdict; a CI variable with a blank is no secret of the run."""
    env = {
        "endpoints": [
            {"name": "a", "url": hostile.url("/status/503"), "severity": "critical"},
            {"name": "b", "url": hostile.url("/status/503"), "severity": "high"},
        ]
    }
    run = run_checks(tmp_path, env, env_vars={"CI_DEPLOY_KEY": "1 critical, 1 high"})
    assert run.returncode == 1, run.output
    assert "gate FAILED (--fail-on low): 1 critical, 1 high" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "1 critical, 1 high" in summary


def test_a_ci_variable_equal_to_a_word_of_pytest_htmls_script_leaves_the_script_whole(
    tmp_path, hostile
):
    """Round 31a F2: `CI_DEPLOY_KEY=querySelectorAll` was masked 61 times inside
    pytest-html's own script by the report's last pass; the script stopped and the page
    showed no case. That script, as it ships, holds nothing of the run and is kept whole;
    the variable is still masked everywhere else."""
    import pytest_html

    value = "querySelectorAll"
    env = {"endpoints": [{"name": "api", "url": hostile.url("/status/503")}]}
    run = run_checks(tmp_path, env, "-m", "health", env_vars={"CI_DEPLOY_KEY": value, "X": value})
    page = run.html_path.read_text(encoding="utf-8")
    shipped = (Path(pytest_html.__file__).parent / "resources" / "app.js").read_text().strip()
    assert shipped in page  # every word of it, querySelectorAll included
    assert page.replace(shipped, "").count(value) == 0


def test_a_runner_value_joining_the_title_line_to_the_verdict_masks_no_verdict(tmp_path, hostile):
    """Round 39a F1: the scrubber reads a text's view with its blanks dropped, line breaks
    too; a CI variable `UTC❌**gateFAILED` (no phrase's piece whole) matched summary.md's
    title line's end and its verdict line across the break, and masked the verdict. Each
    line of summary.md is scrubbed alone: nothing of smokegate's lines spans two."""
    env = {"endpoints": [{"name": "api", "url": hostile.url("/status/503"), "severity": "high"}]}
    for value in ("UTC❌**gateFAILED", "UTC❌**gateFAILED(--fail-onlow):1high**"):
        run = run_checks(tmp_path, env, env_vars={"CI_DEPLOY_KEY": value})
        assert run.returncode == 1, run.output
        summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
        assert "\n❌ **gate FAILED (--fail-on low): 1 high**\n" in summary, summary
        assert summary.startswith("# smokegate · e2e · ") and " UTC\n" in summary, summary


def test_an_armour_a_server_quotes_in_a_header_masks_only_its_own_line(tmp_path, hostile):
    """Round 39a F2: a header value holding `-----BEGIN PRIVATE KEY-----` and no END line
    was masked to the end of its cell, then summary.md's whole-document pass masked
    everything after it to the end of the file: the failing cases, the report paths."""
    env = {
        "endpoints": [
            {"name": "pem", "url": hostile.url("/armour"), "headers": {"X-Ver": "v1"}},
            {"name": "down", "url": hostile.url("/status/503")},
        ]
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "quoted by a server" not in summary
    assert "| endpoint | down (" in summary, summary
    # the last pass's mask is written as text, not emphasis (round 43a F1)
    assert "-----BEGIN PRIVATE KEY-----\\*\\*\\*" in summary, summary
    after = summary[summary.index("BEGIN PRIVATE KEY") :]
    assert "## Reports" in after, summary
    assert "/reports/e2e/report.html" in after and "/reports/e2e/junit.xml" in after, summary


def test_an_env_named_as_a_private_key_s_armour_masks_only_the_title_line(tmp_path, hostile):
    """Round 39a F3: an env file named `-----BEGIN PRIVATE KEY-----` blanked summary.md
    after its title line: the armour's mask ran to the end of the document."""
    env = {"endpoints": [{"name": "down", "url": hostile.url("/status/503")}]}
    run = run_checks(tmp_path, env, name="-----BEGIN PRIVATE KEY-----")
    assert run.returncode == 1, run.output
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    title, _, rest = summary.partition("\n")
    assert "BEGIN PRIVATE KEY" in title
    assert "❌ **gate FAILED (--fail-on low): 1 high**" in rest, summary
    assert "| endpoint | down (" in rest and "## Reports" in rest, summary
