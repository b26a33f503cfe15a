"""The IAM audit's credentials, read from wherever the standard chain finds them, bounded.

botocore reads a credential source's answer whole: the instance metadata service, the
container endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, a CI variable), the STS client an
assumed role or web identity makes, and a `credential_process` helper's output. A source
answering without end grew the run's memory by a gigabyte a second until it died
(`INTERNALERROR> MemoryError`), and a helper still running when the audit was cut off at
`iam.timeout_s` was left behind after the gate exited, one more on each run of a
self-hosted runner (round 52b F1, F2). The audit's own clients were bounded already
(`gather.iam.aws_client`); here the chain's routes are, on each session the audit opens:
an answer past MAX_CREDENTIAL_ANSWER_BYTES ends the read, and a helper still running when
the process exits is stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import signal
import stat
import subprocess
import threading
from typing import Any

from smokegate.facts.iam import IamAuditError
from smokegate.redact import excerpt

# No credential answer comes near this (STS's are ~1 KB, a helper prints ~500 bytes).
MAX_CREDENTIAL_ANSWER_BYTES = 1024 * 1024

_helpers: set[subprocess.Popen[bytes]] = set()
_helpers_lock = threading.Lock()
_exiting = threading.Event()


def bound_credential_routes(core: Any) -> None:
    """Bound every route the session's credential chain reads from (its providers, as
    botocore builds them for this session). A chain botocore cannot build is left as it
    is: the audit's first call meets the same error, and says it."""
    _refuse_unbounded_token_files(core)
    try:
        resolver = core.get_component("credential_provider")
    except Exception:
        return
    for provider in getattr(resolver, "providers", ()):
        _bound_provider(provider)


def _bound_provider(provider: Any) -> Any:
    for name in ("_role_fetcher", "_fetcher"):  # the metadata service, the container
        fetcher = getattr(provider, name, None)
        http = getattr(fetcher, "_session", None)
        if http is not None and not isinstance(http, _BoundedHttp):
            fetcher._session = _BoundedHttp(http, type(provider).__name__)
    creator = getattr(provider, "_client_creator", None)
    if creator is not None and not getattr(creator, "_smokegate_bounded", False):
        provider._client_creator = _bounded_creator(creator)
    if hasattr(provider, "_popen"):  # credential_process
        provider._popen = _bounded_popen
    # an assumed role's source profile gets providers of its own, built when the role is
    # assumed (round 53b F1: its credential_process and web identity were not bounded)
    builder = getattr(provider, "_profile_provider_builder", None)
    if builder is not None and not getattr(builder.providers, "_smokegate_bounded", False):
        built = builder.providers

        def providers(*args: Any, **kwargs: Any) -> list[Any]:
            return [_bound_provider(p) for p in built(*args, **kwargs)]

        providers._smokegate_bounded = True  # type: ignore[attr-defined]
        builder.providers = providers
    return provider


def _refuse_unbounded_token_files(core: Any) -> None:
    """A token file botocore reads whole (a web identity's, the container endpoint's
    authorization) must be a regular file of at most MAX_CREDENTIAL_ANSWER_BYTES: `/dev/zero`
    in either variable took 2.6 GB and a MemoryError (round 53b F2)."""
    named = [(v, os.environ.get(v, "")) for v in _TOKEN_FILE_VARIABLES]
    with contextlib.suppress(Exception):  # a profile botocore cannot read: its own error
        profile = core.get_scoped_config().get("web_identity_token_file", "")
        named.append(("web_identity_token_file of the profile", str(profile or "")))
    for name, path in named:
        if not path:
            continue
        try:
            found = os.stat(os.path.expanduser(path))
        except OSError:
            continue  # missing: botocore says so
        if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_CREDENTIAL_ANSWER_BYTES:
            raise IamAuditError(
                f"{name} names {excerpt(path, 200)}, which is no regular file of at most "
                f"{MAX_CREDENTIAL_ANSWER_BYTES // 1024} KiB: a token file is read whole, so "
                "it is not read"
            )


_TOKEN_FILE_VARIABLES = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")


