"""A run sharded with pytest-split (`--splits 3 --group i`, one subprocess per shard, as a CI
matrix runs them), merged by `python -m smokegate.merge`: the same cases, outcomes and
verdict as the unsplit run; AWS accounts dealt to shards, not gathered by every shard; a
missing shard fails the merge."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smokegate.mock.iam import iam_backend, seed
from tests.support.e2e import ROOT, Run, run_checks
from tests.support.env_files import waiver_expiry, write_env
from tests.support.moto_helpers import (
    IAM_WORLD,
    AwsProxy,
    Fault,
    aws_env,
    moto_server,
    reset_moto,
    seed_organization,
)
from tests.support.servers import LocalServer

SPLITS = 3


@pytest.fixture(scope="module")
def http():
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="module")
def aws():
    """Three seeded member accounts behind a counting proxy."""
    with moto_server() as endpoint:
        reset_moto(endpoint)
        ids = seed_organization(endpoint, ["payments-prod", "search-prod", "ledger-prod"])
        for account in ids.values():
            seed(IAM_WORLD, iam_backend(account))
        with AwsProxy(endpoint) as proxy:
            yield proxy


def mixed_env(http: LocalServer) -> dict:
    return {
        "endpoints": [
            {"name": f"ok-{i}", "url": http.url(f"/ok/{i}"), "security_headers": i % 2 == 0}
            for i in range(8)
        ]
        + [{"name": "down", "url": http.url("/status/503"), "severity": "critical"}],
        "iam": {"organization": {"role_name": "SmokegateAudit", "exclude": ["master"]}},
        "waivers": [
            {"check": "user_age", "target": "*/old", "reason": "OPS-9", "expires": waiver_expiry()},
            {"check": "endpoint", "target": "gone", "reason": "OPS-8", "expires": waiver_expiry()},
        ],
    }


def merge(*junit: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smokegate.merge", *map(str, junit), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def run_shards(tmp_path: Path, env_file: Path, env_vars: dict) -> list[Run]:
    runs = []
    for group in range(1, SPLITS + 1):
        run = run_checks(
            tmp_path,
            env_file,
            "--splits",
            str(SPLITS),
            "--group",
            str(group),
            env_vars=env_vars,
        )
        # each shard writes its reports under its own name
        run.reports_dir = run.reports_dir.with_name(f"shards-shard-{group}-of-{SPLITS}")
        assert run.junit_path.is_file(), run.output
        runs.append(run)
    return runs


def gate_line(summary: str) -> str:
    return re.search(r"\*\*(gate [^*]+)\*\*", summary).group(1)


def test_three_shards_merged_are_the_unsplit_run(tmp_path, http, aws):
    env_file = write_env(tmp_path, mixed_env(http), "shards")
    env_vars = {**aws_env(aws.url), "GITHUB_RUN_ID": "4242"}  # one pipeline run
    whole = run_checks(tmp_path / "whole", env_file, env_vars=env_vars)
    whole_calls = aws.actions["AssumeRole"]
    aws.reset_counts()
    shards = run_shards(tmp_path / "split", env_file, env_vars)

    # each shard gates on its own cases; together they are the whole run, once each
    merged_outcomes: dict[str, str] = {}
    for shard in shards:
        assert shard.returncode in (0, 1), shard.output
        own = shard.outcomes()
        assert not set(own) & set(merged_outcomes)
        merged_outcomes.update(own)
    assert merged_outcomes == whole.outcomes()
    assert any(name.startswith("test_endpoint[") for name in shards[1].outcomes())
    # the accounts are dealt to the shards: each is assumed once over all shards
    assert whole_calls == 3
    assert aws.actions["AssumeRole"] == 3
    for shard in shards:
        accounts = {
            name.split("[")[1].split("/")[0].rstrip("]")
            for name in shard.outcomes()
            if name.startswith("test_iam_audit[")
        }
        assert len(accounts) == 1

    # each shard says which run and which env file it belongs to, for the merge to check
    for shard in shards:
        junit = shard.junit_path.read_text(encoding="utf-8")
        assert '<property name="ci_run" value="GITHUB_RUN_ID=4242"' in junit
        assert '<property name="env_digest" value="' in junit

    done = merge(*(s.junit_path for s in shards), out=tmp_path / "merged")
    assert done.returncode == whole.returncode == 1, done.stdout + done.stderr
    merged = (tmp_path / "merged" / "summary.md").read_text()
    unsplit = (whole.reports_dir / "summary.md").read_text()
    assert gate_line(merged) == gate_line(unsplit)
    assert "1 critical" in gate_line(merged)
    for section in ("## Totals", "## Failures by severity", "## AWS accounts", "## Waived"):
        part = unsplit.split(section)[1].split("\n## ")[0]
        assert part in merged, section
    # the waiver for "gone" matched nothing in any shard: stale once, as in the unsplit run
    assert "waivers[1] check endpoint, target gone" in merged
    assert "waivers[0]" not in merged.split("## Waivers to clean up")[1]
    assert gate_line(merged) in done.stdout


def test_a_missing_or_doubled_shard_fails_the_merge(tmp_path, http, aws):
    env = {"endpoints": [{"name": f"ok-{i}", "url": http.url(f"/ok/{i}")} for i in range(8)]}
    env_file = write_env(tmp_path, env, "shards")
    shards = run_shards(tmp_path / "split", env_file, aws_env(aws.url))
    junit = [s.junit_path for s in shards]
    complete = merge(*junit, out=tmp_path / "all")
    assert complete.returncode == 0, complete.stdout + complete.stderr
    assert "gate PASSED" in complete.stdout

    lost = merge(junit[0], junit[2], out=tmp_path / "lost")
    assert lost.returncode == 2, lost.stdout + lost.stderr
    assert "gate NOT EVALUATED" in lost.stdout
    assert "shard 2 of 3 missing" in lost.stdout
    assert "NOT EVALUATED" in (tmp_path / "lost" / "summary.md").read_text()

    doubled = merge(junit[0], junit[0], junit[1], out=tmp_path / "doubled")
    assert doubled.returncode == 2
    assert "shard(s) 1 of 3 given more than once" in doubled.stdout

    nothing = merge(out=tmp_path / "nothing")
    assert nothing.returncode == 2
    assert "no shard's JUnit file was given" in nothing.stdout


def test_a_case_that_ran_in_no_shard_fails_the_merge(tmp_path, http, aws):
    """Each shard judged its own part whole, but the jobs split differently (here shard 1
    read a durations file, shard 2 none): a case fell between them. The merge must not
    pass on the cases it was given."""
    env = {"endpoints": [{"name": f"e{i}", "url": http.url(f"/ok/{i}")} for i in range(4)]}
    env_file = write_env(tmp_path, env, "shards")
    durations = tmp_path / "durations.json"
    weights = {
        f"checks/test_health.py::test_endpoint[e{i}]": 100.0 if i == 0 else 1.0 for i in range(4)
    }
    durations.write_text(json.dumps(weights))  # shard 1 alone: e0 is most of the run
    shards = []
    for group, extra in ((1, ["--durations-path", str(durations)]), (2, [])):
        run = run_checks(
            tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group), *extra,
            env_vars=aws_env(aws.url),
        )  # fmt: skip
        run.reports_dir = run.reports_dir.with_name(f"shards-shard-{group}-of-2")
        assert run.returncode == 0, run.output
        shards.append(run)
    ran = set(shards[0].outcomes()) | set(shards[1].outcomes())
    assert len(ran) < 4, ran  # the premise: a case ran nowhere
    done = merge(*(s.junit_path for s in shards), out=tmp_path / "merged")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gate NOT EVALUATED" in done.stdout
    assert "ran in no shard" in done.stdout


def test_an_account_that_joined_between_the_shard_jobs_fails_the_merge(tmp_path):
    """Round 14, F1: shard 1 listed [alpha, gamma], shard 2 (started later) [alpha, beta,
    gamma]; each dealt over its own listing, gamma went to no shard, and the merge said
    gate PASSED. The shards now record what they dealt from, and the merge compares."""
    env = {"iam": {"organization": {"role_name": "SmokegateAudit", "exclude": ["master"]}}}
    env_file = write_env(tmp_path, env, "drift")
    with moto_server() as endpoint:
        reset_moto(endpoint)
        ids = seed_organization(endpoint, ["alpha", "gamma"])
        for account in ids.values():
            seed(IAM_WORLD, iam_backend(account))
        shards = []
        for group in (1, 2):
            if group == 2:
                for account in seed_organization(endpoint, ["beta"], existing=True).values():
                    seed(IAM_WORLD, iam_backend(account))
            run = run_checks(
                tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group),
                env_vars=aws_env(endpoint),
            )  # fmt: skip
            run.reports_dir = run.reports_dir.with_name(f"drift-shard-{group}-of-2")
            assert run.junit_path.is_file(), run.output
            shards.append(run)
    done = merge(*(s.junit_path for s in shards), out=tmp_path / "merged")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gate NOT EVALUATED" in done.stdout
    assert "the shards dealt the AWS accounts from different listings" in done.stdout
    assert "shard 1: 2 accounts, sha256 " in done.stdout
    assert "shard 2: 3 accounts, sha256 " in done.stdout


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "is not a regular file"),
        (os.mkfifo, "is not a regular file"),
        (lambda p: p.write_text("{bad"), "not pytest-split's JSON (JSONDecodeError at line 1"),
        (lambda p: p.write_text("[1, 2, 3]"), "holds no object of case ids to seconds"),
        (lambda p: p.write_text('{"a": "slow"}'), "holds no object of case ids to seconds"),
        (lambda p: p.write_text("[[[1], 2]]"), "holds no object of case ids to seconds"),
        (lambda p: p.write_text('{"a": -1e308}'), "holds no object of case ids to seconds"),
        (lambda p: p.write_text('{"a": NaN}'), "holds no object of case ids to seconds"),
        (lambda p: _sparse(p, 17 * 1024 * 1024), "is larger than 16 MiB"),
    ],
    ids=[
        "dev-zero",
        "fifo",
        "malformed",
        "list",
        "text-seconds",
        "unhashable",
        "negative",
        "nan",
        "sparse-17MiB",
    ],
)
def test_a_durations_file_pytest_split_cannot_read_is_a_usage_error(tmp_path, http, make, said):
    """Round 24b: pytest-split reads `--durations-path` whole with json.loads before any
    case: /dev/zero took 23 GB, malformed JSON an INTERNALERROR traceback. Each is one
    usage error naming the file, exit 4, in bounded time and memory."""
    env_file = write_env(tmp_path, {"endpoints": [{"name": "e", "url": http.url("/ok/1")}]}, "d")
    durations = tmp_path / "durations.json"
    make(durations)
    run = run_checks(
        tmp_path, env_file, "--splits", "2", "--group", "1", "--durations-path", str(durations)
    )
    assert run.returncode == 4, run.output
    assert f"--durations-path {durations}" in run.output and said in run.output
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output


def test_a_readable_durations_file_and_a_missing_one_split_the_run(tmp_path, http):
    env = {"endpoints": [{"name": f"e{i}", "url": http.url(f"/ok/{i}")} for i in range(2)]}
    env_file = write_env(tmp_path, env, "d")
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps([["checks/test_health.py::test_endpoint[e0]", 1.5]]))
    for path in (durations, tmp_path / "absent.json"):
        run = run_checks(
            tmp_path, env_file, "--splits", "2", "--group", "1", "--durations-path", str(path)
        )
        assert run.returncode == 0, run.output


def test_a_junit_prefix_on_each_shard_does_not_hide_a_case_that_ran_twice(tmp_path, http):
    """Round 28b: jobs with different durations files ran e0 in both shards and e3 (a 503)
    in none; a `--junit-prefix` of their own on each shard (a CI idiom to tell them apart)
    made the two e0 two cases to the merge, which then counted as many cases as the env
    defines, and a merged --full-gate passed. Cases are matched by the shard's own name for
    them, whatever the classname carries."""
    env = {
        "endpoints": [
            {"name": f"e{i}", "url": http.url("/status/503" if i == 3 else f"/ok/{i}")}
            for i in range(6)
        ]
    }
    env_file = write_env(tmp_path, env, "prefixed")
    ids = [f"checks/test_health.py::test_endpoint[e{i}]" for i in range(6)]
    shards = []
    for group, heavy in ((1, 0), (2, 3)):  # shard 1 = {e0}; shard 2 = all but e3
        durations = tmp_path / f"durations-{group}.json"
        weights = {n: 100.0 if i == heavy else 1.0 for i, n in enumerate(ids)}
        durations.write_text(json.dumps(weights))
        run = run_checks(
            tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group),
            "--splitting-algorithm", "least_duration", "--durations-path", str(durations),
            f"--junit-prefix=shard{group}",
        )  # fmt: skip
        run.reports_dir = run.reports_dir.with_name(f"prefixed-shard-{group}-of-2")
        assert run.returncode == 0, run.output
        shards.append(run)
    first, second = (set(s.outcomes()) for s in shards)
    assert "test_endpoint[e0]" in first & second and "test_endpoint[e3]" not in first | second
    assert 'classname="shard1.' in shards[0].junit_path.read_text()  # the premise
    done = subprocess.run(
        [sys.executable, "-m", "smokegate.merge", "--full-gate",
         *(str(s.junit_path) for s in shards), "--out", str(tmp_path / "merged")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gate NOT EVALUATED" in done.stdout
    assert "test_health.py::test_endpoint[e0] ran in shard 1 and shard 2" in done.stdout


def test_a_shard_dealt_no_case_says_so_and_the_merge_repeats_it(tmp_path, http):
    """Round 28b: with more jobs than cases, pytest-split deals some shards nothing; they
    said "no check ran" and the merge "did not complete", naming no cause. Still never a
    pass (the job ran nothing), but the words say what to change."""
    env_file = write_env(tmp_path, {"endpoints": [{"name": "only", "url": http.url("/ok")}]}, "few")
    runs = []
    for group in (1, 2):
        run = run_checks(tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group))
        run.reports_dir = run.reports_dir.with_name(f"few-shard-{group}-of-2")
        runs.append(run)
    empty = next(r for r in runs if r.returncode != 0)
    said = "none of the env's 1 case(s): the matrix has more jobs than cases to split; use at most"
    assert said in empty.output
    assert "gate NOT EVALUATED" in empty.output
    done = merge(*(r.junit_path for r in runs), out=tmp_path / "merged")
    assert done.returncode == 2 and said in done.stdout, done.stdout + done.stderr


def test_a_shard_whose_failure_element_was_masked_into_text_is_not_merged(tmp_path, http):
    """Round 31a: `<failure` and `</failure>` in two CI variables masked the failing case's
    element of junit.xml into text; the merge read the case as passed and PASSED. Such
    variables are no secrets now (markup), and a shard whose cases do not add up to its
    own verdict is refused whatever altered it."""
    env = {"endpoints": [{"name": "down", "url": http.url("/status/503")}]}
    env_file = write_env(tmp_path, env, "altered")
    run = run_checks(
        tmp_path, env_file, "--splits", "1", "--group", "1",
        env_vars={"CI_DEPLOY_KEY": "<failure", "CI_JOB_TOKEN": "</failure>"},
    )  # fmt: skip
    run.reports_dir = run.reports_dir.with_name("altered-shard-1-of-1")
    assert run.returncode == 1, run.output
    junit = run.junit_path.read_text()
    assert "<failure" in junit  # the variables masked nothing
    altered = tmp_path / "altered.xml"
    altered.write_text(junit.replace("<failure ", "<!-- ").replace("</failure>", " -->"))
    done = merge(altered, out=tmp_path / "merged")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "yet its JUnit element holds no failure: the file was altered" in done.stdout


def test_a_shard_denied_the_organization_listing_is_not_evaluated_and_says_why(tmp_path):
    """Round 33b F3: shard 2's ListAccounts was denied; the listing's failing case is shard
    1's, so shard 2 ran nothing of IAM, said `gate PASSED (partial)` and exit 0, and its
    reports named no denial; the merge guessed an account had joined or left."""
    env = {"iam": {"organization": {"role_name": "SmokegateAudit", "exclude": ["master"]}}}
    env_file = write_env(tmp_path, env, "denied")
    with moto_server() as endpoint:
        reset_moto(endpoint)
        for account in seed_organization(endpoint, ["alpha", "gamma"]).values():
            seed(IAM_WORLD, iam_backend(account))
        with AwsProxy(endpoint) as proxy:
            shards = []
            for group in (1, 2):
                if group == 2:
                    proxy.faults["ListAccounts"] = Fault(
                        400,
                        json.dumps(
                            {"__type": "AccessDeniedException", "Message": "not authorized"}
                        ).encode(),
                    )
                run = run_checks(
                    tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group),
                    env_vars=aws_env(proxy.url),
                )  # fmt: skip
                run.reports_dir = run.reports_dir.with_name(f"denied-shard-{group}-of-2")
                assert run.junit_path.is_file(), run.output
                shards.append(run)
    second = shards[1]
    assert second.returncode != 0, second.output
    assert "gate NOT EVALUATED" in second.output
    assert "this shard could not list the organization's AWS accounts" in second.output
    summary = (second.reports_dir / "summary.md").read_text()
    assert "access denied: organizations:ListAccounts is not allowed" in summary
    done = merge(*(s.junit_path for s in shards), out=tmp_path / "merged")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "shard 2 of 2 did not complete: this shard could not list the organization's AWS "
        "accounts, so which of them are its own to audit is unknown (cannot list"
    ) in done.stdout
    assert "joined or left" not in done.stdout


def _two_shards_merged_as_the_gate(
    tmp_path: Path, env_file: Path, env_vars: dict | None = None
) -> subprocess.CompletedProcess:
    """Two shard jobs of `env_file` (no --full-gate: the merge is the gate), then
    `python -m smokegate.merge --full-gate` without a --fail-on of its own."""
    junit = []
    for group in (1, 2):
        run = run_checks(
            tmp_path / f"g{group}", env_file, "--splits", "2", "--group", str(group),
            env_vars={"SMOKEGATE_RUN_ID": "run-41b", **(env_vars or {})},
        )  # fmt: skip
        run.reports_dir = run.reports_dir.with_name(f"{env_file.stem}-shard-{group}-of-2")
        assert run.junit_path.is_file(), run.output
        junit.append(str(run.junit_path))
    return subprocess.run(
        [sys.executable, "-m", "smokegate.merge", "--full-gate", *junit,
         "--out", str(tmp_path / "merged")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_merged_full_gate_of_shards_lowered_by_pytest_addopts_is_not_evaluated(tmp_path, http):
    """Round 41b F2: the shard jobs run without --full-gate, so `PYTEST_ADDOPTS=--fail-on
    critical` (a CI variable) was refused nowhere: a high finding merged to PASSED."""
    env = {
        "endpoints": [
            {"name": "down", "url": http.url("/status/503"), "severity": "high"},
            {"name": "up", "url": http.url("/ok/up")},
        ]
    }
    done = _two_shards_merged_as_the_gate(
        tmp_path, write_env(tmp_path, env, "lowered"), {"PYTEST_ADDOPTS": "--fail-on critical"}
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gate NOT EVALUATED" in done.stdout
    assert "was no gate run: --fail-on is given through PYTEST_ADDOPTS" in done.stdout


def test_a_merged_full_gate_of_shards_a_mocked_world_answered_is_not_evaluated(tmp_path):
    """Round 41b F3: a single --full-gate run refuses `mock:`, but shards answered by a
    mocked world merged under --full-gate to PASSED (exit 0)."""
    urls = [f"https://api{i}.example.test/health" for i in range(4)]
    world = tmp_path / "world"
    world.mkdir()
    routes = "".join(f"  - url: {u}\n    body: ok\n" for u in urls)
    (world / "http.yaml").write_text(f"routes:\n{routes}")
    env = {
        "mock": str(world),
        "endpoints": [{"name": f"e{i}", "url": u} for i, u in enumerate(urls)],
    }
    done = _two_shards_merged_as_the_gate(tmp_path, write_env(tmp_path, env, "mocked"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was answered by a mocked world" in done.stdout


def _ini_lowering_the_gate(tmp_path: Path) -> Path:
    """The project's pytest.ini, with `--fail-on critical` added to its addopts."""
    other = tmp_path / "other" / "pytest.ini"
    other.parent.mkdir()
    ini = (ROOT / "pytest.ini").read_text(encoding="utf-8")
    other.write_text(ini.replace("addopts = -ra", "addopts = -ra --fail-on critical"))
    return other


