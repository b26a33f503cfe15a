"""What is AWS's own for the audit: its endpoints, by the DNS suffixes botocore ships, and
the trust botocore has without any setting.

The suffixes are read from the file in botocore's own package, not through its loader: the
loader takes a replacement from AWS_DATA_PATH or ~/.aws/models first, and a replaced
partitions file would make any host "AWS's own".
"""

from __future__ import annotations

import functools
import json
import os
import ssl
from pathlib import Path
from typing import Any

import botocore
from urllib3.util import parse_url

from smokegate import linear_re


def aws_own(url: str, service: str) -> bool:
    """An https URL of `service`'s own endpoint host on one of AWS's partitions (aws,
    aws-cn, aws-us-gov, ...): `iam.amazonaws.com`, `sts.eu-west-1.amazonaws.com`,
    `organizations-fips.us-gov-west-1.amazonaws.com`; read as urllib3 reads it, which is
    what botocore connects to. Any host on the suffix was AWS's own, and API Gateway's
    `<id>.execute-api.<region>.amazonaws.com` is any customer's (round 46b F2); a URL with
    userinfo or a backslash was one host to `urlsplit` and another to urllib3
    (`https://forge\\@iam.amazonaws.com`, round 46b F1)."""
    authority = url.partition("://")[2].partition("/")[0]  # cut-ok: looked at
    if "@" in authority or "\\" in url:
        return False
    parsed = parse_url(url)
    host = (parsed.host or "").lower()
    prefix = linear_re.escape(service)
    return parsed.scheme == "https" and any(
        linear_re.compile(rf"^{prefix}(?:-fips)?(?:\.{_REGION})?\.{linear_re.escape(s)}$").match(
            host
        )
        for s in _aws_suffixes()
    )


def origin(url: str) -> str:
    """scheme://host[:port] of `url` as urllib3 reads it (botocore connects there)."""
    parsed = parse_url(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme or ''}://{parsed.host or ''}{port}"


# a region's name (`us-east-1`, `us-gov-west-1`), or a partition's IAM one (`us-gov`)
_REGION = r"[a-z]{2}(?:-[a-z]+)+(?:-[0-9]+)?"


@functools.cache
def _shipped_partitions() -> tuple[dict[str, Any], ...]:
    """botocore's own partitions file, read once (never a model path of the environment)."""
    shipped = Path(botocore.__file__).parent / "data" / "partitions.json"
    data = json.loads(shipped.read_text(encoding="utf-8"))
    return tuple(data.get("partitions", []))


@functools.cache
def _aws_suffixes() -> frozenset[str]:
    return frozenset(
        str(outputs[key]).lower()
        for partition in _shipped_partitions()
        for outputs in [partition.get("outputs", {})]
        for key in ("dnsSuffix", "dualStackDnsSuffix")
        if outputs.get(key)
    )


@functools.cache
def aws_partitions() -> frozenset[str]:
    """The partitions botocore ships (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, ...): an
    ARN of another is no AWS answer (round 49a F1: a forged listing wrote a lower-case run
    of the session token as an account's partition, and it went into the role assumed)."""
    return frozenset(str(p["id"]) for p in _shipped_partitions() if p.get("id"))


def custom_ca_bundle(bundle: str) -> str:
    """`bundle` when it is a CA bundle other than those trusted with no setting (botocore's
    own, the system's), '' otherwise: a runner whose AWS_CA_BUNDLE names the system's
    bundle had every report warn that a proxy holding a key of it answers for AWS
    (new-user trial of stop 25)."""
    if not bundle:
        return ""
    return "" if _real(bundle) in _default_bundles() else bundle


@functools.cache
def _default_bundles() -> frozenset[str]:
    from botocore.httpsession import get_cert_path

    # Not `cafile`: Python fills it from SSL_CERT_FILE, a CI variable botocore does not
    # read; naming AWS_CA_BUNDLE's file there too made it "the system's", and a proxy holding
    # a key of it answered the whole audit unnamed (round 47b F1). OpenSSL's compiled-in
    # file and certifi's (botocore's with no setting) are set by no variable.
    found = {get_cert_path(True), ssl.get_default_verify_paths().openssl_cafile}
    return frozenset(_real(p) for p in found if isinstance(p, str) and p)


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def defaults_mode(core: Any) -> str | None:
    """The defaults mode smokegate's clients take: `standard` in place of `auto`, else the
    setting (None). `auto` asks the instance metadata service for the region as each client
    is made, outside any deadline of smokegate's (round 51b F1: AWS_DEFAULTS_MODE=auto and a
    metadata endpoint dripping its answer held the run's start for ever). What `auto`
    would pick among `standard`, `in-region` and `cross-region` sets connect timeouts and
    the retry mode, which smokegate sets itself."""
    try:
        mode = str(core.get_config_variable("defaults_mode") or "")
    except Exception:  # a setting botocore refuses: the client refuses it too, and says why
        return None
    return "standard" if mode.strip().lower() == "auto" else None
