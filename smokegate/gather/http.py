"""What HTTP requests the configured targets need, and their results for the checks.

The checks ask for a result by config entry; this module turns entries into
`ProbeRequest`s with the env's defaults applied (method, credentials read from the
environment now, the request's headers, query and body, redirects, trust), so the
prober stays ignorant of the env file and the checks stay ignorant of requests. A
request that cannot be built (a variable its credentials need is unset) is never sent:
its result says so, and its check fails as "verified nothing".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from smokegate.config import AuthEntry, Defaults, Endpoint
from smokegate.facts.http import ProbeResult, not_sent
from smokegate.gather.credentials import (
    WireCredentials,
    expired_jwt,
    invented_credentials,
    wire_credentials,
)
from smokegate.gather.probe import LazyProbes, Prober, ProbeRequest
from smokegate.http_spec import Credentials, RequestSpec
from smokegate.rules.leaked_body import MIN_DATA_BYTES, held_data
from smokegate.targets import AuthCase, token_case_of

PathResolver = Callable[[str], Path]


def _build(
    *,
    key: str,
    url: str,
    method: str,
    credentials: Credentials | WireCredentials | None,
    request: RequestSpec | None,
    timeout_s: float,
    follow_redirects: bool,
    max_redirects: int,
    ca_bundle: str | None,
    resolve: PathResolver,
    forge_token: bool = False,
    after: str | None = None,
) -> ProbeRequest | ProbeResult:
    """The request to send, or the "not sent" result saying which variable is missing."""
    wired = WireCredentials()
    if isinstance(credentials, WireCredentials):
        wired = credentials
    elif credentials is not None:
        found = wire_credentials(credentials, timeout_s=timeout_s)
        if isinstance(found, str):
            return not_sent(key, url, method, found)
        wired = found
    headers: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    body: bytes | None = None
    if request is not None:
        headers.update(request.header_items)
        params.extend(request.param_items)
        body, content_type = request.encoded_body()
        if content_type is not None:
            headers["Content-Type"] = content_type
    headers.update(wired.headers)
    params.extend(wired.params)
    return ProbeRequest(
        key=key,
        url=url,
        method=method,
        headers=headers,
        timeout_s=timeout_s,
        follow_redirects=follow_redirects,
        params=tuple(params),
        body=body,
        max_redirects=max_redirects,
        verify=str(resolve(ca_bundle)) if ca_bundle else None,
        oauth2=wired.oauth2,
        strip_on_redirect=wired.header_names,
        forge_token=forge_token,
        after=after,
    )


def endpoint_request(
    endpoint: Endpoint, defaults: Defaults, resolve: PathResolver = Path
) -> ProbeRequest | ProbeResult:
    return _build(
        key=f"endpoint:{endpoint.name}",
        url=endpoint.url,
        method=endpoint.method,
        credentials=endpoint.auth,
        request=endpoint.request,
        timeout_s=endpoint.timeout_s or defaults.timeout_s,
        follow_redirects=endpoint.follow_redirects,
        max_redirects=endpoint.redirect_limit,
        ca_bundle=endpoint.ca_bundle,
        resolve=resolve,
    )


def auth_request(
    case: AuthCase, defaults: Defaults, resolve: PathResolver = Path
) -> ProbeRequest | None:
    """The case's request, its credentials read from the environment now; None when a
    variable they need is unset or empty (the check then fails naming it)."""
    built = auth_probe(case, defaults, resolve)
    return built if isinstance(built, ProbeRequest) else None


def auth_probe(
    case: AuthCase, defaults: Defaults, resolve: PathResolver = Path
) -> ProbeRequest | ProbeResult:
    """Redirects are not followed: a protected endpoint answering 302 to a login page must
    show as 302, not as the login page's 200."""
    entry: AuthEntry = case.entry
    credentials: Credentials | WireCredentials | None = case.auth
    key = f"auth:{entry.name}:{case.token_env or '-'}"
    forge = False
    if case.kind == "invalid" and case.auth is not None:
        key = f"auth:{entry.name}:(invented)"  # no variable is named so
        if case.auth.oauth2 is None:
            invented = invented_credentials(case.auth)
            if isinstance(invented, str):
                return not_sent(key, entry.url, entry.method, invented)
            credentials = invented
        else:  # the token its endpoint hands out, forged (`ProbeRequest.forge_token`)
            forge = True
    return _build(
        key=key,
        url=entry.url,
        method=entry.method,
        credentials=credentials,
        request=entry.request,
        timeout_s=entry.timeout_s or defaults.timeout_s,
        follow_redirects=False,
        max_redirects=0,
        ca_bundle=entry.ca_bundle,
        resolve=resolve,
        forge_token=forge,
        after=None if case.kind == "token" else f"auth:{entry.name}:{entry.auth.case_env}",
    )


