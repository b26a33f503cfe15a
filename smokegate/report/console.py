"""The smokegate block at the end of pytest's console output: the verdict a pipeline log shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from smokegate.cases import case_label
from smokegate.gate import GateResult
from smokegate.report.summary import gate_mark
from smokegate.results import RunResults

MAX_LISTED = 20
# Lines of a failure's text that are the failure's own: its first line, what was measured
# and what to do. Any other line found in several failures is a fact about the run.
_OWN_LINE_PREFIXES = ("measured:", "hint:")


def render_console(
    env: str,
    results: RunResults,
    gate: GateResult,
    reports: Sequence[str],
    waiver_lines: Sequence[str] = (),
    *,
    selection: str = "",
    partial: Sequence[str] = (),
    notices: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> list[str]:
    counts = results.by_outcome()
    totals = ", ".join(
        f"{counts[o]} {o}"
        for o in ("passed", "failed", "error", "skipped", "not run")
        if counts.get(o)
    )
    lines = [f"env {env}: {totals or 'no cases'}", gate.describe()]
    # where the answers came from (a mocked world, a proxy, ...), right under the verdict
    lines += [_lower_first(notice) for notice in notices if notice]
    if selection:
        lines.append(f"partial run: only {selection} was selected; not the full gate")
    lines += [_lower_first(note).rstrip(".") for note in partial if note]
    failures = sorted(results.failures, key=lambda r: (-r.case.severity.rank, r.nodeid))
    for r in failures[:MAX_LISTED]:
        below = gate_mark(r, gate)
        label = case_label(r.case.check, r.case.target)
        lines.append(f"  [{r.case.severity.value}{below}] {label}: {r.message}")
    if len(failures) > MAX_LISTED:
        lines.append(f"  ... and {len(failures) - MAX_LISTED} more in the reports")
    waived = sum(1 for r in results.cases.values() if r.waived)
    if waived:
        lines.append(f"  {waived} waived (skipped, with their reasons in the reports)")
    lines += [f"note: {note}" for note in notes]
    lines += list(waiver_lines)
    lines += [f"report: {path}" for path in reports]
    return lines


def _lower_first(text: str) -> str:
    """A sentence as a console line: its first letter lower-cased, unless it starts an
    acronym ("AWS endpoint")."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]  # cut-ok: the first letter, lower-cased


def repeated_lines(texts: Iterable[str]) -> dict[str, int]:
    """Lines that appear in more than one failure's text and are not that failure's own
    (its first line, `measured:`, `hint:`): facts about the run, such as the age of the
    IAM credential report, that the console says once instead of under every failure."""
    seen: Counter[str] = Counter()
    for text in texts:
        body = text.splitlines()[1:]
        seen.update({line for line in body if line.strip() and not _is_own(line)})
    return {line: n for line, n in seen.items() if n > 1}


def _is_own(line: str) -> bool:
    return line.lstrip().startswith(_OWN_LINE_PREFIXES)
