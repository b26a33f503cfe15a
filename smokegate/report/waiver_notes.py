"""Waivers that need a person: stale ones (matched no failing case) and expired ones.

A stale waiver is usually one of three things, and the note says which: the finding was
fixed (the pattern matches only passing cases now: remove it), the target has a typo (a
case id of that check is one edit away: name it), or the target never existed. An expired
waiver that still matches failing cases no longer waives them: the note counts them.
Pure, so the console, summary.md and the HTML report print the same sentence.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from smokegate.config import Waiver
from smokegate.results import CaseResult
from smokegate.waivers import StaleWaiver, matches, waiver_label

# How alike a waiver's target and a case id must be to be called "one typo away".
CLOSE_MATCH = 0.8
MAX_NAMED = 3


@dataclass(frozen=True)
class WaiverNote:
    index: int
    waiver: Waiver
    stale: bool  # matched no failing case (else: expired, still matching failures)
    expired: bool
    advice: str

    def describe(self) -> str:
        return f"{waiver_label(self.index, self.waiver, self.expired)}: {self.advice}"


def waiver_notes(
    waivers: Sequence[Waiver],
    stale: Sequence[StaleWaiver],
    cases: Iterable[CaseResult],
    today: date,
) -> list[WaiverNote]:
    """One note per stale waiver, then one per expired waiver that still matches failures."""
    by_check: dict[str, list[CaseResult]] = {}
    for result in cases:
        by_check.setdefault(result.case.check, []).append(result)
    notes = [_stale_note(s, by_check.get(s.waiver.check, [])) for s in stale]
    stale_indices = {s.index for s in stale}
    for index, waiver in enumerate(waivers):
        if index in stale_indices or today <= waiver.expires:
            continue
        failing = [
            r.case.target
            for r in by_check.get(waiver.check, [])
            if r.is_failure and matches(waiver, r.case.check, r.case.target)
        ]
        if failing:
            advice = (
                f"expired: no longer waives {_count(failing, 'failing case')} "
                f"({_names(failing)}); fix them or renew the waiver"
            )
            notes.append(WaiverNote(index, waiver, False, True, advice))
    return notes


def _stale_note(stale: StaleWaiver, results: list[CaseResult]) -> WaiverNote:
    waiver = stale.waiver
    matched = [r for r in results if matches(waiver, r.case.check, r.case.target)]
    passing = [r.case.target for r in matched if r.outcome == "passed"]
    if passing:
        advice = (
            f"matched no failing case; it matches {_count(passing, 'passing case')} "
            f"({_names(passing)}): the finding is fixed, remove the waiver"
        )
        return WaiverNote(stale.index, waiver, True, stale.expired, advice)
    if matched:  # skipped: waived by an earlier waiver of the list
        advice = (
            f"its {_count([r.case.target for r in matched], 'case')} "
            f"({_names([r.case.target for r in matched])}) are waived by an earlier waiver: "
            "remove the duplicate"
        )
        return WaiverNote(stale.index, waiver, True, stale.expired, advice)
    targets = sorted({r.case.target for r in results})
    close = difflib.get_close_matches(waiver.target, targets, n=1, cutoff=CLOSE_MATCH)
    if close:
        advice = (
            f"matched no case; the closest case id of {waiver.check} is '{close[0]}' "
            "(a typo in target?)"
        )
    else:
        advice = f"matched no case of {waiver.check}: remove it"
    return WaiverNote(stale.index, waiver, True, stale.expired, advice)


def _count(items: Sequence[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f", … {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")
