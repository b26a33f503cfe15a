"""Concurrent HTTP prober: every request of a run goes out at once, and none raises.

A health gate is only as fast as its slowest round trip when probes overlap, and
only as trustworthy as its worst error path: a probe that raises would turn one
dead endpoint into a crashed run. So each probe returns a `ProbeResult`, with the
failure described in words a person acts on.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import socket
import ssl
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field, replace
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri, select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    IncompleteRead,
    InvalidChunkLength,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import ProxyError as UrllibProxyError
from urllib3.poolmanager import ProxyManager
from urllib3.response import HTTPResponse
from urllib3.util.connection import allowed_gai_family
from urllib3.util.retry import Retry
from urllib3.util.url import Url, parse_url

from smokegate import linear_re
from smokegate.facts.http import Headers, ProbeResult, RequestNotSent, holds_secret, not_sent
from smokegate.gather.connect import LookupTimedOut, connect_within, failure_reason, no_route
from smokegate.gather.credentials import expired_jwt, forged_like
from smokegate.gather.decoding import compressed_stream_ended, watch_stream_end
from smokegate.gather.local_limits import exception_chain as _chain
from smokegate.gather.local_limits import local_exhaustion, workers_within_limit
from smokegate.gather.oauth2 import OAuth2Client, TokenOutcome, token_from
from smokegate.gather.tls_alerts import (
    NOT_TLS_REASONS,
    alert_meaning,
    not_tls,
    reason_of,
    ssl_error_text,
    through_proxy,
)
from smokegate.gather.trust import Trust, decide
from smokegate.gather.trust import bundle as trust_bundle
from smokegate.gather.tunnel import (
    TunnelError,
    connect_status_code,
    read_connect_answer,
    with_scheme,
)
from smokegate.gather.wire import (
    GuardedResponse,
    HeadStalled,
    HeadTooLarge,
    IncompleteHead,
    MalformedFraming,
    MalformedStatusLine,
)
from smokegate.http_spec import DEFAULT_MAX_REDIRECTS, written_host
from smokegate.redact import (
    add_target_host,
    excerpt,
    process_scrubber,
    register_issued_cookies,
    register_issued_credentials,
    register_secret,
    shown_endpoint,
    shown_url,
)

ERROR_CHARS = 300  # an exception's own text quoted in a message (it may hold server bytes)

_NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])
_CHUNK = 65536
# A redirect's own body is read (so its connection can be reused) up to this much, never
# more: requests' own redirect handling reads each one whole, whatever its size.
_REDIRECT_BODY_CAP = 64 * 1024
# What one process keeps of all its bodies and response headers together: each is held until
# its case is judged, so endpoints x max_body_kb of hostile bodies (gzip that inflates to the
# cap), or endpoints x `MAX_HEAD_BYTES` of headers, would otherwise be memory without a
# bound. Past it, a response is a failed probe, never a pass.
RUN_BODY_BUDGET = 512 * 1024 * 1024
# What a body may be encoded in and still be read, as urllib3 decodes it: gzip and deflate
# always, br with the brotli package (requirements.txt), zstd with zstandard.
DECODABLE_ENCODINGS = frozenset(("identity", *HTTPResponse.CONTENT_DECODERS))
USER_AGENT = "smokegate/0.1 (+health probe)"
# How long past its deadline a probe is cut off: first the socket's own timeout gets to end
# it (its message says which phase timed out), then the watchdog aborts it; the waiter gives
# that abort as long again to take effect before answering without the thread.
DEADLINE_GRACE_S = 0.5


@dataclass(frozen=True)
class ProbeRequest:
    """One request to make. `key` is how the caller finds its result again.

    Headers, query parameters and the body are not in the repr: they may carry credentials.
    `oauth2` is a client whose token the prober fetches (once per client) and sends as
    `Authorization: Bearer`; `strip_on_redirect` names the credential headers dropped when a
    redirect leaves the host. `verify` None means the prober's own trust (the env's
    top-level `ca_bundle`).
    """

    key: str
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 5.0
    follow_redirects: bool = True
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body: bytes | None = field(default=None, repr=False)
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    verify: bool | str | None = None
    oauth2: OAuth2Client | None = field(default=None, repr=False)
    strip_on_redirect: tuple[str, ...] = ()
    # send a token of the OAuth2 token's shape that nobody issued (test_rejects_invalid_token)
    forge_token: bool = False
    # the key of a request of the same batch that must have its answer first: an auth
    # entry's other cases wait for its token's, so a cache or a per-address session that
    # hands the token holder's answer to others shows whatever the timing (round 29c)
    after: str | None = None


class _Attempt:
    """One probe in flight: when it started, and the socket it is reading, so that a probe
    past its deadline can be cut off (a server dripping header bytes resets the socket's
    timeout with every byte; only closing the socket ends the read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: float | None = None  # None while queued behind other probes
        self._conn: Any = None
        self._sock: socket.socket | None = None
        self.over = False  # finished or aborted: track nothing more
        self.aborted = False
        self.hop = ""  # the redirect target being fetched (shown), "" at the first URL
        # how far the current connection got: a failure is the proxy's while its tunnel
        # opens, the TLS terminator's while the handshake runs (round 18c)
        self.stage = ""
        self.proxy = ""  # the proxy of the current connection, shown
        self.status: int | None = None  # the final answer's status, once its head was read

    def begin(self) -> float:
        self.started = time.monotonic()
        return self.started

    def track(self, conn: Any, sock: socket.socket | None) -> None:
        """`conn` is about to read a response for this probe on `sock`."""
        with self._lock:
            if self.aborted:
                _shut(sock)
                return
            if not self.over:
                self._conn, self._sock = conn, sock

    def release(self, conn: Any) -> None:
        """`conn` goes back to the pool, where another probe may take it: hands off."""
        with self._lock:
            if self._conn is conn:
                self._conn = self._sock = None

    def end(self) -> bool:
        """The probe returned; True when it had been aborted (its result is a timeout)."""
        with self._lock:
            self.over = True
            self._conn = self._sock = None
            return self.aborted

    def abort(self) -> None:
        with self._lock:
            if self.over:
                return
            self.over = self.aborted = True
            sock, self._conn, self._sock = self._sock, None, None
        _shut(sock)


def _shut(sock: socket.socket | None) -> None:
    """Shut the socket down under the reading thread, which then sees the connection end.
    The plain socket's shutdown, also for TLS: SSLSocket's own would drop its state under
    the reader."""
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed or never connected: nobody reads it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()  # the probe the current worker thread runs


def _running_attempt() -> _Attempt | None:
    """The probe this thread runs, if any."""
    return getattr(_current, "attempt", None)


class _TrackedConnection:
    """Tells the running probe which socket its response is read from; its responses are
    `GuardedResponse`s (a head cut by EOF is an error, a head past 256 KiB is refused)."""

    response_class = GuardedResponse

    def _new_conn(self) -> Any:
        """urllib3's own connect (its errors, its audit event), under one deadline over the
        name's addresses (`connect_within`), and given up once the probe is cut off."""
        attempt = _running_attempt()
        timeout = self.timeout  # type: ignore[attr-defined]
        if not isinstance(timeout, int | float):  # urllib3's "the socket default" sentinel
            timeout = socket.getdefaulttimeout()
        host = self._dns_host  # type: ignore[attr-defined]
        try:
            host.encode("idna")
        except UnicodeError:
            raise LocationParseError(f"'{host}', label empty or too long") from None
        try:
            sock = connect_within(
                host,
                self.port,  # type: ignore[attr-defined]
                timeout,
                family=allowed_gai_family(),
                source_address=self.source_address,  # type: ignore[attr-defined]
                socket_options=self.socket_options,  # type: ignore[attr-defined]
                given_up=(lambda: attempt.aborted) if attempt is not None else None,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connect timeout={self.timeout}") from exc  # type: ignore[attr-defined]
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
        sys.audit("http.client.connect", self, self.host, self.port)  # type: ignore[attr-defined]
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        attempt = _running_attempt()
        if attempt is not None:
            self._smokegate_attempt = attempt
            attempt.track(self, getattr(self, "sock", None))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _TrackedHTTPConnection(_TrackedConnection, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_TrackedConnection, HTTPSConnection):
    """Also says how far `connect` got: through a proxy, its CONNECT tunnel opens first,
    then the TLS handshake runs; a stall or a garbled answer in either is no answer of the
    target's application (round 18c: a proxy's garbage answer to CONNECT was "the server did
    not answer in HTTP (is this the right port?)", a stalled handshake "waiting for the
    response")."""

    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        attempt = _running_attempt()
        if attempt is not None:
            tunnel = self.proxy_is_tunneling
            attempt.stage = STAGE_PROXY_TUNNEL if tunnel else STAGE_TLS_HANDSHAKE
            attempt.proxy = _shown_proxy(self.proxy) if tunnel and self.proxy else ""
            # the deadline can cut this socket from now on: a proxy dripping its answer to
            # CONNECT (one header line a minute) kept the run alive past its verdict (19c)
            attempt.track(self, sock)
        return sock

    def _tunnel(self) -> None:
        """The CONNECT http.client sends, its answer read by the reader the TLS checks use
        (`tunnel.read_connect_answer`): two readers kept disagreeing on odd answers (rounds
        19c to 22c: lines, interim heads, codes), and a proxy's answer cut after its status
        line was blamed on the target's TLS. A code other than 200 fails as http.client
        fails it."""
        host = self._tunnel_host or ""
        if any(ch <= " " or ch == "\x7f" for ch in host):
            raise ValueError(f"Tunnel host can't contain control characters {host!r}")
        target = f"[{host}]:{self._tunnel_port}" if ":" in host else f"{host}:{self._tunnel_port}"
        # as the TLS checks send it, and http.client since Python 3.12: HTTP/1.1 with a Host
        # (round 23b: 3.11's HTTP/1.0 without one; a proxy refusing either set them apart)
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        lines += [
            f"{name}: {value}"
            for name, value in self._tunnel_headers.items()
            if name.lower() != "host"
        ]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        attempt = _running_attempt()
        shown = attempt.proxy if attempt is not None and attempt.proxy else ""
        where = f"the proxy {shown}" if shown else "the proxy"
        waited = self.sock.gettimeout() or PROXY_ANSWER_WAIT_S
        status = read_connect_answer(self.sock, where, target, time.monotonic() + waited)
        code = connect_status_code(status)
        if code != 200:
            self.close()
            words = status.split(None, 2)
            reason = words[2].strip() if len(words) > 2 else ""
            raise OSError(f"Tunnel connection failed: {code} {reason}")
        # (cut by the deadline, the tunnel was never opened: the stage stays the proxy's)
        if attempt is not None and not attempt.aborted:
            attempt.stage = STAGE_TLS_HANDSHAKE

    def connect(self) -> None:
        super().connect()
        attempt = _running_attempt()
        if attempt is not None:
            attempt.stage = ""


STAGE_PROXY_TUNNEL = "proxy tunnel"
PROXY_ANSWER_WAIT_S = 30.0  # a socket without a timeout: the probe's deadline cuts first
STAGE_TLS_HANDSHAKE = "TLS handshake"


class _ProbeRetry(Retry):
    """urllib3's retries, ending with their probe: once it is cut off at its deadline, no
    more attempts and no more backoff (round 51b F2: `retries: 10` against a refused port
    kept a worker sleeping its ~200 s of backoff after the verdict, and the process's exit
    waited for it)."""

    def increment(self, *args: Any, **kwargs: Any) -> Retry:
        attempt = _running_attempt()
        if attempt is not None and attempt.aborted:  # exhausted now: urllib3 raises
            return Retry.increment(self.new(total=0, connect=0), *args, **kwargs)
        return super().increment(*args, **kwargs)

    def sleep(self, response: Any = None) -> None:
        attempt = _running_attempt()
        if attempt is None:
            super().sleep(response)
            return
        end = time.monotonic() + self.get_backoff_time()
        while not attempt.aborted and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, _BACKOFF_POLL_S))


