"""Which targets an xdist worker probes: its own queue, or everything if xdist's shape changed.

The worker's queue is read from pytest-xdist's WorkerInteractor (no public API exists);
these fakes have the shape of pytest-xdist 3.x, and one of a shape it might take later.
The end-to-end proof under a real `-n 2` is in tests/e2e/test_health.py (each endpoint requested
exactly once).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from smokegate.pytest_plugin.xdist import queued_items as _queued_items


class _LockedQueue:
    def __init__(self, items: list[Any]) -> None:
        self._items = items

    @contextlib.contextmanager
    def lock(self) -> Iterator[list[Any]]:
        yield self._items


class WorkerInteractor:  # the name is what the plugin looks for
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


def _session(items: list[str], *plugins: object) -> Any:
    manager = SimpleNamespace(get_plugins=lambda: {object(), *plugins})
    return SimpleNamespace(items=items, config=SimpleNamespace(pluginmanager=manager))


def test_without_xdist_every_item_is_queued() -> None:
    assert _queued_items(_session(["a", "b", "c"])) == ["a", "b", "c"]


def test_an_xdist_worker_queues_its_next_item_then_its_queue() -> None:
    interactor = WorkerInteractor(torun=_LockedQueue([3, 0, "SHUTDOWN"]), nextitem_index=2)
    assert _queued_items(_session(["a", "b", "c", "d"], interactor)) == ["c", "d", "a"]


def test_a_worker_between_items_queues_only_its_queue() -> None:
    interactor = WorkerInteractor(torun=_LockedQueue([1]), nextitem_index=None)
    assert _queued_items(_session(["a", "b"], interactor)) == ["b"]


def test_an_unknown_xdist_shape_falls_back_to_every_item() -> None:
    interactor = WorkerInteractor(queue=[0])  # no `torun`: a future xdist, say
    assert _queued_items(_session(["a", "b"], interactor)) == ["a", "b"]
