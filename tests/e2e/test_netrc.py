"""A netrc file never changes what smokegate sends.

requests reads ~/.netrc (or $NETRC) for a request without `auth`, and on every redirect, and
replaces the Authorization header with the file's Basic credentials. CI runners often have
one (git hosts, package registries). Here the server lets the netrc user in: with the file
honoured, an expired token passed as that user, the anonymous case carried credentials, and
the file's password (no secret smokegate knew) was echoed into every report.
"""

from __future__ import annotations

import base64
from pathlib import Path

from tests.support.auth_server import auth_server
from tests.support.e2e import run_checks

NETRC_PASSWORD = "netrc-Pa55word-e2e"
BASIC = "Basic " + base64.b64encode(f"deployer:{NETRC_PASSWORD}".encode()).decode()


def test_a_netrc_file_is_never_sent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login deployer\n  password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    with auth_server({"good-token-netrc": 200, BASIC: 200}) as server:
        env = {
            "defaults": {"timeout_s": 5},
            "endpoints": [
                # an expired token: the server answers 401 unless netrc's Basic replaces it
                {"name": "orders", "url": server.url("/api"), "token_env": "NETRC_E2E_TOKEN"},
                # a server that echoes whatever Authorization it got
                {"name": "echo", "url": server.url("/echo"), "expect_status": 401},
            ],
            "auth": [{"name": "api", "url": server.url("/api"), "token_env": "NETRC_E2E_TOKEN"}],
        }
        for variable, value in (("HOME", home), ("NETRC", netrc)):
            folder = tmp_path / f"run-{variable.lower()}"
            folder.mkdir()
            run = run_checks(
                folder,
                env,
                env_vars={"NETRC_E2E_TOKEN": "expired-token-netrc", variable: str(value)},
            )
            outcomes = run.outcomes()
            assert outcomes["test_endpoint[orders]"] == "failed", run.output
            assert outcomes["test_accepts_token[api]"] == "failed", run.output
            assert outcomes["test_rejects_anonymous[api]"] == "passed", run.output
            assert run.returncode == 1
            shown = run.output + run.junit_path.read_text() + run.html_path.read_text()
            assert NETRC_PASSWORD not in shown
            assert BASIC.split()[1] not in shown
        assert server.seen, "the server was never asked"
        assert not [s for s in server.seen if s["authorization"].startswith("Basic")]