_BACKOFF_POLL_S = 0.05  # how often a retry's backoff asks whether its probe was cut off


class _ReleasingPool:
    """A connection back in the pool no longer belongs to the probe that used it."""

    def _put_conn(self, conn: Any) -> None:
        attempt = getattr(conn, "_smokegate_attempt", None)
        if attempt is not None:
            conn._smokegate_attempt = None
            attempt.release(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class _TrackedHTTPPool(_ReleasingPool, HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(_ReleasingPool, HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_TRUST_KEY = "smokegate-trust:"  # a `verify=` value naming a Trust, never a path


class _AbortableAdapter(HTTPAdapter):
    """requests' adapter with connections a probe past its deadline can cut off (through a
    SOCKS proxy the pools are urllib3's own: the probe still times out, its thread just
    lingers until the socket's own timeout), and with the run's trust decision: `verify=` names a
    `Trust` (`smokegate.gather.trust`), whose SSL context every HTTPS connection uses, the
    same context the TLS checks use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.trusts: dict[str, Trust] = {}
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TrackedHTTPPool,
            "https": _TrackedHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Through an HTTP proxy too, the pools are the tracked ones: their responses are
        `GuardedResponse`s (a SOCKS proxy's pools are its own, and stay so)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):
            manager.pool_classes_by_scheme = {
                "http": _TrackedHTTPPool,
                "https": _TrackedHTTPSPool,
            }
        return manager

    def verify_key(self, trust: Trust) -> str | bool:
        """What to pass as `verify=` for `trust`."""
        if not trust.verify:
            return False
        key = f"{_TRUST_KEY}{trust.cafile}|{trust.capath}"
        self.trusts.setdefault(key, trust)
        return key

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        trust = self.trusts.get(verify) if isinstance(verify, str) else None
        if trust is None:
            return super().build_connection_pool_key_attributes(request, verify, cert)
        host, pool = super().build_connection_pool_key_attributes(request, True, cert)
        if host.get("scheme") == "https":
            pool["ssl_context"] = trust.context()
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if isinstance(verify, str) and verify in self.trusts:
            super().cert_verify(conn, url, False, cert)  # no CA file: the context holds it
            if url.lower().startswith("https"):
                conn.cert_reqs = "CERT_REQUIRED"
            return
        super().cert_verify(conn, url, verify, cert)


class _Watchdog:
    """One daemon thread aborting probes past their deadline, whether or not anything is
    waiting for them yet: a stuck probe must not hold a worker the queued ones need.

    Deadlines sit in a heap and the thread is woken only by one earlier than the one it
    sleeps until: probes of a batch share a timeout, so each new deadline is the latest and
    a batch of 5 000 probes costs no wake-up and no scan per probe.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: dict[_Attempt, float] = {}
        self._heap: list[tuple[float, int, _Attempt]] = []  # forgotten entries drop lazily
        self._order = itertools.count()  # ties in the heap never compare two attempts
        self._wake_at: float | None = None  # None: asleep until notified
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, attempt: _Attempt, deadline: float) -> None:
        with self._cond:
            self._deadlines[attempt] = deadline
            heapq.heappush(self._heap, (deadline, next(self._order), attempt))
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="smokegate-probe-watchdog", daemon=True
                )
                self._thread.start()
            if self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()

    def forget(self, attempt: _Attempt) -> None:
        with self._cond:
            self._deadlines.pop(attempt, None)

    def close(self) -> None:
        """Stop watching, cutting off every probe still in flight: nobody waits for them."""
        with self._cond:
            self._closed = True
            running, self._deadlines, self._heap = list(self._deadlines), {}, []
            self._cond.notify()
        for attempt in running:
            attempt.abort()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._heap:
                    when, _, attempt = self._heap[0]
                    if self._deadlines.get(attempt) != when:  # forgotten: the probe ended
                        heapq.heappop(self._heap)
                    elif when <= now:
                        heapq.heappop(self._heap)
                        del self._deadlines[attempt]
                        attempt.abort()
                    else:
                        break
                self._wake_at = self._heap[0][0] if self._heap else None
                self._cond.wait(None if self._wake_at is None else max(self._wake_at - now, 0.01))


@dataclass
class PendingProbe:
    """A submitted probe: its future, and what is needed to give up on it in time."""

    request: ProbeRequest
    future: Future[ProbeResult]
    attempt: _Attempt = field(repr=False)


class Prober:
    """Sends batches of requests concurrently over one pooled session."""

    def __init__(
        self,
        *,
        max_workers: int = 64,
        retries: int = 0,
        max_body_bytes: int = 1024 * 1024,
        body_budget: int = RUN_BODY_BUDGET,
        verify: bool | str | Path = True,
        trust: Trust | None = None,
    ) -> None:
        # one socket a probe, under the runner's open-file limit: see gather.local_limits
        self.max_workers = workers_within_limit(max_workers)
        self.max_body_bytes = max_body_bytes
        self._body_budget = _ByteBudget(body_budget)
        self.retries = retries
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False  # no probe starts after close (round 30b)
        self._tokens: dict[tuple[str, ...], Future[TokenOutcome]] = {}
        self._tokens_lock = threading.Lock()
        self._watchdog = _Watchdog()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # No cookie jar shared between probes: a session cookie set for the token request
        # would otherwise make the concurrent anonymous request look authenticated.
        self.session.cookies.set_policy(_NO_COOKIES)
        # One trust decision with the TLS checks (`smokegate.gather.trust`): the env file's
        # ca_bundle, else the CA variables, else the system store. Passed on every request.
        if isinstance(trust, Trust):
            self.trust = trust
        elif verify is True:
            self.trust = decide()
        elif verify is False:
            self.trust = Trust(source="no verification", verify=False)
        else:
            self.trust = trust_bundle(verify)
        # requests re-reads the environment (proxies, netrc) on every request, about a fifth
        # of a probe's CPU. When it holds no proxy, skipping that changes nothing but the
        # cost. A netrc file never counts: see `_keep_own_credentials`.
        self.session.trust_env = _environment_matters()
        # Retries on connection errors only: a 5xx is a finding, not something to paper over.
        retry = _ProbeRetry(
            total=retries,
            connect=retries,
            read=0,
            status=0,
            other=0,
            redirect=None,
            backoff_factor=0.2,
            raise_on_status=False,
        )
        adapter = _AbortableAdapter(
            pool_connections=max_workers, pool_maxsize=max_workers, max_retries=retry
        )
        self.adapter = adapter
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        """Never waits for a probe still in flight: one stuck past its deadline is being cut
        off by the watchdog, and the run has its timeout result already."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._watchdog.close()
        self.session.close()

    def deadline_s(self, req: ProbeRequest) -> float:
        """The most one request may take in all: its timeout for each attempt the retries
        allow, plus their backoff. The socket timeout alone bounds each read, not the total."""
        backoff = sum(min(120.0, 0.2 * 2 ** (n - 1)) for n in range(2, self.retries + 1))
        return req.timeout_s * (self.retries + 1) + backoff

    def submit_all(
        self,
        requests_: Iterable[ProbeRequest],
        earlier: Mapping[str, PendingProbe] | None = None,
    ) -> dict[str, PendingProbe]:
        """Start every request now; each future resolves as soon as its own probe ends. A
        request that needs an OAuth2 token starts when its client's token is in (fetched
        once, by the first request that needs it); nothing else waits for a token."""
        batch = list(requests_)
        keys = {req.key for req in batch}
        pending: dict[str, PendingProbe] = {}
        # first what waits for nothing, then what waits for another request of the batch
        for req in sorted(batch, key=lambda r: r.after in keys):
            attempt = _Attempt()
            # the one it waits for, in this batch or an earlier one (round 31b: a case an
            # idle worker stole went out alone, before its entry's token request)
            first = None
            if req.after is not None:
                first = pending.get(req.after) or (earlier or {}).get(req.after)
            if first is not None:
                future = self._after_first(req, attempt, first.future)
            else:
                future = self._start(req, attempt)
            pending[req.key] = PendingProbe(req, future, attempt)
        return pending

    def _start(self, req: ProbeRequest, attempt: _Attempt) -> Future[ProbeResult]:
        if req.oauth2 is not None:
            return self._after_token(req, attempt)
        return self._executor().submit(self._run, req, attempt)

    def _after_first(
        self, req: ProbeRequest, attempt: _Attempt, first: Future[ProbeResult]
    ) -> Future[ProbeResult]:
        """A future for `req` that starts once `first` has its answer (whatever it is)."""
        outer, settle = _settling_future()
        first.add_done_callback(
            lambda _: _settle_with(req, settle, lambda: self._start(req, attempt))
        )
        return outer

    def _executor(self) -> ThreadPoolExecutor:
        """The pool; RuntimeError once closed: a request that waited for another (an auth
        entry's token) started on a new pool nobody closed, and a run stopped early by -x
        never exited while it dripped (round 30b)."""
        if self._closed:
            raise RuntimeError("the prober is closed")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="smokegate-probe"
            )
        return self._pool

    def token(self, client: OAuth2Client) -> Future[TokenOutcome]:
        """The client's token, fetched once per prober: the first caller starts the fetch on
        the pool, every later one shares its future."""
        with self._tokens_lock:
            future = self._tokens.get(client.cache_key)
            if future is None:
                headers, body = client.request_parts()
                fetch = ProbeRequest(
                    key=f"oauth2:{client.token_url}",
                    url=client.token_url,
                    method="POST",
                    headers=headers,
                    body=body,
                    timeout_s=client.timeout_s,
                    follow_redirects=False,
                )
                future = self._executor().submit(
                    lambda: token_from(client, self._run(fetch, _Attempt()))
                )
                self._tokens[client.cache_key] = future
            return future

    def _after_token(self, req: ProbeRequest, attempt: _Attempt) -> Future[ProbeResult]:
        """A future for `req` that starts once its token is in; with no token, it resolves
        at once to a "not sent" result carrying the token endpoint's status and error."""
        assert req.oauth2 is not None
        outer, settle = _settling_future()

        def start(token_future: Future[TokenOutcome]) -> None:
            try:
                send_with_token(token_future)
            except Exception as exc:  # a bug, or a token answer nobody foresaw: never a hang
                error = excerpt(f"OAuth2 token request failed: {exc!r}", ERROR_CHARS)
                settle(not_sent(req.key, req.url, req.method, error))

        def send_with_token(token_future: Future[TokenOutcome]) -> None:
            outcome = token_future.result()
            if outcome.token is None:
                settle(not_sent(req.key, req.url, req.method, outcome.error or "no token"))
                return
            if not req.forge_token:
                # a JWT the endpoint handed out already expired is judged as the env's own
                # expired token is: let in, the API does not check expiry (round 37c F4)
                expired = expired_jwt(outcome.token, time.time())
                send(outcome.token, {"credential_expired": expired} if expired else None)
                return
            # the invalid case asks the token endpoint with a client secret nobody issued
            # first: one that hands a token to anyone who knows the client id (client ids
            # sit in front ends and logs) passed every case (round 33c F3)
            assert req.oauth2 is not None
            real = outcome.token
            invented = replace(req.oauth2, client_secret=forged_like(req.oauth2.client_secret))
            register_secret(invented.client_secret)

            def after_invented(invented_future: Future[TokenOutcome]) -> None:
                try:
                    answer = invented_future.result()
                    if answer.token is not None:
                        send(answer.token, {"token_for_invented_secret": True})
                        return
                    # one it handed out but smokegate will not send fails the case; an
                    # answer that is no refusal (429, 5xx, a timeout) verifies nothing of
                    # the client secret (round 37a: both passed, as refusals)
                    said = answer.error or "no answer"
                    send(
                        forged_like(real),
                        {"invented_secret_handed_out": said}
                        if answer.handed_out
                        else {}
                        if answer.refused
                        else {"invented_secret_unanswered": said},
                    )
                except Exception as exc:  # as in `start`: never a hang
                    error = excerpt(f"OAuth2 token request failed: {exc!r}", ERROR_CHARS)
                    settle(not_sent(req.key, req.url, req.method, error))

            self.token(invented).add_done_callback(after_invented)

        def send(token: str, invented_secret: dict[str, Any] | None = None) -> None:
            headers = {**req.headers, "Authorization": f"Bearer {token}"}
            ready = replace(req, headers=headers, oauth2=None)

            def run() -> ProbeResult:
                result = self._run(ready, attempt)
                return replace(result, **invented_secret) if invented_secret else result

            _settle_with(req, settle, lambda: self._executor().submit(run))

        self.token(req.oauth2).add_done_callback(start)
        return outer

    def probe_all(self, requests_: Iterable[ProbeRequest]) -> dict[str, ProbeResult]:
        """Probe every request at once; the result map has one entry per key."""
        return {key: self.wait(pending) for key, pending in self.submit_all(requests_).items()}

    def wait(self, pending: PendingProbe) -> ProbeResult:
        """The probe's result, or a timeout result once it is past its deadline. The deadline
        counts from when the probe started, not from when it was queued."""
        req, future, attempt = pending.request, pending.future, pending.attempt
        limit = self.deadline_s(req)
        while True:
            started = attempt.started
            if started is None:
                remaining = limit + 2 * DEADLINE_GRACE_S
            else:
                remaining = started + limit + 2 * DEADLINE_GRACE_S - time.monotonic()
            try:
                return future.result(timeout=max(remaining, 0.0))
            except FutureTimeoutError:
                if started is None:
                    continue  # it was still queued: its clock starts when it does
            attempt.abort()  # the watchdog should have: make sure the thread lets go
            future.cancel()
            return self._cut_off(req, limit, attempt)

    def _run(self, req: ProbeRequest, attempt: _Attempt) -> ProbeResult:
        """`probe` on a worker thread, cut off by the watchdog at the request's deadline."""
        limit = self.deadline_s(req)
        _current.attempt = attempt
        self._watchdog.watch(attempt, attempt.begin() + limit + DEADLINE_GRACE_S)
        try:
            result = self.probe(req)
        finally:
            self._watchdog.forget(attempt)
            aborted = attempt.end()
            _current.attempt = None
        return self._cut_off(req, limit, attempt) if aborted else result

    def _cut_off(self, req: ProbeRequest, limit: float, attempt: _Attempt) -> ProbeResult:
        proxy = attempt.proxy if attempt.stage == STAGE_PROXY_TUNNEL else ""
        return self._timed_out(req, limit, attempt.hop, proxy=proxy, status=attempt.status)

    @staticmethod
    def _timed_out(
        req: ProbeRequest, limit: float, hop: str = "", proxy: str = "", status: int | None = None
    ) -> ProbeResult:
        """A probe cut off at its deadline; after a redirect, the hop it was on is named
        (round 14: a chain cut by the watchdog did not say where); in a proxy's CONNECT, the
        proxy; once the answer's head came, its status (round 25c: a whole body whose
        trailers never ended read "no response")."""
        error = f"no complete response within {limit:g} s (timeout)"
        if status is not None:
            error = (
                f"the status ({status}) and headers came, then the body did not end within "
                f"{limit:g} s (it dripped, or it or its trailers never ended)"
            )
        if proxy:
            host, port = _host_port(req.url)
            error = (
                f"the proxy {proxy} did not open its tunnel to {host}:{port} within {limit:g} s "
                "(its answer to CONNECT dripped, stalled or did not end), so the request "
                "never reached it"
            )
        return ProbeResult(
            key=req.key,
            url=req.url,
            method=req.method,
            status=status,
            latency_ms=round(limit * 1000, 1),
            error=f"after redirect to {hop}: {error}" if hop else error,
        )

    def probe(self, req: ProbeRequest) -> ProbeResult:
        """Send `req`, following redirects one hop at a time (so a failure names the URL it
        happened at, a loop is told from a long chain, and each redirect body is capped)."""
        result = ProbeResult(key=req.key, url=req.url, method=req.method)
        start = time.perf_counter()
        trust = self._trust_for(req)
        if trust.error and req.url.lower().startswith("https:"):
            result.error = f"TLS trust: {trust.error}"
            result.sent = False
            return result
        verify = self.adapter.verify_key(trust)
        hops = 0
        settings: dict[str, Any] = {}
        try:
            prepared = self.session.prepare_request(
                requests.Request(
                    req.method,
                    req.url,
                    headers=dict(req.headers),
                    params=list(req.params) or None,
                    data=req.body,
                    auth=_keep_own_credentials,
                )
            )
            settings = self.session.merge_environment_settings(prepared.url, {}, True, verify, None)
            visited = {(prepared.method, prepared.url)}
            while True:
                response = self._send(prepared, req, settings)
                if not (req.follow_redirects and response.is_redirect):
                    break
                with contextlib.suppress(Exception):  # a hop's session, known by value
                    register_issued_cookies(_set_cookies(response))
                following = self._next_hop(prepared, response, req, settings)
                drained = self._drain(response, start + req.timeout_s)
                response.close()
                stop = _redirect_stop(prepared, following, req, hops, drained, visited, trust)
                if stop is not None:
                    result.latency_ms = _ms_since(start)
                    result.error, unverified = stop
                    result.sent = not unverified
                    result.redirects = hops + 1 if unverified else hops
                    return result
                visited.add((following.method, following.url))
                if (
                    not result.plain_http_hop
                    and req.url.lower().startswith("https:")
                    and (following.url or "").lower().startswith("http:")
                ):
                    result.plain_http_hop = shown_url(following.url or "")
                prepared = following
                hops += 1
                attempt = _running_attempt()
                if attempt is not None:
                    attempt.hop = shown_url(prepared.url or "")
        except Exception as exc:  # a probe never raises: every failure is a result
            result.latency_ms = _ms_since(start)
            where = prepared.url if hops else req.url
            attempt = _running_attempt()
            stage = (attempt.stage, attempt.proxy) if attempt is not None else ("", "")
            if not stage[1]:  # an http:// request sent whole to a proxy: it answered (22c)
                stage = (stage[0], _forward_proxy(where or "", settings.get("proxies") or {}))
            local = local_exhaustion(exc)  # the runner's own limits: never the target's
            error = local or _through_proxy(
                describe_error(exc, req, url=where, trust=trust, stage=stage), stage, where or ""
            )
            result.error = f"after redirect to {shown_url(where or '')}: {error}" if hops else error
            # A header requests refuses to build fails before a byte is sent: not the target's.
            unsent = (
                local is not None
                or isinstance(exc, RequestNotSent)
                or (hops == 0 and isinstance(exc, requests.exceptions.InvalidHeader))
            )
            result.sent = not unsent
            result.redirects = hops
            return result
        result.forward_proxy = _forward_proxy(prepared.url or "", settings.get("proxies") or {})
        own = _proxy_error_mark(response.headers) if result.forward_proxy else ""
        if result.forward_proxy and (response.status_code in _PROXY_OWN_STATUSES or own):
            response.close()
            result.latency_ms = _ms_since(start)
            result.sent = False  # the proxy answered for itself: the target was never asked
            result.redirects = hops
            result.error = _forward_proxy_refusal(
                result.forward_proxy, prepared.url or "", response.status_code, own
            )
            return result
        try:
            result.status = response.status_code
            answering = _running_attempt()
            if answering is not None:  # a cut-off past this point says the head came
                answering.status = response.status_code
            if not self._body_budget.take(_head_size(response.headers)):
                result.latency_ms = _ms_since(start)
                result.error = self._body_budget.spent_message("headers")
                return result
            # each field as sent: a header browsers read once is judged by its first field
            result.headers = Headers(
                (name, as_browsers_read(value)) for name, value in response.raw.headers.items()
            )
            result.redirects = hops
            if hops:
                result.final_url = response.url
            if response.status_code < 200:
                # 100, 102 and 103 heads are skipped as they are read (`GuardedResponse`): a
                # 1xx here is a 101, or a head the connection ended after. It is no answer.
                # Not read, so the connection is closed below instead of going back to the
                # pool with the server's next bytes in it (they would answer another
                # target's request).
                result.latency_ms = _ms_since(start)
                result.error = (
                    f"the server sent an informational {response.status_code} status and no "
                    "final response (a 1xx is never the answer)"
                )
                return result
            result.body, result.truncated, body_error = self._read_body(response, req, start)
            result.latency_ms = _ms_since(start)
            with contextlib.suppress(Exception):  # a server's credentials, known by value
                register_issued_credentials(result.text)
                register_issued_cookies(_set_cookies(response))
            if body_error:
                result.error = body_error
            else:
                result.error = _undecodable(result.headers)
        finally:
            response.close()
        return result

    def _trust_for(self, req: ProbeRequest) -> Trust:
        """The request's own `ca_bundle` (`req.verify` a path), else the prober's trust."""
        if req.verify is None or req.verify is True:
            return self.trust
        if req.verify is False:
            return Trust(source="no verification", verify=False)
        return trust_bundle(req.verify)

    def _send(
        self, prepared: requests.PreparedRequest, req: ProbeRequest, settings: dict[str, Any]
    ) -> requests.Response:
        """One request, its body left unread. Through the adapter, not `Session.send`: even
        with `allow_redirects=False`, `Session.send` reads a redirect's whole body
        (`resolve_redirects(..., yield_requests=True)` calls `.content` to fill `r.next`),
        decoded: a gzip bomb or a chunked body that never ends, in memory, before any cap
        or deadline of ours could apply. Redirects are followed here, one hop at a time."""
        adapter = self.session.get_adapter(prepared.url or "")
        return adapter.send(
            prepared,
            stream=True,
            timeout=req.timeout_s,
            verify=settings.get("verify", True),
            cert=settings.get("cert"),
            proxies=settings.get("proxies") or {},
        )

    def _next_hop(
        self,
        prepared: requests.PreparedRequest,
        response: requests.Response,
        req: ProbeRequest,
        settings: dict[str, Any],
    ) -> requests.PreparedRequest:
        """The request a redirect asks for, as requests builds it (RFC 9110 method rules, a
        relative Location, Authorization dropped when the host changes), and the request's
        other credential headers dropped with it."""
        session = self.session
        location = session.get_redirect_target(response) or ""
        if location.startswith("//"):
            location = f"{urlsplit(prepared.url or '').scheme}:{location}"
        parsed = urlsplit(location)
        target = (
            requote_uri(location)
            if parsed.netloc
            else urljoin(response.url or prepared.url or "", requote_uri(location))
        )
        _note_host_sent(target)
        following = prepared.copy()
        following.url = target
        session.rebuild_method(following, response)
        if response.status_code not in (307, 308):
            for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                following.headers.pop(name, None)
            following.body = None
        following.headers.pop("Cookie", None)
        settings["proxies"] = session.rebuild_proxies(following, settings.get("proxies"))
        if session.should_strip_auth(prepared.url or "", target):
            for name in ("Authorization", *req.strip_on_redirect):
                following.headers.pop(name, None)
        # not `session.rebuild_auth`: it would put a netrc file's credentials on the request
        return following

    def _drain(self, response: requests.Response, deadline: float) -> bool:
        """Read a redirect's body, up to a small cap, so its connection can be reused; False
        when the deadline passed while its body was still coming (round 14: the next hop's
        body was then said to be the one that stalled). An empty body is never late (round
        15: a 302 with Content-Length 0 whose head came late was said to drip)."""
        try:
            size = 0
            while size < _REDIRECT_BODY_CAP:
                chunk = response.raw.read1(_CHUNK, decode_content=False)
                if not chunk:
                    return True
                size += len(chunk)
                if time.perf_counter() >= deadline:
                    return False
        except Exception as exc:  # a body cut by a reset or a close: the redirect stands
            # round 26c: a body that stalled past the read timeout was followed anyway,
            # and the final answer was blamed for the time the redirect had taken
            return not any(isinstance(e, TimeoutError | ReadTimeoutError) for e in _chain(exc))
        return True

    def _read_body(
        self, response: requests.Response, req: ProbeRequest, start: float
    ) -> tuple[bytes, bool, str | None]:
        """Read up to the cap, within the request's overall deadline and the run's body
        budget, into one buffer: at most the buffer and its bytes are held at once (chunks
        joined, then cut, held a body cut at the cap three times over).

        `read1` returns whatever has arrived (up to one chunk) instead of waiting for a
        full chunk, so a body that drips a byte at a time cannot outlast the deadline.
        """
        body = bytearray()
        deadline = start + req.timeout_s
        cap = self.max_body_bytes
        try:
            watch_stream_end(response.raw)
            while True:
                if time.perf_counter() > deadline:
                    return (
                        bytes(body),
                        True,
                        f"body not complete after {req.timeout_s:g} s (timeout)",
                    )
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    if not compressed_stream_ended(response.raw):
                        return bytes(body), True, _cut_stream_message(response.headers)
                    break
                keep = chunk[: cap + 1 - len(body)]  # cut-ok: the body cap (one byte past: cut)
                if not self._body_budget.take(len(keep)):
                    return bytes(body), True, self._body_budget.spent_message()
                body += keep
                if len(body) > cap:
                    del body[cap:]  # cut-ok: the body cap
                    return bytes(body), True, None
        except Exception as exc:
            encoding = excerpt(response.headers.get("Content-Encoding", ""), 100)
            if any(isinstance(e, DecodeError) for e in _chain(exc)):
                error = f"the body could not be decoded from Content-Encoding '{encoding}'"
                return bytes(body), True, f"{error}: {_first_line(exc)}"
            framing = _framing_error(_chain(exc), response)
            return bytes(body), True, framing or describe_error(exc, req, while_reading=True)
        return bytes(body), False, None


class _ByteBudget:
    """A count of bytes the prober's threads draw from; never given back (a kept body
    stays until its case is judged)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._left = total
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if size > self._left:
                self._left = 0
                return False
            self._left -= size
            return True

    def spent_message(self, what: str = "body") -> str:
        return (
            f"{what} not kept: this run's response headers and bodies reached "
            f"{self.total // (1024 * 1024)} MiB in all (what one smokegate process keeps "
            "until the cases are judged); lower defaults.max_body_kb, or split the env "
            "(--splits, -n)"
        )


def _head_size(headers: Mapping[str, str]) -> int:
    """What a response's headers take, as counted against the run's budget: each name and
    value (at most `gather.wire.MAX_HEAD_BYTES` in all: the read stops past it)."""
    return sum(len(name) + len(value) for name, value in headers.items())


def _redirect_stop(
    prepared: requests.PreparedRequest,
    following: requests.PreparedRequest,
    req: ProbeRequest,
    hops: int,
    drained: bool,
    visited: set[tuple[str | None, str | None]],
    trust: Trust,
) -> tuple[str, bool] | None:
    """Why a redirect is not followed, and whether that leaves the target unverified (not
    sent to); None to follow it."""
    here, there = shown_url(prepared.url or ""), shown_url(following.url or "")
    if not drained:
        return (
            f"the redirect from {here} to {there} did not finish sending its own body within "
            f"{req.timeout_s:g} s (timeout)"
        ), False
    if hops >= req.max_redirects:
        return (
            f"more than {req.max_redirects} redirects: the last went from {here} to {there} "
            f"(max_redirects: {req.max_redirects})"
        ), False
    if (following.method, following.url) in visited:
        return (
            f"redirect loop: {here} redirects back to {there}, already visited "
            f"(after {hops + 1} redirect{'' if hops == 0 else 's'})"
        ), False
    if trust.error and (following.url or "").lower().startswith("https:"):
        # the trust that would verify this hop cannot be decided: as for an https:// URL,
        # nothing of the target is verified (round 14: it was an ordinary failure,
        # "[Errno 2]", and passed below the gate)
        return f"after redirect to {there}: TLS trust: {trust.error}", True
    return None


def _cut_stream_message(headers: Mapping[str, str]) -> str:
    codings = excerpt(headers.get("Content-Encoding", ""), 100)
    return (
        f"the body is incomplete: its compressed ({codings}) stream was cut before its end, "
        "or holds bytes that are none of it, though the response's framing was complete, so "
        "only part of the body was read"
    )


def _framing_error(chain: list[BaseException], response: requests.Response) -> str:
    """What was wrong with how the body was framed, when that is what ended it: a body
    shorter than its Content-Length, a chunked body without its last chunk or with a size
    line that is no size. Said as such, not as a reset: the server (or what is in front of
    it) sent a broken response, and the connection was not cut under it."""
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
    size_line = _chunk_size_line(chain) if chunked else None
    if size_line is not None:
        return f"broken chunked framing: a chunk size line was '{size_line}', not a hex size"
    for e in chain:
        if isinstance(e, OSError):  # a reset or a timeout under the read: not the framing
            return ""
        if chunked and (isinstance(e, http.client.IncompleteRead) or "ended prematurely" in str(e)):
            return (
                "broken chunked framing: the connection closed before the last (zero-size) "
                "chunk, so the body is incomplete"
            )
        if isinstance(e, IncompleteRead):  # urllib3's: byte counts, never the bytes
            return (
                "the body is shorter than its Content-Length announced: the connection "
                f"closed after {e.partial} of {e.partial + e.expected} bytes"
            )
    return ""


def _chunk_size_line(chain: list[BaseException]) -> str | None:
    """The chunk size line that was no hex number, shown; None when there was none (the
    connection ended where a size line was due). urllib3 raises
    InvalidChunkLength; http.client (whose chunked reader `read1` uses) an IncompleteRead
    from the ValueError of `int(line, 16)`, the line only in that error's text."""
    for e in chain:
        if isinstance(e, InvalidChunkLength):
            return excerpt(e.length.decode("latin-1").strip(), 80)
    for e in chain:
        text = str(e)
        if isinstance(e, ValueError) and "with base 16: " in text:
            line = text.partition("with base 16: ")[2]  # cut-ok: quoted through excerpt
            if line.startswith(("b'", 'b"')) and line.endswith(line[1]):
                line = line[2:-1]  # cut-ok: the repr's quotes around the line
            shown = excerpt(line.replace("\\r", "").replace("\\n", "").strip(), 80)
            return shown or None  # an empty line: the stream ended, no size was sent
    return None


def _settling_future() -> tuple[Future[ProbeResult], Callable[[ProbeResult], None]]:
    """A future that a request's chain (a token, another request first) settles once."""
    outer: Future[ProbeResult] = Future()
    outer.set_running_or_notify_cancel()

    def settle(result: ProbeResult) -> None:
        if not outer.done():
            outer.set_result(result)

    return outer, settle


def _settle_with(
    req: ProbeRequest,
    settle: Callable[[ProbeResult], None],
    launch: Callable[[], Future[ProbeResult]],
) -> None:
    """Start `req` (`launch`) and settle with its result; "the run ended first" when the
    prober was closed meanwhile."""
    try:
        inner = launch()
    except RuntimeError:
        settle(not_sent(req.key, req.url, req.method, "the run ended first"))
        return
    inner.add_done_callback(lambda done: settle(_result_of(done, req)))


def _result_of(done: Future[ProbeResult], req: ProbeRequest) -> ProbeResult:
    try:
        return done.result()
    except Exception as exc:  # a bug in the prober: surface it as this request's result
        error = excerpt(repr(exc), ERROR_CHARS, first_line=True)
        return ProbeResult(key=req.key, url=req.url, method=req.method, error=error)


def _undecodable(headers: Headers) -> str | None:
    """Why the body cannot be read as decoded, when urllib3 left it as it came (it decodes
    only the codings it knows; an unknown one reaches the checks as garbage, not as an
    error) or decoded it wrong; None when it was decoded as labelled."""
    value = headers.get("Content-Encoding", "")
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    shown = excerpt(value, 100)
    if len(codings) > 1 and "identity" in codings:
        # urllib3 decodes each coding of a list, and `identity` as deflate (round 18b:
        # `identity, gzip` over gzip(deflate(...)) was decoded twice, and judged)
        return (
            f"the body is in Content-Encoding '{shown}': identity in a list of codings is "
            "decoded as deflate by the HTTP client, so the body as labelled cannot be read"
        )
    if all(c in DECODABLE_ENCODINGS for c in codings):
        return None
    accepted = ", ".join(sorted(DECODABLE_ENCODINGS - {"x-gzip"}))
    return (
        f"the body is in Content-Encoding '{shown}', which smokegate cannot decode (it "
        f"accepts {accepted})"
    )


def _environment_matters() -> bool:
    """True when proxies could change a request (a netrc file never does here)."""
    return bool(urllib.request.getproxies())


def _keep_own_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The request's `auth`: it leaves the request as smokegate built it. Without one,
    requests reads ~/.netrc (or $NETRC) and replaces the Authorization header with the
    file's Basic credentials: a wrong token would pass as the file's user, an anonymous
    case would carry credentials, and the file's password (not a known secret) could be
    echoed into a report. Credentials come from the env file's variables only."""
    return request


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def describe_error(
    exc: BaseException,
    req: ProbeRequest,
    *,
    while_reading: bool = False,
    url: str | None = None,
    trust: Trust | None = None,
    stage: tuple[str, str] = ("", ""),
) -> str:
    """Turn a requests/urllib3 exception into the sentence an on-call engineer needs.
    `url` is where it happened when that is not the request's own URL (after a redirect);
    `trust` what verified the certificate, named when verification failed; `stage` how far
    the connection got (a proxy's tunnel, the TLS handshake) and the proxy. Text that came
    from the server or an exception is quoted through `excerpt`."""
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain)
    host, port = _host_port(url or req.url)
    tls_failure = any(isinstance(e, ssl.SSLError) for e in chain)
    if stage[0] == STAGE_PROXY_TUNNEL and not tls_failure:
        unanswered = next((e for e in chain if isinstance(e, TunnelError)), None)
        if unanswered is not None:  # the reader both checks use said what the proxy did
            return f"{unanswered}, so the request never reached it"
        said = _proxy_failure(chain, req, f"{host}:{port}")
        if said:
            return said
        inner = describe_error(exc, req, while_reading=while_reading, url=url, trust=trust)
        return (
            f"the proxy {stage[1] or '(from the environment)'} failed to open a tunnel to "
            f"{host}:{port}, so the request never reached it; its answer to CONNECT: {inner}"
        )
    if stage[0] == STAGE_TLS_HANDSHAKE and not tls_failure:
        timed_out = any(isinstance(e, TimeoutError | socket.timeout) for e in chain) or (
            "timed out" in text.lower()
        )
        if timed_out:
            return (
                f"timed out after {req.timeout_s:g} s during the TLS handshake with "
                f"{host}:{port}: it took the connection and did not finish the handshake, so "
                "no request was sent (is this an HTTPS port, and is its TLS terminator up?)"
            )
        if _is_reset(chain, text):  # behind a proxy's tunnel: `_through_proxy` words it
            return f"connection reset by {host}:{port} during the TLS handshake"
    protocol = _protocol_error(chain)
    if protocol:
        return protocol
    proxy = _proxy_failure(chain, req, f"{host}:{port}")
    if proxy:
        return proxy
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"redirect loop: more than {requests.models.DEFAULT_REDIRECT_LIMIT} redirects"
    if isinstance(exc, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in chain
    ):
        if _plain_http_answer(chain):
            return (
                f"TLS error: {not_tls(f'{host}:{port}')}: use http:// if it serves plain "
                "HTTP, or the port that serves HTTPS"
            )
        meaning = alert_meaning(_ssl_reason_code(chain))
        if meaning:
            return f"TLS handshake refused: {meaning}"
        reason = excerpt(_ssl_reason(chain), ERROR_CHARS, first_line=True)
        verifying = any(isinstance(e, ssl.SSLCertVerificationError) for e in chain)
        by = f" (trusting {trust.describe()})" if trust is not None and verifying else ""
        return f"TLS error: {reason}{by}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"timed out after {req.timeout_s:g} s while connecting to {host}:{port}"
    if isinstance(exc, requests.exceptions.ReadTimeout | socket.timeout | TimeoutError) or (
        "timed out" in text.lower()
    ):
        if while_reading:
            return (
                f"timed out after {req.timeout_s:g} s reading the body: the status and "
                "headers came, then the body stalled"
            )
        stalled = next((e for e in chain if isinstance(e, HeadStalled)), None)
        if stalled is not None:
            return f"timed out after {req.timeout_s:g} s: {stalled}"
        return f"timed out after {req.timeout_s:g} s waiting for the response"
    if any(isinstance(e, LookupTimedOut) for e in chain):
        return (
            f"DNS lookup for {host} gave no answer within {req.timeout_s:g} s: no "
            "connection was made, no request sent"
        )
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "NameResolutionError" in text
        or ("Name or service not known" in text)
    ):
        return f"DNS lookup failed for {host}"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return f"connection refused by {host}:{port}"
    not_connected = _connect_failure(chain)
    if not_connected:
        return f"{not_connected} {host}:{port}: no connection was made, no request sent"
    if while_reading or isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return (
            "connection reset while reading the body"
            if _is_reset(chain, text)
            else (f"body could not be read: {_first_line(exc)}")
        )
    if any(isinstance(e, http.client.RemoteDisconnected) for e in chain) and not any(
        isinstance(e, ConnectionResetError) and not isinstance(e, http.client.RemoteDisconnected)
        for e in chain
    ):
        # a clean close (FIN) before any byte of an answer: curl's "Empty reply from
        # server", no reset (round 14)
        return f"empty reply: {host}:{port} closed the connection without sending any response"
    if _is_reset(chain, text):
        return "connection reset by the server"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return f"invalid URL: {_first_line(exc)}"
    return f"request failed: {_first_line(exc)}"


