"""The multi-account audit's threads never hold the process at exit (attack round 19b, F3:
a member account whose endpoint dripped failed at iam.timeout_s, then the interpreter joined
its ThreadPoolExecutor thread, stuck in the read, for as long as the endpoint dripped)."""

from __future__ import annotations

import threading

from smokegate.gather.iam import on_daemon_threads


def test_a_task_stuck_past_the_deadline_is_none_and_on_a_daemon_thread():
    release = threading.Event()
    seen: list[threading.Thread] = []

    def stuck() -> str:
        seen.append(threading.current_thread())
        release.wait(30)
        return "late"

    try:
        results = on_daemon_threads(
            [lambda: "quick", stuck, lambda: "also"], workers=2, seconds=0.5
        )
        assert results[0] == "quick" and results[1] is None
        assert seen and all(thread.daemon for thread in seen)
    finally:
        release.set()


def test_a_task_not_started_by_the_deadline_never_starts():
    release = threading.Event()
    started: list[int] = []

    def task(number: int):
        def run() -> int:
            started.append(number)
            release.wait(30)
            return number

        return run

    try:
        results = on_daemon_threads([task(1), task(2)], workers=1, seconds=0.3)
        assert results == [None, None]
    finally:
        release.set()
    assert started == [1]  # the second never began: the worker found the run closed
