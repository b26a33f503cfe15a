"""Waivers end to end on HTTP checks of a mocked world (waivers apply to every check, not
only IAM): waived -> skipped with its reason, expired -> still failing and saying so,
unused -> named at the end of the run, and none of it changing the gate wrongly, under
xdist too; a waiver without `expires` is a usage error.

The matching rules themselves: tests/unit/test_waivers.py.
"""

from __future__ import annotations

import pytest
import yaml

from tests.support.e2e import run_checks
from tests.support.env_files import waiver_expiry


@pytest.fixture
def http_world(tmp_path):
    world = tmp_path / "world"
    world.mkdir()
    routes = [
        {"url": "https://ok.test/health", "json": {"status": "ok"}},
        {"url": "https://down.test/health", "status": 503, "body": "down"},
        {"url": "https://flaky.test/health", "status": 500, "body": "oops"},
    ]
    (world / "http.yaml").write_text(yaml.safe_dump({"routes": routes}))
    return world


def _env(world, waivers):
    return {
        "mock": str(world),
        "endpoints": [
            {"name": "ok", "url": "https://ok.test/health"},
            {"name": "down", "url": "https://down.test/health", "severity": "critical"},
            {"name": "flaky", "url": "https://flaky.test/health"},
        ],
        "waivers": waivers,
    }


def test_waived_expired_and_stale_end_to_end(tmp_path, http_world):
    future, past = waiver_expiry(), "2020-01-31"
    run = run_checks(
        tmp_path,
        _env(
            http_world,
            [
                {
                    "check": "endpoint",
                    "target": "down",
                    "reason": "planned outage",
                    "expires": future,
                },
                {"check": "endpoint", "target": "fl*", "reason": "INC-7", "expires": past},
                {
                    "check": "endpoint",
                    "target": "ok",
                    "reason": "fixed long ago",
                    "expires": future,
                },
            ],
        ),
    )
    outcomes = run.outcomes()
    assert outcomes == {
        "test_endpoint[ok]": "passed",
        "test_endpoint[down]": "skipped",
        "test_endpoint[flaky]": "failed",
    }
    cases = run.testcases()
    skipped = cases["test_endpoint[down]"].find("skipped")
    assert skipped.get("message") == f"waived until {future}: planned outage"
    failure = cases["test_endpoint[flaky]"].find("failure").get("message")
    assert "status 500, expected 200" in failure
    assert "waiver expired on 2020-01-31" in failure
    assert "it no longer waives" in failure
    stale_line = "stale waiver (matched no failing case): waivers[2] check endpoint, target ok"
    assert stale_line in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert f"waivers[2] check endpoint, target ok (expires {future})" in summary
    assert "planned outage" in summary  # the waived case is listed with its waiver
    assert "status 500, expected 200; waiver expired on 2020-01-31" in summary
    assert "waivers[0]" not in run.stdout.split("smokegate ===")[1]
    assert run.returncode == 1  # the expired waiver's failure still gates


def test_a_waived_failure_does_not_gate(tmp_path, http_world):
    env = _env(http_world, [])
    env["endpoints"] = env["endpoints"][:2]
    env["waivers"] = [
        {"check": "endpoint", "target": "down", "reason": "planned", "expires": waiver_expiry()}
    ]
    run = run_checks(tmp_path, env)
    assert run.outcomes() == {"test_endpoint[ok]": "passed", "test_endpoint[down]": "skipped"}
    assert run.returncode == 0, run.output
    assert "stale waiver" not in run.stdout


def test_waivers_work_under_xdist(tmp_path, http_world):
    env = _env(
        http_world,
        [
            {
                "check": "endpoint",
                "target": "down",
                "reason": "planned",
                "expires": waiver_expiry(),
            },
            {"check": "endpoint", "target": "ok", "reason": "stale", "expires": waiver_expiry()},
        ],
    )
    run = run_checks(tmp_path, env, "-n", "2")
    assert run.outcomes()["test_endpoint[down]"] == "skipped"
    assert run.outcomes()["test_endpoint[flaky]"] == "failed"
    assert "stale waiver (matched no failing case): waivers[1] check endpoint" in run.stdout
    assert "waivers[0]" not in run.stdout.split("smokegate ===")[1]


def test_expires_is_required(tmp_path, http_world):
    env = _env(http_world, [{"check": "endpoint", "target": "down", "reason": "r"}])
    run = run_checks(tmp_path, env)
    assert run.returncode == 4
    assert "waivers[0]" in run.output and "expires" in run.output
