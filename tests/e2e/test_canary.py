"""Proof that no secret reaches any output: canary tokens through a full run.

`pytest checks/ --env <env>` runs in a subprocess with the token variables and
AWS_SECRET_ACCESS_KEY set to unique canary strings. Leaks are provoked on purpose: a
server that echoes the Authorization header in a failing response, a plugin that logs,
prints and warns the tokens and raises with them (tests/support/canary_plugin.py), tracebacks
with local variables, live console logging, a log file, JUnit with captured output,
and pytest-metadata carrying one. Then every byte of stdout, stderr and every file under
the reports folder is searched for the canaries (and their URL-encoded forms).
"""

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.auth_server import auth_server
from tests.support.e2e import run_checks


def canary(label: str) -> str:
    # '/' and '+' make the URL-encoded form differ from the raw one. The label is not in
    # the value: an entry named like it (`edge-bearer`) would hold a piece of the secret,
    # and an env file holding one is refused (`pytest_plugin.written_secrets`).
    del label
    return f"canary-{uuid.uuid4().hex}/x+y"


@pytest.fixture(scope="module")
def canaries() -> dict[str, str]:
    return {
        "CANARY_API_TOKEN": canary("api"),
        "CANARY_READONLY_TOKEN": canary("readonly"),
        "AWS_SECRET_ACCESS_KEY": canary("aws"),
        "AWS_SESSION_TOKEN": canary("session"),
    }


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    found = []
    for name, value in secrets.items():
        for form in (value, quote(value, safe="")):
            if form in text:
                found.append(f"{name} ({'raw' if form == value else 'url-encoded'})")
    return found


def assert_no_leak(run, tmp_path: Path, secrets: dict[str, str]) -> list[Path]:
    assert not leaks(run.stdout, secrets), "stdout leaks"
    assert not leaks(run.stderr, secrets), "stderr leaks"
    files = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    for path in files:
        found = leaks(path.read_bytes().decode("utf-8", errors="replace"), secrets)
        assert not found, f"{path.name} leaks {found}"
    return files


@pytest.mark.parametrize(
    "extra",
    [
        ["--tb=long", "--showlocals", "-rA", "-v"],  # a live log is refused: late secrets
        ["--tb=native", "-n", "2"],
        ["-s", "--tb=short"],
        ["--capture=tee-sys", "--tb=short"],
        ["-p", "no:capture", "--tb=short"],
    ],
    ids=[
        "serial-long-tracebacks",
        "xdist-native-tracebacks",
        "capture-off",
        "capture-tee-sys",
        "capture-plugin-disabled",
    ],
)
def test_no_canary_reaches_any_output(tmp_path, canaries, extra):
    with auth_server({canaries["CANARY_API_TOKEN"]: 200}) as server:
        env = {
            "auth": [
                # passes: the token is sent, accepted, and never shown
                {"name": "api", "url": server.url("/api"), "token_env": "CANARY_API_TOKEN"},
                # fails, and the server echoes the token in its body and challenge
                {
                    "name": "leaky",
                    "url": server.url("/echo"),
                    "token_env": "CANARY_API_TOKEN",
                    "forbidden": [{"token_env": "CANARY_READONLY_TOKEN"}],
                },
                # the careless plugin raises with the tokens in this one's teardown
                {"name": "boom", "url": server.url("/open"), "token_env": "CANARY_API_TOKEN"},
            ],
        }
        reports = tmp_path / "reports" / "e2e"
        run = run_checks(
            tmp_path,
            env,
            "-p",
            "tests.support.canary_plugin",
            "-o",
            "junit_logging=all",
            f"--log-file={reports / 'run.log'}",
            "--log-file-level=DEBUG",
            "--metadata",
            "leaked_meta",
            canaries["AWS_SECRET_ACCESS_KEY"],
            *extra,
            env_vars=canaries,
        )
    outcomes = run.outcomes()
    assert outcomes["test_accepts_token[api]"] == "passed", run.output
    assert outcomes["test_accepts_token[leaky]"] == "failed"
    assert outcomes["test_forbids_low_privilege[leaky-CANARY_READONLY_TOKEN]"] == "failed"
    assert "error" in [outcomes.get(name) for name in outcomes if "boom" in name]
    files = assert_no_leak(run, tmp_path, canaries)
    names = {p.name for p in files}
    assert {"junit.xml", "report.html"} <= names
    # Not vacuous: the leaks were provoked and masked, in the failure text and elsewhere.
    junit = run.junit_path.read_text(encoding="utf-8")
    assert "you_sent" in junit and '"Bearer ***"' in junit
    assert "teardown failed, token was *** and aws ***" in junit
    assert "aws secret is ***" in junit
    html = run.html_path.read_text(encoding="utf-8")
    assert "you_sent" in html
    assert "leaked_meta" in html
    if "-s" in extra or "--capture=tee-sys" in extra or "no:capture" in extra:
        assert "stdout: token=*** aws=***" in run.stdout
        assert "stderr: token=***" in run.stderr
    if "-n" not in extra:
        assert "token accepted" not in run.stdout  # sanity: the messages are the real ones
        assert "got 401 with CANARY_API_TOKEN: token rejected" in run.stdout
        assert "careless warning with ***" in run.stdout
        assert "aws secret is ***" in (reports / "run.log").read_text(encoding="utf-8")


