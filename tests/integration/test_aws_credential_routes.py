"""The IAM audit's credential chain reads bounded answers, and a `credential_process` helper
goes with the run (round 52b F1: a container endpoint or a helper answering without end grew
the run's memory until it died; F2: a helper the audit's deadline cut off was left running
after the gate exited). Local servers and helpers only; nothing reaches AWS."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smokegate.config import IamConfig
from smokegate.facts.iam import IamAuditError
from smokegate.gather import aws_credential_routes
from smokegate.gather.iam import base_session
from tests.support.connect_proxy import loopback_listener
from tests.support.environment import aws_env

NO_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No static keys: the chain looks further. Returns the AWS config file to write."""
    for name, value in aws_env(None).items():
        monkeypatch.setenv(name, value)
    for name in NO_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setattr(aws_credential_routes, "_exiting", threading.Event())
    return config


def _answer_without_end(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
            while not stop.is_set():
                conn.sendall(b"{" * 65536)
        except OSError:
            return


@pytest.fixture
def endless() -> Iterator[str]:
    """A loopback endpoint answering 200 with a body that never ends."""
    with loopback_listener(_answer_without_end, threaded=True) as port:
        yield f"http://127.0.0.1:{port}/creds"


def test_a_container_endpoint_answering_without_end_is_read_to_the_bound(
    chain: Path, endless: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endless)
    with pytest.raises(IamAuditError, match="answered more than 1024 KiB"):
        base_session(IamConfig())


def test_a_helper_printing_without_end_is_stopped(chain: Path) -> None:
    chain.write_text(
        f"[default]\nregion = us-east-1\ncredential_process = {_helper(chain, 'yes')}\n"
    )
    with pytest.raises(IamAuditError, match="printed more than 1024 KiB"):
        base_session(IamConfig())
    assert not aws_credential_routes._helpers


def test_a_helper_still_running_at_exit_is_stopped_with_what_it_started(chain: Path) -> None:
    started = chain.parent / "child.pid"
    script = f"sleep 600 & echo $! > {started}; wait"
    chain.write_text(
        f"[default]\nregion = us-east-1\ncredential_process = {_helper(chain, script)}\n"
    )
    # as the audit's thread does, which its deadline leaves behind
    threading.Thread(target=base_session, args=(IamConfig(),), daemon=True).start()
    while not started.exists() or not started.read_text().strip():
        time.sleep(0.05)
    child = int(started.read_text())
    aws_credential_routes._stop_helpers_left()  # as at the process's exit
    assert not _alive(child)
    assert not aws_credential_routes._helpers


@pytest.mark.parametrize(
    "variable", ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
)
def test_a_token_file_that_never_ends_is_not_read(
    chain: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Round 53b F2: `/dev/zero` as a token file took 2.6 GB and a MemoryError."""
    monkeypatch.setenv(variable, "/dev/zero")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/audit")
    with pytest.raises(IamAuditError, match=f"{variable} names /dev/zero, which is no regular"):
        base_session(IamConfig())


def test_a_source_profile_s_helper_is_bounded_too(chain: Path) -> None:
    """Round 53b F1: a role profile's `source_profile` gets providers of its own, built when
    the role is assumed; its `credential_process` read 2 GB. 3 MB here, past the bound."""
    helper = _helper(chain, "head -c 3000000 /dev/zero")
    chain.write_text(
        "[profile audit]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/a\n"
        f"source_profile = src\n[profile src]\ncredential_process = {helper}\n"
    )
    with pytest.raises(IamAuditError, match="printed more than 1024 KiB"):
        base_session(IamConfig(profile="audit"))


def _helper(config: Path, body: str) -> str:
    script = config.parent / "helper.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def _alive(pid: int) -> bool:
    for _ in range(100):  # a killed process is reaped by init a moment later
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split()[2] == "Z":
            return False
        time.sleep(0.05)
    return True


assert sys.platform.startswith("linux")  # process groups and /proc, as the CI runner has