# a line break and the blanks after it inside a field's value: obs-fold (RFC 9112 §5.2)
_OBS_FOLD = linear_re.compile(r"\r?\n[ \t]+")


def as_browsers_read(value: str) -> str:
    """A field's value as browsers judge it: a folded line joined with one space (51c F2:
    nginx's wrapped HSTS read as invalid, `nosniff` as no nosniff), NUL bytes deleted
    (Chromium erases them before parsing; 51c F3: a NUL hid an unclosed quote)."""
    if "\n" not in value and "\x00" not in value:
        return value
    return str(_OBS_FOLD.sub(" ", value.replace("\x00", "")))


def _note_host_sent(url: str) -> None:
    """A redirect's host holding a secret (the target's text, the token as it was sent) is
    a host the secret is now sent in, lower-cased: masked so too (round 51a F3: ssl's "not
    valid for" quoted it beside the masked Location)."""
    try:
        host = written_host(urlsplit(url))
    except ValueError:
        return
    if host and holds_secret(process_scrubber(), host):
        add_target_host(host)


def _connect_failure(chain: list[BaseException]) -> str:
    """The words for a connect that failed before any byte went out, or "": urllib3's own
    text names its classes and "Max retries exceeded" where no retry was made (round 50c)."""
    if not any(isinstance(e, NewConnectionError) for e in chain):
        return ""
    cause = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
    if cause is None:
        return "could not connect to"
    reason = failure_reason(cause, "failed")
    if no_route(cause):
        return f"no route from this runner ({reason}) to"
    return f"could not connect ({reason}) to"


