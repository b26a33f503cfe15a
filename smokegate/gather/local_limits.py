"""The runner's own limits: open files and local ports, which smokegate can run out of.

Every probe opens a socket of its own (`wire.GuardedResponse` closes each connection after
its answer), and the TLS checks one each: with many targets and workers, a runner's
`ulimit -n` (1 024 on many CI images) ran out, and "Too many open files" was reported as a
finding against each target that was never contacted, below the gate under `--fail-on
critical`, which then passed (round 26c). The soft limit is raised as far as the hard one
allows before the probes start, and what still runs out is the runner's, not the target's:
the case verified nothing.
"""

from __future__ import annotations

import errno
import socket

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX: no limit to raise
    resource = None  # type: ignore[assignment]

# What each concurrent worker may hold at once (a probe's socket, a TLS check's, the
# tunnel of a proxy; a connect to a name of several addresses: two attempts and its epoll,
# `gather.connect`), and what the process holds besides (logs, reports, the pool's own).
_FILES_PER_WORKER = 5
_FILES_BESIDES = 256

# errno values that are the runner's own exhaustion, never the target's doing
_LOCAL_ERRNOS = frozenset(
    code
    for code in (
        errno.EMFILE,  # too many open files (the process's ulimit -n)
        errno.ENFILE,  # the system's file table
        errno.ENOBUFS,
        errno.ENOMEM,
        errno.EADDRNOTAVAIL,  # no local port left to connect from
    )
)


# Below this soft limit (after raising it to the hard one) a run of the checks is refused:
# pytest, its plugins, the reports and one probe at a time need about this many; a runner
# at `ulimit -n 24` looked `localhost` up with no file left, and Python said it as an
# OSError with a stale errno ("Device or resource busy") that reads as the target's (27c).
MIN_OPEN_FILES = 128
_FILES_KEPT_BACK = 64  # of the soft limit, for what the process holds besides the probes


def workers_within_limit(workers: int) -> int:
    """`workers`, or fewer so that each may hold its sockets under the open-file limit
    (raised first toward the hard one): a probe that could not open a socket was said to
    be the target's failure."""
    soft = raise_open_file_limit(workers)
    if soft <= 0:
        return workers
    return max(1, min(workers, (soft - _FILES_KEPT_BACK) // _FILES_PER_WORKER))


def open_file_limit_problem() -> str | None:
    """Why this runner cannot run the checks (its open-file limit is too low even at its
    hard limit), or None."""
    soft = raise_open_file_limit(0)
    if 0 < soft < MIN_OPEN_FILES:
        return (
            f"the runner's open-file limit is {soft} (ulimit -n), below the "
            f"{MIN_OPEN_FILES} a run of the checks needs: a probe that finds no file "
            "handle left cannot tell that from the target's failure; raise it (ulimit -n "
            "1024)"
        )
    return None


def raise_open_file_limit(workers: int) -> int:
    """Raise the soft open-file limit toward what `workers` concurrent probes need (never
    past the hard limit); the soft limit it is then, or 0 where there is none to read."""
    if resource is None:
        return 0
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 0
    wanted = max(workers * _FILES_PER_WORKER + _FILES_BESIDES, MIN_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    return int(soft)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps: requests and urllib3 nest the real cause in
    `__cause__`/`__context__`, in `.reason` and in `args` (SSLError(MaxRetryError(SSLError)))."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested.extend(current.args)
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return seen


def local_exhaustion(exc: BaseException) -> str | None:
    """The sentence for a failure that is the runner's own (no file or local port left),
    or None for any other: such a request was never sent, and verified nothing."""
    for current in exception_chain(exc):
        code = getattr(current, "errno", None)
        system_dns = isinstance(current, socket.gaierror) and code == socket.EAI_SYSTEM
        if code in _LOCAL_ERRNOS or system_dns:
            what = (
                "the runner's DNS lookup failed for want of a system resource"
                if system_dns
                else f"the runner ran out of {_RESOURCE.get(code or 0, 'a system resource')}"
            )
            return (
                f"{what}, so nothing was sent: raise `ulimit -n` (the open-file limit) or "
                "lower defaults.max_workers; the target was not checked"
            )
    return None


_RESOURCE = {
    errno.EMFILE: "open files (too many open files: its ulimit -n)",
    errno.ENFILE: "open files (the system's file table is full)",
    errno.ENOBUFS: "socket buffers",
    errno.ENOMEM: "memory for a socket",
    errno.EADDRNOTAVAIL: "local ports to connect from",
}
