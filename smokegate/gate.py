"""The `--fail-on` gate: which failures decide the exit code. Pure, so it is tested alone.

Severity only ranks *findings*: failures where a rule looked at its target and judged it.
A failure that verified nothing (an error in a check, a crash, no token, no audit data,
a failure smokegate could not attribute) gates whatever the threshold, and a run that did
not complete is never a pass: a gate that passes because data was missing is the worst
bug this product can have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smokegate.severity import Severity

# The JUnit suite property `full_gate_problem` of a run that --full-gate would take: every
# run records it (the refusal's reason otherwise), and the shard merge's --full-gate reads a
# file without it as one that does not say how it was run, never as a run that was the gate.
FULL_GATE_PROPERTY = "full_gate_problem"
FULL_GATE_NO_PROBLEM = "none"


@dataclass(frozen=True)
class GateResult:
    threshold: Severity
    failures_by_severity: dict[Severity, int]
    unverified: int = 0
    incomplete: str = ""
    # Why the run is not the full gate ("" when it is): fewer cases collected than the env
    # defines (-k, -m, --deselect, --ignore, -o python_files, ...), or one shard of several.
    # The verdict then reads "PASSED (partial)" / "FAILED (partial)" in every report.
    partial: str = ""

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

    @property
    def word(self) -> str:
        """The verdict as every report words it: PASSED, FAILED, NOT EVALUATED, and
        PASSED (partial) / FAILED (partial) for a run that is not the full gate."""
        if self.incomplete:
            return "NOT EVALUATED"
        word = "PASSED" if self.passed else "FAILED"
        return f"{word} (partial)" if self.partial else word

    def describe(self) -> str:
        """One line: what gates (findings at or above the threshold, failures that verified
        nothing), then what is below the gate, each counted once and by severity."""
        if self.incomplete:
            return f"gate NOT EVALUATED (--fail-on {self.threshold.value}): {self.incomplete}"
        verdict = "PASSED" if self.passed else "FAILED"
        threshold = f"{'partial, ' if self.partial else ''}--fail-on {self.threshold.value}"
        gating = self._listed(lambda s: s.at_least(self.threshold))
        parts = [gating] if gating else []
        if self.unverified:
            parts.append(f"{self.unverified} verified nothing (gates at any --fail-on)")
        if self.below_gate:
            below = self._listed(lambda s: not s.at_least(self.threshold))
            if not parts:
                parts.append("nothing gates")
            parts.append(f"{self.below_gate} below the gate ({below})")
        text = "; ".join(parts) or "no failures"
        return f"gate {verdict} ({threshold}): {text}"

    def _listed(self, keep: Callable[[Severity], bool]) -> str:
        counts = self.failures_by_severity
        return ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts.get(s) and keep(s))


def evaluate_gate(
    findings: Iterable[Severity],
    threshold: Severity,
    *,
    unverified: int = 0,
    incomplete: str = "",
    partial: str = "",
) -> GateResult:
    """`findings`: severities of verified failures; `unverified`: failures that checked
    nothing; `incomplete`: why the run cannot be judged (empty when it completed)."""
    return GateResult(
        threshold=threshold,
        failures_by_severity=dict(Counter(findings)),
        unverified=unverified,
        incomplete=incomplete,
        partial=partial,
    )