def _through_proxy(said: str, stage: tuple[str, str], url: str = "") -> str:
    """A failure after a proxy's tunnel opened names the proxy: what came back may be its
    doing (round 19c)."""
    if stage[1] and stage[0] != STAGE_PROXY_TUNNEL and "proxy" not in said:
        host, port = _host_port(url)
        return through_proxy(said, stage[1], f"{host}:{port}")
    return said


def _proxy_failure(chain: list[BaseException], req: ProbeRequest, target: str) -> str:
    """What failed when it was the proxy, or "". urllib3 wraps a failure in its `ProxyError`
    when the connection to the proxy was not (or no longer) up: the request URL's host and
    port would blame a target that may well be up (attack round 9, F4: "connection refused
    by <target>" for a proxy port where nothing listened). Refused, unresolved, a connect
    timeout or a failed TLS handshake with the proxy mean the target was never asked; a
    reset or a read timeout may come after the proxy took the request, so they only name
    the target. A failure behind a working proxy (a CONNECT refused, a target that resets
    inside the tunnel) is no `ProxyError`, and is described as before."""
    if not any(isinstance(e, UrllibProxyError) for e in chain):
        return ""
    url = _proxy_url(chain)
    proxy = f"the proxy {_shown_proxy(url)}" if url else "the proxy (from the environment)"
    never = f"the request never reached {target}"
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return f"connection refused by {proxy}: {never}"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in text:
        name = excerpt(url.host, 200) if url and url.host else "its host"
        return f"DNS lookup failed for {name}, the host of {proxy}: {never}"
    if any(_is_connect_timeout(e) for e in chain):
        return f"timed out after {req.timeout_s:g} s while connecting to {proxy}: {never}"
    unreachable = next((e for e in chain if no_route(e)), None)
    if unreachable is not None:
        reason = failure_reason(unreachable)
        return f"no route from this runner ({reason}) to {proxy}: {never}"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        reason = excerpt(_ssl_reason(chain), ERROR_CHARS, first_line=True)
        return f"the TLS handshake with {proxy} failed ({reason}): {never}"
    for_target = f"(the request was for {target})"
    if any(isinstance(e, TimeoutError) for e in chain) or "timed out" in text.lower():
        return f"timed out after {req.timeout_s:g} s waiting for {proxy} {for_target}"
    if _is_reset(chain, text):
        return f"connection reset by {proxy} {for_target}"
    wrapper = next(e for e in chain if isinstance(e, UrllibProxyError))
    cause = getattr(wrapper, "original_error", None)
    why = _first_line(cause if isinstance(cause, BaseException) else wrapper)
    return f"{proxy} failed: {why} {for_target}"


