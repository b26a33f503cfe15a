"""A deliberately careless plugin, loaded into canary runs with `-p tests.support.canary_plugin`.

It does what user code and libraries do with secrets by accident: logs the request with
its Authorization header, prints tokens, warns with them, and raises an exception whose
message and local variables hold them. The canary test then proves none of it reaches
any output.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import pytest

log = logging.getLogger("careless.client")


@pytest.fixture(autouse=True)
def careless_client(request: pytest.FixtureRequest):
    token = os.environ.get("CANARY_API_TOKEN", "")
    aws_secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    log.warning("GET with headers {'Authorization': 'Bearer %s'}", token)
    log.warning("aws secret is %s", aws_secret)
    print(f"stdout: token={token} aws={aws_secret}")
    print(f"stderr: token={token}", file=sys.stderr)
    warnings.warn(f"careless warning with {token}", UserWarning, stacklevel=1)
    yield
    if "boom" in request.node.name:
        raise RuntimeError(f"teardown failed, token was {token} and aws {aws_secret}")
