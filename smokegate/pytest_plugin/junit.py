"""JUnit glue: the suite is named after the env and carries the run's verdict.

Per-case facts (check, target, severity, measured, and `unverified` for a failure that
checked nothing) are written as testcase properties by the plugin, and the failure
message's first line repeats them, because GitLab's test report ignores properties.

The suite's properties say how the run ended (gate, threshold, which shard of how many,
waivers used and stale): `python -m smokegate.merge` folds the shards of a CI matrix from
them, and knows from `smokegate_splits` how many shards it must find.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _pytest.junitxml import xml_key

from smokegate.pytest_plugin.keys import ENV_KEY
from smokegate.pytest_plugin.shards import shard_of

if TYPE_CHECKING:
    from smokegate.pytest_plugin.run import RunState


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    xml = session.config.stash.get(xml_key, None)
    env = session.config.stash.get(ENV_KEY, None)
    if xml is not None and env is not None:
        xml.suite_name = f"smokegate-{env.name}"


def record_run_properties(config: pytest.Config, state: RunState) -> None:
    """The run's verdict and shape as suite properties, before the JUnit file is written
    (on the process that sees every report: a serial run or the xdist controller, where
    pytest's `record_testsuite_property` would be lost)."""
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    gate = state.evaluate_gate()
    shard = shard_of(config)
    verdict = "not evaluated" if gate.incomplete else ("passed" if gate.passed else "failed")
    used = ",".join(str(i) for i in sorted(state.waivers.used))
    properties = [
        ("smokegate_env", state.env.name),
        ("smokegate_fail_on", gate.threshold.value),
        ("smokegate_verdict", verdict),
        ("smokegate_gate", gate.describe()),
        ("smokegate_splits", str(shard.splits if shard else 1)),
        ("smokegate_group", str(shard.group if shard else 1)),
        ("smokegate_unattributed", str(state.unattributed)),
        ("smokegate_waivers_used", used),
        *(("smokegate_stale_waiver", w.describe()) for w in state.stale_waivers()),
    ]
    for name, value in properties:
        xml.add_global_property(name, value)
