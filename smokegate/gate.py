"""The `--fail-on` gate: which failures decide the exit code. Pure, so it is tested alone.

Severity only ranks *findings*: failures where a rule looked at its target and judged it.
A failure that verified nothing (an error in a check, a crash, no token, no audit data,
a failure smokegate could not attribute) gates whatever the threshold, and a run that did
not complete is never a pass: a gate that passes because data was missing is the worst
bug this product can have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from smokegate.severity import Severity


@dataclass(frozen=True)
class GateResult:
    threshold: Severity
    failures_by_severity: dict[Severity, int]
    unverified: int = 0
    incomplete: str = ""

    @property
    def findings_gating(self) -> int:
        counts = self.failures_by_severity
        return sum(n for sev, n in counts.items() if sev.at_least(self.threshold))

    @property
    def gating(self) -> int:
        return self.findings_gating + self.unverified

    @property
    def below_gate(self) -> int:
        return sum(self.failures_by_severity.values()) - self.findings_gating

    @property
    def passed(self) -> bool:
        return self.gating == 0 and not self.incomplete

    def describe(self) -> str:
        if self.incomplete:
            return f"gate NOT EVALUATED (--fail-on {self.threshold.value}): {self.incomplete}"
        verdict = "PASSED" if self.passed else "FAILED"
        counts = self.failures_by_severity
        listed = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts.get(s))
        parts = [listed] if listed else []
        if self.unverified:
            parts.append(f"{self.unverified} verified nothing (gates at any --fail-on)")
        text = "; ".join(parts) or "no failures"
        below = f"; {self.below_gate} below the gate" if self.below_gate else ""
        return f"gate {verdict} (--fail-on {self.threshold.value}): {text}{below}"


def evaluate_gate(
    findings: Iterable[Severity],
    threshold: Severity,
    *,
    unverified: int = 0,
    incomplete: str = "",
) -> GateResult:
    """`findings`: severities of verified failures; `unverified`: failures that checked
    nothing; `incomplete`: why the run cannot be judged (empty when it completed)."""
    return GateResult(
        threshold=threshold,
        failures_by_severity=dict(Counter(findings)),
        unverified=unverified,
        incomplete=incomplete,
    )
