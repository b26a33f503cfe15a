"""Peak memory and wall time of the hostile cases of issue 10, one child process per case.

    .venv/bin/python bench/hostile_bench.py            # every case, a table
    .venv/bin/python bench/hostile_bench.py --case gzip-bomb

Each case runs in a fresh interpreter (so its peak resident memory, `ru_maxrss`, is its own)
against the hostile server of tests/support/hostile_server.py on 127.0.0.1, or on text and
env files it makes. The `baseline` row is the same interpreter with smokegate's gatherer
imported and nothing done: the difference is what the case cost. Before issue 10, the
redirect with a gzip bomb took 2.1 GB, the endless chunked redirect 6.4 GB (and passed),
the 95 headers of 63 KB stalled the scrubber for hours, the alias bomb hung the load.
Before attack round 8b, 40 JSON bombs of 1 MiB kept 1.2 GB (each parse cached for the run),
one of 64 MiB took 3.4 GB, and 120 endpoints of 95 x 63 KB headers kept 1.6 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = (
    "baseline",
    "gzip-bomb",
    "20-gzip-bombs-at-64mib-cap",
    "redirect-gzip-bomb",
    "redirect-chunked-endless",
    "chunked-endless",
    "95-headers-of-63kb",
    "120x-95-headers-of-63kb",
    "40-json-bombs-of-1mib",
    "json-bomb-at-64mib-cap",
    "not-http-10mb-header-line",
    "scrub-6mb-adversarial",
    "body-regex-1mb-digits",
    "deep-json-100k",
    "env-alias-bomb",
    "env-10mb-wrong-type",
)


def _probe(path: str, **endpoint: object) -> str:
    from smokegate.config import Endpoint
    from smokegate.gather.probe import Prober, ProbeRequest
    from smokegate.rules.health import check_endpoint
    from tests.support.hostile_server import HostileServer

    with HostileServer(max_seconds=10) as server:
        prober = Prober()
        try:
            url = server.url(path)
            result = prober.probe_all([ProbeRequest(key="k", url=url, timeout_s=5)])["k"]
        finally:
            prober.close()
        verdict = check_endpoint(Endpoint(name="x", url=url, **endpoint), result)  # type: ignore[arg-type]
    shown = result.error or f"status {result.status}, {len(result.body)} bytes kept"
    return f"{shown}; {verdict.message[:80] or 'passed'}"


def _bombs(count: int, cap_mib: int) -> str:
    """`count` gzip bombs at once under the largest `max_body_kb`: the run's body budget
    (RUN_BODY_BUDGET) bounds what is kept, whatever the endpoint count."""
    from smokegate.gather.probe import RUN_BODY_BUDGET, Prober, ProbeRequest
    from tests.support.hostile_server import HostileServer

    with HostileServer(max_seconds=60) as server:
        prober = Prober(max_body_bytes=cap_mib * 1024 * 1024, max_workers=count)
        try:
            requests = [
                ProbeRequest(key=f"k{i}", url=server.url(f"/gzip-bomb?{i}"), timeout_s=60)
                for i in range(count)
            ]
            results = prober.probe_all(requests)
        finally:
            prober.close()
    kept = sum(len(r.body) for r in results.values())
    refused = sum("body not kept" in (r.error or "") for r in results.values())
    return (
        f"{kept / 2**20:.0f} MiB kept (budget {RUN_BODY_BUDGET // 2**20} MiB), "
        f"{refused} of {count} failed as over the budget"
    )


def _judged(path: str, count: int, cap_mib: int = 1, **endpoint: object) -> str:
    """`count` endpoints on one hostile path, probed at once, then judged one by one with
    every result kept, as a run does (attack round 8b: parsed JSON bodies and headers were
    kept per endpoint for the run, 1.2 GB for 40 JSON bombs, 1.6 GB for 120 header sets)."""
    from collections import Counter

    from smokegate.config import Endpoint
    from smokegate.gather.probe import Prober, ProbeRequest
    from smokegate.rules.health import check_endpoint
    from tests.support.hostile_server import HostileServer

    with HostileServer(max_seconds=60) as server:
        prober = Prober(max_body_bytes=cap_mib * 1024 * 1024, max_workers=min(count, 64))
        try:
            urls = {f"k{i}": server.url(f"{path}?{i}") for i in range(count)}
            results = prober.probe_all(
                [ProbeRequest(key=k, url=u, timeout_s=30) for k, u in urls.items()]
            )
        finally:
            prober.close()
    outcomes = Counter(
        (check_endpoint(Endpoint(name=k, url=urls[k], **endpoint), r).message or "passed")[:60]  # type: ignore[arg-type]
        for k, r in results.items()
    )
    return "; ".join(f"{n}x {message}" for message, n in outcomes.most_common(2))


def _env(text: str) -> str:
    from smokegate.config import ConfigError, load_env

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(text)
        try:
            load_env(str(path), Path(folder), Path(folder))
        except ConfigError as exc:
            return f"usage error, {len(str(exc))} characters: {str(exc)[-70:]}"
    return "loaded"


def run_case(case: str) -> str:
    if case == "baseline":
        import smokegate.gather.probe  # noqa: F401

        return "imports only"
    if case in ("gzip-bomb", "redirect-gzip-bomb", "redirect-chunked-endless", "chunked-endless"):
        return _probe(f"/{case}")
    if case == "20-gzip-bombs-at-64mib-cap":
        return _bombs(20, cap_mib=64)
    if case == "95-headers-of-63kb":
        return _probe("/many-headers/95", headers={"X-Pad-1": "c"})
    if case == "120x-95-headers-of-63kb":
        return _judged("/many-headers/95", 120)
    if case == "40-json-bombs-of-1mib":
        return _judged("/json-bomb/1000", 40, json={"a": 1})
    if case == "json-bomb-at-64mib-cap":
        return _judged("/json-bomb/65000", 1, cap_mib=64, json={"a": 1})
    if case == "not-http-10mb-header-line":
        return _probe("/long-header/10240")
    if case == "scrub-6mb-adversarial":
        from smokegate.redact import Scrubber

        text = ("Authorization: b'" + "eyJ-" * 50 + " <SessionToken " + "?token=x&") * 40_000
        scrubbed = Scrubber(["T"], environ={"T": "eyJ-eyJ-secret-value"}).scrub(text)
        return f"{len(text) / 1e6:.1f} MB scrubbed to {len(scrubbed) / 1e6:.1f} MB"
    if case == "body-regex-1mb-digits":
        from smokegate.config import Endpoint
        from smokegate.facts.http import ProbeResult
        from smokegate.rules.health import check_endpoint

        result = ProbeResult(key="k", url="u", status=200, body=b"1" * 1024 * 1024)
        verdict = check_endpoint(
            Endpoint(url="https://a.example.com/", body_regex=r"\d+\.\d+"), result
        )
        return verdict.message[:80]
    if case == "deep-json-100k":
        return _probe("/deep-json/100000", json={"a": 1})
    if case == "env-alias-bomb":
        lines = ["a0: &a0 [x]"] + [
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)
        ]
        return _env("\n".join(lines) + "\nendpoints: []\n")
    if case == "env-10mb-wrong-type":
        return _env("defaults:\n  timeout_s: " + "x" * (10 * 1024 * 1024) + "\n")
    raise SystemExit(f"unknown case {case}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES)
    args = parser.parse_args()
    if args.case:
        start = time.perf_counter()
        outcome = run_case(args.case)
        took = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"case": args.case, "s": took, "peak_mb": peak, "outcome": outcome}))
        return
    print(f"{'case':28} {'wall s':>7} {'peak MB':>8}  outcome")
    for case in CASES:
        done = subprocess.run(
            [sys.executable, __file__, "--case", case],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        if done.returncode != 0:
            print(f"{case:28} failed: {done.stderr.strip()[-300:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{case:28} {row['s']:7.2f} {row['peak_mb']:8.0f}  {row['outcome']}")


if __name__ == "__main__":
    main()
