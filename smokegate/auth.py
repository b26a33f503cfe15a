"""Auth targets: one `auth:` entry becomes up to 2 + len(forbidden) separate cases.

Each case is a single request (anonymous, with the entry's token, or with one
low-privilege token) and a single expected status, so a report row says exactly
which of "is it closed", "does the token work", "is the low-privilege token kept
out" failed. The case object is what pytest parametrizes with and what the HTTP
gatherer turns into a request, so both sides agree on it without extra plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass

from smokegate.config import AuthEntry, LoadedEnv
from smokegate.severity import Severity


@dataclass(frozen=True)
class AuthCase:
    """One auth request and the status it must get. `token_env` None means no credentials."""

    entry: AuthEntry
    token_env: str | None
    expected_status: int
    kind: str  # "anonymous" | "token" | "forbidden"

    @property
    def case_id(self) -> str:
        """The id inside the brackets: `<name>`, or `<name>-<VAR>` for a forbidden token."""
        if self.kind == "forbidden":
            return f"{self.entry.name}-{self.token_env}"
        return self.entry.name

    @property
    def url(self) -> str:
        return self.entry.url

    @property
    def severity(self) -> Severity | None:
        """Read by `resolve_severity`: the entry's own severity applies to all its cases."""
        return self.entry.severity


def anonymous_cases(env: LoadedEnv) -> list[AuthCase]:
    return [AuthCase(e, None, e.anonymous_status, "anonymous") for e in env.config.auth]


def token_cases(env: LoadedEnv) -> list[AuthCase]:
    return [AuthCase(e, e.token_env, e.authenticated_status, "token") for e in env.config.auth]


def forbidden_cases(env: LoadedEnv) -> list[AuthCase]:
    entries = env.config.auth
    return [AuthCase(e, f.token_env, f.status, "forbidden") for e in entries for f in e.forbidden]


def token_env_names(env: LoadedEnv) -> list[str]:
    """Every variable of the env file that holds a token: what the scrubber must hide."""
    names: list[str] = []
    for entry in env.config.auth:
        for name in (entry.token_env, *(f.token_env for f in entry.forbidden)):
            if name not in names:
                names.append(name)
    return names
