"""`pytest checks/ --env <file>` end to end against a real server on 127.0.0.1.

What a pipeline sees: exit code, JUnit cases with their properties and failure
messages, the HTML report. What the target sees is asserted on the server's own
counters (requests per path, requests in flight), never on timing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.e2e import run_checks
from tests.support.servers import LocalServer, closed_port, private_ca_context


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def failure_message(run: Any, name: str) -> str:
    failure = run.testcases()[name].find("failure")
    assert failure is not None, f"{name} did not fail"
    return failure.get("message", "")


def test_junit_cases_and_properties(tmp_path: Path, server: LocalServer) -> None:
    env = {
        "defaults": {"severity": "medium"},
        "endpoints": [
            {
                "name": "api",
                "url": server.url("/ok/api"),
                "json": {"db": {"connected": True}},
                "headers": {"content-type": "application/json"},
                "severity": "critical",
            },
            {"name": "billing", "url": server.url("/status/503"), "max_latency_ms": 1000},
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    assert run.outcomes() == {"test_endpoint[api]": "passed", "test_endpoint[billing]": "failed"}
    assert run.junit().find(".//testsuite").get("name") == "smokegate-e2e"

    api = run.properties("test_endpoint[api]")
    assert api["target"] == "api"
    assert api["severity"] == "critical"
    assert api["location"] == server.url("/ok/api")
    assert re.fullmatch(r"200 · \d+ ms", api["measured"])

    billing = run.properties("test_endpoint[billing]")
    assert billing["severity"] == "medium"  # defaults.severity applies when the entry sets none
    assert re.fullmatch(r"503 · \d+ ms", billing["measured"])
    message = failure_message(run, "test_endpoint[billing]")
    assert f"[medium] endpoint billing ({server.url('/status/503')}): " in message
    assert "status 503, expected 200" in message


def test_failure_message_lists_every_unmet_expectation(tmp_path: Path, server: LocalServer) -> None:
    env = {
        "endpoints": [
            {
                "name": "slow",
                "url": server.url("/hold/300/slow"),
                "expect_status": 204,
                "max_latency_ms": 100,
                "json": {"status": "down"},
                "body_contains": "healthy",
                "headers": {"X-Smokegate-Test": "no"},
            }
        ]
    }
    run = run_checks(tmp_path, env)
    message = failure_message(run, "test_endpoint[slow]")
    first_line = message.splitlines()[0]
    assert "status 200, expected 204" in first_line
    assert re.search(r"latency \d+ ms > 100 ms", first_line)
    assert "header X-Smokegate-Test is 'yes', expected 'no…'" in first_line
    assert "body does not contain 'healthy'" in first_line
    assert 'json $.status is "ok", expected "down"' in first_line
    assert first_line.removeprefix("Failed: ") in run.output  # the console shows the same


def test_html_report_names_env_and_targets(tmp_path: Path, server: LocalServer) -> None:
    env = {
        "endpoints": [
            {"name": "api", "url": server.url("/ok/api")},
            {"name": "down", "url": server.url("/status/500")},
        ]
    }
    run = run_checks(tmp_path, env, name="staging-eu")
    assert run.html_path.is_file(), run.output
    html = unescape(run.html_path.read_text(encoding="utf-8"))
    assert re.search(r'<h1 id="title">smokegate · staging-eu · ', html)
    assert server.url("/ok/api") in html
    assert server.url("/status/500") in html
    assert "status 500, expected 200" in html
    assert "<style" in html  # self-contained: the CSS is inlined, no assets/ folder beside it
    assert not (run.html_path.parent / "assets").exists()


def test_default_reports_land_in_reports_dir(tmp_path: Path, server: LocalServer) -> None:
    run = run_checks(tmp_path, {"endpoints": [{"url": server.url("/ok")}]}, name="qa")
    assert run.returncode == 0, run.output
    assert run.junit_path == tmp_path / "reports" / "qa" / "junit.xml"
    assert run.junit_path.is_file()
    assert run.html_path.is_file()


def test_users_own_report_paths_win(tmp_path: Path, server: LocalServer) -> None:
    mine = tmp_path / "mine"
    run = run_checks(
        tmp_path,
        {"endpoints": [{"name": "api", "url": server.url("/ok")}]},
        "--junitxml",
        str(mine / "results.xml"),
        "--html",
        str(mine / "page.html"),
    )
    assert run.returncode == 0, run.output
    assert "test_endpoint[api]" in (mine / "results.xml").read_text(encoding="utf-8")
    assert (mine / "page.html").is_file()
    assert not run.junit_path.exists()
    assert not run.html_path.exists()


def test_k_selection_probes_only_selected_endpoints(tmp_path: Path, server: LocalServer) -> None:
    names = ["api", "web", "billing", "search", "cdn"]
    env = {"endpoints": [{"name": n, "url": server.url(f"/ok/{n}")} for n in names]}
    run = run_checks(tmp_path, env, "-k", "api or cdn")
    assert run.returncode == 0, run.output
    assert set(run.outcomes()) == {"test_endpoint[api]", "test_endpoint[cdn]"}
    assert sorted(server.paths) == ["/ok/api", "/ok/cdn"]


def test_m_marker_selection_runs_health(tmp_path: Path, server: LocalServer) -> None:
    env = {"endpoints": [{"name": "api", "url": server.url("/ok/api")}]}
    run = run_checks(tmp_path, env, "-m", "health")
    assert run.outcomes() == {"test_endpoint[api]": "passed"}
    deselected = run_checks(tmp_path, env, "-m", "not health")
    assert deselected.returncode == 5, deselected.output  # nothing collected to run
    assert server.count() == 1


def test_every_case_runs_when_targets_are_dead(tmp_path: Path, server: LocalServer) -> None:
    env = {
        "defaults": {"timeout_s": 0.5},
        "endpoints": [
            {"name": "ok", "url": server.url("/ok")},
            {"name": "refused", "url": f"http://127.0.0.1:{closed_port()}/health"},
            {"name": "reset", "url": server.url("/reset")},
            {"name": "loop", "url": server.url("/redirect-loop")},
            {"name": "slow", "url": server.url("/hold/2000")},
            {"name": "tls", "url": server.url("/ok", scheme="https")},
            {"name": "text", "url": server.url("/text"), "json": {"status": "ok"}},
            {"name": "big", "url": server.url("/big/5"), "body_contains": "the end"},
            {"name": "dns", "url": "http://smokegate-e2e.invalid/health"},
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output
    outcomes = run.outcomes()
    assert outcomes.pop("test_endpoint[ok]") == "passed"
    assert set(outcomes.values()) == {"failed"}, outcomes  # failures, not errors
    assert len(outcomes) == 8
    expected = {
        "refused": "connection refused by 127.0.0.1",
        "reset": "connection reset while reading the body",
        "loop": "redirect loop",
        "slow": "timed out after 0.5 s",
        "tls": "TLS error",
        "text": "body is not valid JSON",
        "big": "body does not contain 'the end' (body truncated at the size cap)",
        "dns": "DNS lookup failed for smokegate-e2e.invalid",
    }
    for name, fragment in expected.items():
        assert fragment in failure_message(run, f"test_endpoint[{name}]"), name
    assert run.properties("test_endpoint[refused]")["measured"].startswith("no response")


def test_endpoints_are_probed_concurrently(tmp_path: Path, server: LocalServer) -> None:
    # each answer waits until all 20 are in flight (504 after 10 s if they never are), so
    # the case passes on overlap as a fact, not on a fixed hold outlasting a slow start
    env = {
        "endpoints": [
            {"name": f"e{i}", "url": server.url(f"/together/20/e{i}"), "timeout_s": 15}
            for i in range(20)
        ]
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 0, run.output
    assert len(run.outcomes()) == 20
    assert server.count("/together/") == 20  # each probed once
    assert server.max_in_flight >= 20


def test_max_workers_is_respected(tmp_path: Path, server: LocalServer) -> None:
    env = {
        "defaults": {"max_workers": 3},
        "endpoints": [
            {"name": f"e{i}", "url": server.url(f"/together/3/e{i}"), "timeout_s": 15}
            for i in range(9)
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 0, run.output
    assert server.count("/together/") == 9
    assert server.max_in_flight == 3


def test_xdist_workers_probe_each_endpoint_once(tmp_path: Path, server: LocalServer) -> None:
    env = {"endpoints": [{"name": f"e{i}", "url": server.url(f"/ok/e{i}")} for i in range(12)]}
    run = run_checks(tmp_path, env, "-n", "2")
    assert run.returncode == 0, run.output
    assert len(run.outcomes()) == 12
    assert sorted(server.paths) == sorted(f"/ok/e{i}" for i in range(12))


def test_xdist_workers_probe_their_whole_share_at_once_and_no_target_twice(
    tmp_path: Path, server: LocalServer
) -> None:
    """smokegate's scheduler hands each worker its share up front, the cases of one target
    together: every endpoint is requested once although two checks read it, and a worker
    sends its whole share in one batch (xdist's own scheduler fed workers 2-4 cases at a
    time, so they probed in rounds, and split a target's two cases between workers)."""
    env = {
        "endpoints": [
            {
                "name": f"e{i}",
                "url": server.url(f"/together/8/e{i}"),
                "security_headers": True,
                "timeout_s": 15,
            }
            for i in range(16)
        ]
    }
    run = run_checks(tmp_path, env, "-n", "2")
    assert len(run.outcomes()) == 32, run.output
    assert sorted(server.paths) == sorted(f"/together/8/e{i}" for i in range(16))
    assert server.max_in_flight >= 8  # a worker's 8 targets were in flight together


@pytest.mark.parametrize("spelt", ["high", "High"])
def test_fail_on_threshold_keeps_failures_visible(
    tmp_path: Path, server: LocalServer, spelt: str
) -> None:
    env = {
        "endpoints": [
            {"name": "minor", "url": server.url("/status/500"), "severity": "low"},
            {"name": "api", "url": server.url("/ok")},
        ]
    }
    run = run_checks(tmp_path, env, "--fail-on", spelt)  # any case, as in the env file
    assert run.returncode == 0, run.output
    assert run.outcomes()["test_endpoint[minor]"] == "failed"
    assert run.junit().find(".//property[@name='fail_on']").get("value") == "high"


def test_ca_bundle_of_the_env_file_is_trusted(tmp_path: Path) -> None:
    """A private CA named by `ca_bundle:` verifies, even when the shell's REQUESTS_CA_BUNDLE
    names another bundle (as CI images often do); without it, the same target fails on TLS."""
    context, pem = private_ca_context(tmp_path, pem_name="internal-ca.pem")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    untrusted_dir = tmp_path / "untrusted"
    untrusted_dir.mkdir()
    with LocalServer(ssl_context=context) as server:
        endpoints = [{"name": "internal", "url": server.url("/ok")}]
        trusted = run_checks(
            tmp_path,
            {"ca_bundle": str(pem), "endpoints": endpoints},
            env_vars={"REQUESTS_CA_BUNDLE": str(other)},
        )
        untrusted = run_checks(
            untrusted_dir,
            {"endpoints": endpoints},
            env_vars={"REQUESTS_CA_BUNDLE": str(other)},
        )
    assert trusted.outcomes() == {"test_endpoint[internal]": "passed"}, trusted.output
    assert untrusted.outcomes() == {"test_endpoint[internal]": "failed"}
    message = failure_message(untrusted, "test_endpoint[internal]")
    assert "TLS error: " in message and "certificate verify failed" in message


@pytest.mark.parametrize("env", [{"endpoints": []}, {"defaults": {"severity": "low"}}])
def test_env_without_endpoints_runs_cleanly(tmp_path: Path, env: dict[str, Any]) -> None:
    """An env with only tls:/iam: sections (or none yet) must not crash the health module."""
    run = run_checks(tmp_path, env)
    assert "INTERNALERROR" not in run.output
    assert run.returncode in (0, 5), run.output  # nothing to check: ok, or "no tests ran"
