"""Where the IAM audit's AWS clients send their requests, as botocore resolves it.

botocore takes a client's endpoint from many places: `AWS_ENDPOINT_URL_<SERVICE>` for each
service (Organizations' too), `AWS_ENDPOINT_URL`, `endpoint_url` in the AWS config file's
profile or in a `[services NAME]` section the profile names (through AWS_CONFIG_FILE,
AWS_PROFILE or a runner's ~/.aws/config), and its endpoint data, which AWS_DATA_PATH or
~/.aws/models can replace. A fixed list of variables named three of them (round 43b F3: an
Organizations listing from another server dropped a failing account from the audit, and no
report said where the listing came from). So the clients are asked: each one the audit makes
is built as the audit builds it (same sessions, profiles and region; unsigned, so no
credential is read and nothing is sent), and its `meta.endpoint_url` is compared with the
endpoint the same client has with every configured endpoint ignored, and with the DNS
suffixes of AWS's partitions as botocore itself ships them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from botocore import UNSIGNED
from botocore.config import Config

from smokegate.config import IamConfig
from smokegate.gather.aws_own import aws_own, custom_ca_bundle, defaults_mode, origin
from smokegate.gather.iam import DEFAULT_REGION, caller_session, role_session_core
from smokegate.redact import excerpt

# botocore's name of each service the audit asks, and the name a notice gives it
SERVICES = {"iam": "IAM", "sts": "STS", "organizations": "Organizations"}


@dataclass(frozen=True)
class AuditEndpoint:
    """An endpoint some of the audit's clients ask that is not AWS's own, and the setting
    that chose it, as a notice says it."""

    chosen_by: str
    url: str
    services: tuple[str, ...]


def audit_endpoints(settings: IamConfig) -> list[AuditEndpoint]:
    """Every endpoint the audit's clients resolve to that is not AWS's own, grouped by what
    chose it. Raises what botocore raises for settings it cannot use (a profile that does
    not exist, a `services` section that is missing, an endpoint that is no URL): the audit
    fails on the same settings and says so in its cases."""
    caller = caller_session(settings)
    region = caller.region_name or DEFAULT_REGION
    assumed = settings.role_arn is not None
    org = settings.organization is not None
    # which session makes which client (gather.iam): the caller's assumes the role, or
    # audits and lists itself; a role's session (`role_session_core`) does the rest
    wanted: list[tuple[Any, list[str]]] = [
        (caller._session, ["sts", *(["iam", *(["organizations"] * org)] * (not assumed))]),
    ]
    if assumed or settings.accounts or org:
        role = role_session_core()
        # one data loader for both, as the audit shares it (`assumed_session(like=...)`)
        role.register_component("data_loader", caller._session.get_component("data_loader"))
        wanted.append((role, ["iam", *(["sts", *(["organizations"] * org)] * assumed)]))
    found: dict[tuple[str, str], list[str]] = {}
    for core, services in wanted:
        for service in services:
            asked, default = _resolved(core, service, region)
            if asked == default and aws_own(asked, service):
                continue
            chosen_by = (
                _configured_by(core, service)
                if asked != default
                else "botocore's endpoint data (AWS_DATA_PATH or ~/.aws/models) gives it"
            )
            shown = found.setdefault((chosen_by, asked), [])
            if SERVICES[service] not in shown:
                shown.append(SERVICES[service])
    order = list(SERVICES.values())
    return [
        AuditEndpoint(by, url, tuple(sorted(shown, key=order.index)))
        for (by, url), shown in found.items()
    ]


def audit_ca_bundles(settings: IamConfig) -> list[str]:
    """The CA bundles the audit's clients trust instead of the system's (AWS_CA_BUNDLE, or
    `ca_bundle` in the AWS config file), none when none: through a proxy holding a key of
    such a CA, the proxy answers for AWS (round 44b F2). Read from each session the audit
    makes clients in: an assumed role's reads another profile than the caller's (round 45b
    F2: its bundle went unnamed). Botocore's own bundle and the system's are no such CA."""
    cores = [caller_session(settings)._session]
    if settings.role_arn is not None or settings.accounts or settings.organization is not None:
        cores.append(role_session_core())
    bundles = [custom_ca_bundle(str(core.get_config_variable("ca_bundle") or "")) for core in cores]
    return list(dict.fromkeys(b for b in bundles if b))


# An operation of each service without parameters, asked (and stopped before it is sent)
# to see where a request of the audit goes
_ASKED = {"iam": "list_users", "sts": "get_caller_identity", "organizations": "list_accounts"}


class _Stopped(Exception):
    """Raised in `before-send`: the request's URL is known, and nothing is sent."""


def _resolved(core: Any, service: str, region: str) -> tuple[str, str]:
    """Where a request of `service` goes, and where it would go with no endpoint configured
    (env or config file). The request is built as the audit's are and stopped just before
    it is sent: `meta.endpoint_url` comes from endpoints.json, while since botocore 1.28
    each request goes where the service's endpoint rule set says, and a rule set from
    AWS_DATA_PATH or ~/.aws/models sent the whole audit to another server while
    `meta.endpoint_url` still said iam.amazonaws.com (round 44b F1). Unsigned: no credential
    is looked up to build it."""
    unsigned = Config(
        signature_version=UNSIGNED, retries={"max_attempts": 1}, defaults_mode=defaults_mode(core)
    )
    ignoring = unsigned.merge(Config(ignore_configured_endpoint_urls=True))
    return _sent_to(core, service, region, unsigned), _sent_to(core, service, region, ignoring)


def _sent_to(core: Any, service: str, region: str, config: Config) -> str:
    client = core.create_client(service, region_name=region, config=config)
    seen: list[str] = []

    def stop(request: Any, **_: Any) -> None:
        seen.append(str(request.url))
        raise _Stopped

    client.meta.events.register_first(f"before-send.{service}", stop)
    with contextlib.suppress(_Stopped):
        getattr(client, _ASKED[service])()
    if not seen:  # botocore changed how it sends: what its client says, then
        return str(client.meta.endpoint_url)
    # the host as urllib3 reads it: `https://forge\\@iam.amazonaws.com` was iam's to
    # urlsplit and the forge's to the connection (round 46b F1)
    return origin(seen[0])


def _configured_by(core: Any, service: str) -> str:
    """Which setting gave a client its endpoint, in botocore's order of lookup
    (`botocore.configprovider.ConfiguredEndpointProvider`)."""
    for name in (f"AWS_ENDPOINT_URL_{service.upper()}", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return f"{name} is set"
    where = excerpt(str(core.get_config_variable("config_file") or "~/.aws/config"), 200)
    profile = excerpt(str(core.profile or "default"), 80)
    scoped = core.get_scoped_config()
    section = scoped.get("services")
    if section:
        services = core.full_config.get("services", {}).get(section, {})
        if isinstance(services.get(service), dict) and services[service].get("endpoint_url"):
            return (
                f"endpoint_url of {service} in [services {excerpt(str(section), 80)}] of the "
                f"AWS config file {where} (profile {profile}) is set"
            )
    if scoped.get("endpoint_url"):
        return f"endpoint_url of profile {profile} in the AWS config file {where} is set"
    return "a setting botocore reads (not an AWS_ENDPOINT_URL variable nor endpoint_url) is set"