def test_no_credential_of_any_scheme_reaches_any_output(tmp_path):
    """Every new secret kind and the forms that go on the wire: a Basic password and its
    base64(user:password), an API key in a header and one in a query string, an OAuth2
    client secret, its Basic form and the token fetched with it. The server echoes all it
    received (headers, query) into failing responses; the DEBUG log holds urllib3's request
    lines (with the query string); then every output is searched."""
    import base64
    from urllib.parse import quote_plus

    from tests.support.api_server import api_server

    secrets = {
        "CANARY_PASSWORD": canary("password"),
        "CANARY_HEADER_KEY": canary("header-key"),
        "CANARY_QUERY_KEY": canary("query-key"),
        "CANARY_CLIENT_SECRET": canary("client-secret"),
    }
    client_id = "canary-client"
    fetched = canary("fetched-token")
    derived = {
        "basic base64": base64.b64encode(f"svc:{secrets['CANARY_PASSWORD']}".encode()).decode(),
        "client base64": base64.b64encode(
            f"{client_id}:{quote_plus(secrets['CANARY_CLIENT_SECRET'])}".encode()
        ).decode(),
        "fetched token": fetched,
    }
    clients = {client_id: (secrets["CANARY_CLIENT_SECRET"], fetched)}
    with api_server({}, clients=clients) as server:
        oauth2 = {
            "token_url": server.url("/oauth/token"),
            "client_id_env": "CANARY_CLIENT_ID",
            "client_secret_env": "CANARY_CLIENT_SECRET",
        }
        env = {
            "endpoints": [
                {
                    "name": "basic",
                    "url": server.url("/echo"),
                    "credentials": {
                        "basic": {"username": "svc", "password_env": "CANARY_PASSWORD"}
                    },
                },
                {
                    "name": "header-key",
                    "url": server.url("/echo"),
                    "credentials": {
                        "header": {"name": "X-API-Key", "value_env": "CANARY_HEADER_KEY"}
                    },
                },
                {
                    "name": "query-key",
                    "url": server.url("/echo"),
                    "credentials": {"query": {"name": "api_key", "value_env": "CANARY_QUERY_KEY"}},
                },
                {"name": "oauth2", "url": server.url("/echo"), "credentials": {"oauth2": oauth2}},
                {
                    "name": "oauth2-ok",
                    "url": server.url("/echo"),
                    "credentials": {"oauth2": oauth2},
                    "expect_status": 401,
                },
            ],
            "auth": [
                {
                    "name": "triad",
                    "url": server.url("/echo"),
                    "credentials": {"oauth2": oauth2},
                    "forbidden": [
                        {
                            "credentials": {
                                "query": {"name": "api_key", "value_env": "CANARY_QUERY_KEY"}
                            }
                        }
                    ],
                }
            ],
        }
        outputs = []
        # no live log: refused, as any run may learn a secret late (test_leaks_learnt_late)
        for extra in (["-rA", "--showlocals", "-v"], ["-n", "2"]):
            case_dir = tmp_path / ("xdist" if "-n" in extra else "serial")
            case_dir.mkdir()
            reports = case_dir / "reports" / "e2e"
            run = run_checks(
                case_dir,
                env,
                "-o",
                "junit_logging=all",
                f"--log-file={reports / 'run.log'}",
                "--log-file-level=DEBUG",
                *extra,
                env_vars={**secrets, "CANARY_CLIENT_ID": client_id},
            )
            outputs.append((run, case_dir))
        assert server.token_requests, "the OAuth2 token was fetched"
    everything = {**secrets, **derived}
    for run, case_dir in outputs:
        outcomes = run.outcomes()
        assert outcomes["test_endpoint[basic]"] == "failed", run.output
        assert outcomes["test_endpoint[oauth2-ok]"] == "passed", run.output
        files = assert_no_leak(run, case_dir, everything)
        assert {"junit.xml", "report.html", "summary.md", "run.log"} <= {p.name for p in files}
        # Not vacuous: the echoes reached the reports (their excerpts end before the
        # credentials the server echoed; the serial run's log shows them masked, below).
        junit = run.junit_path.read_text(encoding="utf-8")
        assert "you_sent" in junit
        if case_dir.name == "serial":  # under xdist the workers' records stay in the workers
            log = (run.reports_dir / "run.log").read_text(encoding="utf-8")
            assert "api_key=***" in log  # urllib3's DEBUG request line, its query masked
            assert "you_sent" in run.stdout  # -rA: the echoes, masked