class HeadFirstHttp:
    """botocore's HTTP session, an answer's head read first and its body by `read_body`,
    which bounds it: botocore would read it whole."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send(self, request: Any) -> Any:
        streaming = getattr(request, "stream_output", False)
        request.stream_output = True  # headers only: the body is read below
        try:
            response = self.inner.send(request)
        finally:
            request.stream_output = streaming
        if streaming:
            return response
        response._content = self.read_body(request, response)  # what AWSResponse reads
        return response

    def read_body(self, request: Any, response: Any) -> bytes:
        raise NotImplementedError


class _BoundedHttp(HeadFirstHttp):
    """Answers read up to MAX_CREDENTIAL_ANSWER_BYTES."""

    def __init__(self, inner: Any, source: str) -> None:
        super().__init__(inner)
        self.source = source

    def read_body(self, request: Any, response: Any) -> bytes:
        body = bytearray()
        for chunk in response.raw.stream(65536):
            body += chunk
            if len(body) > MAX_CREDENTIAL_ANSWER_BYTES:
                response.raw.close()
                raise IamAuditError(
                    f"the AWS credential source ({self.source}) answered more than "
                    f"{MAX_CREDENTIAL_ANSWER_BYTES // 1024} KiB, past any credential: not "
                    "read further"
                )
        return bytes(body)


def _bounded_creator(creator: Any) -> Any:
    """A client creator whose clients (an assumed role's STS, SSO's) read bounded answers."""

    def create(*args: Any, **kwargs: Any) -> Any:
        client = creator(*args, **kwargs)
        endpoint = getattr(client, "_endpoint", None)
        http = getattr(endpoint, "http_session", None)
        if endpoint is not None and http is not None:
            endpoint.http_session = _BoundedHttp(http, f"{client.meta.service_model.service_name}")
        return client

    create._smokegate_bounded = True  # type: ignore[attr-defined]
    return create


def _bounded_popen(*args: Any, **kwargs: Any) -> _BoundedProcess:
    # in a group of its own: a helper script's own children (`sleep`, `aws sso ...`) are
    # stopped with it, not left holding its pipes
    kwargs.setdefault("start_new_session", True)
    with _helpers_lock:  # started and recorded at once: none starts once the exit began
        if _exiting.is_set():
            raise IamAuditError("the run is ending: the AWS credential_process was not started")
        process: subprocess.Popen[bytes] = subprocess.Popen(*args, **kwargs)
        _helpers.add(process)
    return _BoundedProcess(process)


class _BoundedProcess:
    """A `credential_process` helper whose output is read up to the bound; stopped past it,
    and at the process's exit if still running."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def communicate(self, input: bytes | None = None, timeout: float | None = None) -> Any:
        read = {"stdout": bytearray(), "stderr": bytearray()}
        with selectors.DefaultSelector() as selector:
            for name in read:
                pipe = getattr(self._process, name)
                if pipe is not None:
                    selector.register(pipe, selectors.EVENT_READ, name)
            while selector.get_map():
                for key, _ in selector.select():
                    chunk = key.fileobj.read1(65536)  # type: ignore[union-attr]
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    read[key.data] += chunk
                    if len(read[key.data]) > MAX_CREDENTIAL_ANSWER_BYTES:
                        _stop(self._process)
                        raise IamAuditError(
                            "the AWS credential_process printed more than "
                            f"{MAX_CREDENTIAL_ANSWER_BYTES // 1024} KiB, past any credential: "
                            "stopped"
                        )
        self._process.wait()
        with _helpers_lock:
            _helpers.discard(self._process)
        return bytes(read["stdout"]), bytes(read["stderr"])


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)  # the helper and what it started
    with contextlib.suppress(OSError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with _helpers_lock:
        _helpers.discard(process)


@atexit.register
def _stop_helpers_left() -> None:
    """A helper the audit's deadline left running (its thread is a daemon) goes with the
    process, not after it."""
    with _helpers_lock:
        _exiting.set()  # a thread the deadline left behind retries the chain: not again
        left = list(_helpers)
    for process in left:
        if process.poll() is None:
            _stop(process)
