"""report.html and junit.xml written each on its own, so one that cannot be written does not
take the other with it.

pytest's junitxml and pytest-html each write their file in their own `pytest_sessionfinish`.
When one raises (a full disk; `--junitxml=/dev/full`), pluggy calls no later hook: the other
file was never written either, and pytest-html still printed "Generated html report" for a
file that did not exist (attack round 13). So, for the span of those hooks, both writers
write into a private staging folder, which does not fail the way a report's destination can;
once every writer has run, each file is copied to where it was asked for, on its own. A copy
that fails is named with its reason, and its staged file is kept and pointed at (what
pytest-html and junitxml then print is that file's path, which exists); the other arrives.

Copied, not moved: a destination may be a device or a pipe (`--junitxml=/dev/stdout`),
which must be written into, never replaced.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _pytest.junitxml import xml_key

from smokegate.redact import excerpt, process_scrubber
from smokegate.report.summary_files import write_to


@dataclass
class _Staged:
    name: str  # what the console calls it: report.html, junit.xml
    destination: Path
    staged: Path
    point_at: Any  # called with a path: the writer's own idea of where its file is


class StagedReports:
    """The staging of one session's report files (see the module doc)."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._staged: list[_Staged] = []
        self.undelivered: set[str] = set()  # destinations not written (`normal_path`)

    def stage(self, config: pytest.Config) -> None:
        """Point each writer at a file of the staging folder, named as its destination."""
        try:
            self._folder = Path(tempfile.mkdtemp(prefix="smokegate-reports-"))
        except OSError:
            return  # no temporary folder: the writers write where they were asked
        xml = config.stash.get(xml_key, None)
        if xml is not None:
            self._add("junit.xml", Path(xml.logfile), lambda p: setattr(xml, "logfile", str(p)))
        html = _html_report(config)
        if html is not None:
            self._add("report.html", html._report_path, lambda p: setattr(html, "_report_path", p))

    def _add(self, name: str, destination: Path, point_at: Any) -> None:
        assert self._folder is not None
        staged = self._folder / name
        point_at(staged)
        self._staged.append(_Staged(name, destination, staged, point_at))

    def staged_destination(self, path: str | None) -> str | None:
        """The destination of a staged file's path (for a writer's own error message)."""
        for item in self._staged:
            if path is not None and Path(path) == item.staged:
                return str(item.destination)
        return None

    def deliver(self, *, spreads: bool = False) -> list[str]:
        """Copy each staged file to its destination; the problems, one line each.
        `spreads`: a secret was learnt after the files' first texts came in
        (`_mask_known_secrets`)."""
        problems: list[str] = []
        kept = False
        for item in self._staged:
            item.point_at(item.destination)
            if not item.staged.is_file():
                continue  # its writer failed, or did not run: said where it failed
            try:
                data = _mask_known_secrets(item.staged, spreads=spreads)
                item.destination.parent.mkdir(parents=True, exist_ok=True)
                reason = write_to(str(item.destination), data)
            except OSError as exc:
                reason = f"was not written: {exc.strerror or type(exc).__name__}"
            if reason is None:
                item.staged.unlink(missing_ok=True)
                continue
            kept = True
            item.point_at(item.staged)
            self.undelivered.add(normal_path(str(item.destination)))
            problems.append(
                f"{item.name} ({excerpt(str(item.destination), 300)}) {reason}; it is kept "
                f"at {item.staged}"
            )
        if self._folder is not None and not kept:
            shutil.rmtree(self._folder, ignore_errors=True)
        return problems


def _mask_known_secrets(path: Path, *, spreads: bool = False) -> bytes:
    """The last pass over a whole report: every byte the writers took from elsewhere is
    scrubbed on its way in, but pytest's junitxml and pytest-html also write what nobody
    hands them through a hook (`--junit-prefix` in every classname; round 14: a CI token
    given as `--junit-prefix=$CI_JOB_TOKEN`). Known secrets only: a credential shape could
    match the report's own scripts. The file's bytes as they are to be delivered; the
    staged file is rewritten only when something was masked (it is kept when a delivery
    fails)."""
    data = path.read_bytes()
    text = data.decode("utf-8", errors="surrogateescape")
    scrubber = process_scrubber()
    # pytest-html's own script, as it ships, holds nothing of the run: masked, a variable
    # equal to one of its words (`querySelectorAll`) stopped it, and the page showed no
    # case (round 31a). Any other script is masked as the rest is.
    shipped = _shipped_script()
    parts = text.split(shipped) if shipped and path.suffix == ".html" else [text]
    # masked at once, not first asked whether anything leaks: that question also searched
    # the secrets spread over separators at six times the cost (15 MB of junit.xml from
    # twenty accounts: seconds), and this pass looks for spreads only when a secret came
    # late (`spreads`: every text was scrubbed for them on its way in otherwise)
    masked = [scrubber.mask_known(part, spreads=spreads) for part in parts]
    if masked == parts:
        return data
    data = shipped.join(masked).encode("utf-8", errors="surrogateescape")
    path.write_bytes(data)
    return data


@functools.cache
def _shipped_script() -> str:
    """pytest-html's app.js as the report embeds it (stripped); "" when it cannot be read."""
    try:
        import pytest_html

        source = Path(pytest_html.__file__).parent / "resources" / "app.js"
        return source.read_text(encoding="utf-8").strip()
    except (ImportError, OSError, UnicodeDecodeError):
        return ""


def normal_path(path: str) -> str:
    """A report path as both writers resolve what they were given (variables, `~`, the
    working folder), so the path on the command line and the writer's own compare equal."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(path))))


def _html_report(config: pytest.Config) -> Any:
    """pytest-html's report plugin of this session (registered without a name), or None."""
    try:
        from pytest_html.basereport import BaseReport
    except ImportError:
        return None
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport) and isinstance(
            getattr(plugin, "_report_path", None), Path
        ):
            return plugin
    return None
