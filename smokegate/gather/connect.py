"""A TCP connect to a name under one deadline, however many addresses the name has.

`socket.create_connection` (and urllib3's copy of it) tries a name's addresses one after
another, each with the whole timeout: a name answering 60 addresses, 59 of them silent,
took 60 x timeout_s to connect (round 50b: 61 s for a 1 s check; with 500 records and the
default 5 s, some 40 minutes), and an HTTP probe's worker kept walking them after its case
was settled, holding the process's exit.

Here a connect is Happy Eyeballs (RFC 8305), as browsers and curl connect: the addresses
(at most 16) are tried in the lookup's order with the families interleaved, a new attempt
starting every 250 ms or as soon as one fails, the one before it left running (two at
once: the oldest gives way), the first to connect taken; all within `timeout_s`. A
silent first node leaves the next one its time (a share of the deadline given to each in
turn starved an IPv4-only runner's one usable address behind an IPv6 one that failed at
once: the review of stop 27), and no DNS answer makes a connect longer than `timeout_s`.

A failure keeps its kind (`ConnectionRefusedError`, ...), as callers judge it by kind: the
first address's own error, unless an attempt was still waiting at the deadline
(`ConnectTimedOut`, a timeout of the connect, not of anything after it: round 50c said
"during the TLS handshake" for a node that never took a connection).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from smokegate.gather.daemon import NotDoneInTime, on_daemon_thread

# The addresses of one name a connect tries at most. A pool's other nodes are each read
# on their own (`gather.tls`), not here.
MAX_ADDRESSES_TRIED = 16
# RFC 8305's "Connection Attempt Delay": how long an attempt runs alone before the next
# address is tried beside it
ATTEMPT_DELAY_S = 0.25
# attempts in flight at once: starting another drops the oldest, which had its share (two
# delays). Sixteen at once held 17 files a connect, and 80 probes of a name of silent
# addresses ran a runner at `ulimit -n 256` out of files (round 52b F3: "not checked").
MAX_IN_FLIGHT = 2
# ... but not before it had this long: a node whose first SYN was lost answers the second,
# which TCP sends after 1 s (round 53b F4: dropped at 500 ms, a node answering at 1 s
# failed its check as "no address took a connection")
MIN_ATTEMPT_S = 2.0
# how often a waiting connect asks whether its probe was given up
_GIVEN_UP_POLL_S = 0.1

# errnos that mean this runner has no way to the address: nothing was sent to the target
NO_ROUTE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})

_Info = tuple[Any, ...]  # one getaddrinfo entry: family, type, proto, canonname, sockaddr


class ConnectTimedOut(TimeoutError):
    """No address of the name took a connection within the deadline."""


class LookupTimedOut(socket.gaierror):
    """The name's DNS lookup gave no answer within the deadline."""


