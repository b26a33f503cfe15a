"""Every kind of target a check is parametrized over, declared once, as typed rows.

A check names its kind of target by its argument: `def test_certificate(tls_target, ...)`.
The row for `tls_target` says where such targets come from, what a case id and a location
look like, and which check kind (pytest marker) they belong to. The pytest plugin
parametrizes from these rows, gatherers are handed the targets of the cases a process will
run, and every report names a case by them. A new kind of target is one row here (and its
config section, facts, gatherer, rule and check: docs/extending.md).

Two sources: targets listed in the env file are known before collection (`EnvTargets`);
IAM principals are known only once the credential report is read, at collection
(`AuditTargets`). The IAM checks without a target (root MFA, the password policy, ...) are
switched on and off by their thresholds: `IAM_CHECKS`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from smokegate.config import AuthEntry, EnvConfig, IamConfig, TlsTarget
from smokegate.facts.iam import CredentialRow, IamAudit, KeyRef
from smokegate.http_spec import Credentials, credentials_of, written_host
from smokegate.severity import Severity

T = TypeVar("T")

# Check kinds: one pytest marker each (`-m iam` runs the IAM audit alone), registered by the
# plugin from here, so a marker and its description exist in one place.
MARKERS: dict[str, str] = {
    "health": "HTTP health checks (endpoints:)",
    "auth": "authentication and authorization checks (auth:)",
    "tls": "certificate checks (tls:)",
    "iam": "AWS IAM audit (iam:)",
}


@dataclass(frozen=True)
class AuthCase:
    """One auth request and the status it must get. `credentials` None means anonymous.

    One `auth:` entry becomes 3 + len(forbidden) cases, each a single request and a
    single expected status, so a report row says exactly which of "is it closed", "do the
    credentials work", "is the low-privilege identity kept out" failed. The HTTP gatherer
    turns the same object into its request, so both sides agree on it without extra plumbing.

    `token_env` is the variable that names the case (`<name>-<VAR>` for a forbidden one):
    the token for Bearer, the value for a header or query key, the password for Basic, the
    client id for OAuth2 (`Credentials.case_env`). Given alone, it means Bearer.
    """

    entry: AuthEntry
    token_env: str | None
    expected_status: int
    kind: str  # "anonymous" | "token" | "invalid" | "forbidden"
    credentials: Credentials | None = None

    @property
    def auth(self) -> Credentials | None:
        """What the request sends: None for the anonymous case."""
        return credentials_of(self.credentials, self.token_env)

    @property
    def case_id(self) -> str:
        """The id inside the brackets: `<name>`, or `<name>-<VAR>` for a forbidden identity."""
        if self.kind == "forbidden":
            return f"{self.entry.name}-{self.token_env}"
        return self.entry.name

    @property
    def url(self) -> str:
        return self.entry.url

    @property
    def severity(self) -> Severity | None:
        """The entry's own severity applies to all its cases."""
        return self.entry.severity


def _case(entry: AuthEntry, credentials: Credentials, status: int, kind: str) -> AuthCase:
    return AuthCase(entry, credentials.case_env, status, kind, credentials)


def anonymous_cases(config: EnvConfig) -> list[AuthCase]:
    return [AuthCase(e, None, e.anonymous_status, "anonymous") for e in config.auth]


def token_case_of(entry: AuthEntry) -> AuthCase:
    return _case(entry, entry.auth, entry.authenticated_status, "token")


def token_cases(config: EnvConfig) -> list[AuthCase]:
    return [token_case_of(e) for e in config.auth]


def invalid_cases(config: EnvConfig) -> list[AuthCase]:
    """The entry's scheme with credentials nobody issued (`gather.credentials.invented`):
    an endpoint that checks only that a token is present passed both other cases (round
    28c: httpbin's /bearer, an nginx `if ($http_authorization = "")` rule)."""
    return [_case(e, e.auth, e.anonymous_status, "invalid") for e in config.auth]


def forbidden_cases(config: EnvConfig) -> list[AuthCase]:
    return [_case(e, f.auth, f.status, "forbidden") for e in config.auth for f in e.forbidden]


