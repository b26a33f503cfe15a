"""Waivers: pure matching and staleness, then end to end on HTTP checks (waivers apply to
every check, not only IAM): waived -> skipped with its reason, expired -> still failing and
saying so, unused -> named at the end of the run, and none of it changing the gate wrongly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from smokegate.config import Waiver
from smokegate.waivers import find_waiver, matches, stale_waivers
from tests.e2e import run_checks

TODAY = date(2026, 11, 25)


def waiver(check="access_key_age", target="legacy-bot:key1", expires=TODAY, reason="OPS-1"):
    return Waiver(check=check, target=target, reason=reason, expires=expires)


def test_target_is_an_fnmatch_pattern_on_the_case_id_and_check_must_be_equal():
    assert matches(waiver(target="ci-*:key2"), "access_key_age", "ci-deploy:key2")
    assert not matches(waiver(target="ci-*:key2"), "access_key_age", "ci-deploy:key1")
    assert not matches(waiver(), "user_age", "legacy-bot:key1")
    assert not matches(waiver(target="Legacy-bot:key1"), "access_key_age", "legacy-bot:key1")


def test_a_waiver_is_valid_through_its_expiry_date():
    on_the_day = find_waiver([waiver(expires=TODAY)], "access_key_age", "legacy-bot:key1", TODAY)
    assert on_the_day is not None and not on_the_day.expired
    assert on_the_day.skip_reason == "waived until 2026-11-25: OPS-1"
    day_after = find_waiver(
        [waiver(expires=TODAY - timedelta(days=1))], "access_key_age", "legacy-bot:key1", TODAY
    )
    assert day_after is not None and day_after.expired
    assert day_after.expired_note.startswith("waiver expired on 2026-11-24")


def test_a_valid_waiver_wins_over_an_earlier_expired_one():
    listed = [waiver(expires=date(2026, 1, 1)), waiver(expires=date(2027, 1, 31), reason="new")]
    found = find_waiver(listed, "access_key_age", "legacy-bot:key1", TODAY)
    assert found is not None
    assert (found.index, found.expired, found.waiver.reason) == (1, False, "new")


def test_no_match_gives_none():
    assert find_waiver([waiver()], "access_key_age", "someone:key1", TODAY) is None


def test_stale_waivers_only_among_checks_that_ran():
    listed = [
        waiver(),
        waiver(check="endpoint", target="billing-health"),
        waiver(check="user_age", target="bob", expires=date(2026, 1, 1)),
    ]
    stale = stale_waivers(listed, used={0}, checks_run={"access_key_age", "user_age"}, today=TODAY)
    assert [(s.index, s.expired) for s in stale] == [(2, True)]
    assert stale[0].describe().startswith("waivers[2] check user_age, target bob (expired 2026")


# ----------------------------------------------------------------------------- end to end


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
    future, past = "2099-12-31", "2020-01-31"
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
    assert skipped.get("message") == "waived until 2099-12-31: planned outage"
    failure = cases["test_endpoint[flaky]"].find("failure").get("message")
    assert "status 500, expected 200" in failure
    assert "waiver expired on 2020-01-31" in failure
    assert "it no longer waives" in failure
    stale_line = "stale waiver (matched no failing case): waivers[2] check endpoint, target ok"
    assert stale_line in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "waivers[2] check endpoint, target ok (expires 2099-12-31)" in summary
    assert "planned outage" in summary  # the waived case is listed with its waiver
    assert "status 500, expected 200; waiver expired on 2020-01-31" in summary
    assert "waivers[0]" not in run.stdout.split("smokegate ===")[1]
    assert run.returncode == 1  # the expired waiver's failure still gates


def test_a_waived_failure_does_not_gate(tmp_path, http_world):
    env = _env(http_world, [])
    env["endpoints"] = env["endpoints"][:2]
    env["waivers"] = [
        {"check": "endpoint", "target": "down", "reason": "planned", "expires": "2099-01-01"}
    ]
    run = run_checks(tmp_path, env)
    assert run.outcomes() == {"test_endpoint[ok]": "passed", "test_endpoint[down]": "skipped"}
    assert run.returncode == 0, run.output
    assert "stale waiver" not in run.stdout


def test_waivers_work_under_xdist(tmp_path, http_world):
    env = _env(
        http_world,
        [
            {"check": "endpoint", "target": "down", "reason": "planned", "expires": "2099-01-01"},
            {"check": "endpoint", "target": "ok", "reason": "stale", "expires": "2099-01-01"},
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
