"""JUnit glue: the suite is named after the env and carries the run's verdict.

Per-case facts (check, target, severity, measured, and `unverified` for a failure that
checked nothing) are written as testcase properties by the plugin, and the failure
message's first line repeats them, because GitLab's test report ignores properties.

The suite's properties, which say how the run ended (gate, threshold, which shard of how
many, waivers used and stale), are written by `run.record_run_properties`.
"""

from __future__ import annotations

import pytest
from _pytest.junitxml import xml_key

from smokegate.pytest_plugin.keys import ENV_KEY


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    xml = session.config.stash.get(xml_key, None)
    env = session.config.stash.get(ENV_KEY, None)
    if xml is not None and env is not None:
        xml.suite_name = f"smokegate-{env.name}"
