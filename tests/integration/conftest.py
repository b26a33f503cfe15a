"""Real server programs for the integration tests, one per test process (session fixtures):
httpbin under gunicorn, and nginx with a certificate of a private test CA. Both on 127.0.0.1
only. See tests/support/processes.py for why a missing nginx fails these tests."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.support.processes import (
    NGINX_MISSING,
    Httpbin,
    Nginx,
    httpbin_server,
    nginx_binary,
    nginx_server,
    skip_nginx_on_purpose,
)
from tests.support.servers import closed_port


@pytest.fixture(scope="session")
def httpbin() -> Iterator[Httpbin]:
    with httpbin_server() as running:
        yield running


@dataclass(frozen=True)
class NginxSetup:
    server: Nginx
    ca_pem: Path  # the private CA that signed nginx's certificate
    closed_port: int  # where /moved redirects to: nothing listens there


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxSetup]:
    if nginx_binary() is None:
        if skip_nginx_on_purpose():
            pytest.skip("SMOKEGATE_SKIP_NGINX=1: the nginx tests were skipped on purpose")
        pytest.fail(NGINX_MISSING, pytrace=False)
    folder = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    chain, key, ca_pem = folder / "chain.pem", folder / "key.pem", folder / "ca.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    port = closed_port()
    with nginx_server(folder, chain, key, f"http://127.0.0.1:{port}/get") as server:
        # the certificate really is the one served: a verified handshake with the test CA
        context = ssl.create_default_context(cafile=str(ca_pem))
        with (
            socket.create_connection(("127.0.0.1", server.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass
        yield NginxSetup(server, ca_pem, port)
