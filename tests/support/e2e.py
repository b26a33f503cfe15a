"""Run `pytest checks/ --env <file>` in a subprocess, as a pipeline would; read its reports.

Shared by every end-to-end test: the env file is written by the test, the reports go
to the test's own folder, and the JUnit file is parsed into case outcomes. `run_pytest`
runs any other pytest command line from the root; `assert_usage_error` checks the one
clear message of a refused run (exit 4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.env_files import write_env
from tests.support.paths import ROOT


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    reports_dir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def junit_path(self) -> Path:
        return self.reports_dir / "junit.xml"

    @property
    def html_path(self) -> Path:
        return self.reports_dir / "report.html"

    def junit(self) -> ET.Element:
        return ET.parse(self.junit_path).getroot()

    def testcases(self) -> dict[str, ET.Element]:
        """JUnit testcases by name, e.g. 'test_endpoint[api-health]'."""
        return {case.get("name", ""): case for case in self.junit().iter("testcase")}

    def outcomes(self) -> dict[str, str]:
        """'passed', 'failed', 'error' or 'skipped' for each testcase name."""
        result = {}
        for name, case in self.testcases().items():
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if case.find(tag) is not None:
                    outcome = "failed" if tag == "failure" else tag
                    break
            result[name] = outcome
        return result

    def properties(self, name: str) -> dict[str, str]:
        case = self.testcases()[name]
        return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def checks_command(env_file: Path, reports: Path, *args: str) -> list[str]:
    """The command line of a pipeline's run, with its reports sent to `reports`."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "checks/",
        "--env",
        str(env_file),
        "--reports-dir",
        str(reports),
        "-p",
        "no:cacheprovider",
        *args,
    ]


def run_checks(
    tmp_path: Path,
    env: dict[str, Any] | str | Path,
    *args: str,
    env_vars: dict[str, str] | None = None,
    name: str = "e2e",
    timeout: float = 300,
    open_files: int | None = None,
) -> Run:
    """`python -m pytest checks/ --env <file> --reports-dir <tmp>/reports ...` from the root;
    `open_files`: the run's open-file limit, soft and hard (a runner's `ulimit -n`)."""
    env_file = env if isinstance(env, Path) else write_env(tmp_path, env, name)
    reports = tmp_path / "reports"
    command = checks_command(env_file, reports, *args)
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    process_env.update(env_vars or {})
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=process_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=None if open_files is None else _limit_open_files(open_files),
    )
    return Run(done.returncode, done.stdout, done.stderr, reports / env_file.stem)


def _limit_open_files(limit: int) -> Any:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


def run_pytest(*args: str, env_vars: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """pytest from the project root with SMOKEGATE_* cleared, as a fresh pipeline shell."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    environ.update(env_vars or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_usage_error(returncode: int, output: str, fragments: list[str]) -> None:
    """Exit 4, no traceback, exactly one `ERROR: smokegate:` line, every fragment shown."""
    assert returncode == 4, output
    assert "Traceback" not in output, output
    error_lines = [line for line in output.splitlines() if line.startswith("ERROR: smokegate:")]
    assert len(error_lines) == 1, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


def assert_one_usage_error(run: Run, *fragments: str) -> None:
    """Exit 4, no traceback or INTERNALERROR, one `ERROR: smokegate:` line holding every
    fragment."""
    assert run.returncode == 4, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output
    lines = [line for line in run.output.splitlines() if line.startswith("ERROR: smokegate:")]
    assert len(lines) == 1, run.output
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def passing_env(server: Any) -> dict[str, object]:
    """One endpoint that answers 200 on the local server `server`."""
    return {"endpoints": [{"name": "api", "url": server.url("/ok")}]}
