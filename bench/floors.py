"""What the stack costs before any smokegate work, measured in the bench's own run.

Issue 13's targets are ratios and wall times of whole runs; these floors say how much of
each run pytest, pytest-html, pytest-xdist and requests take by themselves on the same
machine, so a missed target says whether smokegate's own work is what misses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# A fresh interpreter, as a pipeline starts one: imports requests and GETs every URL from
# a thread pool, timing the pool alone (the imports are in the pytest floor already).
_REQUESTS_POOL = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import requests
urls, workers = json.loads(sys.stdin.read())
session = requests.Session()
def get(url):
    response = session.get(url, timeout=10)
    response.raise_for_status()
    return len(response.content)
cpu, wall = time.process_time(), time.perf_counter()
with ThreadPoolExecutor(max_workers=workers) as pool:
    got = list(pool.map(get, urls))
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, len(got)]))
"""


def pytest_floor(cases: int, *, html: bool = False, workers: int = 0) -> float:
    """Wall time of plain pytest (no plugin autoloaded, JUnit written) over `cases` trivial
    parametrized tests: what pytest alone costs for as many cases as a smokegate run has.
    `html`: with pytest-html writing its report too, as every smokegate run does;
    `workers`: with `-n workers` (pytest-xdist), to measure what starting workers costs."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        test_file = Path(tmp) / "test_floor.py"
        test_file.write_text(
            "import pytest\n\n\n"
            f"@pytest.mark.parametrize('case', range({cases}))\n"
            "def test_case(case):\n    assert case >= 0\n",
            encoding="utf-8",
        )
        command = [
            sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider",
            f"--junitxml={Path(tmp) / 'junit.xml'}", "--rootdir", tmp,
        ]  # fmt: skip
        if html:
            command += ["-p", "pytest_metadata.plugin", "-p", "pytest_html.plugin",
                        f"--html={Path(tmp) / 'report.html'}"]  # fmt: skip
        if workers:
            command += ["-p", "xdist.plugin", "-n", str(workers)]
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        started = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)  # fmt: skip
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"bench: the pytest floor run exited {done.returncode}\n{done.stdout}")
        return elapsed


def requests_floor(urls: list[str], workers: int) -> tuple[float, float]:
    """(wall, CPU seconds) of bare `requests` GETting every URL from `workers` threads in a
    fresh interpreter: the least the probing of a run costs, without any of smokegate's
    checks of what the server sends."""
    done = subprocess.run(
        [sys.executable, "-c", _REQUESTS_POOL],
        input=json.dumps([urls, workers]),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"bench: the bare requests run exited {done.returncode}\n{done.stderr}")
    wall, cpu, got = json.loads(done.stdout)
    if got != len(urls):
        sys.exit(f"bench: the bare requests run got {got} answers for {len(urls)} URLs")
    return wall, cpu


def smokegate_imports_s(repeat: int = 5) -> float:
    """What importing smokegate's plugin adds to a fresh interpreter that already imports
    pytest, pytest-html and pytest-xdist (best of `repeat` each): paid by every process of
    a run, the controller and each xdist worker, before any target is probed."""

    def best(code: str) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, stdin=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        return min(times)

    stack = "import pytest, pytest_html.plugin, xdist.plugin"
    return best(f"{stack}; import smokegate.pytest_plugin.plugin") - best(stack)
