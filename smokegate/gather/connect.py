"""A TCP connect to a name under one deadline, however many addresses the name has.

`socket.create_connection` (and urllib3's copy of it) tries a name's addresses one after
another, each with the whole timeout: a name answering 60 addresses, 59 of them silent,
took 60 x timeout_s to connect (round 50b: 61 s for a 1 s check; with 500 records and the
default 5 s, some 40 minutes), and an HTTP probe's worker kept walking them after its case
was settled, holding the process's exit. Here the walk has one deadline, `timeout_s`, and
each address gets half of the time left while others remain (all of it for the last), as
curl shares its connect timeout between a name's addresses: a silent first node still
leaves the next one time to answer, and no answer of the DNS makes the walk longer.

A failure to connect keeps its kind (`ConnectionRefusedError`, ...), as the callers judge
it by kind; a walk that ran out of time is `ConnectTimedOut`, a timeout of the connect,
not of anything after it (round 50c: "during the TLS handshake" for a node that never took
a connection).
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

# The addresses of one name a connect tries at most; past them it fails with what the
# last one said. A pool's other nodes are read one by one (`gather.tls`), not here.
MAX_ADDRESSES_TRIED = 16

# errnos that mean this runner has no way to the address: nothing was sent to the target
NO_ROUTE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})


class ConnectTimedOut(TimeoutError):
    """No address of the name took a connection within the deadline."""


def connect_within(
    host: str,
    port: int,
    timeout_s: float | None,
    *,
    family: int = socket.AF_UNSPEC,
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[Any, ...]] | None = None,
    given_up: Callable[[], bool] | None = None,
) -> socket.socket:
    """A connected socket to host:port, its timeout set to `timeout_s`. `given_up`: asked
    between addresses, True when whoever waits for this connect no longer does (an HTTP
    probe cut at its deadline): the walk stops there. Raises `socket.gaierror` when the
    name does not resolve."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    found = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    tried = found[:MAX_ADDRESSES_TRIED]  # cut-ok: a list of addresses, not text
    if not tried:
        raise OSError("getaddrinfo returns an empty list")
    last: OSError | None = None
    for index, (af, kind, proto, _name, sockaddr) in enumerate(tried):
        if given_up is not None and given_up():
            break
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        share = left if left is None or index == len(tried) - 1 else left / 2
        sock = socket.socket(af, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(share)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.settimeout(timeout_s)
        return sock
    timed_out = deadline is not None and time.monotonic() >= deadline
    if last is None or timed_out or isinstance(last, TimeoutError):
        within = "" if timeout_s is None else f" within {timeout_s:g} s"
        raise ConnectTimedOut(f"no address took a connection{within}")
    raise last


def no_route(exc: BaseException | None) -> bool:
    """The runner has no route to the address (ENETUNREACH, EHOSTUNREACH): an IPv6-only name
    from an IPv4-only runner. No byte reached the target."""
    return isinstance(exc, OSError) and exc.errno in NO_ROUTE_ERRNOS
