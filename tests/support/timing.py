"""Relative timing for the linear-time tests: never an absolute wall time (the CI machine's
speed is unknown), always a ratio against a plain `str.find` over the same text."""

from __future__ import annotations

import time
from collections.abc import Callable

# How many times a plain str.find over the same text one scrub may take. The scrubber makes
# a few linear passes in C (RE2, str.find) plus Python work per match or per escape; before
# the fix, one scrub of adversarial text took 5 s to minutes (attack round 1, H3): more than
# 100 000 times str.find.
SCRUB_BUDGET_FACTOR = 20_000


def best_of_three(call: Callable[[], object]) -> float:
    """The fastest of three runs: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best
