"""Which suite produced a report: version and git revision, for the report's environment table."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from smokegate import __version__
from smokegate.redact import escape_control, excerpt


def suite_revision(root: Path) -> str:
    """The checkout's short git sha (with '+dirty' for local edits), or 'unknown' outside git."""
    try:
        sha = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha or "unknown"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout.strip()


def suite_version() -> str:
    return __version__


# The CI's own id of one pipeline run, the same in every job of its matrix and in a job's
# retry: the run's own (SMOKEGATE_RUN_ID, for any CI), GitHub Actions, GitLab, Azure
# Pipelines, Buildkite, CircleCI, Jenkins, Travis, Bitbucket, Drone, Woodpecker.
CI_RUN_VARIABLES = (
    "SMOKEGATE_RUN_ID",
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "BUILD_BUILDID",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_WORKFLOW_ID",
    "BUILD_TAG",
    "TRAVIS_BUILD_ID",
    "BITBUCKET_BUILD_NUMBER",
    "DRONE_BUILD_NUMBER",
    "CI_PIPELINE_NUMBER",
)


def ci_run(environ: Mapping[str, str] | None = None) -> str:
    """`VARIABLE=value` of the first CI run id set, or "": a shard says which pipeline run
    it belongs to, and the merge refuses shards of different runs (a stale junit.xml of an
    earlier pipeline standing in for a lost shard would read as its pass)."""
    env = os.environ if environ is None else environ
    for name in CI_RUN_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return f"{name}={escape_control(excerpt(value, 100), one_line=True)}"
    return ""
