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

`--accounts N` (issue 13) is the multi-account bench instead: an AWS Organization in the
moto server with N member accounts of `--users` users each (default 250), every request
40 ms. It runs `pytest checks/ -m iam` over one of those accounts (`iam: accounts:` with
one role) and over all N (`iam: organization:`), and also times the gathering alone
(`smokegate.gather.iam.gather_accounts`, in this process) for 1 and N accounts, and plain
pytest over as many trivial cases as the N-account run has (the floor pytest alone sets).
Targets: <= 10 requests per account, and the N-account run <= 3x the one-account run.

    .venv/bin/python bench/iam_bench.py --accounts 20
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

from bench.floors import pytest_floor  # noqa: E402
from smokegate.mock.iam import iam_backend, seed  # noqa: E402
from tests.support.moto_helpers import AwsProxy, aws_env, moto_server, world_of  # noqa: E402

TARGET_CALLS = 10
TARGET_SPEEDUP = 20.0
TARGET_ACCOUNTS_RATIO = 3.0


def run_smokegate(
    proxy_url: str, workdir: Path, *extra: str, iam: str = "{}"
) -> tuple[float, int, str]:
    """Wall time, number of test cases, and pytest's last line, for the end-to-end run."""
    env_file = workdir / "iam-bench.yaml"
    env_file.write_text(f"# bench: defaults of every IAM rule\niam: {iam}\n", encoding="utf-8")
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


_MOTO_CHILD = """
import json, sys, logging
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from smokegate.mock.iam import iam_backend, seed
from tests.support.moto_helpers import moto_server, seed_organization, world_of
accounts, users = int(sys.argv[1]), int(sys.argv[2])
with moto_server() as server:
    ids = seed_organization(server, [f"team-{i:02d}-prod" for i in range(accounts)])
    for account in ids.values():
        seed(world_of(users), iam_backend(account))
    print(json.dumps({"url": server, "ids": ids}), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _moto_process(accounts: int, users: int) -> Any:
    """A seeded moto server with an Organization in a child process: (url, name -> id)."""
    import json

    child = subprocess.Popen(
        [sys.executable, "-c", _MOTO_CHILD, str(accounts), str(users)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(child.stdout.readline())
        yield ready["url"], ready["ids"]
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def run_accounts(accounts: int, users: int, delay_ms: float) -> int:
    """The multi-account bench (see the module docstring)."""
    import yaml

    from smokegate.config import IamConfig
    from smokegate.gather.iam import gather_accounts
    from tests.support.environment import aws_env as env_for

    # moto answers in another process: its own CPU (a credential report per account) must
    # not share this process's GIL with the gathering that is measured here
    with (
        _moto_process(accounts, users) as (server, ids),
        AwsProxy(server, delay_s=delay_ms / 1000) as proxy,
    ):
        names = sorted(ids)
        print(f"iam_bench: {accounts} accounts x {users} users; {delay_ms:g} ms per request",
              flush=True)  # fmt: skip
        one = {"accounts": [{"role_arn": f"arn:aws:iam::{ids[names[0]]}:role/SmokegateAudit"}]}
        every = {"organization": {"role_name": "SmokegateAudit", "exclude": ["master"]}}
        results = {}
        for label, iam in (("1 account", one), (f"{accounts} accounts", every)):
            proxy.reset_counts()
            with tempfile.TemporaryDirectory(prefix="iam-bench-") as tmp:
                wall, cases, last = run_smokegate(
                    proxy.url, Path(tmp), iam=yaml.safe_dump(iam, default_flow_style=True).strip()
                )
            calls = proxy.requests
            audited = proxy.actions["AssumeRole"]
            results[label] = (wall, cases, calls, audited)
            print(f"{label}: pytest -m iam {wall:.1f} s, {cases} cases, {calls} requests "
                  f"for {audited} account(s) ({last})", flush=True)  # fmt: skip
        saved = dict(os.environ)
        os.environ.update(env_for(proxy.url))
        try:
            gather_s = {}
            for label, iam in (("1 account", one), (f"{accounts} accounts", every)):
                settings = IamConfig.model_validate(iam)
                started = time.perf_counter()
                outcomes = gather_accounts(settings)
                gather_s[label] = time.perf_counter() - started
                assert all(hasattr(o, "users") for o in outcomes), outcomes
        finally:
            os.environ.clear()
            os.environ.update(saved)

    many = f"{accounts} accounts"
    floor_s = pytest_floor(results[many][1])
    html_floor_s = pytest_floor(results[many][1], html=True)
    one_s, many_s = results["1 account"][0], results[many][0]
    per_account = max(r[2] / max(r[3], 1) for r in results.values())
    ratio = many_s / one_s
    gather_ratio = gather_s[many] / gather_s["1 account"]
    print()
    print(f"IAM audit, {users} users per account, {delay_ms:g} ms per request")
    print(
        f"{'':12}{'cases':>8}{'requests':>10}{'per account':>13}{'pytest -m iam':>15}{'gather':>9}"
    )
    for label, (wall, cases, calls, audited) in results.items():
        print(f"{label:12}{cases:>8}{calls:>10}{calls / max(audited, 1):>13.1f}"
              f"{wall:>13.1f} s{gather_s[label]:>7.2f} s")  # fmt: skip
    print(
        f"plain pytest, {results[many][1]} trivial cases (no plugin, JUnit written): "
        f"{floor_s:.1f} s = {floor_s / one_s:.1f}x the one-account run, before any smokegate "
        "work: the floor under the end-to-end target"
    )
    print(
        f"the same with pytest-html writing its report (as every smokegate run does): "
        f"{html_floor_s:.1f} s = {html_floor_s / one_s:.1f}x the one-account run"
    )
    # the cases are one per user, so the accounts are read before pytest can collect them
    print(
        f"with the {accounts} accounts' gathering before collection ({gather_s[many]:.2f} s): "
        f"{html_floor_s + gather_s[many]:.1f} s = "
        f"{(html_floor_s + gather_s[many]) / one_s:.1f}x the one-account run"
    )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    calls_ok = per_account <= TARGET_CALLS
    ratio_ok = ratio <= TARGET_ACCOUNTS_RATIO
    print(
        f"targets: <= {TARGET_CALLS} requests per account {'met' if calls_ok else 'MISSED'} "
        f"({per_account:.1f}); {accounts} accounts <= {TARGET_ACCOUNTS_RATIO:g}x one account "
        f"end to end {'met' if ratio_ok else 'MISSED'} ({ratio:.1f}x; the gathering alone "
        f"{gather_ratio:.1f}x)"
    )
    return 0 if calls_ok and ratio_ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=None, help="default 5000; 250 per account")
    parser.add_argument("--accounts", type=int, default=None, help="the multi-account bench")
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--naive-workers", type=int, default=1,
                        help="threads for the naive walk (default 1: sequential)")  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.accounts:
        return run_accounts(args.accounts, args.users or 250, args.delay_ms)
    args.users = args.users or 5000

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
