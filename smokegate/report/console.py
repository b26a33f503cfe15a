"""The smokegate block at the end of pytest's console output: the verdict a pipeline log shows."""

from __future__ import annotations

from collections.abc import Sequence

from smokegate.gate import GateResult
from smokegate.report.summary import gate_mark
from smokegate.results import RunResults

MAX_LISTED = 20


def render_console(
    env: str,
    results: RunResults,
    gate: GateResult,
    reports: Sequence[str],
    stale_waivers: Sequence[str] = (),
) -> list[str]:
    counts = results.by_outcome()
    totals = ", ".join(
        f"{counts[o]} {o}"
        for o in ("passed", "failed", "error", "skipped", "not run")
        if counts.get(o)
    )
    lines = [f"env {env}: {totals or 'no cases'}", gate.describe()]
    failures = sorted(results.failures, key=lambda r: (-r.case.severity.rank, r.nodeid))
    for r in failures[:MAX_LISTED]:
        below = gate_mark(r, gate)
        lines.append(
            f"  [{r.case.severity.value}{below}] {r.case.check} {r.case.target}: {r.message}"
        )
    if len(failures) > MAX_LISTED:
        lines.append(f"  ... and {len(failures) - MAX_LISTED} more in the reports")
    waived = sum(1 for r in results.cases.values() if r.waived)
    if waived:
        lines.append(f"  {waived} waived (skipped, with their reasons in the reports)")
    for waiver in stale_waivers:
        lines.append(f"stale waiver (matched no failing case): {waiver}")
    lines += [f"report: {path}" for path in reports]
    return lines
