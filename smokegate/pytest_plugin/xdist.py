"""The one adapter over pytest-xdist's private worker queue: which items this process runs.

A worker that probes every target of the run would multiply the requests by the number of
workers; one that probes only the item at hand would probe one target at a time. So the
gatherers ask for the items still queued on this process. xdist has no public API for that:
this reads its `WorkerInteractor` (pytest-xdist 3.x). Should that change shape, every
collected item is returned: each worker then probes all targets, which costs requests but
never a result.
"""

from __future__ import annotations

import pytest


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker; the controller (or a serial run) sees every report and decides."""
    return hasattr(config, "workerinput")


def queued_items(session: pytest.Session) -> list[pytest.Item]:
    """The items this process will still run: all of them, or an xdist worker's queue."""
    interactor = next(
        (
            p
            for p in session.config.pluginmanager.get_plugins()
            if type(p).__name__ == "WorkerInteractor"
        ),
        None,
    )
    queue = getattr(interactor, "torun", None)
    upcoming = getattr(interactor, "nextitem_index", None)
    if not callable(getattr(queue, "lock", None)):
        return list(session.items)
    with queue.lock() as queued:
        indices = [i for i in queued if isinstance(i, int)]
    if isinstance(upcoming, int):
        indices.insert(0, upcoming)
    return [session.items[i] for i in indices if 0 <= i < len(session.items)]
