"""A run split over a CI matrix vs the same run unsplit, in one run (issue 13).

A local server on 127.0.0.1 answers N endpoints (default 500, each with its
security-header check: 2 cases per endpoint), most after 100 ms and every 50th after 1 s.
Timed one after the other on this machine:

  (a) `pytest checks/ --env <bench env>` unsplit;
  (b) the same with pytest-split, `--splits S --group i` for every i (default S=3), each a
      separate process as a CI matrix runs them (in parallel there: the slowest shard is
      the matrix's wall time), then `python -m smokegate.merge` over their JUnit files.

Checks that the merged run has the same cases, outcomes and verdict as the unsplit one and
prints every wall time. No durations file is used (pytest-split then splits evenly).

    .venv/bin/python bench/shard_bench.py --splits 3 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.e2e import checks_command  # noqa: E402
from tests.support.servers import LocalServer  # noqa: E402


def env_of(server: LocalServer, n: int) -> dict:
    return {
        "endpoints": [
            {
                "name": f"svc-{i:04d}",
                "url": server.url(f"/hold/{1000 if i % 50 == 0 else 100}/svc-{i:04d}"),
                "json": {"status": "ok"},
                "security_headers": True,
            }
            for i in range(n)
        ]
    }


def run(command: list[str]) -> tuple[float, int, str]:
    """Wall time, exit code and output; the bytecode cache is written, as in a checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def outcomes(junit: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        tags = [t for t in ("failure", "error", "skipped") if case.find(t) is not None]
        found[case.get("name", "")] = tags[0] if tags else "passed"
    return found


def gate(summary: Path) -> str:
    match = re.search(r"\*\*(gate [^*]+)\*\*", summary.read_text(encoding="utf-8"))
    return match.group(1) if match else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    whole_s: list[float] = []
    shard_s: list[list[float]] = []
    merge_s: list[float] = []
    cases = 0
    with LocalServer(request_queue_size=4096) as server, tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "shard.yaml"
        env_file.write_text(yaml.safe_dump(env_of(server, args.n), sort_keys=False), "utf-8")
        run(checks_command(env_file, Path(tmp) / "warm", "-q"))  # fills the bytecode cache
        for attempt in range(args.repeat):
            reports = Path(tmp) / f"r{attempt}"
            wall, code, _ = run(checks_command(env_file, reports, "-q"))
            whole_s.append(wall)
            whole = reports / "shard"
            times = []
            for group in range(1, args.splits + 1):
                split = ("--splits", str(args.splits), "--group", str(group))
                wall, _, _ = run(checks_command(env_file, reports, "-q", *split))
                times.append(wall)
            shard_s.append(times)
            junits = [
                reports / f"shard-shard-{g}-of-{args.splits}" / "junit.xml"
                for g in range(1, args.splits + 1)
            ]
            merged = reports / "merged"
            command = [sys.executable, "-m", "smokegate.merge", *map(str, junits)]
            wall, merge_code, output = run([*command, "--out", str(merged)])
            merge_s.append(wall)
            together: dict[str, str] = {}
            for junit in junits:
                together.update(outcomes(junit))
            unsplit = outcomes(whole / "junit.xml")
            cases = len(unsplit)
            same = (
                together == unsplit
                and gate(merged / "summary.md") == gate(whole / "summary.md")
                and merge_code == code
            )
            if not same:
                sys.exit(f"shard_bench: the merged run differs from the unsplit run\n{output}")
    print(f"world:     {args.n} endpoints x 2 cases ({cases} cases) on 127.0.0.1; 100 ms, "
          "every 50th 1 s; env defaults")  # fmt: skip
    print(f"unsplit:   best {min(whole_s):.2f} s (runs: {', '.join(f'{t:.2f}' for t in whole_s)})")
    for group in range(args.splits):
        runs = ", ".join(f"{t[group]:.2f}" for t in shard_s)
        print(f"shard {group + 1}/{args.splits}: best {min(t[group] for t in shard_s):.2f} s "
              f"(runs: {runs})")  # fmt: skip
    slowest = min(max(t) for t in shard_s)
    print(f"matrix:    {slowest:.2f} s (its slowest shard, shards in parallel) + merge "
          f"{min(merge_s):.2f} s; merged = unsplit (cases, outcomes, verdict): yes")  # fmt: skip
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
