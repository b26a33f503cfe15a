"""AWS credentials and the scrubber in real processes: a role assumed through moto's STS
during `pytest checks/ -m iam`, logged by botocore at DEBUG, leaves no STS-issued secret in
any output; and importing the IAM gatherer (which registers those secrets with the
scrubber) does not pull pytest in.

The masking rules themselves: tests/unit/test_redact_aws.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from smokegate.mock.iam import iam_backend, seed
from tests.support.e2e import run_checks
from tests.support.moto_helpers import IAM_WORLD, aws_env, moto_server, reset_moto


def test_iam_module_does_not_need_pytest():
    """iam.py registers STS credentials with the scrubber; redact must not pull pytest in."""
    import subprocess
    import sys

    code = "import sys, smokegate.gather.iam; print('pytest' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_sts_credentials_never_reach_any_output(tmp_path: Path):
    from moto.sts.models import sts_backends

    with moto_server() as endpoint:
        reset_moto(endpoint)
        seed(IAM_WORLD, iam_backend())
        log_file = tmp_path / "reports" / "run.log"
        env = {"iam": {"role_arn": "arn:aws:iam::123456789012:role/smokegate-audit"}}
        run = run_checks(
            tmp_path,
            env,
            "-m",
            "iam",
            f"--log-file={log_file}",
            "--log-file-level=DEBUG",
            f"--debug={tmp_path / 'pytest-debug.log'}",
            env_vars=aws_env(endpoint),
        )
        assumed = [
            role
            for backend in sts_backends.values()
            for b in backend.values()
            for role in b.assumed_roles
        ]
    assert "INTERNALERROR" not in run.output, run.output
    assert run.outcomes()["test_iam_audit"] == "passed", run.output
    assert len(assumed) == 1  # the run did assume the role: the canary is real
    secrets = [assumed[0].secret_access_key, assumed[0].session_token]
    log_text = log_file.read_text(encoding="utf-8")
    assert "AssumeRole" in log_text and "SecretAccessKey" in log_text  # botocore logged it
    files = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert log_file in files and len(files) > 1
    outputs = {str(p): p.read_text(encoding="utf-8", errors="replace") for p in files}
    outputs["stdout"], outputs["stderr"] = run.stdout, run.stderr
    outputs["--debug"] = (tmp_path / "pytest-debug.log").read_text(encoding="utf-8")
    secrets.append(aws_env(endpoint)["AWS_SECRET_ACCESS_KEY"])
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"an AWS secret leaked into {where}"
        # SigV4 signatures, as botocore logs them at DEBUG (`Signature=<hex>` in the
        # Authorization header, `Signature:\n<hex>` from botocore.auth), masked too
        assert not re.search(r"Signature[=:]\s*[0-9a-f]{64}", text), where
    assert "Signature" in log_text  # not vacuous: botocore logged its signatures
