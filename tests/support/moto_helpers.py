"""Real local AWS stand-ins for the IAM tests and the benchmark, all on 127.0.0.1.

- `moto_server()`: moto's `ThreadedMotoServer` on a free port, reset before use, seeded in
  this process through moto's backend (see smokegate.mock.iam.seed).
- `AwsProxy`: a small HTTP proxy in front of it that counts requests by API action, can add
  a fixed delay to each (a remote API's round trip) and can answer chosen actions with an
  AWS error document instead (AccessDenied, Throttling, a report stuck in STARTED). It is a
  real server speaking the AWS query protocol, so boto3 and botocore's retries run exactly
  as against AWS; nothing in boto3 is mocked.
- `aws_env()`, `apply_env()`: fake credentials and `AWS_ENDPOINT_URL`, isolated from the
  machine's ~/.aws (defined in tests/support/environment.py, re-exported here).
- `IAM_WORLD`: the account the end-to-end IAM tests seed (tests/e2e/test_iam.py holds the
  verdicts it must give; the STS canary in tests/e2e/test_redact_aws.py seeds it too).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smokegate.mock.iam import IamWorld, MockKey, MockPasswordPolicy, MockRoot, MockUser
from tests.support.environment import apply_env as apply_env
from tests.support.environment import aws_env as aws_env


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh ThreadedMotoServer on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    reset_moto(endpoint)
    try:
        yield endpoint
    finally:
        reset_moto(endpoint)
        server.stop()


def reset_moto(endpoint: str) -> None:
    """moto's own reset API: every backend back to empty."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def world_of(users: int, *, console_every: int = 3, key_every: int = 2) -> IamWorld:
    """A synthetic account of `users` users: every third with a console password (half of
    those with MFA), every second with an active key, a few old ones and stale keys."""
    people = []
    for i in range(users):
        console = i % console_every == 0
        keys = []
        if i % key_every == 0:
            keys.append(MockKey(age=timedelta(days=10 + i % 200), last_used=timedelta(days=i % 60)))
        people.append(
            MockUser(
                name=f"user{i:05d}",
                age=timedelta(days=30 + i % 500),
                console=console,
                password_last_used=timedelta(days=i % 50) if console else None,
                mfa=console and i % 2 == 0,
                access_keys=keys,
            )
        )
    return IamWorld(
        password_policy=MockPasswordPolicy(min_length=14, reuse_prevention=24), users=people
    )


_D = timedelta(days=1)
# The account of the end-to-end IAM runs: one user per finding, the rest clean.
IAM_WORLD = IamWorld(
    root=MockRoot(access_keys=False, mfa=True),
    password_policy=MockPasswordPolicy(min_length=14, reuse_prevention=24),
    users=[
        MockUser(
            name="alice",
            age=100 * _D,
            console=True,
            password_last_used=1 * _D,
            mfa=True,
            access_keys=[MockKey(age=20 * _D, last_used=1 * _D)],
        ),
        MockUser(name="old", age=500 * _D, console=True, password_last_used=2 * _D, mfa=True),
        MockUser(name="nomfa", age=30 * _D, console=True, password_last_used=2 * _D),
        MockUser(
            name="twokeys",
            age=50 * _D,
            access_keys=[
                MockKey(age=30 * _D, last_used=1 * _D),
                MockKey(age=5 * _D, last_used=1 * _D),
            ],
        ),
        MockUser(
            name="stale", age=300 * _D, access_keys=[MockKey(age=212 * _D, last_used=100 * _D)]
        ),
        MockUser(name="nocreds", age=10 * _D),
    ],
)


# ----------------------------------------------------------------------------- proxy


