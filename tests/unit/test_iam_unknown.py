"""Credential-report values the parser cannot read are unknown, never "no" (issue 10 item 10).

A row cut off after `user_creation_time`, or with an empty or garbled flag or date, used to
read as "no password, no keys", and the gate passed without checking that user's MFA. Now:
every rule that needs such a value fails for that user as "verified nothing", and the user is
in every principal set it may belong to, so the rules run for it at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smokegate.facts.iam import IamAuditError, KeyRef, parse_credential_report, root_facts
from smokegate.rules import iam as rules
from smokegate.targets import AUDIT_TARGETS
from tests.unit.test_facts_iam import ALICE, HEADER, ROOT_ROW

NOW = datetime(2026, 12, 1, tzinfo=UTC)
COLUMNS = HEADER.strip().split(",")


def _row(cells: list[str]) -> str:
    return ",".join(cells) + "\n"


def _alice_with(column: str, value: str | None) -> str:
    """Alice's row with one cell replaced; None cuts the row off before that column."""
    cells = ALICE.strip().split(",")
    index = COLUMNS.index(column)
    if value is None:
        return _row(cells[:index])
    cells[index] = value
    return _row(cells)


def _verdicts(row) -> dict[str, object]:
    """Every user rule's verdict on the row (keys by slot)."""
    verdicts = {
        "user_age": rules.user_age(row, 365, NOW),
        "unused_credentials": rules.unused_credentials(row, 45, NOW),
        "console_mfa": rules.console_mfa(row),
        "active_keys": rules.active_keys(row, 1),
    }
    for key in row.keys:
        verdicts[f"access_key_age:{key.label}"] = rules.access_key_age(KeyRef(row, key), 90, NOW)
    return verdicts


# The columns each rule reads, for a user with a console password and key 1 active (Alice).
NEEDS = {
    "user_creation_time": {"user_age"},
    "password_enabled": {"unused_credentials", "console_mfa"},
    "password_last_used": {"unused_credentials"},
    "mfa_active": {"console_mfa"},
    "access_key_1_active": {"unused_credentials", "active_keys", "access_key_age:key1"},
    "access_key_1_last_rotated": {"unused_credentials", "access_key_age:key1"},
    "access_key_1_last_used_date": {"unused_credentials"},
    "access_key_2_active": {"unused_credentials", "active_keys", "access_key_age:key2"},
}


@pytest.mark.parametrize("value", ["", "   ", "maybe", "2026-13-45T00:00:00"])
@pytest.mark.parametrize("column", sorted(NEEDS))
def test_an_unreadable_value_fails_every_rule_that_needs_it_as_verified_nothing(column, value):
    (row,) = parse_credential_report(HEADER + _alice_with(column, value))
    assert row.is_unknown(column)
    for rule, verdict in _verdicts(row).items():
        if rule in NEEDS[column]:
            assert not verdict.passed and verdict.verified is False, (rule, verdict)
            assert column in verdict.message and "alice" in verdict.message


@pytest.mark.parametrize("cut_after", ["user_creation_time", "password_enabled", "mfa_active"])
def test_a_row_cut_short_is_unknown_from_the_cut_on_and_never_passes(cut_after):
    """The issue's case: a row that ends after user_creation_time read as 'no password, no
    keys' and passed without any MFA check."""
    next_column = COLUMNS[COLUMNS.index(cut_after) + 1]
    (row,) = parse_credential_report(HEADER + _alice_with(next_column, None))
    for column in COLUMNS[COLUMNS.index(next_column) :]:
        if column in NEEDS:
            assert row.is_unknown(column), column
    failed_unverified = [
        name for name, v in _verdicts(row).items() if not v.passed and v.verified is False
    ]
    if COLUMNS.index(next_column) <= COLUMNS.index("mfa_active"):
        assert "console_mfa" in failed_unverified  # MFA never read: never a pass
    assert "active_keys" in failed_unverified  # the key flags come after the cut
    assert all(v.verified is False for v in _verdicts(row).values() if not v.passed)


def test_a_user_whose_flags_are_unknown_is_in_every_principal_set():
    (row,) = parse_credential_report(HEADER + _alice_with("password_enabled", None))
    audit = type("Audit", (), {"users": (row,)})()
    for kind in AUDIT_TARGETS:
        targets = kind.entries(audit)
        assert targets, f"{kind.fixture} leaves the user out"
    keys = next(k for k in AUDIT_TARGETS if k.fixture == "iam_key").entries(audit)
    assert [ref.key.slot for ref in keys] == [1, 2]  # both slots: neither is known inactive


def test_aws_markers_are_values_not_unknowns():
    (row,) = parse_credential_report(HEADER + ALICE)
    assert row.unknown == ()
    assert all(v.verified for v in _verdicts(row).values())


@pytest.mark.parametrize("column", ["mfa_active", "access_key_1_active"])
def test_a_root_row_with_an_unreadable_flag_fails_its_root_rule_as_verified_nothing(column):
    cells = ROOT_ROW.strip().split(",")
    cells[COLUMNS.index(column)] = ""
    rows = parse_credential_report(HEADER + _row(cells))
    root = root_facts(rows, {"AccountAccessKeysPresent": 0, "AccountMFAEnabled": 1})
    verdict = rules.root_mfa(root) if column == "mfa_active" else rules.root_access_keys(root)
    assert not verdict.passed and verdict.verified is False


