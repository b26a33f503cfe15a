"""AWS credentials and the scrubber in real processes: a role assumed through moto's STS
during `pytest checks/ -m iam`, logged by botocore at DEBUG, leaves no STS-issued secret in
any output; and importing the IAM gatherer (which registers those secrets with the
scrubber) does not pull pytest in.

The masking rules themselves: tests/unit/test_redact_aws.py.
"""

from __future__ import annotations

import base64
import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from smokegate.mock.iam import iam_backend, seed
from tests.support.e2e import run_checks
from tests.support.moto_helpers import IAM_WORLD, aws_env, error_xml, moto_server, reset_moto


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


# -------------------------------------------------- credentials botocore finds by itself


class _TokenEchoHandler(BaseHTTPRequestHandler):
    """STS as a compromised endpoint would answer: the caller's session token and signature
    quoted back in the error message, in the XML AWS uses."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        token = self.headers.get("X-Amz-Security-Token") or form.get("WebIdentityToken", [""])[0]
        body = error_xml(
            "InvalidClientTokenId",
            f"The security token included in the request is invalid: {token} "
            f"(as base64: {base64.b64encode(token.encode()).decode()})",
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _token_echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _profile_env(
    tmp_path: Path, endpoint: str, credentials: str, config: str = ""
) -> dict[str, str]:
    """The run's environment with no AWS secret in it: the credentials are a profile's."""
    shared, config_file = tmp_path / "aws-credentials", tmp_path / "aws-config"
    shared.write_text(credentials, encoding="utf-8")
    config_file.write_text(config, encoding="utf-8")
    env = aws_env(
        endpoint,
        AWS_MAX_ATTEMPTS="1",
        AWS_SHARED_CREDENTIALS_FILE=str(shared),
        AWS_CONFIG_FILE=str(config_file),
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env[name] = ""
    return {k: v for k, v in env.items() if v} | {"AWS_PROFILE": ""}


def _run_with_profile(tmp_path: Path, credentials: str, config: str = ""):
    """`pytest checks/ -m iam` with `iam.profile: audit` from `credentials` (and `config`),
    against STS answering as `_token_echo` does, botocore logging at DEBUG to a file."""
    with _token_echo() as endpoint:
        return run_checks(
            tmp_path,
            {"iam": {"profile": "audit", "timeout_s": 60}},
            "-m",
            "iam",
            f"--debug={tmp_path / 'pytest-debug.log'}",
            f"--log-file={tmp_path / 'reports' / 'debug.log'}",
            "--log-file-level=DEBUG",
            env_vars=_profile_env(tmp_path, endpoint, credentials, config),
        )


def _every_output(run, tmp_path: Path) -> dict[str, str]:
    files = [p for p in run.reports_dir.parent.rglob("*") if p.is_file()]
    outputs = {str(p): p.read_text(encoding="utf-8", errors="replace") for p in files}
    outputs["stdout"], outputs["stderr"] = run.stdout, run.stderr
    outputs["--debug"] = (tmp_path / "pytest-debug.log").read_text(encoding="utf-8")
    return outputs


# random-looking, as AWS writes them: credentials that hold words of smokegate's messages
# or of the run's facts (this test's own folder is `..._profiles_session_token_0`) are
# refused, not registered (rounds 26a, 27a)
PROFILE_SECRET = "pR0fQ7/Se9rZt+Ac4sKy0123456789abcdefXk9w"
PROFILE_TOKEN = "FwoGZXIvYXdzPr0fQ7Se5sT9kN" + "Q" * 40 + "Zm9yIGEgdGVzdA=="


def test_a_profiles_session_token_quoted_by_the_endpoint_is_masked(tmp_path: Path):
    """The session token and secret of `iam.profile:` never live in the environment, where the
    scrubber looks: registered when the session is built, they are masked wherever STS's
    answer quotes them (raw and as base64)."""
    credentials = (
        "[audit]\naws_access_key_id = AKIAPROFILEEXAMPLE01\n"
        f"aws_secret_access_key = {PROFILE_SECRET}\naws_session_token = {PROFILE_TOKEN}\n"
    )
    run = _run_with_profile(tmp_path, credentials)
    assert run.returncode == 1, run.output
    assert "InvalidClientTokenId" in run.output  # the endpoint's message reached the reports
    assert "token included in the request is invalid: ***" in run.output
    for where, text in _every_output(run, tmp_path).items():
        for secret in (PROFILE_TOKEN, PROFILE_SECRET, PROFILE_TOKEN[:24], PROFILE_TOKEN[-24:]):
            assert secret not in text, f"a profile's AWS secret leaked into {where}"
        assert base64.b64encode(PROFILE_TOKEN.encode()).decode()[:24] not in text, where


def test_a_session_token_written_over_two_lines_is_masked_in_the_header_error(tmp_path: Path):
    """A token pasted wrapped reads, in a credentials file, as one value with a line break;
    the HTTP client refuses it as a header value and quotes it, in its repr, in the error."""
    first, second = "FwoGZXIvYXdzWr4pP3dTk9F1rst0123", "And1tsS3c0ndQQQQQQQQ456789"
    credentials = (
        "[audit]\naws_access_key_id = AKIAPROFILEEXAMPLE01\n"
        f"aws_secret_access_key = {PROFILE_SECRET}\n"
        f"aws_session_token = {first}\n    {second}\n"
    )
    run = _run_with_profile(tmp_path, credentials)
    assert run.returncode == 1, run.output
    # refused before any request since round 37a (a found credential is judged whole); the
    # HTTP client's header error that quoted it is not reached
    assert "holds a blank or markup, which no AWS key or token does" in run.output
    for where, text in _every_output(run, tmp_path).items():
        for piece in (first, second):
            assert piece not in text, f"a line of a wrapped session token leaked into {where}"


SOURCE_TOKEN = "FwoGZXIvYXdzSourceProfileToken" + "R" * 40
WEB_IDENTITY = "eyJraWQiOiJ0In0.eyJzdWIiOiIxIn0.R27wIdTk9" + "W" * 30
_PROCESS = (
    "import json; print(json.dumps({'Version': 1, 'AccessKeyId': 'ASIAPROCESSEXAMPLE01', "
    f"'SecretAccessKey': '{PROFILE_SECRET}', 'SessionToken': '{SOURCE_TOKEN}'}}))"
)


@pytest.mark.parametrize(
    ("credentials", "config", "secret"),
    [
        (  # the role is assumed with another profile's keys and session token
            "[source]\naws_access_key_id = AKIAPROFILEEXAMPLE01\n"
            f"aws_secret_access_key = {PROFILE_SECRET}\naws_session_token = {SOURCE_TOKEN}\n",
            "[profile audit]\nrole_arn = arn:aws:iam::123456789012:role/audit\n"
            "source_profile = source\n",
            SOURCE_TOKEN,
        ),
        (  # ... whose credentials a credential_process prints
            "",
            "[profile audit]\nrole_arn = arn:aws:iam::123456789012:role/audit\n"
            "source_profile = source\n"
            f'[profile source]\ncredential_process = {sys.executable} -c "{_PROCESS}"\n',
            SOURCE_TOKEN,
        ),
        (  # the role is assumed with an OIDC token from a profile's file
            "",
            "[profile audit]\nrole_arn = arn:aws:iam::123456789012:role/audit\n"
            "web_identity_token_file = {token_file}\n",
            WEB_IDENTITY,
        ),
    ],
    ids=["source-profile", "credential-process", "web-identity-token-file"],
)
def test_the_credentials_botocore_resolves_a_role_with_are_masked(
    tmp_path: Path, credentials: str, config: str, secret: str
):
    """The secrets botocore signs or sends *to get* the session's credentials are registered
    before the call: when that call fails and STS quotes them back, every output masks them."""
    token_file = tmp_path / "oidc-token"
    token_file.write_text(WEB_IDENTITY + "\n", encoding="utf-8")
    run = _run_with_profile(tmp_path, credentials, config.replace("{token_file}", str(token_file)))
    assert run.returncode == 1, run.output
    assert "token included in the request is invalid: ***" in run.output, run.output
    outputs = _every_output(run, tmp_path)
    assert any("AssumeRole" in text for text in outputs.values())  # the call botocore made
    for where, text in outputs.items():
        assert secret not in text, f"a secret botocore resolved with leaked into {where}"
        assert secret[:20] not in text, where
