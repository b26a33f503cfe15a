"""The credential report as typed rows, and the facts the IAM rules judge. Pure: no boto3.

AWS writes `N/A`, `no_information` or `not_supported` where a value does not exist; those
become None. Anything else that does not parse is an error, because silently reading an
unexpected value as "never" would make the rules pass on data that is not there.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ROOT_ROW = "<root_account>"

# Values AWS writes into the report's date and boolean columns when there is no value.
_NO_VALUE = frozenset({"", "N/A", "no_information", "not_supported"})
_REQUIRED_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
)


# The label of what concerns the whole organization (its listing), not one account.
ORGANIZATION = "organization"


class IamAuditError(Exception):
    """The audit could not be run; the message says why and what to do about it.

    `account` is the label of the account it concerns in a multi-account audit ("" for the
    single account of the current credentials, `ORGANIZATION` for the listing). Both are
    the exception's args, so it survives pickling (it travels to xdist workers).
    """

    def __init__(self, message: str, account: str = "") -> None:
        super().__init__(message, account)
        self.message = message
        self.account = account

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class AwsAccount:
    """One account of a multi-account audit: its label in case ids, its id, the role
    assumed in it."""

    label: str
    account_id: str
    role_arn: str


@dataclass(frozen=True)
class AccessKey:
    """One of the two access-key slots of a report row (`slot` is 1 or 2)."""

    slot: int
    active: bool
    last_rotated: datetime | None
    last_used: datetime | None

    @property
    def label(self) -> str:
        return f"key{self.slot}"


@dataclass(frozen=True)
class CredentialRow:
    """One user of the credential report, typed: None where AWS wrote N/A and friends."""

    user: str
    arn: str
    created: datetime | None
    password_enabled: bool
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    keys: tuple[AccessKey, AccessKey]

    @property
    def active_keys(self) -> tuple[AccessKey, ...]:
        return tuple(k for k in self.keys if k.active)

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_ROW


@dataclass(frozen=True)
class KeyRef:
    """An access key together with its user: the target of the per-key rules."""

    row: CredentialRow
    key: AccessKey

    @property
    def case_id(self) -> str:
        return f"{self.row.user}:{self.key.label}"


@dataclass(frozen=True)
class RootFacts:
    access_keys_present: bool
    mfa_active: bool
    source: str  # "credential report" or "account summary": shown in failure messages


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int | None
    reuse_prevention: int | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IamAudit:
    """Everything the IAM rules judge, gathered once per process."""

    account_id: str
    caller_arn: str
    gathered_at: datetime
    report_generated: datetime | None
    users: tuple[CredentialRow, ...]
    root: RootFacts
    password_policy: PasswordPolicy | None
    summary: dict[str, int]
    api_calls: int = 0
    account_label: str = ""  # the account in case ids; "" for a single-account audit
    role_arn: str = ""  # the role assumed in the account, if one was

    @property
    def report_time(self) -> str:
        return _show_time(self.report_generated) if self.report_generated else "time unknown"

    @property
    def report_note(self) -> str:
        """Why a just-fixed credential can still fail: AWS reuses a report for up to 4 hours."""
        when = f"generated {self.report_time}" if self.report_generated else "of unknown age"
        return (
            f"credential report {when}; AWS reuses a report for up to 4 h, "
            "so a fix made since then shows in a later report"
        )


def plausible_report_time(generated: datetime | None, rows: list[CredentialRow]) -> datetime | None:
    """The report's GeneratedTime, or None when it predates a user the report lists.

    A report is a snapshot: no real one lists a user created after it. A time shown as the
    report's age (to explain why a fix is not seen yet) must not be one that cannot be
    true; moto, for one, dates every report 2015-02-02.
    """
    created = [row.created for row in rows if row.created is not None]
    if generated is not None and created and generated < max(created):
        return None
    return generated


def parse_time(value: str, *, column: str, user: str) -> datetime | None:
    """A report timestamp, or None for AWS's no-value markers; anything else is an error,
    because silently reading garbage as 'never' would make rules pass on missing data."""
    text = value.strip()
    if text in _NO_VALUE:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IamAuditError(
            f"credential report: user {user}, column {column}: unexpected value {text!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_flag(value: str, *, column: str, user: str) -> bool:
    text = value.strip().lower()
    if text == "true":
        return True
    if text in ("false", "not_supported", "n/a", ""):
        return False
    raise IamAuditError(
        f"credential report: user {user}, column {column}: unexpected value {value!r}"
    )


def parse_credential_report(content: bytes | str) -> list[CredentialRow]:
    """The report's CSV as typed rows (the `<root_account>` row included when present)."""
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise IamAuditError(f"credential report is not UTF-8 CSV: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise IamAuditError(f"credential report: missing column(s) {', '.join(missing)}")
    rows = []
    for record in reader:
        user = record["user"]

        def when(column: str, user: str = user, record: dict[str, str] = record) -> datetime | None:
            return parse_time(record.get(column) or "", column=column, user=user)

        def flag(column: str, user: str = user, record: dict[str, str] = record) -> bool:
            return parse_flag(record.get(column) or "", column=column, user=user)

        keys = tuple(
            AccessKey(
                slot=n,
                active=flag(f"access_key_{n}_active"),
                last_rotated=when(f"access_key_{n}_last_rotated"),
                last_used=when(f"access_key_{n}_last_used_date"),
            )
            for n in (1, 2)
        )
        created = when("user_creation_time")
        if created is None and user != ROOT_ROW:
            raise IamAuditError(f"credential report: user {user} has no user_creation_time")
        rows.append(
            CredentialRow(
                user=user,
                arn=record["arn"],
                created=created,
                password_enabled=flag("password_enabled"),
                password_last_used=when("password_last_used"),
                password_last_changed=when("password_last_changed"),
                mfa_active=flag("mfa_active"),
                keys=(keys[0], keys[1]),
            )
        )
    return rows


def root_facts(rows: list[CredentialRow], summary: dict[str, int]) -> RootFacts:
    """From the `<root_account>` row when the report has one; from the account summary when
    it has not (moto's report omits it). A missing fact never reads as 'fine'."""
    root = next((r for r in rows if r.is_root), None)
    if root is not None:
        return RootFacts(
            access_keys_present=bool(root.active_keys),
            mfa_active=root.mfa_active,
            source="credential report",
        )
    try:
        keys, mfa = summary["AccountAccessKeysPresent"], summary["AccountMFAEnabled"]
    except KeyError as exc:
        raise IamAuditError(
            "neither the credential report (<root_account> row) nor the account summary "
            f"({exc.args[0]}) says whether root has access keys and MFA"
        ) from None
    return RootFacts(access_keys_present=bool(keys), mfa_active=bool(mfa), source="account summary")


def parse_password_policy(policy: dict[str, Any] | None) -> PasswordPolicy | None:
    if policy is None:
        return None
    return PasswordPolicy(
        min_length=policy.get("MinimumPasswordLength"),
        reuse_prevention=policy.get("PasswordReusePrevention"),
        raw=dict(policy),
    )


def _show_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
