"""Which targets an xdist worker probes: its whole planned share, its queue under another
`--dist`, or everything if xdist's shape changed.

A worker told by the controller that smokegate's scheduler assigns (`workerinput`) computes
its share itself; under another `--dist` the worker's queue is read from pytest-xdist's
WorkerInteractor (no public API exists); these fakes have the shape of pytest-xdist 3.x, and
one of a shape it might take later. The end-to-end proof under a real `-n 2` is in
tests/e2e/test_health.py (each endpoint requested exactly once) and tests/e2e/test_xdist.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from smokegate.pytest_plugin.xdist import WORKERINPUT_PLAN
from smokegate.pytest_plugin.xdist import queued_items as _queued_items
from smokegate.shares import PLAN


class _LockedQueue:
    def __init__(self, items: list[Any]) -> None:
        self._items = items

    @contextlib.contextmanager
    def lock(self) -> Iterator[list[Any]]:
        yield self._items


class WorkerInteractor:  # the name is what the plugin looks for
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


def _session(items: list[Any], *plugins: object, workerinput: dict | None = None) -> Any:
    manager = SimpleNamespace(get_plugins=lambda: {object(), *plugins})
    config = SimpleNamespace(pluginmanager=manager, stash={})
    if workerinput is not None:
        config.workerinput = workerinput
    return SimpleNamespace(items=items, config=config)


def _worker(index: int, count: int = 2, **extra: Any) -> dict[str, Any]:
    return {"workerid": f"gw{index}", "workercount": count, **extra}


def _item(nodeid: str) -> Any:
    return SimpleNamespace(nodeid=nodeid)


def test_without_xdist_every_item_is_queued() -> None:
    assert _queued_items(_session(["a", "b", "c"])) == ["a", "b", "c"]


def test_an_xdist_worker_queues_its_next_item_then_its_queue() -> None:
    interactor = WorkerInteractor(torun=_LockedQueue([3, 0, "SHUTDOWN"]), nextitem_index=2)
    session = _session(["a", "b", "c", "d"], interactor, workerinput=_worker(0))
    assert _queued_items(session) == ["c", "d", "a"]


def test_a_worker_between_items_queues_only_its_queue() -> None:
    interactor = WorkerInteractor(torun=_LockedQueue([1]), nextitem_index=None)
    assert _queued_items(_session(["a", "b"], interactor, workerinput=_worker(1))) == ["b"]


def test_an_unknown_xdist_shape_falls_back_to_every_item() -> None:
    interactor = WorkerInteractor(queue=[0])  # no `torun`: a future xdist, say
    assert _queued_items(_session(["a", "b"], interactor, workerinput=_worker(0))) == ["a", "b"]


def test_a_worker_under_smokegates_plan_runs_its_whole_share_without_the_queue() -> None:
    items = [
        _item("checks/test_health.py::test_endpoint[a]"),
        _item("checks/test_health.py::test_endpoint[b]"),
        _item("checks/test_headers.py::test_security_headers[a]"),
        _item("checks/test_health.py::test_endpoint[c]"),
    ]
    # the queue says otherwise: the plan wins, xdist's internals are not read
    interactor = WorkerInteractor(torun=_LockedQueue([1]), nextitem_index=None)
    shares = [
        _queued_items(
            _session(items, interactor, workerinput=_worker(i, **{WORKERINPUT_PLAN: PLAN}))
        )
        for i in (0, 1)
    ]
    assert [i.nodeid for i in shares[0]] == [
        "checks/test_health.py::test_endpoint[a]",
        "checks/test_headers.py::test_security_headers[a]",
    ]
    assert [i.nodeid for i in shares[1]] == [
        "checks/test_health.py::test_endpoint[b]",
        "checks/test_health.py::test_endpoint[c]",
    ]


def test_a_plan_of_another_version_is_not_trusted() -> None:
    interactor = WorkerInteractor(torun=_LockedQueue([1]), nextitem_index=None)
    workerinput = _worker(0, **{WORKERINPUT_PLAN: "smokegate-by-target-0"})
    assert _queued_items(_session(["a", "b"], interactor, workerinput=workerinput)) == ["b"]


class _Node:
    """What a scheduler sees of an xdist worker: its id, what it was sent, its shutdown."""

    def __init__(self, workerid: str) -> None:
        self.gateway = SimpleNamespace(id=workerid)
        self.sent: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def _scheduler(workers: int) -> Any:
    from smokegate.pytest_plugin.xdist import _ShareScheduling

    assert _ShareScheduling is not None  # pytest-xdist 3.x: smokegate's scheduler is in use
    config = SimpleNamespace(
        getoption=lambda name, default=None: {"tx": [], "maxschedchunk": None}.get(name, default),
        getvalue=lambda name: {"tx": ["popen"] * workers, "numprocesses": workers}.get(name),
        option=SimpleNamespace(tx=["popen"] * workers, numprocesses=workers, dist="load"),
        stash={},
        hook=SimpleNamespace(pytest_collectreport=lambda report: None),
    )
    return _ShareScheduling(config)


def test_the_scheduler_sends_each_worker_its_whole_share_once_then_shuts_it_down() -> None:
    collection = [
        "checks/test_health.py::test_endpoint[a]",
        "checks/test_health.py::test_endpoint[b]",
        "checks/test_headers.py::test_security_headers[a]",
        "checks/test_headers.py::test_security_headers[b]",
        "checks/test_health.py::test_endpoint[c]",
    ]
    scheduler = _scheduler(2)
    nodes = [_Node("gw1"), _Node("gw0")]  # in any order: the plan follows the worker ids
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    gw1, gw0 = nodes
    assert gw0.sent == [[0, 2, 4]]  # a (both cases) and c
    assert gw1.sent == [[1, 3]]
    assert gw0.shutting_down and gw1.shutting_down
    # a worker that crashes hands its rest to the others, as xdist's own scheduler does
    scheduler.mark_test_complete(gw1, 1)
    assert scheduler.remove_node(gw1) == collection[3]
    assert scheduler.has_pending
