"""The outcome of every case of a run, folded from pytest's per-phase reports.

pytest reports setup, call and teardown separately (and, under xdist, interleaved
across workers); the summary, the console block and the gate need one outcome per
case. This module is that fold, free of pytest types so it is tested alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from smokegate.cases import CaseInfo
from smokegate.severity import Severity

OUTCOME_ORDER = ("failed", "error", "skipped", "passed")


@dataclass
class CaseResult:
    nodeid: str
    case: CaseInfo
    outcome: str = "passed"
    message: str = ""

    @property
    def is_failure(self) -> bool:
        return self.outcome in ("failed", "error")


class RunResults:
    """One `CaseResult` per test, updated phase by phase."""

    def __init__(self) -> None:
        self.cases: dict[str, CaseResult] = {}

    def record(
        self, nodeid: str, when: str, outcome: str, case: CaseInfo, message: str = ""
    ) -> None:
        """Fold one phase report in: a failing setup/teardown is an error, a skip is a skip."""
        result = self.cases.setdefault(nodeid, CaseResult(nodeid, case))
        result.case = case
        if outcome == "failed":
            new = "failed" if when == "call" else "error"
        elif outcome == "skipped":
            new = "skipped"
        else:
            return
        if result.outcome == "passed" or OUTCOME_ORDER.index(new) < OUTCOME_ORDER.index(
            result.outcome
        ):
            result.outcome = new
            result.message = message

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.cases.values() if r.is_failure]

    def by_outcome(self) -> Counter[str]:
        return Counter(r.outcome for r in self.cases.values())

    def failures_by_severity(self) -> Counter[Severity]:
        return Counter(r.case.severity for r in self.failures)

    def table_by_kind(self) -> dict[str, Counter[str]]:
        """kind -> outcome counts, for the summary's totals table."""
        table: dict[str, Counter[str]] = {}
        for result in self.cases.values():
            table.setdefault(result.case.kind or "other", Counter())[result.outcome] += 1
        return table
