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