def resolve_within(host: str, port: int, family: int, timeout_s: float | None) -> list[_Info]:
    """`socket.getaddrinfo(host, port, family, SOCK_STREAM)`, given up after `timeout_s`:
    the resolver's own retries run for tens of seconds, which no check's timeout counted,
    and a TLS check of a name whose DNS server did not answer took 60 s with
    `timeout_s: 2`. The lookup runs on a daemon thread (getaddrinfo cannot be cancelled):
    one given up ends with the resolver, never holding the process's exit. An address
    literal needs no lookup and is answered here."""
    if timeout_s is None or _is_address(host):
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    try:
        return on_daemon_thread(
            lambda: socket.getaddrinfo(host, port, family, socket.SOCK_STREAM),
            timeout_s,
            "smokegate-dns",
        )
    except NotDoneInTime:
        raise LookupTimedOut(socket.EAI_AGAIN, f"no DNS answer within {timeout_s:g} s") from None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])  # cut-ok: a scope dropped, never shown
    except ValueError:
        return False
    return True


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
    while waiting, True when whoever waits for this connect no longer does (an HTTP probe
    cut at its deadline): the attempts end there. Raises `socket.gaierror` when the name
    does not resolve (`LookupTimedOut` when its lookup gives no answer in time)."""
    found = resolve_within(host.strip("[]"), port, family, timeout_s)
    # cut-ok: a list of addresses, not text
    infos = _interleaved(found[:MAX_ADDRESSES_TRIED])
    if not infos:
        raise OSError("getaddrinfo returns an empty list")
    if len(infos) == 1:  # the common case: nothing to stagger, no selector to build
        return _connect_one(infos[0], timeout_s, source_address, socket_options)
    attempts = _Attempts(infos, timeout_s, source_address, socket_options)
    try:
        connected = attempts.run(given_up)
    finally:
        attempts.close()
    connected.settimeout(timeout_s)
    return connected


def _connect_one(
    info: _Info,
    timeout_s: float | None,
    source_address: tuple[str, int] | None,
    socket_options: Sequence[tuple[Any, ...]] | None,
) -> socket.socket:
    af, kind, proto, _name, sockaddr = info
    sock = socket.socket(af, kind, proto)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.settimeout(timeout_s)
        if source_address:
            sock.bind(source_address)
        sock.connect(sockaddr)
    except TimeoutError:
        sock.close()
        raise _timed_out(timeout_s) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _interleaved(infos: list[_Info]) -> list[_Info]:
    """The addresses in the lookup's order, families alternating from the first's (RFC
    8305 §4): a runner without IPv6 reaches an IPv4 node after one IPv6 address, not
    after all of them."""
    first = [i for i in infos if i[0] == infos[0][0]] if infos else []
    other = [i for i in infos if i[0] != infos[0][0]]
    merged: list[_Info] = []
    for index in range(max(len(first), len(other))):
        merged += first[index : index + 1] + other[index : index + 1]  # cut-ok: addresses
    return merged


class _Attempts:
    """The connect attempts of one name, running side by side on non-blocking sockets."""

    def __init__(
        self,
        infos: list[_Info],
        timeout_s: float | None,
        source_address: tuple[str, int] | None,
        socket_options: Sequence[tuple[Any, ...]] | None,
    ) -> None:
        self.infos = infos
        self.started = time.monotonic()
        self.deadline = None if timeout_s is None else self.started + timeout_s
        self.timeout_s = timeout_s
        self.source_address = source_address
        self.socket_options = socket_options or ()
        self.selector = selectors.DefaultSelector()
        self.pending: dict[socket.socket, int] = {}  # socket -> index of its address
        self.begun: dict[socket.socket, float] = {}  # socket -> when its attempt started
        self.errors: dict[int, OSError] = {}

    def run(self, given_up: Callable[[], bool] | None) -> socket.socket:
        next_index, next_start = 0, self.started
        while True:
            now = time.monotonic()
            if (given_up is not None and given_up()) or (
                self.deadline is not None and now >= self.deadline
            ):
                break
            if (
                next_index < len(self.infos)
                and (now >= next_start or not self.pending)
                and self._room(now)
            ):
                connected = self._start(next_index)
                if connected is not None:
                    return connected
                next_index, next_start = next_index + 1, now + ATTEMPT_DELAY_S
                continue
            if not self.pending:
                break  # every address failed
            starts_next = next_index < len(self.infos)
            connected, failed = self._wait(now, self._next_try(next_start) if starts_next else None)
            if connected is not None:
                return connected
            if failed:
                next_start = time.monotonic()  # an attempt failed: the next starts now
        raise self._failure()

    def _room(self, now: float) -> bool:
        """Whether another attempt may start: one in flight fewer than the bound, or the
        oldest had MIN_ATTEMPT_S (it gives way then)."""
        if len(self.pending) < MAX_IN_FLIGHT:
            return True
        oldest = self._oldest()
        if now - self.begun[oldest] < MIN_ATTEMPT_S:
            return False
        self.errors[self.pending.pop(oldest)] = TimeoutError("no answer to the connect")
        self.selector.unregister(oldest)
        oldest.close()
        return True

    def _next_try(self, next_start: float) -> float:
        """When a new attempt may start next: its turn, or when the oldest may give way."""
        if len(self.pending) < MAX_IN_FLIGHT:
            return next_start
        return max(next_start, self.begun[self._oldest()] + MIN_ATTEMPT_S)

    def _oldest(self) -> socket.socket:
        """The attempt in flight that started first (addresses start in their order)."""
        return min(self.pending, key=self.pending.__getitem__)

    def _start(self, index: int) -> socket.socket | None:
        af, kind, proto, _name, sockaddr = self.infos[index]
        sock = socket.socket(af, kind, proto)
        try:
            for option in self.socket_options:
                sock.setsockopt(*option)
            if self.source_address:
                sock.bind(self.source_address)
            sock.setblocking(False)
            code = sock.connect_ex(sockaddr)
        except OSError as exc:
            sock.close()
            self.errors[index] = exc
            return None
        except BaseException:
            sock.close()
            raise
        if code == 0:
            return sock
        if code not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            sock.close()
            self.errors[index] = _error(code)
            return None
        self.pending[sock] = index
        self.begun[sock] = time.monotonic()
        self.selector.register(sock, selectors.EVENT_WRITE)
        return None

    def _wait(self, now: float, next_start: float | None) -> tuple[socket.socket | None, bool]:
        """(the socket that connected, or None; whether an attempt failed meanwhile)."""
        waits = [_GIVEN_UP_POLL_S]
        if self.deadline is not None:
            waits.append(self.deadline - now)
        if next_start is not None:
            waits.append(next_start - now)
        failed = False
        for key, _events in self.selector.select(max(0.0, min(waits))):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            index = self.pending.pop(sock)
            self.selector.unregister(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                return sock, failed
            sock.close()
            self.errors[index] = _error(code)
            failed = True
        return None, failed

    def _failure(self) -> OSError:
        """What the connect raises: a timeout when an attempt was still waiting (or none
        had an error); else the first address's own error, one this runner has a route to
        first (an IPv4-only runner's refused IPv4 node says more than its IPv6 one)."""
        timed_out = any(isinstance(e, TimeoutError) for e in self.errors.values())
        if self.pending or not self.errors or timed_out:
            return _timed_out(self.timeout_s)
        routed = [i for i in sorted(self.errors) if not no_route(self.errors[i])]
        return self.errors[routed[0] if routed else min(self.errors)]

    def close(self) -> None:
        for sock in list(self.pending):
            sock.close()
        self.pending.clear()
        self.selector.close()


def _timed_out(timeout_s: float | None) -> ConnectTimedOut:
    within = "" if timeout_s is None else f" within {timeout_s:g} s"
    return ConnectTimedOut(f"no address took a connection{within}")


def failure_reason(exc: BaseException, default: str = "") -> str:
    """An OSError's errno in words, lower-cased (`network is unreachable`), as the connect
    failures of both checks and of a proxy say it; `default` without one."""
    code = exc.errno if isinstance(exc, OSError) else None
    return os.strerror(code).lower() if code else default


def _error(code: int) -> OSError:
    """The OSError subclass Python raises for `code` (ConnectionRefusedError, ...)."""
    return OSError(code, os.strerror(code))


def no_route(exc: BaseException | None) -> bool:
    """The runner has no route to the address (ENETUNREACH, EHOSTUNREACH): an IPv6-only name
    from an IPv4-only runner. No byte reached the target."""
    return isinstance(exc, OSError) and exc.errno in NO_ROUTE_ERRNOS