def _is_connect_timeout(exc: BaseException) -> bool:
    """urllib3's connect timeout; its `NewConnectionError` (any failure to connect) is a
    subclass, and does not count."""
    return isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError)


def _proxy_url(chain: list[BaseException]) -> Url | None:
    """The proxy a failed connection went to, as urllib3 parsed it: the pool (of a
    `MaxRetryError`) and the connection (of a `NewConnectionError`, a `ConnectTimeoutError`)
    hold it. Read from the instance's own attributes and arguments: `NewConnectionError.pool`
    is a property that warns."""
    for e in chain:
        for holder in (*vars(e).values(), *e.args):
            if isinstance(holder, HTTPConnectionPool | HTTPConnection):
                proxy = getattr(holder, "proxy", None)
                if isinstance(proxy, Url) and proxy.host:
                    return proxy
    return None


def _forward_proxy(url: str, proxies: dict[str, str]) -> str:
    """The proxy an http:// request is sent to whole, shown; '' when none. An https://
    request goes through a tunnel, where every answer is the target's; a SOCKS proxy relays
    bytes and answers nothing of its own."""
    if not url.lower().startswith("http:"):
        return ""
    proxy = select_proxy(url, proxies)
    if not proxy:
        return ""
    proxy = with_scheme(proxy)  # round 23b: a scheme-less HTTP_PROXY went unseen
    if not proxy.lower().startswith(("http:", "https:")):
        return ""
    try:
        return _shown_proxy(parse_url(proxy))
    except LocationParseError:
        return shown_endpoint(proxy)


