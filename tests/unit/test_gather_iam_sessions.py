"""STS sessions of the accounts: assumed once, renewed by botocore before they expire (a run
that outlasts one session keeps working), every secret part known to the scrubber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from smokegate.gather.iam import _Caller, assumed_session
from smokegate.redact import registered_secrets

ROLE = "arn:aws:iam::111111111111:role/SmokegateAudit"


class FakeSts:
    """Answers assume_role with numbered credentials that expire after `lifetime`."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIAFAKE{n:012d}",
                "SecretAccessKey": f"secret-{n}-" + "s" * 30,
                "SessionToken": f"token-{n}-" + "t" * 30,
                "Expiration": datetime.now(UTC) + self.lifetime,
            },
            # as AWS answers: the account the credentials act in (the role's)
            "AssumedRoleUser": {
                "Arn": f"arn:aws:sts::{ROLE.split(':')[4]}:assumed-role/Audit/smokegate-audit"
            },
        }


def test_a_session_about_to_expire_is_assumed_again() -> None:
    sts = FakeSts(timedelta(minutes=5))  # inside botocore's 10-minute mandatory refresh
    caller = _Caller()
    session = assumed_session(sts, ROLE, "us-east-1", caller)
    frozen = session.get_credentials().get_frozen_credentials()
    assert len(sts.calls) == 2
    assert frozen.access_key == "ASIAFAKE000000000002"
    assert caller.calls == 2
    assert {c["RoleArn"] for c in sts.calls} == {ROLE}
    secrets = registered_secrets()
    assert "secret-2-" + "s" * 30 in secrets and "token-2-" + "t" * 30 in secrets


def test_a_fresh_session_is_assumed_once() -> None:
    sts = FakeSts(timedelta(hours=1))
    session = assumed_session(sts, ROLE, "us-east-1", _Caller())
    assert session.get_credentials().get_frozen_credentials().access_key.endswith("1")
    assert len(sts.calls) == 1
    assert sts.calls[0]["DurationSeconds"] == 3600
