"""How long a person waits for a big report: 5 000 cases, rendered in headless Chromium.

pytest-html 4 renders its results table in the browser from one JSON blob, and its own
tracker reports tens of seconds for a few thousand tests. This bench runs
`pytest checks/ --env <generated env>` with N endpoints (default 5 000, 5 % failing) on
a local 127.0.0.1 server, then opens the report in Chromium and times navigation to a
rendered table, reporting the file size too. Target: under 5 s for 5 000 cases.

    .venv/bin/python bench/html_bench.py [--n 5000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium_page, chromium_path  # noqa: E402


class _Handler(BaseHTTPRequestHandler):
    """200 with a small JSON body; 503 for paths under /fail/."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        failing = self.path.startswith("/fail/")
        body = b'{"status": "down"}' if failing else b'{"status": "ok"}'
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    if chromium_path() is None:
        print("no Chromium found: apt-get install chromium (or set SMOKEGATE_CHROMIUM)")
        return 2

    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="smokegate-html-bench-") as tmp:
        tmp_path = Path(tmp)
        endpoints = [
            {"name": f"svc-{i:05d}", "url": f"{base}/{'fail' if i % 20 == 0 else 'ok'}/{i}"}
            for i in range(args.n)
        ]
        env_file = tmp_path / "htmlbench.yaml"
        env_file.write_text(yaml.safe_dump({"endpoints": endpoints}))
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "checks/",
                "--env",
                str(env_file),
                "-q",
                "--reports-dir",
                str(tmp_path / "reports"),
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        run_s = time.perf_counter() - start
        report = tmp_path / "reports" / "htmlbench" / "report.html"
        if done.returncode not in (0, 1) or not report.is_file():
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        size_mb = report.stat().st_size / 1e6
        with chromium_page() as page:
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(report.as_uri())
            page.wait_for_selector("tbody.results-table-row")
            render_s = time.perf_counter() - start
            rows = page.locator("tbody.results-table-row").count()
            failed = page.locator(
                "tbody.results-table-row td.col-result", has_text="Failed"
            ).count()
    server.shutdown()
    print(
        f"cases: {args.n}  pytest run with both reports: {run_s:.2f} s  "
        f"report.html: {size_mb:.1f} MB"
    )
    print(
        f"chromium: rendered table in {render_s:.2f} s  rows in the DOM: {rows}  "
        f"failed rows: {failed}  (target < 5 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
