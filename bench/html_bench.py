"""How long a person waits for a big report: smokegate's report.html beside plain pytest-html's,
at 12 500 cases (a 5 000-user IAM audit is 12 504) and 50 000, opened in headless Chromium.

For each size, in one run:
- smokegate: `pytest checks/ --env <generated env>` with N endpoints on a local 127.0.0.1
  server, 5 % failing (503); its report.html is opened in Chromium;
- plain pytest-html: a generated test module with the same N cases and the same 5 % failing
  with a message of the same length, run with `--html --self-contained-html` and no
  smokegate, opened the same way.

"Open" is navigation until the page's load event (pytest-html draws its table in a script
at the end of the page, so its rows exist by then) plus one animation frame (the first
paint), best of --repeat. Targets: 12 500 cases < 3 s; 50 000 cases < 8 s and < 25 MB,
with every failing case a row and every passing case on the page by name.

    .venv/bin/python bench/html_bench.py [--sizes 12500,50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium_page, chromium_path, file_url  # noqa: E402
from tests.support.e2e import checks_command  # noqa: E402
from tests.support.servers import LocalServer  # noqa: E402

TARGETS_S = {12_500: 3.0, 50_000: 8.0}
MAX_MB = {50_000: 25.0}
FAILING_EVERY = 20  # 5 %
PLAIN_TIMEOUT_S = 240.0

PLAIN_MODULE = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_endpoint(i):
    if i % {every} == 0:
        pytest.fail(
            f"[high] endpoint svc-{{i:05d}} (http://127.0.0.1:1/status/503/{{i}}): "
            "status 503, expected 200\\nmeasured: 503 · 1 ms\\n"
            "hint: the service answers with a server error: check its logs and its dependencies",
            pytrace=False,
        )
"""

FIRST_PAINT = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"


@dataclass
class Measure:
    run_s: float
    size_mb: float
    renders: list[float]
    rows: int
    named: int

    @property
    def best(self) -> float:
        return min(self.renders)


def open_times(report: Path, repeat: int, timeout_s: float) -> tuple[list[float], int, int]:
    """Render times, the rows of the results table, and how many distinct cases the
    page's text names (in the passing lists and in the rows pytest-html drew)."""
    renders: list[float] = []
    with chromium_page() as page:
        page.set_default_timeout(timeout_s * 1000)
        for _ in range(repeat):
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(file_url(report), wait_until="load")
            page.evaluate(FIRST_PAINT)
            renders.append(time.perf_counter() - start)
            if renders[-1] > timeout_s / 4:
                break  # one slow measurement says enough
        rows = page.locator("#results-table tbody.results-table-row").count()
        # every case by name in what the browser holds: the passing lists' text, and the
        # rows pytest-html drew
        named = page.evaluate(
            "() => new Set(document.body.textContent.match(/svc-\\d{5}/g) || []).size"
        )
    return renders, rows, named


def run(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, done


def smokegate_report(n: int, tmp: Path, server: LocalServer, repeat: int) -> Measure:
    endpoints = [
        {
            "name": f"svc-{i:05d}",
            "url": server.url(f"/status/503/{i}" if i % FAILING_EVERY == 0 else f"/ok/{i}"),
        }
        for i in range(n)
    ]
    env_file = tmp / f"bench{n}.yaml"
    env_file.write_text(yaml.safe_dump({"endpoints": endpoints}))
    run_s, done = run(checks_command(env_file, tmp / "reports", "-q", "--tb=no"), ROOT)
    report = tmp / "reports" / env_file.stem / "report.html"
    if done.returncode not in (0, 1) or not report.is_file():
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    renders, rows, named = open_times(report, repeat, PLAIN_TIMEOUT_S)
    return Measure(run_s, report.stat().st_size / 1e6, renders, rows, named)


def plain_report(n: int, tmp: Path, repeat: int) -> Measure:
    folder = tmp / f"plain{n}"
    folder.mkdir()
    (folder / "test_plain.py").write_text(PLAIN_MODULE.format(n=n, every=FAILING_EVERY))
    (folder / "pytest.ini").write_text("[pytest]\n")
    report = folder / "report.html"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--tb=no",
        "-p",
        "no:cacheprovider",
        f"--html={report}",
        "--self-contained-html",
        "test_plain.py",
    ]
    run_s, done = run(command, folder)
    if not report.is_file():
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    renders, rows, named = open_times(report, repeat, PLAIN_TIMEOUT_S)
    return Measure(run_s, report.stat().st_size / 1e6, renders, rows, named)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12500,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-plain", action="store_true", help="skip plain pytest-html")
    args = parser.parse_args()
    if chromium_path() is None:
        print("no Chromium found: apt-get install chromium (or set SMOKEGATE_CHROMIUM)")
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    ok = True
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with LocalServer(request_queue_size=1024) as server, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            ours = smokegate_report(n, Path(tmp), server, args.repeat)
            failing = len(range(0, n, FAILING_EVERY))
            print(
                f"{n} cases ({failing} failing)\n"
                f"  smokegate report.html: {ours.size_mb:.1f} MB, opened in {ours.best:.2f} s "
                f"(best of {', '.join(f'{r:.2f}' for r in ours.renders)}); "
                f"{ours.rows} failing rows, {ours.named} of {n} cases named on the page; "
                f"pytest run {ours.run_s:.1f} s"
            )
            if not args.no_plain:
                plain = plain_report(n, Path(tmp), args.repeat)
                print(
                    f"  plain pytest-html:     {plain.size_mb:.1f} MB, opened in "
                    f"{plain.best:.2f} s (best of {', '.join(f'{r:.2f}' for r in plain.renders)})"
                    f"; {plain.rows} rows; pytest run {plain.run_s:.1f} s; "
                    f"ratio {plain.best / ours.best:.1f}x"
                )
            target = TARGETS_S.get(n)
            if target is not None:
                met = ours.best < target and ours.size_mb < MAX_MB.get(n, float("inf"))
                met = met and ours.rows == failing and ours.named == n
                ok = ok and met
                size_target = f" and < {MAX_MB[n]:g} MB" if n in MAX_MB else ""
                print(
                    f"  target: < {target:g} s{size_target}, all cases on the page: "
                    f"{'met' if met else 'MISSED'}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