# Statuses only a proxy (or an intercepting network) answers: 407 Proxy Authentication
# Required, 511 Network Authentication Required (RFC 6585)
_PROXY_OWN_STATUSES = (407, 511)


def _proxy_error_mark(headers: Any) -> str:
    """The mark a proxy puts on an answer it gives for itself (RFC 9209's `Proxy-Status`
    with an `error=`, squid's `X-Squid-Error`), shown; '' for none."""
    status = headers.get("Proxy-Status") or ""
    if "error=" in status.lower():
        return f"Proxy-Status: {excerpt(status, 120, one_line=True)}"
    squid = headers.get("X-Squid-Error")
    return f"X-Squid-Error: {excerpt(squid, 120, one_line=True)}" if squid else ""


def _forward_proxy_refusal(proxy: str, url: str, status: int = 407, mark: str = "") -> str:
    """A 407 can only be the proxy's, and so is an answer the proxy marks as its own (a
    squid 403 for a denied host): said as the proxy's, the target never reached (round 21c:
    judged as the target's status, with a hint to look at the service; round 22c: a
    proxy's 403 passed `expect_status: 403` and the anonymous and forbidden-token cases)."""
    if status != 407:
        mark = mark or "511 Network Authentication Required"
        return (
            f"the proxy {proxy} answered {status} for itself ({mark}): {shown_url(url)} was "
            "never reached"
        )
    said = (
        "it refused the credentials of the proxy URL"
        if "***@" in proxy
        else "it wants credentials: put them in the proxy URL"
    )
    return (
        f"the proxy {proxy} answered 407 Proxy Authentication Required ({said}): "
        f"{shown_url(url)} was never reached"
    )