def _credential_uses(config: EnvConfig) -> list[tuple[str, str, Credentials]]:
    """(the URL it is sent to, the entry, the block) for every credentials block of the env
    file: endpoints, auth entries, forbidden ones (sent to their entry's URL)."""
    uses = [(e.url, f"endpoints: {e.name}", e.auth) for e in config.endpoints if e.auth is not None]
    for entry in config.auth:
        named = f"auth: {entry.name}"
        uses += [(entry.url, named, c) for c in (entry.auth, *(f.auth for f in entry.forbidden))]
    return uses


def all_credentials(config: EnvConfig) -> list[Credentials]:
    """Every credentials block of the env file: endpoints, auth entries, forbidden ones."""
    return [credentials for _, _, credentials in _credential_uses(config)]


def cleartext_credentials(config: EnvConfig) -> dict[str, list[str]]:
    """Each host other than this machine that is sent a credential over plain http://
    (a target's own URL, or an OAuth2 token_url that is sent the client secret), with the
    entries that send it: anyone on the path reads the credential (new-user trial 47: a
    production token went out in clear with no word). Loopback is this machine."""
    sent: dict[str, list[str]] = {}

    def note(url: str, entry: str) -> None:
        parts = urlsplit(url)  # the env file's URLs are checked whole at load
        host = written_host(parts).rstrip(".")
        # a backslash is where parsers part: `http://api.example.com\.localhost/` is
        # loopback to urlsplit and api.example.com to the request (round 48c F3)
        here = _is_loopback(host) and "\\" not in url
        if parts.scheme.lower() == "http" and host and not here:
            names = sent.setdefault(host, [])
            if entry not in names:
                names.append(entry)

    for url, entry, credentials in _credential_uses(config):
        note(url, entry)
        if credentials.oauth2 is not None:
            note(credentials.oauth2.token_url, f"{entry} (token_url)")
    return sent


def target_hosts(config: EnvConfig) -> list[str]:
    """Every host the env file names, as written: its URLs' (endpoints, auth entries, OAuth2
    token_urls) and its TLS targets'. What stands in one is sent lower-cased."""
    urls = [e.url for e in config.endpoints] + [entry.url for entry in config.auth]
    urls += [c.oauth2.token_url for _, _, c in _credential_uses(config) if c.oauth2 is not None]
    hosts = [target.host for target in config.tls]
    hosts += [written_host(urlsplit(url)) for url in urls]  # checked whole at load
    return list(dict.fromkeys(hosts))


def _is_loopback(host: str) -> bool:
    host = host.lower()  # as written (`written_host`): `LocalHost` is this machine too
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_env_names(config: EnvConfig) -> list[str]:
    """Every variable of the env file that holds a secret: what the scrubber must hide."""
    names: list[str] = []
    for credentials in all_credentials(config):
        for name in credentials.secret_env_names:
            if name not in names:
                names.append(name)
    return names


def blank_free_env_names(config: EnvConfig) -> list[str]:
    """The variables of the env file that hold a Bearer token (RFC 6750: no blank in one):
    a blank in one makes it no secret (it is not sent either)."""
    names = [c.bearer_env for c in all_credentials(config) if c.bearer_env is not None]
    return list(dict.fromkeys(names))


token_env_names = secret_env_names  # its name from when bearer tokens were the only secret


@dataclass(frozen=True)
class TargetKind(Generic[T]):
    """What every kind of target declares: the check argument that receives one, its check
    kind (marker), the id inside a case's brackets and where the target is (URL, host, ARN)."""

    fixture: str
    marker: str
    case_id: Callable[[T], str]
    location: Callable[[T], str]


@dataclass(frozen=True)
class EnvTargets(TargetKind[T]):
    """Targets listed in the env file."""

    entries: Callable[[EnvConfig], list[T]]


@dataclass(frozen=True)
class AuditTargets(TargetKind[T]):
    """Principals the IAM audit found: a case per user or key the rule applies to."""

    entries: Callable[[IamAudit], list[T]]


def _arn(row: CredentialRow) -> str:
    return row.arn


def _user(row: CredentialRow) -> str:
    return row.user