def _one_high_down(http) -> dict:
    return {
        "endpoints": [
            {"name": "down", "url": http.url("/status/503"), "severity": "high"},
            {"name": "up", "url": http.url("/ok/up")},
        ]
    }


def test_a_merged_full_gate_of_shards_run_under_another_ini_file_is_not_evaluated(tmp_path, http):
    """Round 42b F3: `PYTEST_ADDOPTS='-c other.ini --rootdir=<project>'` on the shard jobs,
    other.ini adding `--fail-on critical`: each shard took the other file's threshold as
    its own, and the merge's --full-gate passed a high finding. A shard records what a
    single run's --full-gate would refuse, and the merge refuses it."""
    other = _ini_lowering_the_gate(tmp_path)
    env = _one_high_down(http)
    addopts = f"-c {other} --rootdir={ROOT}"
    done = _two_shards_merged_as_the_gate(
        tmp_path, write_env(tmp_path, env, "otherini"), {"PYTEST_ADDOPTS": addopts}
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was no gate run: -c/--config-file and --rootdir chooses another ini file" in (
        done.stdout
    )


def test_a_merged_full_gate_of_shards_judging_an_env_from_pytest_addopts_is_not_evaluated(
    tmp_path, http
):
    """Round 43b F2: `PYTEST_ADDOPTS='--env staging'` on the shard jobs had every shard
    judge the healthy staging, and `merge --full-gate` passed it. A shard records it."""
    staging = write_env(tmp_path, {"endpoints": [{"name": "up", "url": http.url("/ok/up")}]}, "st")
    env = {"endpoints": [{"name": "down", "url": http.url("/status/503"), "severity": "high"}]}
    env["endpoints"].append({"name": "up", "url": http.url("/ok/up")})
    done = _two_shards_merged_as_the_gate(
        tmp_path, write_env(tmp_path, env, "prodenv"), {"PYTEST_ADDOPTS": f"--env {staging}"}
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was no gate run: --env is given through PYTEST_ADDOPTS" in done.stdout


def _whole_run_merged_as_the_gate(
    tmp_path: Path, env_file: Path, env_vars: dict[str, str]
) -> subprocess.CompletedProcess:
    """One run of `env_file` without --splits, its junit.xml given to `merge --full-gate`."""
    run = run_checks(tmp_path / "whole", env_file, env_vars=env_vars)
    assert run.junit_path.is_file(), run.output
    return subprocess.run(
        [sys.executable, "-m", "smokegate.merge", "--full-gate", str(run.junit_path),
         "--out", str(tmp_path / "merged")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_merged_full_gate_of_a_whole_run_under_another_ini_file_is_not_evaluated(tmp_path, http):
    """Round 43b F1: a run without --splits recorded no `full_gate_refusal` (only shards
    did), so `merge --full-gate` took its junit.xml as "shard 1 of 1" and passed a high
    finding that `-c other.ini` (its `--fail-on critical`) in PYTEST_ADDOPTS had lowered.
    Every run records `full_gate_problem`; a clean whole run still merges as the gate."""
    other = _ini_lowering_the_gate(tmp_path)
    env = _one_high_down(http)
    env_file = write_env(tmp_path, env, "whole")
    addopts = {"PYTEST_ADDOPTS": f"-c {other} --rootdir={ROOT}", "SMOKEGATE_RUN_ID": "r43b"}
    done = _whole_run_merged_as_the_gate(tmp_path / "lowered", env_file, addopts)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "gate NOT EVALUATED (--fail-on critical): shard 1 of 1 was no gate run: "
        "-c/--config-file and --rootdir chooses another ini file"
    ) in done.stdout
    control = _whole_run_merged_as_the_gate(tmp_path / "plain", env_file, {})
    assert control.returncode == 1, control.stdout + control.stderr
    assert "gate FAILED (--fail-on low): 1 high" in control.stdout
