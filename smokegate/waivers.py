"""Waivers: which `waivers:` entry applies to a failing case, and which entries are stale.

Pure functions, no pytest. A waiver names a check (the test function without `test_`) and
a target (a pattern over the case id, e.g. `legacy-bot` or `ci-*:key2`: `*` and `?` are
fnmatch's wildcards, and brackets are literal, since case ids hold them: a target `p[1]`
copied from a report waives the case `p[1]`, never the case `p1`). It is
valid through its `expires` date; after that it no longer waives, and the failure says so,
so an exception granted for a quarter cannot quietly become permanent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from smokegate.config import Waiver


@dataclass(frozen=True)
class WaiverMatch:
    index: int  # position in the env file's `waivers:` list
    waiver: Waiver
    expired: bool

    @property
    def skip_reason(self) -> str:
        return f"waived until {self.waiver.expires.isoformat()}: {self.waiver.reason}"

    @property
    def expired_note(self) -> str:
        w = self.waiver
        return (
            f"waiver expired on {w.expires.isoformat()} (check {w.check}, target {w.target}: "
            f"{w.reason}); it no longer waives this failure: fix it or renew the waiver"
        )


def matches(waiver: Waiver, check: str, target: str) -> bool:
    return waiver.check == check and fnmatchcase(target, _literal_brackets(waiver.target))


def _literal_brackets(pattern: str) -> str:
    """`[` and `]` as themselves: as fnmatch's character class, a target copied from a
    report (`p[1]`) silenced another case (`p1`) while naming this one (attack round 11)."""
    return "".join({"[": "[[]", "]": "[]]"}.get(char, char) for char in pattern)


def find_waiver(
    waivers: Sequence[Waiver], check: str, target: str, today: date
) -> WaiverMatch | None:
    """The waiver for a failing case: the first valid match in file order, else the first
    expired match (so the failure can say it expired), else None."""
    expired: WaiverMatch | None = None
    for index, waiver in enumerate(waivers):
        if not matches(waiver, check, target):
            continue
        if today <= waiver.expires:
            return WaiverMatch(index, waiver, expired=False)
        if expired is None:
            expired = WaiverMatch(index, waiver, expired=True)
    return expired


@dataclass(frozen=True)
class StaleWaiver:
    index: int
    waiver: Waiver
    expired: bool

    def describe(self) -> str:
        return waiver_label(self.index, self.waiver, self.expired)


def waiver_label(index: int, waiver: Waiver, expired: bool) -> str:
    """`waivers[1] check endpoint, target gone (expires 2027-01-31)`: how reports name one."""
    state = f"expired {waiver.expires.isoformat()}" if expired else f"expires {waiver.expires}"
    return f"waivers[{index}] check {waiver.check}, target {waiver.target} ({state})"


def stale_waivers(
    waivers: Sequence[Waiver], used: Iterable[int], checks_run: Iterable[str], today: date
) -> list[StaleWaiver]:
    """Waivers that matched no failing case, among those whose check ran at all (a run with
    `-m health` says nothing about an IAM waiver)."""
    used_set, ran = set(used), set(checks_run)
    return [
        StaleWaiver(index, waiver, expired=today > waiver.expires)
        for index, waiver in enumerate(waivers)
        if index not in used_set and waiver.check in ran
    ]
