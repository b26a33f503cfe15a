"""Where one case stands against the gate: the word every report puts beside a case.

The gate (`smokegate.gate`) counts; this names, per case, why it counts or not: a failure
at or above `--fail-on` gates, one below it is "below gate", one that verified nothing
gates at any threshold, a waived failure is a skip. The HTML row, the JUnit property and
failure message, the console and summary.md all take the word from here, so they never
tell a reader two different stories about the same case.
"""

from __future__ import annotations

from enum import StrEnum

from smokegate.results import CaseResult
from smokegate.severity import Severity

WAIVED_PREFIX = "waived until"


class Standing(StrEnum):
    """A case's place in the gate, in the words the reports use."""

    VERIFIED_NOTHING = "verified nothing"
    GATING = "gating"
    BELOW_GATE = "below gate"
    WAIVED = "waived"
    SKIPPED = "skipped"
    PASSED = "passed"

    @property
    def gates(self) -> bool:
        return self in (Standing.VERIFIED_NOTHING, Standing.GATING)

    @property
    def is_failure(self) -> bool:
        return self in (Standing.VERIFIED_NOTHING, Standing.GATING, Standing.BELOW_GATE)

    @property
    def css(self) -> str:
        """The class suffix the HTML report colours this standing with."""
        return self.value.replace(" ", "-")


# The order a person reads failures in: what gates the run first, then what does not.
_GROUP = {
    Standing.VERIFIED_NOTHING: 0,
    Standing.GATING: 0,
    Standing.BELOW_GATE: 1,
    Standing.WAIVED: 2,
    Standing.SKIPPED: 3,
    Standing.PASSED: 4,
}


def failure_standing(severity: Severity, verified: bool, threshold: Severity) -> Standing:
    """A failing case: a finding gates at or above the threshold; one that verified nothing
    (no token, no data, an error) gates whatever the threshold."""
    if not verified:
        return Standing.VERIFIED_NOTHING
    return Standing.GATING if severity.at_least(threshold) else Standing.BELOW_GATE


def standing_of(result: CaseResult, threshold: Severity) -> Standing:
    """The standing of one folded case result under `--fail-on threshold`."""
    if result.is_failure:
        return failure_standing(result.case.severity, not result.gates_regardless, threshold)
    if result.outcome == "skipped":
        return Standing.WAIVED if result.message.startswith(WAIVED_PREFIX) else Standing.SKIPPED
    return Standing.PASSED


def reading_order(standing: Standing, severity: Severity) -> str:
    """A sort key as text (the HTML table sorts cells as strings): gating first, then the
    most severe, e.g. "0-1" for a gating critical failure, "1-3" for a medium below gate."""
    return f"{_GROUP[standing]}-{5 - severity.rank}"


def severity_label(severity: Severity, standing: Standing, threshold: Severity) -> str:
    """'medium (below gate: --fail-on high)': the bracket a failure message opens with, so a
    CI page that shows only the message says whether this failure decided the run. The
    console and summary.md mark the same cases "(below gate)" and "(verified nothing)"."""
    if standing is Standing.BELOW_GATE:
        return f"{severity.value} (below gate: --fail-on {threshold.value})"
    if standing is Standing.VERIFIED_NOTHING:
        return f"{severity.value} (verified nothing)"
    return severity.value
