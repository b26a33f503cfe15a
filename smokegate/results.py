"""The outcome of every case of a run, folded from pytest's per-phase reports.

pytest reports setup, call and teardown separately (and, under xdist, interleaved
across workers); the summary, the console block and the gate need one outcome per
case. This module is that fold, free of pytest types so it is tested alone.

A case is "not run" until its call phase reports: a worker that crashed mid-test, or a
run that stopped, must not leave a case counted as passed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from smokegate.cases import CaseInfo
from smokegate.severity import Severity

# Lower index wins when phases disagree: a failed call beats a teardown error, and so on.
OUTCOME_ORDER = ("failed", "error", "skipped", "passed", "not run")
FAILING = ("failed", "error", "not run")


@dataclass
class CaseResult:
    nodeid: str
    case: CaseInfo
    outcome: str = "not run"
    message: str = ""
    verified: bool = False

    @property
    def is_failure(self) -> bool:
        return self.outcome in FAILING

    @property
    def waived(self) -> bool:
        """Skipped by a waiver (its skip reason is "waived until DATE: reason")."""
        return self.outcome == "skipped" and self.message.startswith("waived until")

    @property
    def gates_regardless(self) -> bool:
        """A failure that verified nothing (an error, a crash, no data) ignores --fail-on."""
        return self.is_failure and not (self.outcome == "failed" and self.verified)


class RunResults:
    """One `CaseResult` per test, updated phase by phase."""

    def __init__(self) -> None:
        self.cases: dict[str, CaseResult] = {}

    def record(
        self,
        nodeid: str,
        when: str,
        outcome: str,
        case: CaseInfo,
        message: str = "",
        *,
        verified: bool = True,
    ) -> None:
        """Fold one phase report in: a failing setup/teardown is an error, a skip is a skip,
        and only a passing call makes a case passed."""
        result = self.cases.setdefault(nodeid, CaseResult(nodeid, case))
        result.case = case
        if outcome == "failed":
            new = "failed" if when == "call" else "error"
        elif outcome == "skipped":
            new = "skipped"
        elif when == "call":
            new = "passed"
        else:
            return
        if OUTCOME_ORDER.index(new) < OUTCOME_ORDER.index(result.outcome):
            result.outcome = new
            result.message = message
            result.verified = verified if new == "failed" else new == "passed"

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
