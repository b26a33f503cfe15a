"""A multi-account audit: its threads never hold the process at exit (attack round 19b, F3:
a member account whose endpoint dripped failed at iam.timeout_s, then the interpreter joined
its ThreadPoolExecutor thread, stuck in the read, for as long as the endpoint dripped), and
an account is read as itself or not at all (F4)."""

from __future__ import annotations

import threading

from smokegate.gather.iam import on_daemon_threads


def test_a_task_stuck_past_the_deadline_is_none_and_on_a_daemon_thread():
    release = threading.Event()
    seen: list[threading.Thread] = []

    def stuck() -> str:
        seen.append(threading.current_thread())
        release.wait(30)
        return "late"

    try:
        results = on_daemon_threads(
            [lambda: "quick", stuck, lambda: "also"], workers=2, seconds=0.5
        )
        assert results[0] == "quick" and results[1] is None
        assert seen and all(thread.daemon for thread in seen)
    finally:
        release.set()


def test_a_task_not_started_by_the_deadline_never_starts():
    release = threading.Event()
    started: list[int] = []

    def task(number: int):
        def run() -> int:
            started.append(number)
            release.wait(30)
            return number

        return run

    try:
        results = on_daemon_threads([task(1), task(2)], workers=1, seconds=0.3)
        assert results == [None, None]
    finally:
        release.set()
    assert started == [1]  # the second never began: the worker found the run closed


def test_an_assume_role_answered_as_another_account_is_refused():
    """Round 19b, F4: an endpoint that answered AssumeRole of account 111111111111 with
    credentials of 222222222222 had that account's clean data pass for the one asked for."""
    from datetime import UTC, datetime, timedelta

    import pytest

    from smokegate.facts.iam import IamAuditError
    from smokegate.gather.iam import _Caller, assumed_session

    class Sts:
        def assume_role(self, **_: object) -> dict:
            return {
                "Credentials": {
                    "AccessKeyId": "ASIAEXAMPLE0000000001",
                    "SecretAccessKey": "r19b-secret-key-not-a-real-one-0001",
                    "SessionToken": "r19b-session-token-not-a-real-one-0001",
                    "Expiration": datetime.now(UTC) + timedelta(hours=1),
                },
                "AssumedRoleUser": {"Arn": "arn:aws:sts::222222222222:assumed-role/Audit/s"},
            }

    role = "arn:aws:iam::111111111111:role/Audit"
    with pytest.raises(IamAuditError, match="as account 222222222222, not 111111111111"):
        assumed_session(Sts(), role, "us-east-1", _Caller())
