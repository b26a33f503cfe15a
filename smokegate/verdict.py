"""The outcome of one rule on one target: what every check returns and every report shows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """`problems` empty means the rule holds. `measured` is the short value a report column shows
    (status and latency, days left, age); `detail` is extra context for a person reading a failure,
    and `hint` what to do about it. `verified` is False when the rule could not look at its
    target at all (no token to send, no audit data): such a failure gates whatever `--fail-on`
    says, because a check that verified nothing must never let a run pass."""

    problems: tuple[str, ...] = ()
    measured: str = ""
    detail: str = ""
    hint: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    verified: bool = True

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def passed(measured: str = "", **kwargs: str) -> Verdict:
    return Verdict(measured=measured, **kwargs)


def failed(*problems: str, measured: str = "", **kwargs: str) -> Verdict:
    return Verdict(problems=tuple(problems), measured=measured, **kwargs)