def _shown_proxy(url: Url) -> str:
    """The proxy as the run's proxy notice names it, its port always said (urllib3's default
    when the setting has none) and its user and password masked (`shown_endpoint`)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return shown_endpoint(
        Url(scheme=url.scheme or "http", auth=url.auth, host=url.host, port=port).url
    )


def _host_port(url: str) -> tuple[str, int | str]:
    """The host and port a message names; a hostile Location can make both unreadable."""
    try:
        parts = urlsplit(url)
        port: int | str = parts.port or (443 if parts.scheme == "https" else 80)
        host = written_host(parts) or url
    except ValueError:
        return excerpt(url, 200), "?"
    return excerpt(host, 200), port


def _protocol_error(chain: list[BaseException]) -> str:
    """What the server sent instead of an HTTP response, when that is what failed: a header
    line past http.client's 64 KiB limit, more than its 100 headers, bytes that are not an
    HTTP status line. Said as such: it is no reset, and no load balancer's doing."""
    for e in chain:
        if isinstance(e, IncompleteHead | HeadTooLarge | MalformedStatusLine | MalformedFraming):
            return str(e)
        if isinstance(e, http.client.UnknownProtocol):
            version = excerpt(str(e.args[0]) if e.args else "", 40)
            return (
                f"the server answered in '{version}', not HTTP/1.x (the only versions spoken "
                "over this connection), so its answer was refused"
            )
        if isinstance(e, http.client.LineTooLong):
            what = "status line" if "status line" in str(e) else "header line"
            return (
                f"the response is not valid HTTP: a {what} longer than {http.client._MAXLINE} "
                "bytes (the client's limit), so the server's answer was refused"
            )
        if (
            isinstance(e, http.client.HTTPException)
            and "more than" in str(e)
            and ("headers" in str(e))
        ):
            return (
                f"the response is not valid HTTP: more than {http.client._MAXHEADERS} headers "
                "(the client's limit), so the server's answer was refused"
            )
        if isinstance(e, http.client.BadStatusLine) and not isinstance(
            e, http.client.RemoteDisconnected
        ):
            line = e.args[0] if e.args else ""
            if isinstance(line, str) and _is_http2_frame(line):
                return (
                    "the server answered in HTTP/2 (its first bytes are an HTTP/2 frame): it "
                    "speaks HTTP/2 only (h2c, or ALPN h2 over TLS), and smokegate's HTTP checks "
                    "speak HTTP/1.1: serve HTTP/1.1 beside it for the health check"
                )
            if isinstance(line, str) and _is_tls_record(line):
                return (
                    "the server answered in TLS (its first bytes are a TLS record, "
                    f"{_tls_record_kind(line)}), not in HTTP: the port speaks HTTPS; use "
                    "https:// in the URL"
                )
            shown = excerpt(line if isinstance(line, str) else repr(line), 80)
            return (
                "the server did not answer in HTTP: its first line was "
                f"'{shown}', not an HTTP status line (is this the right port and protocol?)"
            )
    return ""


