"""How long a person waits for a big report: 5 000 cases, rendered in headless Chromium.

pytest-html 4 renders its results table in the browser from one JSON blob, and its own
tracker reports tens of seconds for a few thousand tests. This bench runs
`pytest checks/ --env <generated env>` with N endpoints (default 5 000, 5 % failing) on
a local 127.0.0.1 server, then opens the report in Chromium and times navigation to a
rendered table (best of --repeat), reporting the file size too. Target: under 5 s for
5 000 cases.

    .venv/bin/python bench/html_bench.py [--n 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium_page, chromium_path  # noqa: E402
from tests.support.e2e import checks_command  # noqa: E402
from tests.support.servers import LocalServer  # noqa: E402

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if chromium_path() is None:
        print("no Chromium found: apt-get install chromium (or set SMOKEGATE_CHROMIUM)")
        return 2

    with LocalServer(request_queue_size=1024) as server, tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        endpoints = [
            {
                "name": f"svc-{i:05d}",
                "url": server.url(f"/status/503/{i}" if i % 20 == 0 else f"/ok/{i}"),
            }
            for i in range(args.n)
        ]
        env_file = tmp_path / "htmlbench.yaml"
        env_file.write_text(yaml.safe_dump({"endpoints": endpoints}))
        start = time.perf_counter()
        done = subprocess.run(
            checks_command(env_file, tmp_path / "reports", "-q"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        run_s = time.perf_counter() - start
        report = tmp_path / "reports" / "htmlbench" / "report.html"
        if done.returncode not in (0, 1) or not report.is_file():
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        size_mb = report.stat().st_size / 1e6
        renders: list[float] = []
        with chromium_page() as page:
            for _ in range(args.repeat):
                page.goto("about:blank")
                start = time.perf_counter()
                page.goto(report.as_uri())
                page.wait_for_selector("tbody.results-table-row")
                renders.append(time.perf_counter() - start)
            rows = page.locator("tbody.results-table-row").count()
            failed = page.locator(
                "tbody.results-table-row td.col-result", has_text="Failed"
            ).count()
    best = min(renders)
    print(
        f"cases: {args.n}  pytest run with both reports: {run_s:.2f} s  "
        f"report.html: {size_mb:.1f} MB"
    )
    print(
        f"chromium: rendered table in {best:.2f} s (best of "
        f"{', '.join(f'{r:.2f}' for r in renders)})  rows in the DOM: {rows}  "
        f"failed rows: {failed}"
    )
    verdict = "met" if best < TARGET_S else "MISSED"
    print(f"target: rendered in < {TARGET_S:g} s: {verdict}")
    return 0 if rows == args.n and best < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
