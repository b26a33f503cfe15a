"""The IAM gatherer: one credential report, the password policy and the account summary.

Everything the IAM rules judge comes from a handful of account-wide calls, so the number
of AWS requests is the same for 10 users and for 10 000 (a per-user walk of list-keys,
last-used, MFA and login profile costs four or more round trips per user). The report is
parsed once into typed rows; the rules never see CSV text.

Failures that are not findings (no credentials, access denied, throttling that outlasts
botocore's retries, a report that never completes, an unreachable endpoint) raise
`IamAuditError` with one message a person can act on: the caller turns it into one failing
case, never into a crash or an empty audit that passes.

The typed rows and their parsing live in `smokegate.facts.iam` (pure, no boto3). No
pytest here, and no test-only branch: tests point boto3 at a moto server through the
standard `AWS_ENDPOINT_URL` setting, exactly as a user would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from smokegate.config import IamConfig
from smokegate.facts.iam import (
    IamAudit,
    IamAuditError,
    parse_credential_report,
    parse_password_policy,
    parse_time,
    plausible_report_time,
    root_facts,
)
from smokegate.redact import AWS_SECRET_VARS, register_secret, secret_problem

SESSION_NAME = "smokegate-audit"
POLICY_FILE = "policies/smokegate-iam-readonly.json"
DEFAULT_REGION = "us-east-1"  # IAM is global; STS needs some region to sign for
# Ten attempts in all (the first and nine retries), as docs/iam.md says: botocore's
# `max_attempts` key in a Config counts retries only, `total_max_attempts` every attempt
# (the meaning AWS_MAX_ATTEMPTS and ~/.aws/config's max_attempts have too).
RETRIES = {"mode": "adaptive", "total_max_attempts": 10}
REPORT_TIMEOUT_S = 120.0  # AWS usually finishes a report within seconds, large accounts ~1 min
REPORT_FIRST_DELAY_S = 0.25
REPORT_MAX_DELAY_S = 8.0

_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "UnrecognizedClientException"}
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceeded",
        "LimitExceededException",
    }
)
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


# ----------------------------------------------------------------------------- errors


def explain_client_error(permission: str, exc: ClientError) -> str:
    """One readable line for an AWS error answer, naming the permission that was exercised."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    said = error.get("Message") or str(exc)
    attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
    if code in _DENIED:
        return (
            f"access denied: {permission} is not allowed for this caller (AWS said: {said}). "
            f"Grant the read-only policy shipped in {POLICY_FILE}"
        )
    if code in _BAD_CREDENTIALS:
        return f"AWS rejected the credentials on {permission}: {code}: {said}"
    if code in _THROTTLED:
        return (
            f"AWS throttled {permission} ({code}) through {attempts} attempt(s) of botocore's "
            "retries; run again later or raise AWS_MAX_ATTEMPTS"
        )
    return f"{permission} failed: {code}: {said}"


