"""Which env a run checks: `--env NAME`, else $SMOKEGATE_ENV, else a usage error listing the
known envs (exit 4), also for a bare `pytest`; an unknown env names the ones that exist.
The suite's own tests need no env, and $SMOKEGATE_ENV does not turn them into a run.
Each through pytest in a subprocess from the project root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.e2e import ROOT, assert_usage_error, run_checks, run_pytest


def test_unknown_env_through_pytest() -> None:
    done = run_pytest("checks/", "--env", "nosuch")
    assert_usage_error(
        done.returncode,
        done.stdout + done.stderr,
        ["unknown env 'nosuch'", "Known envs: ", "demo", "example-prod"],
    )


def test_no_env_is_a_usage_error_listing_envs() -> None:
    done = run_pytest("checks/")
    output = done.stdout + done.stderr
    assert_usage_error(done.returncode, output, ["no env given", "--env NAME", "SMOKEGATE_ENV"])
    assert "demo" in output and "example-prod" in output


def test_no_env_without_arguments_also_fails() -> None:
    """`pytest` alone collects checks/ (testpaths), so it must not run on a default."""
    done = run_pytest()
    assert_usage_error(done.returncode, done.stdout + done.stderr, ["no env given"])


def test_smokegate_env_variable_selects_the_env(tmp_path: Path) -> None:
    done = run_pytest("checks/", "--reports-dir", str(tmp_path), env_vars={"SMOKEGATE_ENV": "demo"})
    assert done.returncode == 1, done.stdout + done.stderr  # the demo holds deliberate failures
    assert (tmp_path / "demo" / "junit.xml").is_file()
    assert "test_endpoint" in (tmp_path / "demo" / "junit.xml").read_text()


def test_env_option_wins_over_the_variable(tmp_path: Path) -> None:
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", env_vars={"SMOKEGATE_ENV": "nosuch"})
    assert run.returncode == 1, run.output
    assert "test_endpoint[api-health]" in run.outcomes()


def test_own_tests_need_no_env() -> None:
    done = run_pytest("tests/unit/test_rules_health.py", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout


def test_smokegate_env_variable_does_not_turn_the_suites_own_tests_into_a_run(tmp_path):
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/unit/test_gate.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--reports-dir",
            str(reports),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SMOKEGATE_ENV": "demo"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not reports.exists()
    assert " smokegate " not in done.stdout


def test_an_env_named_by_the_variable_says_so_in_its_error() -> None:
    done = run_pytest("checks/", env_vars={"SMOKEGATE_ENV": "prdo"})
    assert_usage_error(
        done.returncode,
        done.stdout + done.stderr,
        ["unknown env 'prdo' (named by SMOKEGATE_ENV)", "Known envs: "],
    )


def test_env_name_in_another_case_is_suggested() -> None:
    done = run_pytest("checks/", "--env", "Demo")
    assert_usage_error(
        done.returncode, done.stdout + done.stderr, ["unknown env 'Demo'", "Did you mean 'demo'?"]
    )


def test_an_env_file_name_is_found_in_envs(tmp_path: Path) -> None:
    done = run_pytest("checks/", "--env", "demo.yaml", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_endpoint[api-health]" in done.stdout
