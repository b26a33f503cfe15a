"""Parametrizations of the auth, TLS and security-header checks (merged into
`smokegate.plugin.PARAMETERS`): fixture name -> (the env's targets, case id, location).

Kept out of plugin.py so the wiring there stays one line per concern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smokegate.auth import AuthCase, anonymous_cases, forbidden_cases, token_cases
from smokegate.config import Endpoint, LoadedEnv, TlsTarget


def _header_endpoints(env: LoadedEnv) -> list[Endpoint]:
    return [e for e in env.config.endpoints if e.security_headers]


def _case_id(case: AuthCase) -> str:
    return case.case_id


def _case_url(case: AuthCase) -> str:
    return case.url


def _tls_targets(env: LoadedEnv) -> list[TlsTarget]:
    return list(env.config.tls)


def _tls_name(target: TlsTarget) -> str:
    return target.name


def _tls_location(target: TlsTarget) -> str:
    """The name verified, when it differs from the host connected to (SNI)."""
    return f"{target.name} as {target.server_name}" if target.server_name else target.name


SECURITY_PARAMETERS: dict[
    str, tuple[Callable[[LoadedEnv], list[Any]], Callable[[Any], str], Callable[[Any], str]]
] = {
    "headers_endpoint": (_header_endpoints, lambda e: e.name, lambda e: e.url),
    "anonymous_case": (anonymous_cases, _case_id, _case_url),
    "token_case": (token_cases, _case_id, _case_url),
    "forbidden_case": (forbidden_cases, _case_id, _case_url),
    "tls_target": (_tls_targets, _tls_name, _tls_location),
}
