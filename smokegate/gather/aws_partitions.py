"""Whether a URL is one of AWS's own endpoints, by the DNS suffixes botocore ships.

Read from the file in botocore's own package, not through its loader: the loader takes a
replacement from AWS_DATA_PATH or ~/.aws/models first, and a replaced partitions file would
make any host "AWS's own".
"""

from __future__ import annotations

import functools
import json
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
