"""Real server programs run as subprocesses on 127.0.0.1 for the tests: httpbin under
gunicorn (a real application server from PyPI) and nginx (Debian's nginx-light).

Each starts bound to the loopback address only, on a port of its own, and is waited for
with a bound (never a sleep): gunicorn until it logs the address it listens at, nginx until
its ports accept connections. Both are stopped by their own process id.

nginx missing is a FAILURE, not a skip: `.ci/run` installs it (apt-get, like Chromium), so on
CI a missing nginx means the install broke, and a skip would let the run go green with the
nginx tests silently not run. A developer without nginx may opt out on purpose with
SMOKEGATE_SKIP_NGINX=1: those tests are then skipped, with that reason, in the summary.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 30.0
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Httpbin:
    base_url: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@contextmanager
def httpbin_server() -> Iterator[Httpbin]:
    """httpbin 0.10.4 under gunicorn 27, on 127.0.0.1 and a port the kernel picks."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--threads",
        "8",
        "--worker-class",
        "gthread",
        "--access-logfile",
        "-",
        "httpbin:app",
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[int] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:  # keep reading: a full pipe would block gunicorn
            if len(seen) < 200:
                seen.append(line)
            match = _LISTENING.search(line)
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(READY_TIMEOUT_S) or not found:
            raise RuntimeError(f"gunicorn/httpbin did not start: {''.join(seen)[-2000:]}")
        base = f"http://127.0.0.1:{found[0]}"
        _wait_for_port(found[0])
        yield Httpbin(base)
    finally:
        _stop(process)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )


NGINX_MISSING = (
    "nginx is not installed: the nginx tests need Debian's nginx-light "
    "(`apt-get install nginx-light`; .ci/run installs it). To run the suite without them on "
    "purpose, set SMOKEGATE_SKIP_NGINX=1 (they are then reported as skipped)."
)


@dataclass(frozen=True)
class Nginx:
    """`https_port` serves TLS with the test CA's certificate; `http_port` plain HTTP; both
    answer `/health` with JSON and `/moved` with a redirect to `redirect_to`; `/jwt-shape`
    lets in any bearer token shaped like a JWT (a gateway rule that verifies nothing);
    `/cached` is nginx's `proxy_cache` (its default key, without Authorization) in front of
    `/exact`, which lets in `Bearer CACHED_TOKEN` only."""

    http_port: int
    https_port: int

    def url(self, path: str, *, scheme: str = "http", port: int | None = None) -> str:
        default = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://127.0.0.1:{port or default}{path}"


CACHED_TOKEN = "cache-Zq7xK2mP9vB4nT6wYc1d"
_JWT_SHAPE = r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def nginx_server(
    folder: Path,
    cert_chain: Path,
    cert_key: Path,
    redirect_to: str,
    more_certificates: tuple[tuple[Path, Path], ...] = (),
) -> Iterator[Nginx]:
    """nginx in the foreground, one process, every file in `folder`, loopback only.
    `more_certificates`: (chain, key) pairs of other key types, served beside the first as
    nginx does with several `ssl_certificate` lines."""
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError(NGINX_MISSING)
    http_port, https_port = _free_port(), _free_port()
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    more_lines = "\n".join(
        f"        ssl_certificate {chain};\n        ssl_certificate_key {key};"
        for chain, key in more_certificates
    )
    config = folder / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    proxy_cache_path {folder}/cache keys_zone=auth:1m;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {cert_chain};
        ssl_certificate_key {cert_key};
{more_lines}
        location = /health {{
            default_type application/json;
            return 200 '{{"status": "ok"}}';
        }}
        location = /moved {{ return 302 {redirect_to}; }}
        location = /jwt-shape {{
            if ($http_authorization !~ "{_JWT_SHAPE}") {{
                return 401;
            }}
            return 200 'ok';
        }}
        location = /exact {{
            if ($http_authorization != "Bearer {CACHED_TOKEN}") {{ return 401; }}
            return 200 'private';
        }}
        location = /cached {{
            proxy_cache auth;
            proxy_cache_valid 200 10m;
            add_header X-Cache-Status $upstream_cache_status;
            proxy_pass http://127.0.0.1:{http_port}/exact;
        }}
        # an app's header line and its proxy's, each sent (browsers heed the first HSTS)
        location = /hsts-app-then-proxy {{
            add_header Strict-Transport-Security "max-age=31536000" always;
            add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
            return 200 'ok';
        }}
        location = /hsts-typo-then-proxy {{
            add_header Strict-Transport-Security "max_age=31536000; includeSubDomains" always;
            add_header Strict-Transport-Security "includeSubDomains; max-age=63072000" always;
            return 200 'ok';
        }}
        location / {{ return 404; }}
    }}
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-c", str(config), "-p", str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for port in (http_port, https_port):
            _wait_for_port(port, process)
        yield Nginx(http_port, https_port)
    finally:
        _stop(process)


@contextmanager
def openssl_s_server(chain: Path, key: Path, *extra: str) -> Iterator[int]:
    """OpenSSL's own test server (`openssl s_server -www`) on 127.0.0.1, with `extra`
    options (`-alpn h2`: a listener that speaks HTTP/2 only, as Go's and Envoy's can be
    told to, refusing a client that offers other protocols with alert 120); yields the
    port."""
    port = _free_port()
    process = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(chain),
         "-key", str(key), "-www", "-quiet", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        _stop(process)


def _wait_for_port(port: int, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            errors = process.stderr.read() if process.stderr else b""
            raise RuntimeError(f"the server exited with {process.returncode}: {errors!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {READY_TIMEOUT_S:g} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def skip_nginx_on_purpose() -> bool:
    return os.environ.get("SMOKEGATE_SKIP_NGINX") == "1"
