"""The IAM gatherer's botocore settings, read from a boto3 session with fake credentials and
no endpoint: adaptive retries with ten attempts, unless the user set their own. No AWS call.

The gatherer against moto and a faulting proxy: tests/integration/test_gather_iam.py.
"""

from __future__ import annotations

import boto3

from smokegate.gather.iam import retry_config
from tests.support.environment import apply_env, aws_env


def test_retries_are_adaptive_with_ten_attempts_unless_the_user_set_their_own(monkeypatch):
    apply_env(monkeypatch, aws_env(None, AWS_MAX_ATTEMPTS="", AWS_RETRY_MODE=""))
    expected = {"mode": "adaptive", "total_max_attempts": 10}
    assert retry_config(boto3.Session()._session) == expected
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    assert retry_config(boto3.Session()._session) == {}
