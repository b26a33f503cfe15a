"""`AWS_DEFAULTS_MODE=auto` asks no instance metadata service (round 51b F1: botocore's
`auto` asks it for the region as each client is made; the start-of-run endpoint notice made
its clients outside any deadline, and a metadata endpoint dripping its answer held the run
for ever). smokegate's clients take `standard` in its place. The metadata service here is a
local server counting what it is asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import boto3
import pytest

from smokegate.config import IamConfig
from smokegate.gather.aws_endpoints import audit_endpoints
from smokegate.gather.iam import aws_client, client_config
from tests.support.environment import aws_env


class _Metadata(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _answer(self) -> None:
        _Metadata.asked.append(f"{self.command} {self.path}")
        data = b"us-west-2"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = _answer


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    _Metadata.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = aws_env("http://127.0.0.1:9")
    env.pop("AWS_EC2_METADATA_DISABLED")
    env.pop("AWS_DEFAULT_REGION")
    env["AWS_DEFAULTS_MODE"] = "auto"
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{server.server_port}/"
    for name in ("AWS_REGION", "AWS_EXECUTION_ENV", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield _Metadata.asked
    server.shutdown()
    server.server_close()


def test_auto_defaults_mode_asks_no_metadata_service(metadata: list[str]) -> None:
    assert boto3.Session()._session.get_config_variable("defaults_mode") == "auto"
    audit_endpoints(IamConfig())
    session = boto3.Session(region_name="us-east-1")
    aws_client(session, "iam", "us-east-1", client_config(session))
    assert metadata == []
