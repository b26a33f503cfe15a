"""Concurrent HTTP prober: every request of a run goes out at once, and none raises.

A health gate is only as fast as its slowest round trip when probes overlap, and
only as trustworthy as its worst error path: a probe that raises would turn one
dead endpoint into a crashed run. So each probe returns a `ProbeResult`, with the
failure described in words a person acts on.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry

_NO_JSON = object()
_NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])
USER_AGENT = "smokegate/0.1 (+health probe)"


@dataclass(frozen=True)
class ProbeRequest:
    """One request to make. `key` is how the caller finds its result again."""

    key: str
    url: str
    method: str = "GET"
    # Not in repr: auth probes carry "Authorization: Bearer <token>" here.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 5.0
    follow_redirects: bool = True


@dataclass
class ProbeResult:
    """What one request measured; `error` is set when there is no usable response."""

    key: str
    url: str
    method: str = "GET"
    status: int | None = None
    latency_ms: float | None = None
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    _json: Any = field(default=_NO_JSON, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The parsed body; raises ValueError with a readable reason when it is not JSON."""
        if self._json is _NO_JSON:
            try:
                self._json = json.loads(self.body)
            except ValueError as exc:
                cut = " (body was truncated at the size cap)" if self.truncated else ""
                raise ValueError(f"body is not valid JSON: {exc}{cut}") from None
        return self._json


class Prober:
    """Sends batches of requests concurrently over one pooled session."""

    def __init__(
        self,
        *,
        max_workers: int = 64,
        retries: int = 0,
        max_body_bytes: int = 1024 * 1024,
        verify: bool | str | Path = True,
    ) -> None:
        self.max_workers = max_workers
        self.max_body_bytes = max_body_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # No cookie jar shared between probes: a session cookie set for the token request
        # would otherwise make the concurrent anonymous request look authenticated.
        self.session.cookies.set_policy(_NO_COOKIES)
        self.session.verify = str(verify) if isinstance(verify, Path) else verify
        # Retries on connection errors only: a 5xx is a finding, not something to paper over.
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=0,
            other=0,
            redirect=None,
            backoff_factor=0.2,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(
            pool_connections=max_workers, pool_maxsize=max_workers, max_retries=retry
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def probe_all(self, requests_: Iterable[ProbeRequest]) -> dict[str, ProbeResult]:
        """Probe every request at once; the result map has one entry per key."""
        batch = list(requests_)
        if not batch:
            return {}
        workers = min(self.max_workers, len(batch))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smokegate-probe") as pool:
            results = list(pool.map(self.probe, batch))
        return {r.key: r for r in results}

    def probe(self, req: ProbeRequest) -> ProbeResult:
        result = ProbeResult(key=req.key, url=req.url, method=req.method)
        start = time.perf_counter()
        try:
            response = self.session.request(
                req.method,
                req.url,
                headers=dict(req.headers),
                timeout=req.timeout_s,
                stream=True,
                allow_redirects=req.follow_redirects,
                # Explicit, because requests lets $REQUESTS_CA_BUNDLE override session.verify:
                # the env file's ca_bundle must win over a CI runner's environment.
                verify=self.session.verify,
            )
        except Exception as exc:  # a probe never raises: every failure is a result
            result.latency_ms = _ms_since(start)
            result.error = describe_error(exc, req)
            return result
        try:
            result.status = response.status_code
            result.headers = CaseInsensitiveDict(response.headers)
            result.body, result.truncated, body_error = self._read_body(response, req, start)
            result.latency_ms = _ms_since(start)
            if body_error:
                result.error = body_error
        finally:
            response.close()
        return result

    def _read_body(
        self, response: requests.Response, req: ProbeRequest, start: float
    ) -> tuple[bytes, bool, str | None]:
        """Read up to the cap and within the request's overall deadline."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_body_bytes:
                    body = b"".join(chunks)[: self.max_body_bytes]
                    return body, True, None
                if time.perf_counter() - start > req.timeout_s:
                    return (
                        b"".join(chunks),
                        True,
                        f"body not complete after {req.timeout_s:g} s (timeout)",
                    )
        except Exception as exc:
            return b"".join(chunks), True, describe_error(exc, req, while_reading=True)
        return b"".join(chunks), False, None


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nested = getattr(current, "reason", None)
        if isinstance(nested, BaseException):
            seen.append(nested)
        current = current.__cause__ or current.__context__
    return seen


def describe_error(exc: BaseException, req: ProbeRequest, *, while_reading: bool = False) -> str:
    """Turn a requests/urllib3 exception into the sentence an on-call engineer needs."""
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain)
    host = requests.utils.urlparse(req.url).hostname or req.url
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"redirect loop: more than {requests.models.DEFAULT_REDIRECT_LIMIT} redirects"
    if isinstance(exc, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in chain
    ):
        reason = _ssl_reason(chain)
        return f"TLS error: {reason}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"timed out after {req.timeout_s:g} s while connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout | socket.timeout | TimeoutError) or (
        "timed out" in text.lower()
    ):
        return f"timed out after {req.timeout_s:g} s waiting for the response"
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "NameResolutionError" in text
        or ("Name or service not known" in text)
    ):
        return f"DNS lookup failed for {host}"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return f"connection refused by {host}"
    if while_reading or isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return (
            "connection reset while reading the body"
            if _is_reset(chain, text)
            else (f"body could not be read: {_first_line(exc)}")
        )
    if _is_reset(chain, text):
        return "connection reset by the server"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return f"invalid URL: {_first_line(exc)}"
    return f"request failed: {_first_line(exc)}"


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


def _ssl_reason(chain: list[BaseException]) -> str:
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return e.verify_message or str(e)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return e.reason or str(e)
    return _first_line(chain[0])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class LazyProbes:
    """Results probed on first demand, in one concurrent batch with everything still pending.

    The first check that needs a result triggers a batch of every request this process
    is about to need (`pending()`), so a run of 500 endpoints costs one round trip, not
    500, and a `-k`-filtered or xdist-sharded run probes only its own share.
    """

    def __init__(self, prober: Prober, pending: Callable[[], Iterable[ProbeRequest]]) -> None:
        self._prober = prober
        self._pending = pending
        self._results: dict[str, ProbeResult] = {}
        self.batches: list[int] = []

    def get(self, request: ProbeRequest) -> ProbeResult:
        if request.key not in self._results:
            batch = {r.key: r for r in self._pending() if r.key not in self._results}
            batch[request.key] = request
            self.batches.append(len(batch))
            self._results.update(self._prober.probe_all(batch.values()))
        return self._results[request.key]