def requests_for(
    target: object, defaults: Defaults, resolve: PathResolver = Path
) -> list[ProbeRequest]:
    """The requests a check over `target` will ask for (empty for non-HTTP targets, and for
    requests that cannot be sent)."""
    built: ProbeRequest | ProbeResult | None = None
    first: list[ProbeRequest] = []
    if isinstance(target, Endpoint):
        built = endpoint_request(target, defaults, resolve)
    elif isinstance(target, AuthCase):
        built = auth_probe(target, defaults, resolve)
        if target.kind != "token":
            # the entry's token request goes first in this process too, whether or not it
            # runs the token case: an entry's cases dealt to other xdist workers or shards
            # lost the order, and a server trusting an address after one good token passed
            # under -n 2 and a merged --full-gate (round 30b)
            token = auth_probe(token_case_of(target.entry), defaults, resolve)
            first = [token] if isinstance(token, ProbeRequest) else []
    return [*first, built] if isinstance(built, ProbeRequest) else first


def _refusal_to_compare(let_in: ProbeResult, refused: ProbeResult) -> bool:
    """Whether the refusal and the real credential's answer are both whole answers that
    say opposite things, the refusal with a body worth comparing (`held_data`)."""
    return (
        let_in.status is not None
        and 200 <= let_in.status < 300
        and not let_in.error
        and not refused.error
        and refused.status is not None
        and not 200 <= refused.status < 300  # a public endpoint answers all alike
        # held_data weighs a short body (a stub, `{"identity": "known"}`, is no data; a
        # 46-byte API key is: round 45c F2)
        and len(refused.body) >= MIN_DATA_BYTES
    )


class HttpGatherer:
    """The run's HTTP results, probed concurrently on first demand."""

    def __init__(
        self,
        defaults: Defaults,
        pending_targets: Callable[[], Iterable[object]],
        *,
        verify: bool | Path = True,
        resolve: PathResolver = Path,
    ) -> None:
        self.defaults = defaults
        self.resolve = resolve
        self.prober = Prober(
            max_workers=defaults.max_workers,
            retries=defaults.retries,
            max_body_bytes=defaults.max_body_kb * 1024,
            verify=verify,
        )
        self.probes = LazyProbes(self.prober, lambda: self._pending(pending_targets))

    def _pending(self, targets: Callable[[], Iterable[object]]) -> list[ProbeRequest]:
        return [
            req for target in targets() for req in requests_for(target, self.defaults, self.resolve)
        ]

    def _result(self, built: ProbeRequest | ProbeResult) -> ProbeResult:
        return built if isinstance(built, ProbeResult) else self.probes.get(built)

    def endpoint(self, endpoint: Endpoint) -> ProbeResult:
        return self._result(endpoint_request(endpoint, self.defaults, self.resolve))

    def auth(self, case: AuthCase) -> ProbeResult:
        """The auth case's result; "not sent", naming the variable, when one is unset. Its
        entry's token request goes first when not sent yet (`requests_for`)."""
        built = auth_probe(case, self.defaults, self.resolve)
        if isinstance(built, ProbeResult):
            return built
        first = [r for r in requests_for(case, self.defaults, self.resolve) if r.key != built.key]
        result = self.probes.get(built, first)
        if case.kind == "token" and case.token_env and result.status is not None:
            expired = expired_jwt(os.environ.get(case.token_env, ""), time.time())
            if expired:
                result = replace(result, credential_expired=expired)
        elif case.kind != "token" and first and result.status is not None:
            # the token's request went first (`requests_for`), so its answer is in
            let_in = self.probes.get(first[0], [])
            if _refusal_to_compare(let_in, result):
                held = held_data(
                    let_in.body,
                    result.body,
                    let_in.headers.get("content-type") or "",
                    result.headers.get("content-type") or "",
                )
                if held.leaked:
                    result = replace(
                        result, refused_with_let_in_body=held.held, let_in_data_bytes=held.data
                    )
        return result

    def start(self) -> None:
        """Probe every pending target now (the run's collection is done), not at the first
        check: the round trips overlap the rest of the start-up."""
        self.probes.start()

    def close(self) -> None:
        self.prober.close()
