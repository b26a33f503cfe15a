"""What HTTP requests the configured targets need, and their results for the checks.

The checks ask for a result by config entry; this module turns entries into
`ProbeRequest`s with the env's defaults applied, so the prober stays ignorant of
the env file and the checks stay ignorant of requests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from smokegate.config import Defaults, Endpoint
from smokegate.facts.http import ProbeResult
from smokegate.gather.probe import LazyProbes, Prober, ProbeRequest
from smokegate.targets import AuthCase


def endpoint_request(endpoint: Endpoint, defaults: Defaults) -> ProbeRequest:
    return ProbeRequest(
        key=f"endpoint:{endpoint.name}",
        url=endpoint.url,
        method=endpoint.method,
        timeout_s=endpoint.timeout_s or defaults.timeout_s,
        follow_redirects=endpoint.follow_redirects,
    )


def auth_request(case: AuthCase, defaults: Defaults) -> ProbeRequest | None:
    """The case's request, with `Authorization: Bearer $TOKEN_ENV` read from the environment
    now; None when that variable is unset or empty (the check then fails naming it).

    Redirects are not followed: a protected endpoint answering 302 to a login page must show
    as 302, not as the login page's 200.
    """
    headers: dict[str, str] = {}
    if case.token_env is not None:
        token = os.environ.get(case.token_env, "")
        if not token:
            return None
        headers["Authorization"] = f"Bearer {token}"
    return ProbeRequest(
        key=f"auth:{case.entry.name}:{case.token_env or '-'}",
        url=case.entry.url,
        method=case.entry.method,
        headers=headers,
        timeout_s=defaults.timeout_s,
        follow_redirects=False,
    )


def requests_for(target: object, defaults: Defaults) -> list[ProbeRequest]:
    """The requests a check over `target` will ask for (empty for non-HTTP targets)."""
    if isinstance(target, Endpoint):
        return [endpoint_request(target, defaults)]
    if isinstance(target, AuthCase):
        request = auth_request(target, defaults)
        return [request] if request is not None else []
    return []


class HttpGatherer:
    """The run's HTTP results, probed concurrently on first demand."""

    def __init__(
        self,
        defaults: Defaults,
        pending_targets: Callable[[], Iterable[object]],
        *,
        verify: bool | Path = True,
    ) -> None:
        self.defaults = defaults
        self.prober = Prober(
            max_workers=defaults.max_workers,
            retries=defaults.retries,
            max_body_bytes=defaults.max_body_kb * 1024,
            verify=verify,
        )
        self.probes = LazyProbes(self.prober, lambda: self._pending(pending_targets))

    def _pending(self, targets: Callable[[], Iterable[object]]) -> list[ProbeRequest]:
        return [req for target in targets() for req in requests_for(target, self.defaults)]

    def endpoint(self, endpoint: Endpoint) -> ProbeResult:
        return self.probes.get(endpoint_request(endpoint, self.defaults))

    def auth(self, case: AuthCase) -> ProbeResult | None:
        """The auth case's result; None when its token variable is unset."""
        request = auth_request(case, self.defaults)
        return None if request is None else self.probes.get(request)

    def start(self) -> None:
        """Probe every pending target now (the run's collection is done), not at the first
        check: the round trips overlap the rest of the start-up."""
        self.probes.start()

    def close(self) -> None:
        self.prober.close()
