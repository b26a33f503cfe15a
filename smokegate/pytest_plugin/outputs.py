"""Where a run's reports go, checked before the run starts (the writes smokegate does itself,
summary.md and $GITHUB_STEP_SUMMARY, are `smokegate.report.summary_files`).

A report folder that cannot be written is a usage error before anything is probed (exit 4,
one message), not an INTERNALERROR after the checks ran. The last run's reports in the
folder are removed first: a run that cannot write one of them (its writer disabled, a crash)
must not leave an older PASSED report where CI looks for the new one.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest

from smokegate.pytest_plugin.xdist import is_worker
from smokegate.report.summary_files import shown_path

DEFAULT_REPORTS = ("report.html", "junit.xml", "summary.md")


def _check_writable(folder: Path, what: str) -> None:
    """Create `folder` and write a file in it, or stop the run with the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".smokegate-write-test-"):
            pass
    except (FileExistsError, NotADirectoryError):  # mkdir met a file where a folder goes
        raise pytest.UsageError(
            f"smokegate: cannot write {what} in {shown_path(folder)}: a part of that path is a "
            "file, not a folder. Point --reports-dir (or --html / --junitxml) at a folder "
            "this run can write"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise pytest.UsageError(
            f"smokegate: cannot write {what} in {shown_path(folder)}: {reason}. Point "
            "--reports-dir (or --html / --junitxml) at a folder this run can write"
        ) from None


def _check_file_writable(target: Path, what: str) -> None:
    """A file that exists already is opened for appending (nothing written): /proc/version
    is in a folder nobody can create a file in, and said so as 'No such file or directory'
    (round 12), where the file itself is what cannot be written."""
    try:
        with target.open("ab"):
            pass
    except OSError as exc:
        raise pytest.UsageError(
            f"smokegate: {what} {shown_path(target)} cannot be written: "
            f"{exc.strerror or type(exc).__name__}. Name a file this run can write"
        ) from None


def prepare_reports(config: pytest.Config, reports_dir: Path) -> None:
    """Reports go to reports_dir unless the user named their own paths; every folder a
    report goes to is checked for writing now; the last run's default reports are removed."""
    option = config.option
    if getattr(option, "htmlpath", "missing") is None:
        option.htmlpath = str(reports_dir / "report.html")
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(reports_dir / "junit.xml")
    if is_worker(config):
        return  # the controller writes every report and checked the folders
    _check_writable(reports_dir, "the reports")
    for path, what in (
        (getattr(option, "htmlpath", None), "--html"),
        (option.xmlpath, "--junitxml"),
    ):
        if path:
            target = Path(path).expanduser().absolute()
            if target.is_dir():
                raise pytest.UsageError(
                    f"smokegate: {what} {shown_path(target)} is a folder: name a file "
                    f"({'report.html' if what == '--html' else 'junit.xml'} in it, say)"
                )
            if target.is_file():  # written in place: the file is what must take it
                _check_file_writable(target, what)
            else:
                _check_writable(target.parent, what)
    for name in DEFAULT_REPORTS:
        stale = reports_dir / name
        with contextlib.suppress(FileNotFoundError):
            if not stale.is_dir() or stale.is_symlink():  # a FIFO too: it would block the write
                stale.unlink()
