"""Which suite produced a report: version and git revision, for the report's environment table."""

from __future__ import annotations

import subprocess
from pathlib import Path

from smokegate import __version__


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