def error_xml(code: str, message: str) -> bytes:
    """An AWS query-protocol error document, as IAM and STS send them."""
    return (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()


_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")

STARTED_XML = (
    b'<GenerateCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    b"<GenerateCredentialReportResult><State>STARTED</State>"
    b"<Description>No report exists. Starting a new report generation task</Description>"
    b"</GenerateCredentialReportResult><ResponseMetadata><RequestId>1</RequestId>"
    b"</ResponseMetadata></GenerateCredentialReportResponse>"
)


class Fault:
    """Answer an action with (status, body) `times` times (None: always), then pass through;
    with `when`, only requests whose form has those values (e.g. one RoleArn)."""

    def __init__(
        self,
        status: int,
        body: bytes,
        times: int | None = None,
        when: dict[str, str] | None = None,
    ) -> None:
        self.status, self.body, self.remaining = status, body, times
        self.when = when or {}

    def take(self, form: dict[str, list[str]] | None = None) -> tuple[int, bytes] | None:
        if self.remaining == 0:
            return None
        if any((form or {}).get(k, [None])[0] != v for k, v in self.when.items()):
            return None
        if self.remaining is not None:
            self.remaining -= 1
        return self.status, self.body


class AwsProxy:
    """Counting, delaying, fault-injecting HTTP proxy on 127.0.0.1 in front of `upstream`."""

    def __init__(self, upstream: str | None, *, delay_s: float = 0.0) -> None:
        self.upstream = urlsplit(upstream) if upstream else None
        self.delay_s = delay_s
        self.actions: Counter[str] = Counter()
        self.arrivals: list[float] = []  # time.monotonic() of each request's arrival
        self.bodies: list[dict[str, list[str]]] = []
        self.faults: dict[str, Fault] = {}
        self.permissions: set[str] = set()  # "iam:GetCredentialReport", from the signature
        self._lock = threading.Lock()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        return sum(self.actions.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.actions.clear()
            self.bodies.clear()
            self.permissions.clear()

    def __enter__(self) -> AwsProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        assert self.upstream is not None, "no upstream: every action needs a fault"
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(
                self.upstream.hostname, self.upstream.port, timeout=60
            )
            self._local.conn = conn
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
        except (http.client.HTTPException, OSError):
            conn.close()
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
        return answer.status, answer.getheaders(), answer.read()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # no Nagle: headers and body go out at once, no 40 ms ACK wait
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                form = parse_qs(body.decode("utf-8", "replace"))
                # query protocol (IAM, STS): Action=...; JSON protocol (Organizations):
                # X-Amz-Target: AWSOrganizationsV20161128.ListAccounts
                target = (self.headers.get("X-Amz-Target") or "?").rsplit(".", 1)[-1]
                action = (form.get("Action") or [target])[0]
                scope = _SCOPE.search(self.headers.get("Authorization") or "")
                permission = f"{scope.group(1) if scope else '?'}:{action}"
                with proxy._lock:
                    proxy.arrivals.append(time.monotonic())
                    proxy.actions[action] += 1
                    proxy.permissions.add(permission)
                    proxy.bodies.append(form)
                    fault = proxy.faults.get(action)
                    injected = fault.take(form) if fault else None
                if proxy.delay_s:
                    time.sleep(proxy.delay_s)
                if injected is not None:
                    status, payload = injected
                    headers = [("Content-Type", "text/xml")]
                else:
                    skip = {"host", "connection", "keep-alive", "proxy-connection"}
                    forward = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                    status, headers, payload = proxy._forward(
                        self.command, self.path, forward, body
                    )
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler


def moto_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the moto server at `endpoint`, with moto's test keys: for seeding
    a world directly, not through a counting proxy."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_organization(endpoint: str, names: list[str], *, existing: bool = False) -> dict[str, str]:
    """An AWS Organization in the moto server at `endpoint` (its management account is moto's
    default, named "master") with one member account per name; name -> account id. Calls
    moto directly, not through a counting proxy. `existing`: add the accounts to the
    organization made before."""
    client = moto_client("organizations", endpoint)
    if not existing:
        client.create_organization(FeatureSet="ALL")
    ids = {}
    for name in names:
        answer = client.create_account(Email=f"{name}@example.com", AccountName=name)
        ids[name] = answer["CreateAccountStatus"]["AccountId"]
    return ids