def test_a_second_root_row_makes_both_root_rules_verified_nothing():
    """Judging the first of two root rows let a second one with an active root key and no
    MFA pass (attack round 8b, F4): AWS writes one, so which describes root is unknown."""
    cells = ROOT_ROW.strip().split(",")
    cells[COLUMNS.index("mfa_active")] = "false"
    cells[COLUMNS.index("access_key_1_active")] = "true"
    rows = parse_credential_report(HEADER + ROOT_ROW + ALICE + _row(cells))
    root = root_facts(rows, {"AccountAccessKeysPresent": 0, "AccountMFAEnabled": 1})
    for verdict in (rules.root_mfa(root), rules.root_access_keys(root)):
        assert not verdict.passed and verdict.verified is False
        assert "2 <root_account> rows" in verdict.message


# -- no-value markers where AWS documents none (attack round 1, C4) --------------------------

FLAGS = ("password_enabled", "mfa_active", "access_key_1_active", "access_key_2_active")


@pytest.mark.parametrize("marker", ["N/A", "n/a", "not_supported", "no_information", "NONE"])
@pytest.mark.parametrize("column", FLAGS)
def test_a_no_value_marker_in_a_user_s_flag_is_unknown_never_false(column, marker):
    """`password_enabled: N/A` with a password used 10 days ago read as "no console
    password": no MFA case for that user, gate PASSED. A marker AWS does not document for
    the column is unknown: every rule that needs it fails as verified nothing."""
    (row,) = parse_credential_report(HEADER + _alice_with(column, marker))
    assert row.is_unknown(column)
    for rule, verdict in _verdicts(row).items():
        if rule in NEEDS[column]:
            assert not verdict.passed and verdict.verified is False, (rule, column)


def test_bob_with_a_password_marked_na_gets_a_failing_console_mfa_case():
    bob = _alice_with("password_enabled", "N/A").replace("alice", "bob")
    bob = bob.replace(",true,true,", ",false,true,", 1)  # mfa_active false
    (row,) = parse_credential_report(HEADER + bob)
    console_users = next(k for k in AUDIT_TARGETS if k.fixture == "iam_console_user")
    assert console_users.entries(type("A", (), {"users": (row,)})()) == [row]
    verdict = rules.console_mfa(row)
    assert (
        not verdict.passed and verdict.verified is False and "password_enabled" in verdict.message
    )


def test_root_s_documented_not_supported_password_flag_is_false():
    rows = parse_credential_report(HEADER + ROOT_ROW)
    assert rows[0].password_enabled is False and not rows[0].is_unknown("password_enabled")


TIME_COLUMNS = sorted(c for c in NEEDS if c.endswith(("_time", "_used", "_rotated", "_date")))


@pytest.mark.parametrize("column", TIME_COLUMNS)
@pytest.mark.parametrize("when", ["2099-01-01T00:00:00+00:00", "2026-12-03T00:00:01+00:00"])
def test_a_time_past_the_audits_clock_is_unknown_never_age_zero(column, when):
    """A date in the future read as 0 days old, and user_age, access_key_age and
    unused_credentials passed (attack round 11); so did every date on a runner whose clock
    is behind. A time more than a day past the audit's clock is unknown."""
    (row,) = parse_credential_report(HEADER + _alice_with(column, when), now=NOW)
    assert row.is_unknown(column)
    assert "in the future" in dict(row.unknown)[column]
    for rule, verdict in _verdicts(row).items():
        if rule in NEEDS[column]:
            assert not verdict.passed and verdict.verified is False, (rule, verdict)


def test_a_time_within_a_day_of_the_audits_clock_is_read():
    (row,) = parse_credential_report(
        HEADER + _alice_with("password_last_used", "2026-12-01T20:00:00+00:00"), now=NOW
    )
    assert not row.unknown and row.password_last_used == datetime(2026, 12, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize("column", ["mfa_active", "access_key_1_active", "user"])
def test_a_column_named_twice_damages_the_report(column):
    """csv keeps a name's last cell: a second `mfa_active` of `true` hid a console user
    without MFA (attack round 11). Which cell AWS meant cannot be known."""
    header = HEADER.strip() + f",{column}\n"
    with pytest.raises(IamAuditError, match=rf"column\(s\) {column} appear more than once"):
        parse_credential_report(header + ALICE.strip() + ",true\n")


def test_a_row_with_more_cells_than_columns_damages_the_report():
    with pytest.raises(IamAuditError, match="line 2 has more cells than the report has columns"):
        parse_credential_report(HEADER + ALICE.strip() + ",true\n")


@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_byte_order_mark_before_the_header_is_no_missing_column(as_bytes):
    text = "\ufeff" + HEADER + ALICE
    (row,) = parse_credential_report(text.encode() if as_bytes else text, now=NOW)
    assert row.user == "alice" and not row.unknown
