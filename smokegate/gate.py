"""The `--fail-on` gate: which failures decide the exit code. Pure, so it is tested alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from smokegate.severity import Severity


@dataclass(frozen=True)
class GateResult:
    threshold: Severity
    failures_by_severity: dict[Severity, int]

    @property
    def gating(self) -> int:
        counts = self.failures_by_severity
        return sum(n for sev, n in counts.items() if sev.at_least(self.threshold))

    @property
    def below_gate(self) -> int:
        return sum(self.failures_by_severity.values()) - self.gating

    @property
    def passed(self) -> bool:
        return self.gating == 0

    def describe(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        counts = self.failures_by_severity
        listed = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts.get(s))
        listed = listed or "no failures"
        below = f"; {self.below_gate} below the gate" if self.below_gate else ""
        return f"gate {verdict} (--fail-on {self.threshold.value}): {listed}{below}"


def evaluate_gate(failed_severities: Iterable[Severity], threshold: Severity) -> GateResult:
    counts = Counter(failed_severities)
    return GateResult(threshold=threshold, failures_by_severity=dict(counts))
