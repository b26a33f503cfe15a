"""The runner's own limits (open files, local ports): raised before the probes start, and
said as the runner's when they still run out (round 26c)."""

from __future__ import annotations

import errno
import resource
import socket

import pytest
import requests
import urllib3

from smokegate.gather.local_limits import local_exhaustion, raise_open_file_limit


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (OSError(errno.EMFILE, "Too many open files"), "open files (too many open files"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "local ports to connect from"),
        (socket.gaierror(socket.EAI_SYSTEM, "System error"), "DNS lookup failed for want"),
    ],
)
def test_the_runner_s_own_exhaustion_is_said_as_such_however_wrapped(exc, said) -> None:
    wrapped = urllib3.exceptions.NewConnectionError(None, "x")  # type: ignore[arg-type]
    wrapped.__cause__ = exc
    retried = urllib3.exceptions.MaxRetryError(None, "/", wrapped)  # type: ignore[arg-type]
    outer = requests.exceptions.ConnectionError(retried)
    text = local_exhaustion(outer)
    assert text is not None and said in text and "nothing was sent" in text


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        TimeoutError("timed out"),
    ],
)
def test_the_target_s_failures_are_not_the_runner_s(exc) -> None:
    assert local_exhaustion(exc) is None


def test_the_soft_open_file_limit_is_raised_toward_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        got = raise_open_file_limit(128)
        wanted = 128 * 5 + 256  # five files a worker (gather.local_limits)
        expected = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        assert got == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