# PYTEST_DEBUG and live logs are refused (any run may learn a secret late: see
# tests/e2e/test_leaks_learnt_late.py); the --debug file is searched
@pytest.mark.parametrize("tracing", ["--debug file"])
def test_every_encoded_form_at_an_excerpts_edge_reaches_no_output_route(tmp_path, tracing):
    """Issue 10: a server echoes the credential it received in every form it plausibly uses
    (raw, percent-encoded in either hex case, quote_plus, base64, base64url, JSON-escaped,
    inside base64(user:password)), placed at the edge of the 160-character excerpt; the
    variable itself is set with surrounding whitespace. Every output route is searched:
    console (-rA), pytest's tracing (the --debug file), the log file,
    HTML, JUnit, summary.md and $GITHUB_STEP_SUMMARY."""
    import base64

    from tests.support.hostile_server import HostileServer, encoded_forms

    header_key = canary("edge-key") + "/ü é"
    bearer = canary("edge-bearer")
    forms = "raw,quote,quote_lower,quote_mixed,quote_plus,base64,base64url,json,basic"
    debug_file = tmp_path / "pytest-debug.log"
    step_summary = tmp_path / "step-summary.md"
    tracing_args = [f"--debug={debug_file}"] if tracing == "--debug file" else []
    tracing_env = {"PYTEST_DEBUG": "1"} if tracing == "PYTEST_DEBUG" else {}
    with HostileServer(max_seconds=10) as server:
        env = {
            "endpoints": [
                {
                    "name": f"edge-{at}",
                    "url": server.url(f"/echo-forms?at={at}&forms={forms}"),
                    "credentials": {"header": {"name": "X-API-Key", "value_env": "EDGE_KEY"}},
                }
                for at in (150, 157, 160)
            ]
            + [
                {
                    "name": "edge-bearer",
                    "url": server.url(f"/echo-forms?at=155&forms={forms}"),
                    "token_env": "EDGE_BEARER",
                }
            ],
        }
        reports = tmp_path / "reports" / "e2e"
        run = run_checks(
            tmp_path,
            env,
            "-rA",
            "-v",
            f"--log-file={reports / 'run.log'}",
            "--log-file-level=DEBUG",
            *tracing_args,
            "-o",
            "junit_logging=all",
            env_vars={
                "EDGE_KEY": f"  {header_key}\n",  # sent, and masked, stripped
                "EDGE_BEARER": bearer,
                "GITHUB_STEP_SUMMARY": str(step_summary),
                **tracing_env,
            },
        )
    assert run.returncode == 1, run.output
    assert run.junit_path.is_file(), run.output[-3000:]
    assert all(outcome == "failed" for outcome in run.outcomes().values())
    received = [r.get("x-api-key") for r in server.received if r.get("x-api-key")]
    assert received and set(received) == {header_key}  # sent stripped
    leaked_forms: dict[str, str] = {}
    for label, value in (("key", header_key), ("bearer", bearer)):
        for name, form in encoded_forms(value).items():
            if name == "basic":  # beyond "someone:", every base64 character holds secret bits
                form = base64.b64encode(f"someone:{value}".encode()).decode()[12:-4]
            leaked_forms[f"{label} {name}"] = form
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    texts["$GITHUB_STEP_SUMMARY"] = step_summary.read_text(encoding="utf-8")
    if tracing_args:
        texts["--debug"] = debug_file.read_text(encoding="utf-8")
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            texts[path.name] = path.read_bytes().decode("utf-8", errors="replace")
    assert {"junit.xml", "report.html", "summary.md", "run.log"} <= set(texts)
    for where, text in texts.items():
        for name, form in leaked_forms.items():
            assert form not in text, f"{name} in {where}"
            assert form[:12] not in text, f"the start of {name} in {where}"
    # not vacuous: the echoes are in the reports, masked, and the tracing traced the run
    assert "response body:" in texts["junit.xml"] and "***" in texts["junit.xml"]
    traced = texts["--debug"] if tracing_args else run.stderr
    assert "pytest_runtest_makereport" in traced
