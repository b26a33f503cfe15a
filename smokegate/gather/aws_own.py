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
import urllib.parse
from pathlib import Path

import botocore


def aws_own(url: str) -> bool:
    """An https URL on the DNS suffix of one of AWS's partitions (aws, aws-cn, aws-us-gov,
    ...) as botocore's own package ships them."""
    parsed = urllib.parse.urlsplit(url)
    host = (parsed.hostname or "").lower().rstrip(".")
    return parsed.scheme == "https" and any(host.endswith(f".{s}") for s in _aws_suffixes())


@functools.cache
def _aws_suffixes() -> frozenset[str]:
    shipped = Path(botocore.__file__).parent / "data" / "partitions.json"
    data = json.loads(shipped.read_text(encoding="utf-8"))
    return frozenset(
        str(outputs[key]).lower()
        for partition in data.get("partitions", [])
        for outputs in [partition.get("outputs", {})]
        for key in ("dnsSuffix", "dualStackDnsSuffix")
        if outputs.get(key)
    )


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

    paths = ssl.get_default_verify_paths()
    found = {get_cert_path(True), paths.cafile, paths.openssl_cafile}
    return frozenset(_real(p) for p in found if isinstance(p, str) and p)


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path
