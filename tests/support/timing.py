"""Relative timing for the linear-time tests: never an absolute time (the CI machine's speed
is unknown), always a ratio against a plain `str.find` over the same text, in CPU time."""

from __future__ import annotations

import time
from collections.abc import Callable

# How many times a plain str.find over the same text one scrub may take. The scrubber makes
# a few linear passes in C (RE2, str.find) plus Python work per match or per escape; before
# the fix, one scrub of adversarial text took 5 s to minutes (attack round 1, H3): more than
# 100 000 times str.find.
SCRUB_BUDGET_FACTOR = 20_000


def best_of_three(call: Callable[[], object]) -> float:
    """The least CPU time of three runs, this thread's own: the work done, which what else
    the machine runs does not add to (wall time did: a 1 MB scrub over budget on a runner
    busy with another suite and a 4 GB process, new-user trial 55)."""
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        call()
        best = min(best, time.thread_time() - start)
    return best
