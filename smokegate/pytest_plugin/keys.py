"""What the plugin's modules share: stash keys, a case's identity and a skip's reason.

In a module of their own so that every module of the plugin imports them from here and
none imports the entry module (`plugin`), which imports them all: no import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from smokegate.cases import CaseInfo
from smokegate.config import LoadedEnv
from smokegate.verdict import Verdict

if TYPE_CHECKING:
    from smokegate.pytest_plugin.iam import IamPlugin
    from smokegate.pytest_plugin.run import RunState

ENV_KEY = pytest.StashKey[LoadedEnv]()
STATE_KEY: pytest.StashKey[RunState] = pytest.StashKey()
IAM_KEY: pytest.StashKey[IamPlugin] = pytest.StashKey()
CASE_KEY = pytest.StashKey[CaseInfo]()
VERDICT_KEY = pytest.StashKey[Verdict]()
UNVERIFIED_KEY = pytest.StashKey[bool]()  # the case failed and verified nothing
# the case failed through `enforce`: its failure text is smokegate's own message, whose
# quotes of others' text were scrubbed, pieces included, as they were written (`excerpt`)
OWN_FAILURE_KEY = pytest.StashKey[bool]()
NO_TARGETS_KEY = pytest.StashKey[set[str]]()  # checks dropped: no target in this env


def deselect_without_targets(config: pytest.Config, dropped: list[pytest.Item]) -> None:
    """Drop checks that get no case in this env: counted as deselected (pytest's "selected"
    figure then matches what runs), and named in smokegate's block, which says why (a plain
    run read "14 deselected" with no word on what they were; new-user round 15)."""
    config.hook.pytest_deselected(items=dropped)
    names = config.stash.setdefault(NO_TARGETS_KEY, set())
    names.update(getattr(item, "originalname", item.name) for item in dropped)


def case_identity(item: pytest.Item) -> tuple[str, str]:
    """(check, target): the test function without `test_`, and the id inside the brackets
    (the check's own name for an unparametrized check such as `root_mfa`). What a waiver
    names and what every report shows: one definition for both."""
    check = getattr(item, "originalname", item.name).removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    return check, callspec.id if callspec is not None else check


def skip_reason(report: pytest.TestReport) -> str:
    """A skipped report's reason ("waived until 2027-01-31: ..."), or "" for any other."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return ""


# Options that make a run list or describe things instead of running checks, and what each
# does, as the gate's NOT EVALUATED reason says it.
_INFORMATIONAL = (
    ("collectonly", "--collect-only lists the cases and runs none"),
    ("showfixtures", "--fixtures lists the fixtures and runs no check"),
    ("show_fixtures_per_test", "--fixtures-per-test lists the fixtures and runs no check"),
    ("markers", "--markers lists the markers and runs no check"),
    ("help", "--help runs no check"),
    ("version", "--version runs no check"),
    ("setupplan", "--setup-plan shows the fixture plan and runs no check"),
    ("setuponly", "--setup-only sets fixtures up and runs no check"),
    ("cacheshow", "--cache-show shows pytest's cache and runs no check"),
)


def informational_run(config: pytest.Config) -> str:
    """Why this run judges nothing ("--fixtures lists the fixtures and runs no check"), or ""
    for a run of the checks. Such a run says gate NOT EVALUATED, writes no report and leaves
    the last run's reports as they are."""
    for dest, reason in _INFORMATIONAL:
        if getattr(config.option, dest, None):
            return reason
    return ""
