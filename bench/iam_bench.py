"""IAM audit benchmark: smokegate's credential-report audit vs the per-user walk, same run.

A moto server on 127.0.0.1 holds N users (default 5 000); a proxy in front of it adds a
fixed delay to every request (default 40 ms: a remote API's round trip; moto alone answers
in a few ms, which hides the cost of per-user calls). Measured, one after the other:

1. `pytest checks/ --env <bench env> -m iam` end to end, in a subprocess, exactly as a
   pipeline runs it (collection, every case, HTML and JUnit reports);
2. the naive audit: list users, then per user list keys, last use per key, MFA devices and
   login profile (plus the two account-wide calls), sequentially as such scripts usually do
   (`--naive-workers N` runs it on a thread pool instead, to show how much that narrows it).

Prints API calls and wall time of both and checks the targets (<= 10 calls, >= 20x faster);
exits 1 when a target is missed. `make bench-iam` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from smokegate.mock.iam import iam_backend, seed  # noqa: E402
from tests.support.moto_helpers import AwsProxy, aws_env, moto_server, world_of  # noqa: E402

TARGET_CALLS = 10
TARGET_SPEEDUP = 20.0


def run_smokegate(proxy_url: str, workdir: Path, *extra: str) -> tuple[float, int, str]:
    """Wall time, number of test cases, and pytest's last line, for the end-to-end run."""
    env_file = workdir / "iam-bench.yaml"
    env_file.write_text("# bench: defaults of every IAM rule\niam: {}\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pytest", "checks/", "--env", str(env_file), "-m", "iam",
        "-q", "-p", "no:cacheprovider", "--reports-dir", str(workdir / "reports"), *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKEGATE_", "AWS_"))}
    env.update(aws_env(proxy_url))
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"iam_bench: pytest exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    junit = (workdir / "reports" / "iam-bench" / "junit.xml").read_text(encoding="utf-8")
    cases = junit.count("<testcase ")
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return elapsed, cases, last


def _naive_user(iam: Any, name: str) -> dict[str, Any]:
    """Everything the rules need about one user, the per-user way."""
    facts: dict[str, Any] = {"keys": [], "mfa": False, "console": False}
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        facts["keys"].append((key["Status"], key["CreateDate"], used["AccessKeyLastUsed"]))
    facts["mfa"] = bool(iam.list_mfa_devices(UserName=name)["MFADevices"])
    try:
        iam.get_login_profile(UserName=name)
        facts["console"] = True
    except iam.exceptions.NoSuchEntityException:
        pass
    return facts


def run_naive(proxy_url: str, workers: int) -> tuple[float, int]:
    """Wall time and users audited by the per-user walk."""
    config = Config(retries={"mode": "adaptive", "max_attempts": 10},
                    max_pool_connections=max(10, workers))  # fmt: skip
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    iam = session.client("iam", endpoint_url=proxy_url, config=config)
    started = time.perf_counter()
    names = [
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1000})
        for user in page["Users"]
    ]
    iam.get_account_summary()
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        iam.get_account_password_policy()
    if workers <= 1:
        audited = [_naive_user(iam, name) for name in names]
    else:
        with ThreadPoolExecutor(workers) as pool:
            audited = list(pool.map(lambda n: _naive_user(iam, n), names))
    return time.perf_counter() - started, len(audited)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--naive-workers", type=int, default=1,
                        help="threads for the naive walk (default 1: sequential)")  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    with moto_server() as server, AwsProxy(server, delay_s=args.delay_ms / 1000) as proxy:
        seeded = time.perf_counter()
        seed(world_of(args.users), iam_backend())
        print(
            f"iam_bench: {args.users} users seeded in {time.perf_counter() - seeded:.1f} s; "
            f"moto server behind a {args.delay_ms:g} ms/request proxy on {proxy.url}",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="iam-bench-") as tmp:
            ours_s, cases, last = run_smokegate(proxy.url, Path(tmp))
        ours_calls = proxy.requests
        print(f"smokegate: {ours_calls} calls, {ours_s:.1f} s, {cases} cases ({last})", flush=True)
        # pytest's default failure summary rescans every report per failure (pytest#13360):
        # quadratic in failing cases. `--tb=line` skips that scan; measured for comparison.
        proxy.reset_counts()
        with tempfile.TemporaryDirectory(prefix="iam-bench-") as tmp:
            line_s, _, last = run_smokegate(proxy.url, Path(tmp), "--tb=line")
        print(f"smokegate --tb=line: {proxy.requests} calls, {line_s:.1f} s ({last})", flush=True)
        proxy.reset_counts()
        how = "sequential" if args.naive_workers <= 1 else f"{args.naive_workers} threads"
        print(f"naive per-user walk ({how}) running...", flush=True)
        naive_s, audited = run_naive(proxy.url, args.naive_workers)
        naive_calls = proxy.requests

    speedup = naive_s / ours_s
    print()
    print(f"IAM audit of {audited} users, {args.delay_ms:g} ms per request")
    print(f"{'':34}{'API calls':>10}{'wall time':>12}")
    print(f"{'smokegate (pytest checks/ -m iam)':34}{ours_calls:>10}{ours_s:>10.1f} s")
    print(f"{'  same, --tb=line':34}{ours_calls:>10}{line_s:>10.1f} s")
    print(f"{'naive per-user walk (' + how + ')':34}{naive_calls:>10}{naive_s:>10.1f} s")
    print(f"{'ratio (default / --tb=line)':34}{naive_calls / ours_calls:>9.0f}x{speedup:>11.1f}x"
          f" / {naive_s / line_s:.1f}x")  # fmt: skip
    calls_ok, speed_ok = ours_calls <= TARGET_CALLS, speedup >= TARGET_SPEEDUP
    print(
        f"targets: <= {TARGET_CALLS} calls {'met' if calls_ok else 'MISSED'}; "
        f">= {TARGET_SPEEDUP:g}x faster {'met' if speed_ok else 'MISSED'}"
    )
    return 0 if calls_ok and speed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