class _Caller:
    """Calls AWS with one permission name per call and counts the calls made."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, permission: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
        self.calls += 1
        try:
            return operation(**kwargs)
        except NoCredentialsError:
            raise IamAuditError(
                "no AWS credentials found: boto3's standard chain (AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, SSO, instance or task role) "
                "gave none; set one, or iam.profile / iam.role_arn in the env file"
            ) from None
        except PartialCredentialsError as exc:
            raise IamAuditError(f"incomplete AWS credentials: {exc}") from None
        except _UNREACHABLE as exc:
            raise IamAuditError(f"cannot reach AWS for {permission}: {exc}") from None
        except BotoCoreError as exc:
            raise IamAuditError(f"{permission} failed: {exc}") from None


# ----------------------------------------------------------------------------- sessions


def retry_config(botocore_session: Any) -> dict[str, Any]:
    """Adaptive mode, 10 attempts: unless the user chose their own with the standard
    settings (AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or ~/.aws/config), which then win."""
    scoped = botocore_session.get_scoped_config()
    retries: dict[str, Any] = {}
    if not (os.environ.get("AWS_RETRY_MODE") or scoped.get("retry_mode")):
        retries["mode"] = RETRIES["mode"]
    if botocore_session.get_config_variable("max_attempts") is None:
        retries["total_max_attempts"] = RETRIES["total_max_attempts"]
    return retries


def client_config(session: boto3.Session) -> Config:
    return Config(
        retries=retry_config(session._session),  # boto3 exposes no public getter
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="smokegate",
    )


def open_session(settings: IamConfig, caller: _Caller) -> tuple[boto3.Session, str]:
    """The standard chain, `profile:`, then `role_arn:` assumed through STS; and the region
    to sign for (IAM is global, so any configured region will do; us-east-1 otherwise)."""
    try:
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except ProfileNotFound as exc:
        raise IamAuditError(f"iam.profile: {exc}") from None
    region = session.region_name or DEFAULT_REGION
    if settings.role_arn is None:
        return session, region
    sts = session.client("sts", region_name=region, config=client_config(session))
    try:
        answer = caller(
            "sts:AssumeRole",
            sts.assume_role,
            RoleArn=settings.role_arn,
            RoleSessionName=SESSION_NAME,
        )
    except ClientError as exc:
        raise IamAuditError(
            f"cannot assume {settings.role_arn}: {explain_client_error('sts:AssumeRole', exc)}. "
            "The caller needs sts:AssumeRole on the role and the role's trust policy must "
            "allow the caller"
        ) from None
    creds = answer["Credentials"]
    # Temporary credentials never live in the environment, where the scrubber looks: tell it.
    register_secret(creds["SecretAccessKey"])
    register_secret(creds["SessionToken"])
    assumed = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    return assumed, region


# ----------------------------------------------------------------------------- gathering


def _refuse_unmaskable_secrets() -> None:
    """An AWS secret in the environment too short to be masked (no real one is) is not
    used: botocore would sign with it and log it at DEBUG, where the scrubber could not
    hide it without garbling every report. The audit fails, saying which variable."""
    for var in AWS_SECRET_VARS:
        value = os.environ.get(var, "")
        problem = secret_problem(value) if value.strip() else None
        if problem:
            raise IamAuditError(f"{var} {problem}; real AWS credentials are longer")


def wait_for_report(
    iam: Any,
    caller: _Caller,
    *,
    timeout_s: float = REPORT_TIMEOUT_S,
    first_delay_s: float = REPORT_FIRST_DELAY_S,
    max_delay_s: float = REPORT_MAX_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ask for a report until AWS says COMPLETE, backing off, within a bound."""
    started = clock()
    delay = first_delay_s
    while True:
        try:
            answer = caller("iam:GenerateCredentialReport", iam.generate_credential_report)
            state = answer["State"]
        except ClientError as exc:
            # IAM answers `LimitExceeded` when reports are requested too often; botocore does
            # not retry that code (it is not in its throttling list), so back off here.
            if exc.response.get("Error", {}).get("Code") != "LimitExceeded":
                raise
            state = "LimitExceeded"
        if state == "COMPLETE":
            return
        waited = clock() - started
        if waited + delay > timeout_s:
            if state == "LimitExceeded":
                raise IamAuditError(
                    "AWS kept answering LimitExceeded to iam:GenerateCredentialReport for "
                    f"{waited:.0f} s (bound {timeout_s:.0f} s); run again later"
                )
            raise IamAuditError(
                f"the credential report was still {state} after {waited:.0f} s "
                f"(bound {timeout_s:.0f} s); AWS usually finishes within a minute, run again"
            )
        sleep(delay)
        delay = min(delay * 2, max_delay_s)


def _get_report(iam: Any, caller: _Caller, **wait: Any) -> dict[str, Any]:
    """The report; a report that vanished or is being regenerated is waited for once more."""
    for attempt in (1, 2):
        try:
            return caller("iam:GetCredentialReport", iam.get_credential_report)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            retriable = code in ("ReportInProgress", "ReportNotPresent", "ReportExpired")
            if not retriable or attempt == 2:
                raise
            wait_for_report(iam, caller, **wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _password_policy(iam: Any, caller: _Caller) -> dict[str, Any] | None:
    try:
        return caller("iam:GetAccountPasswordPolicy", iam.get_account_password_policy)[
            "PasswordPolicy"
        ]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None  # no policy set: a finding for the password-policy rule, not an error
        raise


def gather(
    settings: IamConfig,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    **wait: Any,
) -> IamAudit:
    """Gather the whole audit with a fixed number of calls, or raise `IamAuditError`."""
    _refuse_unmaskable_secrets()
    caller = _Caller()
    permission = "sts:GetCallerIdentity"
    try:
        session, region = open_session(settings, caller)
        config = client_config(session)
        sts = session.client("sts", region_name=region, config=config)
        iam = session.client("iam", region_name=region, config=config)
        identity = caller(permission, sts.get_caller_identity)
        permission = "iam:GenerateCredentialReport"
        wait_for_report(iam, caller, **wait)
        permission = "iam:GetCredentialReport"
        report = _get_report(iam, caller, **wait)
        permission = "iam:GetAccountPasswordPolicy"
        policy = _password_policy(iam, caller)
        permission = "iam:GetAccountSummary"
        summary = caller(permission, iam.get_account_summary)["SummaryMap"]
    except ClientError as exc:
        raise IamAuditError(explain_client_error(permission, exc)) from None
    rows = parse_credential_report(report["Content"])
    generated = report.get("GeneratedTime")
    if isinstance(generated, str):
        generated = parse_time(generated, column="GeneratedTime", user="-")
    return IamAudit(
        account_id=identity.get("Account", ""),
        caller_arn=identity.get("Arn", ""),
        gathered_at=now(),
        report_generated=plausible_report_time(generated, rows),
        users=tuple(r for r in rows if not r.is_root),
        root=root_facts(rows, summary),
        password_policy=parse_password_policy(policy),
        summary={k: int(v) for k, v in summary.items() if isinstance(v, int)},
        api_calls=caller.calls,
    )