def _is_tls_record(line: str) -> bool:
    """A first line that is a TLS record header (read as Latin-1 by http.client): an alert
    (21) or a handshake (22), version 3.x. A TLS server answers a plain request so, or
    closes (round 28c: an http:// URL at an HTTPS port read as an odd first line)."""
    return len(line) >= 3 and line[0] in "\x15\x16" and line[1] == "\x03" and line[2] <= "\x04"


def _tls_record_kind(line: str) -> str:
    return "an alert" if line[0] == "\x15" else "a handshake"


def _is_http2_frame(line: str) -> bool:
    """A first line that is an HTTP/2 frame header (read as Latin-1 by http.client): nine
    bytes, a SETTINGS (4) or GOAWAY (7) frame on stream 0, which is how a server that
    speaks only HTTP/2 answers an HTTP/1.1 request (round 18c: nginx's `listen ... http2`
    without TLS, an h2-only TLS listener; quoted as raw bytes)."""
    return len(line) >= 9 and line[3] in "\x04\x07" and line[5:9] == "\x00" * 4  # cut-ok: bytes


def _plain_http_answer(chain: list[BaseException]) -> bool:
    return any(
        isinstance(e, ssl.SSLError)
        and not isinstance(e, ssl.SSLCertVerificationError)
        and (e.reason in NOT_TLS_REASONS or "wrong version number" in str(e).lower())
        for e in chain
    )


def _is_reset(chain: list[BaseException], text: str) -> bool:
    lowered = text.lower()
    return any(isinstance(e, ConnectionResetError) for e in chain) or any(
        marker in lowered
        for marker in (
            "connection reset",
            "connection aborted",
            "remotedisconnected",
            "incompleteread",
            "connection broken",
            "remote end closed",
        )
    )


def _ssl_reason_code(chain: list[BaseException]) -> str | None:
    """OpenSSL's reason name of the first SSLError (`TLSV1_ALERT_PROTOCOL_VERSION`)."""
    for e in chain:
        if isinstance(e, ssl.SSLError) and not isinstance(e, ssl.SSLCertVerificationError):
            return reason_of(e)
    return None


def _ssl_reason(chain: list[BaseException]) -> str:
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {e.verify_message}" if e.verify_message else str(e)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return ssl_error_text(e)
    return _first_line(chain[0])


def _first_line(exc: BaseException) -> str:
    """An exception's first line, scrubbed whole before it is taken (`excerpt`)."""
    return excerpt(str(exc), ERROR_CHARS, first_line=True) or type(exc).__name__


class LazyProbes:
    """Results probed on first demand, in one concurrent batch with everything still pending.

    The first check that needs a result triggers a batch of every request this process
    is about to need (`pending()`), so a run of 500 endpoints costs one round trip, not
    500, and a `-k`-filtered or xdist-sharded run probes only its own share. Each check
    waits for its own result only: checks whose answers are in run while the rest of the
    batch is still in flight.
    """

    def __init__(self, prober: Prober, pending: Callable[[], Iterable[ProbeRequest]]) -> None:
        self._prober = prober
        self._pending = pending
        self._futures: dict[str, PendingProbe] = {}
        self._results: dict[str, ProbeResult] = {}
        self.batches: list[int] = []

    def start(self) -> None:
        """Send every pending request now, before any check asks (none is sent twice)."""
        batch = {r.key: r for r in self._pending() if r.key not in self._futures}
        if batch:
            self.batches.append(len(batch))
            self._futures.update(self._prober.submit_all(batch.values(), self._futures))

    def get(self, request: ProbeRequest, first: Iterable[ProbeRequest] = ()) -> ProbeResult:
        """The request's result; the first answer given for a key is the answer for good
        (a probe that timed out stays timed out, whatever its thread does later). `first`:
        requests that go before it if not sent yet (an auth entry's token request)."""
        if request.key in self._results:
            return self._results[request.key]
        if request.key not in self._futures:
            # the asking check's request goes out first, after what it waits for
            batch = {r.key: r for r in first if r.key not in self._futures}
            batch[request.key] = request
            batch.update((r.key, r) for r in self._pending() if r.key not in self._futures)
            self.batches.append(len(batch))
            self._futures.update(self._prober.submit_all(batch.values(), self._futures))
        result = self._prober.wait(self._futures[request.key])
        return self._results.setdefault(request.key, result)


def _set_cookies(response: requests.Response) -> list[str]:
    """Every `Set-Cookie` of one answer, as sent (urllib3 keeps each; requests' own mapping
    joins them with commas that dates hold too)."""
    getlist = getattr(getattr(response.raw, "headers", None), "getlist", None)
    return [str(v) for v in getlist("Set-Cookie")] if callable(getlist) else []
