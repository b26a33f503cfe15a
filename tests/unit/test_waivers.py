"""Waivers, pure: the target is an fnmatch pattern on the case id, a waiver holds through its
expiry date, a valid one wins over an expired one, and stale waivers are found only among
the checks that ran.

Waivers on real runs (skipped, expired, stale, the gate, xdist): tests/e2e/test_waivers.py.
"""

from __future__ import annotations

from datetime import date, timedelta

from smokegate.config import Waiver
from smokegate.waivers import find_waiver, matches, stale_waivers

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


def test_brackets_in_a_target_are_literal():
    """A case id copied from a report, `p[1]`, waived the case `p1` as fnmatch's character
    class, while the report named `p[1]` (attack round 11). Brackets are literal now."""
    copied = waiver("endpoint", "p[1]")
    assert matches(copied, "endpoint", "p[1]")
    assert not matches(copied, "endpoint", "p1")
    assert matches(waiver("endpoint", "p[*]"), "endpoint", "p[2]")
    assert not matches(waiver("endpoint", "[ab]pi"), "endpoint", "api")
