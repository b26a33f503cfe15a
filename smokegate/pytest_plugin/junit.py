"""JUnit glue: the suite and the outer `<testsuites>` are named `smokegate-<env>`, and the
gate's verdict, threshold, selection and the run's shape (which shard of how many, waivers
used and stale) are suite properties (`RunState.suite_properties`).

Per-case facts (check, target, severity, measured, and `unverified` for a failure that
checked nothing) are testcase properties written by the plugin, and the case's standing
against the gate (`gate`: gating, below gate, verified nothing, waived, passed) by the run
state, which folds each report before this writer reads it. The failure message's first
line repeats severity and standing ("[medium (below gate, --fail-on high)] ..."), because
GitLab's test report ignores properties.

Suite properties are added from the controller (`RunEndRecorder`, before pytest writes the
file): pytest's `record_testsuite_property` fixture is lost under xdist (pytest #7767).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from _pytest.junitxml import xml_key

from smokegate.pytest_plugin.keys import ENV_KEY
from smokegate.pytest_plugin.xdist import is_worker

# What pytest 9 writes as the outer element; renamed once the file is written.
PYTEST_TESTSUITES = '<testsuites name="pytest tests">'


def suite_name(config: pytest.Config) -> str | None:
    env = config.stash.get(ENV_KEY, None)
    return f"smokegate-{env.name}" if env is not None else None


def add_suite_properties(config: pytest.Config, properties: Iterable[tuple[str, str]]) -> None:
    """The gate's verdict and threshold on the suite, before pytest writes the file."""
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    for name, value in properties:
        xml.add_global_property(name, value)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    xml = session.config.stash.get(xml_key, None)
    name = suite_name(session.config)
    if xml is not None and name is not None:
        xml.suite_name = name


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """pytest names the outer `<testsuites>` "pytest tests" with no setting to change it;
    CI pages that list several files show that name: give it the env's."""
    xml = session.config.stash.get(xml_key, None)
    name = suite_name(session.config)
    if xml is None or name is None or is_worker(session.config):
        return
    rename_testsuites(Path(xml.logfile), name)


def rename_testsuites(path: Path, name: str) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return  # pytest could not write it either, and said so
    head, found, rest = text.partition(PYTEST_TESTSUITES)
    if found and len(head) < 200:  # the XML declaration only: this is the outer element
        path.write_text(f"{head}<testsuites name={quoteattr(name)}>{rest}", encoding="utf-8")