def _tls_location(target: TlsTarget) -> str:
    """The name verified, when it differs from the host connected to (SNI)."""
    return f"{target.name} as {target.server_name}" if target.server_name else target.name


ENV_TARGETS: tuple[EnvTargets[Any], ...] = (
    EnvTargets("endpoint", "health", lambda e: e.name, lambda e: e.url, lambda c: c.endpoints),
    EnvTargets(
        "headers_endpoint",
        "health",
        lambda e: e.name,
        lambda e: e.url,
        lambda c: [e for e in c.endpoints if e.security_headers],
    ),
    EnvTargets("anonymous_case", "auth", lambda a: a.case_id, lambda a: a.url, anonymous_cases),
    EnvTargets("token_case", "auth", lambda a: a.case_id, lambda a: a.url, token_cases),
    EnvTargets("invalid_case", "auth", lambda a: a.case_id, lambda a: a.url, invalid_cases),
    EnvTargets("forbidden_case", "auth", lambda a: a.case_id, lambda a: a.url, forbidden_cases),
    EnvTargets("tls_target", "tls", lambda t: t.name, _tls_location, lambda c: list(c.tls)),
)

AUDIT_TARGETS: tuple[AuditTargets[Any], ...] = (
    AuditTargets("iam_user", "iam", _user, _arn, lambda a: list(a.users)),
    # A user whose flags the report does not give readably is in every set that it may
    # belong to: its rules then fail as "verified nothing" instead of never running.
    AuditTargets(
        "iam_key",
        "iam",
        lambda ref: ref.case_id,
        lambda ref: ref.row.arn,
        lambda a: [KeyRef(r, k) for r in a.users for k in r.keys if r.key_may_be_active(k)],
    ),
    AuditTargets(
        "iam_credentialed_user",
        "iam",
        _user,
        _arn,
        lambda a: [r for r in a.users if r.may_have_password or r.may_have_keys],
    ),
    AuditTargets(
        "iam_console_user",
        "iam",
        _user,
        _arn,
        lambda a: [r for r in a.users if r.may_have_password],
    ),
    AuditTargets(
        "iam_key_holder", "iam", _user, _arn, lambda a: [r for r in a.users if r.may_have_keys]
    ),
)

TARGET_KINDS: dict[str, TargetKind[Any]] = {k.fixture: k for k in (*ENV_TARGETS, *AUDIT_TARGETS)}

# IAM check (the test function without `test_`) -> whether the env's `iam:` settings turn it
# on: a threshold set to null turns its rule off. `iam_audit` always runs: it is the one case
# that fails, saying why, when the audit could not be gathered.
IAM_CHECKS: dict[str, Callable[[IamConfig], bool]] = {
    "iam_audit": lambda c: True,
    "user_age": lambda c: c.max_user_age_days is not None,
    "access_key_age": lambda c: c.max_access_key_age_days is not None,
    "unused_credentials": lambda c: c.max_unused_days is not None,
    "console_mfa": lambda c: bool(c.require_console_mfa),
    "active_keys": lambda c: c.max_active_keys_per_user is not None,
    "root_access_keys": lambda c: bool(c.forbid_root_access_keys),
    "root_mfa": lambda c: bool(c.require_root_mfa),
    "password_policy": lambda c: c.password_policy is not None,
}


def section_severity(config: EnvConfig, marker: str) -> Severity | None:
    """A severity an env section sets for every case of its kind: `iam.severity`."""
    if marker == "iam" and config.iam is not None:
        return config.iam.severity
    return None


def account_checks(config: EnvConfig) -> frozenset[str]:
    """The test functions whose case ids start with `<account>/` (or are the account): the
    IAM checks of an env that audits several accounts; none otherwise."""
    if config.iam is None or not config.iam.multi_account:
        return frozenset()
    return frozenset(f"test_{check}" for check in IAM_CHECKS)


def estimated_cases(config: EnvConfig) -> int:
    """The cases the env file's own targets make (IAM principals are unknown before the
    credential report: not counted), for `-n auto`."""
    return sum(len(kind.entries(config)) for kind in ENV_TARGETS)
