"""Attack round 45a F4, end to end: an AWS endpoint names IAM users after pieces of the
session token and of AWS_SECRET_ACCESS_KEY it was sent. No output shows a piece, and each
such user is still judged: its failing case fails the gate under a masked name."""

from __future__ import annotations

import json

import boto3

from tests.support.e2e import run_checks
from tests.support.environment import aws_env
from tests.support.moto_helpers import moto_server

# test values of this file's own (no real credentials)
TOKEN = "IQoJb3JpZ2luX2VjE" + "Vb6Nm1Qw8Er3Ty7Ui2Op5As9Df4Gh0Jk" * 4
SECRET_KEY = "Hb7Jn2Mk5Lp8Qo1Wi4Eu6Ry9Tt3Gv0Fc5Xd8Zs1a"
PIECES = (TOKEN[24:64], TOKEN[30:66][::-1], SECRET_KEY[2:32])


def test_users_named_by_pieces_of_the_run_s_secrets_are_masked_and_still_fail(tmp_path):
    with moto_server() as endpoint:
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7TESTKEY",
            aws_secret_access_key="s" * 40,
        )
        for name in (*PIECES, "ops-alice"):
            iam.create_user(UserName=name)
            iam.create_login_profile(UserName=name, Password="Xy9!pass-word-long")
        env_vars = aws_env(endpoint, AWS_SESSION_TOKEN=TOKEN, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        run = run_checks(
            tmp_path,
            {"iam": {"region": "us-east-1", "timeout_s": 60, "max_user_age_days": None}},
            "-m",
            "iam",
            env_vars=env_vars,
        )
    outputs = {
        "console": run.output,
        "summary.md": (run.reports_dir / "summary.md").read_text(),
        "junit.xml": run.junit_path.read_text(),
        "report.html": run.html_path.read_text(),
    }
    for where, text in outputs.items():
        for piece in PIECES:
            assert piece[:12] not in text and piece[-12:] not in text, where
            assert json.dumps(piece)[1:13] not in text, where
    outcomes = run.outcomes()
    masked = {k: v for k, v in outcomes.items() if k.startswith("test_console_mfa[user-")}
    assert sorted(masked) == [
        f"test_console_mfa[user-{n} (name masked: holds a secret of this run)]" for n in (1, 2, 3)
    ]
    assert set(masked.values()) == {"failed"}  # a console password without MFA, each
    assert outcomes["test_console_mfa[ops-alice]"] == "failed"
    assert outcomes["test_iam_audit"] == "passed"  # every user counted, none twice
    assert run.returncode == 1
