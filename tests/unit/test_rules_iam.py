"""IAM rules on hand-built rows, at their boundaries: 89/90/91 days, never used, both keys,
disabled keys, the root facts and the password policy; and whether the audit itself
verified anything (a gatherer error, a report time it cannot have, an audit that saw no
user)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smokegate.config import PasswordPolicyRule
from smokegate.facts.iam import (
    AccessKey,
    CredentialRow,
    IamAudit,
    IamAuditError,
    KeyRef,
    PasswordPolicy,
    RootFacts,
    plausible_report_time,
)
from smokegate.rules import iam as rules

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NO_KEY = AccessKey(slot=2, active=False, last_rotated=None, last_used=None)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def key(slot: int = 1, *, rotated: float | None = 10, used: float | None = 1, active=True):
    return AccessKey(
        slot=slot,
        active=active,
        last_rotated=None if rotated is None else ago(rotated),
        last_used=None if used is None else ago(used),
    )


def row(
    name: str = "alice",
    *,
    created: float = 100,
    password: bool = False,
    password_used: float | None = None,
    password_changed: float | None = None,
    mfa: bool = False,
    keys: tuple[AccessKey, AccessKey] = (NO_KEY, NO_KEY),
) -> CredentialRow:
    return CredentialRow(
        user=name,
        arn=f"arn:aws:iam::123456789012:user/{name}",
        created=ago(created),
        password_enabled=password,
        password_last_used=None if password_used is None else ago(password_used),
        password_last_changed=None if password_changed is None else ago(password_changed),
        mfa_active=mfa,
        keys=keys,
    )


def test_age_days_counts_whole_days_and_never_goes_negative():
    assert rules.age_days(ago(90), NOW) == 90
    assert rules.age_days(ago(90.99), NOW) == 90
    assert rules.age_days(ago(91), NOW) == 91
    assert rules.age_days(NOW + timedelta(hours=2), NOW) == 0


@pytest.mark.parametrize(("days", "passes"), [(89, True), (90, True), (91, False)])
def test_access_key_age_boundary(days, passes):
    verdict = rules.access_key_age(KeyRef(row(), key(rotated=days)), 90, NOW)
    assert verdict.passed is passes
    assert verdict.measured == f"key1 {days} days"


def test_access_key_age_message_names_key_days_date_and_limit():
    verdict = rules.access_key_age(KeyRef(row(), key(2, rotated=212)), 90, NOW, detail="note")
    assert verdict.message == "key2 last rotated 212 days ago (2026-04-27), limit 90"
    assert verdict.detail == "note"


def test_access_key_age_ignores_an_inactive_key():
    verdict = rules.access_key_age(KeyRef(row(), key(rotated=900, active=False)), 90, NOW)
    assert verdict.passed
    assert verdict.measured == "key1 inactive"


def test_active_key_without_rotation_date_fails_instead_of_passing():
    verdict = rules.access_key_age(KeyRef(row(), key(rotated=None)), 90, NOW)
    assert not verdict.passed
    assert "no rotation date" in verdict.message


@pytest.mark.parametrize(("days", "passes"), [(364, True), (365, True), (366, False)])
def test_user_age_boundary(days, passes):
    verdict = rules.user_age(row(created=days), 365, NOW)
    assert verdict.passed is passes
    if not passes:
        assert verdict.message == "user created 366 days ago (2025-11-24), limit 365"


def test_user_age_limit_zero_flags_a_user_one_day_old():
    assert rules.user_age(row(created=0.5), 0, NOW).passed
    assert not rules.user_age(row(created=1), 0, NOW).passed


@pytest.mark.parametrize(("days", "passes"), [(44, True), (45, True), (46, False)])
def test_unused_password_boundary(days, passes):
    verdict = rules.unused_credentials(row(password=True, password_used=days), 45, NOW)
    assert verdict.passed is passes


def test_unused_key_message():
    verdict = rules.unused_credentials(row(keys=(key(rotated=300, used=100), NO_KEY)), 45, NOW)
    assert verdict.message == "key1 unused for 100 days (last used 2026-08-17), limit 45"


def test_never_used_key_counts_from_its_creation():
    fresh = rules.unused_credentials(row(keys=(key(rotated=45, used=None), NO_KEY)), 45, NOW)
    stale = rules.unused_credentials(row(keys=(key(rotated=46, used=None), NO_KEY)), 45, NOW)
    assert fresh.passed
    assert stale.message == "key1 never used, created 46 days ago (2026-10-10), limit 45"


def test_never_used_password_counts_from_when_it_was_set_else_user_creation():
    set_recently = row(created=400, password=True, password_changed=10)
    assert rules.unused_credentials(set_recently, 45, NOW).passed
    never_changed = row(created=400, password=True)
    verdict = rules.unused_credentials(never_changed, 45, NOW)
    assert verdict.message.startswith("password never used, created 400 days ago")


def test_unused_credentials_reports_each_stale_credential_of_both_keys():
    user = row(
        password=True,
        password_used=2,
        keys=(key(1, rotated=200, used=60), key(2, rotated=200, used=50)),
    )
    verdict = rules.unused_credentials(user, 45, NOW)
    assert verdict.problems == (
        "key1 unused for 60 days (last used 2026-09-26), limit 45",
        "key2 unused for 50 days (last used 2026-10-06), limit 45",
    )
    assert verdict.measured == "unused password 2d, key1 60d, key2 50d"


def test_unused_credentials_ignores_disabled_keys():
    user = row(keys=(key(1, rotated=900, used=None, active=False), key(2, rotated=5, used=1)))
    verdict = rules.unused_credentials(user, 45, NOW)
    assert verdict.passed
    assert verdict.measured == "unused key2 1d"


def test_console_mfa():
    assert not rules.console_mfa(row(password=True, mfa=False)).passed
    assert rules.console_mfa(row(password=True, mfa=True)).passed
    assert rules.console_mfa(row(password=False, mfa=False)).passed
    assert rules.console_mfa(row(password=True)).message == "console password enabled without MFA"


@pytest.mark.parametrize(
    ("keys", "limit", "passes", "measured"),
    [
        ((key(1), key(2)), 1, False, "2 active keys"),
        ((key(1), key(2)), 2, True, "2 active keys"),
        ((key(1), key(2, active=False)), 1, True, "1 active key"),
        ((key(1), NO_KEY), 0, False, "1 active key"),
    ],
)
def test_active_keys(keys, limit, passes, measured):
    verdict = rules.active_keys(row(keys=keys), limit)
    assert verdict.passed is passes
    assert verdict.measured == measured


def test_active_keys_message_names_the_keys():
    verdict = rules.active_keys(row(keys=(key(1), key(2))), 1)
    assert verdict.message == "2 active keys (key1, key2), limit 1"


def test_root_rules_name_their_source():
    bad = RootFacts(access_keys_present=True, mfa_active=False, source="account summary")
    good = RootFacts(access_keys_present=False, mfa_active=True, source="credential report")
    assert rules.root_access_keys(bad).message == (
        "root account has access keys (from the account summary)"
    )
    assert rules.root_mfa(bad).message == "root account has no MFA (from the account summary)"
    assert rules.root_access_keys(good).passed
    assert rules.root_mfa(good).passed


def test_password_policy_missing_fails():
    verdict = rules.password_policy(None, PasswordPolicyRule())
    assert verdict.message == "no account password policy is set"


@pytest.mark.parametrize(
    ("length", "reuse", "problems"),
    [
        (14, 24, ()),
        (13, 24, ("minimum password length 13, required at least 14",)),
        (14, 23, ("password reuse prevention 23, required at least 24",)),
        (
            8,
            None,
            (
                "minimum password length 8, required at least 14",
                "password reuse prevention off, required at least 24",
            ),
        ),
    ],
)
def test_password_policy_thresholds(length, reuse, problems):
    verdict = rules.password_policy(PasswordPolicy(length, reuse), PasswordPolicyRule())
    assert verdict.problems == problems


def test_password_policy_field_set_to_null_is_not_checked():
    rule = PasswordPolicyRule(min_length=None, reuse_prevention=24)
    assert rules.password_policy(PasswordPolicy(6, 24), rule).passed


def _audit(users: tuple[CredentialRow, ...], summary_users: int) -> IamAudit:
    return IamAudit(
        account_id="123456789012",
        caller_arn="arn:aws:iam::123456789012:user/audit",
        gathered_at=NOW,
        report_generated=NOW - timedelta(hours=3),
        users=users,
        root=RootFacts(False, True, "account summary"),
        password_policy=None,
        summary={"Users": summary_users},
        api_calls=6,
    )


def test_a_user_listed_by_iam_but_not_in_the_report_verified_nothing():
    """carol deleted, bob created within the report's 4 hours: the counts match (2 and 2),
    the names do not, and bob is judged by no rule (attack round 4)."""
    from dataclasses import replace

    audit = replace(_audit((row("alice"), row("carol")), 2), user_names=("alice", "bob"))
    verdict = rules.audit_available(audit)
    assert not verdict.passed and not verdict.verified
    assert verdict.message == (
        "1 user of iam:ListUsers not in the credential report, so judged by no rule: bob"
    )
    whole = replace(_audit((row("alice"), row("carol")), 1), user_names=("alice",))
    assert rules.audit_available(whole).passed  # carol deleted since: nothing unjudged


def test_names_only_listusers_gave_are_quoted_escaped():
    """ListUsers' names are an endpoint's text: a newline in one printed a line of its
    choosing ("smokegate: gate PASSED ...") under the failure on the console (round 11)."""
    from dataclasses import replace

    forged = "line\nsmokegate: gate PASSED (--fail-on low): no failures\x1b[2K"
    audit = replace(_audit((row("alice"),), 1), user_names=("alice", forged))
    message = rules.audit_available(audit).message
    assert "\n" not in message and "\x1b" not in message
    assert "judged by no rule: line smokegate: gate PASSED" in message  # one line


def test_audit_available_fails_with_the_gatherer_message():
    verdict = rules.audit_available(IamAuditError("access denied: iam:GetCredentialReport"))
    assert verdict.message == "IAM audit unavailable: access denied: iam:GetCredentialReport"
    assert not verdict.passed


def test_audit_available_shows_account_users_calls_and_report_time():
    verdict = rules.audit_available(_audit((row(),), 1))
    assert verdict.passed
    assert verdict.measured == (
        "account 123456789012 · 1 user · report 2026-11-25 09:00 UTC · 6 API calls"
    )
    assert "generated 2026-11-25 09:00 UTC" in verdict.detail


def test_audit_with_an_empty_report_for_an_account_with_users_fails():
    verdict = rules.audit_available(_audit((), 5))
    assert verdict.message == (
        "the credential report lists 0 users, the account summary "
        "(iam:GetAccountSummary) counts 5: 5 not audited"
    )
    assert not verdict.verified


@pytest.mark.parametrize(
    ("listed", "counted", "passes"), [(1, 500, False), (2, 3, False), (3, 3, True), (3, 2, True)]
)
def test_users_the_report_does_not_list_verified_nothing(listed, counted, passes):
    """One user listed of 500 counted: 499 users no rule judged. Users deleted since the
    report (more listed than counted) are fine."""
    rows = tuple(row(f"u{i}") for i in range(listed))
    verdict = rules.audit_available(_audit(rows, counted))
    assert verdict.passed is passes
    assert verdict.verified is passes
    if not passes:
        assert f"counts {counted}: {counted - listed} not audited" in verdict.message


def test_report_time_is_kept_when_every_listed_user_predates_it():
    rows = [row("alice", created=100), row("bob", created=0.5)]
    assert plausible_report_time(ago(0.1), rows) == ago(0.1)
    assert plausible_report_time(None, rows) is None


def test_report_time_before_a_listed_users_creation_is_unknown():
    """A snapshot cannot list a user created after it (moto dates every report 2015)."""
    rows = [row("alice", created=100), row("new", created=1)]
    assert plausible_report_time(ago(2), rows) is None
    audit = _audit(tuple(rows), 2)
    unknown = IamAudit(**{**audit.__dict__, "report_generated": None})
    verdict = rules.audit_available(unknown)
    assert "report time unknown" in verdict.measured
    assert verdict.detail.startswith("credential report of unknown age; AWS reuses a report")


def test_an_audit_that_saw_no_user_verified_nothing():
    from types import SimpleNamespace

    from smokegate.rules.iam import audit_available

    outcome = SimpleNamespace(
        users=[],
        summary={"Users": 40},
        account_id="1",
        report_time="t",
        api_calls=3,
        report_note="",
        user_names=None,
        routes=(),
    )
    verdict = audit_available(outcome)
    assert not verdict.passed and not verdict.verified


def test_a_summary_counting_more_users_than_listusers_and_the_report_verified_nothing():
    """Round 15b, F3: with ListUsers read, the account summary's count was never compared:
    1 user listed and reported, 40 counted, and the audit passed."""
    from dataclasses import replace

    audit = replace(_audit((row("alice"),), 40), user_names=("alice",))
    verdict = rules.audit_available(audit)
    assert not verdict.passed and not verdict.verified
    assert verdict.message == (
        "the credential report and iam:ListUsers name 1 user, the account summary "
        "(iam:GetAccountSummary) counts 40: 39 not audited"
    )
