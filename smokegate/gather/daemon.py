"""Work that may block past any deadline (a socket read, a DNS lookup: neither can be
interrupted) run on a daemon thread: the caller stops waiting at its deadline and goes on,
and the thread, left behind, never holds the process's exit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class NotDoneInTime(Exception):
    """The work did not finish within the seconds given: the caller says why in its words."""


def on_daemon_thread(work: Callable[[], T], seconds: float, name: str) -> T:
    """`work()`'s value, or what it raised, when it ends within `seconds`; `NotDoneInTime`
    otherwise."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the waiting thread as it is
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(seconds):
        raise NotDoneInTime(name)
    if "error" in box:
        raise box["error"]
    return box["value"]
