"""IAM rules over typed credential-report rows: facts and thresholds in, `Verdict` out.

Day maths: an age is the number of whole days elapsed (`(now - then) // 1 day`), and a rule
with limit N fails from N + 1 days on: a key rotated exactly 90 days ago is within
"rotated every 90 days". Every failing message gives the measured value, the date it is
measured from and the limit, so nobody has to open the console to see why.

A value the credential report does not give readably (a row cut short, an empty or garbled
cell: `CredentialRow.unknown`) is never read as "no password, no keys, never used": every
rule first asks for the columns it needs (`_needs`), and fails as "verified nothing" for
that user when one is unknown. The principal sets of `smokegate.targets` include such users
too, so the rule runs for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from smokegate.config import PasswordPolicyRule
from smokegate.facts.iam import (
    CredentialRow,
    IamAudit,
    IamAuditError,
    KeyRef,
    PasswordPolicy,
    RootFacts,
)
from smokegate.redact import excerpt
from smokegate.verdict import Verdict

_DAY = timedelta(days=1)


def age_days(then: datetime, now: datetime) -> int:
    """Whole days elapsed from `then` to `now` (0 for a future timestamp: clock skew)."""
    return max(0, (now - then) // _DAY)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _needs(row: CredentialRow, columns: Iterable[str], *, detail: str = "") -> Verdict | None:
    """The failing verdict when a column the rule needs is unknown for this user; None when
    every one was read."""
    missing = row.unknown_of(columns)
    if not missing:
        return None
    return Verdict(
        problems=(
            f"the credential report does not say, for user {row.user}: {'; '.join(missing)}: "
            "nothing about this user could be judged",
        ),
        measured="unknown",
        detail=detail,
        verified=False,
    )


def _key_columns(slot: int) -> tuple[str, ...]:
    return (f"access_key_{slot}_active", f"access_key_{slot}_last_rotated")


def user_age(row: CredentialRow, max_days: int, now: datetime, *, detail: str = "") -> Verdict:
    """Users older than `max_days` (the classic 'flag users older than a year')."""
    unknown = _needs(row, ["user_creation_time"], detail=detail)
    if unknown is not None:
        return unknown
    if row.created is None:
        return Verdict(
            problems=("creation time missing from the credential report",), verified=False
        )
    days = age_days(row.created, now)
    measured = f"{_plural(days, 'day')} old"
    if days > max_days:
        problem = f"user created {_plural(days, 'day')} ago ({_day(row.created)}), limit {max_days}"
        return Verdict(
            problems=(problem,),
            measured=measured,
            detail=detail,
            hint="confirm the user is still needed, or remove it",
        )
    return Verdict(measured=measured)


def access_key_age(ref: KeyRef, max_days: int, now: datetime, *, detail: str = "") -> Verdict:
    """An active key not rotated within `max_days` (CIS: 90)."""
    key = ref.key
    unknown = _needs(ref.row, _key_columns(key.slot), detail=detail)
    if unknown is not None:
        return unknown
    if not key.active:
        return Verdict(measured=f"{key.label} inactive")
    if key.last_rotated is None:
        return Verdict(
            problems=(f"{key.label} is active but the report gives no rotation date",),
            detail=detail,
        )
    days = age_days(key.last_rotated, now)
    measured = f"{key.label} {_plural(days, 'day')}"
    if days > max_days:
        problem = (
            f"{key.label} last rotated {_plural(days, 'day')} ago ({_day(key.last_rotated)}), "
            f"limit {max_days}"
        )
        return Verdict(
            problems=(problem,),
            measured=measured,
            detail=detail,
            hint="create a new key, move its users over, then deactivate this one",
        )
    return Verdict(measured=measured)


def unused_credentials(
    row: CredentialRow, max_days: int, now: datetime, *, detail: str = ""
) -> Verdict:
    """A console password or an active key not used for `max_days` (CIS: 45). A credential
    never used counts from when it was created: a key made 300 days ago and never used is
    300 days unused, not 'fine because there is no last-use date'."""
    needed = ["password_enabled", "access_key_1_active", "access_key_2_active"]
    if row.password_enabled:
        needed += ["password_last_used", "password_last_changed", "user_creation_time"]
    for key in row.active_keys:
        needed += [f"access_key_{key.slot}_last_used_date", f"access_key_{key.slot}_last_rotated"]
    unknown = _needs(row, needed, detail=detail)
    if unknown is not None:
        return unknown
    problems: list[str] = []
    ages: list[str] = []
    if row.password_enabled:
        issued = row.password_last_changed or row.created
        problem, days = _unused("password", row.password_last_used, issued, max_days, now)
        ages.append(f"password {days}d")
        if problem:
            problems.append(problem)
    for key in row.active_keys:
        problem, days = _unused(key.label, key.last_used, key.last_rotated, max_days, now)
        ages.append(f"{key.label} {days}d")
        if problem:
            problems.append(problem)
    measured = "unused " + ", ".join(ages) if ages else "no credentials"
    if problems:
        return Verdict(
            problems=tuple(problems),
            measured=measured,
            detail=detail,
            hint="disable credentials nobody uses",
        )
    return Verdict(measured=measured)


def _unused(
    label: str, used: datetime | None, issued: datetime | None, max_days: int, now: datetime
) -> tuple[str, int | str]:
    if used is not None:
        days = age_days(used, now)
        if days > max_days:
            return (
                f"{label} unused for {_plural(days, 'day')} (last used {_day(used)}), "
                f"limit {max_days}",
                days,
            )
        return "", days
    if issued is None:
        return f"{label} never used and its creation date is unknown", "?"
    days = age_days(issued, now)
    if days > max_days:
        return (
            f"{label} never used, created {_plural(days, 'day')} ago ({_day(issued)}), "
            f"limit {max_days}",
            days,
        )
    return "", days


def console_mfa(row: CredentialRow, *, detail: str = "") -> Verdict:
    """A console password without MFA."""
    unknown = _needs(row, ["password_enabled", "mfa_active"], detail=detail)
    if unknown is not None:
        return unknown
    if not row.password_enabled:
        return Verdict(measured="no console password")
    if not row.mfa_active:
        return Verdict(
            problems=("console password enabled without MFA",),
            measured="MFA off",
            detail=detail,
            hint="enable an MFA device for the user, or remove the console password",
        )
    return Verdict(measured="MFA on")


def active_keys(row: CredentialRow, max_keys: int, *, detail: str = "") -> Verdict:
    """More active keys than `max_keys` (CIS: one per user)."""
    unknown = _needs(row, ["access_key_1_active", "access_key_2_active"], detail=detail)
    if unknown is not None:
        return unknown
    active = row.active_keys
    measured = _plural(len(active), "active key")
    if len(active) > max_keys:
        which = ", ".join(k.label for k in active)
        problem = f"{measured} ({which}), limit {max_keys}"
        return Verdict(
            problems=(problem,),
            measured=measured,
            detail=detail,
            hint="deactivate the key that is no longer in use",
        )
    return Verdict(measured=measured)


def root_access_keys(root: RootFacts) -> Verdict:
    """Root has no access keys (CIS)."""
    if root.access_keys_present is None:
        return _root_unknown(root, root.access_keys_source, "whether root has active access keys")
    if root.access_keys_present:
        return Verdict(
            problems=(f"root account has access keys (from the {root.access_keys_source})",),
            measured="root keys present",
            hint="delete the root user's access keys; use roles or IAM users instead",
        )
    return Verdict(measured="no root keys")


def root_mfa(root: RootFacts) -> Verdict:
    """Root has MFA (CIS)."""
    if root.mfa_active is None:
        return _root_unknown(root, root.mfa_active_source, "whether root has MFA")
    if not root.mfa_active:
        return Verdict(
            problems=(f"root account has no MFA (from the {root.mfa_active_source})",),
            measured="root MFA off",
            hint="enable MFA on the root user",
        )
    return Verdict(measured="root MFA on")


def _root_unknown(root: RootFacts, source: str, what: str) -> Verdict:
    return Verdict(
        problems=(f"the {source} does not say {what} ({root.unknown_why})",),
        measured="unknown",
        verified=False,
    )


def password_policy(policy: PasswordPolicy | None, rule: PasswordPolicyRule) -> Verdict:
    """The account password policy exists and meets the minimum length and reuse prevention.
    A field the policy does not set counts as 0: AWS then enforces nothing for it."""
    if policy is None:
        return Verdict(
            problems=("no account password policy is set",),
            measured="no policy",
            hint="set one with `aws iam update-account-password-policy`",
        )
    length = policy.min_length or 0
    reuse = policy.reuse_prevention or 0
    measured = f"min length {length}, reuse prevention {reuse}"
    problems = []
    if rule.min_length is not None and length < rule.min_length:
        problems.append(f"minimum password length {length}, required at least {rule.min_length}")
    if rule.reuse_prevention is not None and reuse < rule.reuse_prevention:
        shown = str(reuse) if reuse else "off"
        problems.append(
            f"password reuse prevention {shown}, required at least {rule.reuse_prevention}"
        )
    return Verdict(problems=tuple(problems), measured=measured)


def audit_available(outcome: IamAudit | IamAuditError) -> Verdict:
    """The audit itself ran. When it could not, this is the one failing case that says why
    (every IAM rule is then left out: an audit with no data must never pass). When it ran,
    the credential report must list every user the account summary counts: a user it
    does not list is audited by no rule, so a shortfall verified nothing for those users.
    It happens when users were created after the report (AWS hands out a report up to
    4 hours old), or when the report was cut short; more users listed than counted (users
    deleted since) is fine."""
    if isinstance(outcome, IamAuditError):
        return Verdict(
            problems=(f"IAM audit unavailable: {outcome}",),
            measured="no data",
            detail="no IAM rule was evaluated in this run",
            verified=False,
        )
    listed = len(outcome.users)
    counted = outcome.summary.get("Users")
    measured = (
        f"account {outcome.account_id or '?'} · {_plural(listed, 'user')} · "
        f"report {outcome.report_time} · {outcome.api_calls} API calls"
    )
    problem = ""
    if outcome.user_names is not None:
        reported = {u.user for u in outcome.users}
        unlisted = sorted(set(outcome.user_names) - reported)
        if unlisted:
            # An endpoint's own text: each name quoted as any server text is, escaped.
            shown = ", ".join(excerpt(name, 100) for name in unlisted[:5]) + (  # cut-ok: names
                f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else ""
            )
            problem = (
                f"{_plural(len(unlisted), 'user')} of iam:ListUsers not in the credential "
                f"report, so judged by no rule: {shown}"
            )
    known = len({u.user for u in outcome.users} | set(outcome.user_names or ()))
    if not problem and isinstance(counted, int) and known < counted:
        # round 15: with ListUsers read, the summary's count was never compared: 1 user
        # listed and reported, 40 counted, and the audit passed
        lists = (
            "the credential report and iam:ListUsers name"
            if outcome.user_names is not None
            else "the credential report lists"
        )
        problem = (
            f"{lists} {_plural(known, 'user')}, the account summary "
            f"(iam:GetAccountSummary) counts {counted}: {counted - known} not audited"
        )
    if problem:
        return Verdict(
            problems=(problem,),
            measured=measured,
            detail=outcome.report_note,
            hint=(
                "users created after the report was generated are in the next one (AWS "
                "reuses a report for up to 4 h); a report cut short is read again next run"
            ),
            verified=False,  # users nobody audited: this must gate at any --fail-on
        )
    return Verdict(measured=measured, detail=outcome.report_note)
