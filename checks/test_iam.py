"""IAM: one function per rule, one case per principal the rule applies to (ids are user
names, keys `<user>:key1`). Cases come from one credential report gathered per run;
the rules are pure functions in smokegate.rules.iam."""

import pytest

from smokegate.rules import iam as rules

pytestmark = pytest.mark.iam


@pytest.mark.default_severity("critical")
def test_iam_audit(iam_outcome, enforce):
    enforce(rules.audit_available(iam_outcome))


@pytest.mark.default_severity("low")
def test_user_age(iam_user, iam_audit, iam_settings, enforce):
    limit = iam_settings.max_user_age_days
    enforce(rules.user_age(iam_user, limit, iam_audit.gathered_at, detail=iam_audit.report_note))


@pytest.mark.default_severity("medium")
def test_access_key_age(iam_key, iam_audit, iam_settings, enforce):
    limit = iam_settings.max_access_key_age_days
    enforce(
        rules.access_key_age(iam_key, limit, iam_audit.gathered_at, detail=iam_audit.report_note)
    )


@pytest.mark.default_severity("medium")
def test_unused_credentials(iam_credentialed_user, iam_audit, iam_settings, enforce):
    limit = iam_settings.max_unused_days
    user = iam_credentialed_user
    enforce(
        rules.unused_credentials(user, limit, iam_audit.gathered_at, detail=iam_audit.report_note)
    )


@pytest.mark.default_severity("high")
def test_console_mfa(iam_console_user, iam_audit, enforce):
    enforce(rules.console_mfa(iam_console_user, detail=iam_audit.report_note))


@pytest.mark.default_severity("medium")
def test_active_keys(iam_key_holder, iam_audit, iam_settings, enforce):
    limit = iam_settings.max_active_keys_per_user
    enforce(rules.active_keys(iam_key_holder, limit, detail=iam_audit.report_note))


@pytest.mark.default_severity("critical")
def test_root_access_keys(iam_audit, enforce):
    enforce(rules.root_access_keys(iam_audit.root))


@pytest.mark.default_severity("critical")
def test_root_mfa(iam_audit, enforce):
    enforce(rules.root_mfa(iam_audit.root))


@pytest.mark.default_severity("medium")
def test_password_policy(iam_audit, iam_settings, enforce):
    enforce(rules.password_policy(iam_audit.password_policy, iam_settings.password_policy))
