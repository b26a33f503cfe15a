"""Severity levels and their order, shared by the config, the gate and the reports."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How serious a failing case is; `--fail-on` gates on this order."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more serious, so `severity.rank >= threshold.rank` reads as 'gates'."""
        return _RANKS[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank

    @classmethod
    def names(cls) -> list[str]:
        return [s.value for s in cls]

    @classmethod
    def _missing_(cls, value: object) -> Severity | None:
        """`severity: Critical` in an env file means critical: names match in any case."""
        if isinstance(value, str):
            return next((s for s in cls if s.value == value.strip().lower()), None)
        return None


_RANKS = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
