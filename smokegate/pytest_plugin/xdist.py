"""The one adapter over pytest-xdist: which items this process runs.

A worker that probes every target of the run would multiply the requests by the number of
workers; one that probes only the items xdist has queued on it so far probes in rounds,
one slow round after another (issue 13: `-n 2` took 6.3 s against 2.2 s serially). So:

- On the controller, `pytest_xdist_make_scheduler` (a public xdist hook) installs
  `ShareScheduling` in place of xdist's default `load` scheduler: every worker gets its
  whole share at once, grouped by target (`smokegate.shares.plan_shares`). The controller
  announces that plan to the workers through `pytest_configure_node` (public: the
  `workerinput` dict every worker receives).
- A worker that was told computes the same plan over its own collection with its public
  `workerinput` (`workerid`, `workercount`): `queued_items` is its whole share, read
  before its first case, without touching xdist's internals.
- With another `--dist` (loadscope, worksteal, ...) xdist schedules, and `queued_items`
  reads the worker's private queue (`WorkerInteractor.torun`) as before.

Fallbacks never lose a result: if xdist's scheduler classes change shape, xdist's own
scheduler runs and the worker reads its queue; if that changes shape too, every collected
item counts as pending (each worker then probes every target: requests, not results). An
item run outside the share a worker computed (xdist reassigns a crashed worker's items)
is probed when its check asks, as any result is.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from smokegate.shares import PLAN, plan_shares, worker_index

try:  # the scheduler xdist runs by default with -n, extended below
    from xdist.scheduler import LoadScheduling
except ImportError:  # pragma: no cover - xdist absent or reorganised: its own scheduler runs
    LoadScheduling = None

WORKERINPUT_PLAN = "smokegate_plan"


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker; the controller (or a serial run) sees every report and decides."""
    return hasattr(config, "workerinput")


def runs_workers(config: pytest.Config) -> bool:
    """True when the run hands its cases to xdist workers (`-n N`, `--tx`)."""
    return bool(getattr(config.option, "numprocesses", None)) or bool(
        getattr(config.option, "tx", None)
    )


def queued_items(session: pytest.Session) -> list[pytest.Item]:
    """The items this process will run: all of them, or an xdist worker's share or queue."""
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is None:
        return list(session.items)
    share = _planned_share(session, workerinput)
    if share is not None:
        return share
    return _private_queue(session)


def _planned_share(
    session: pytest.Session, workerinput: dict[str, Any]
) -> list[pytest.Item] | None:
    """This worker's share of smokegate's plan, when the controller assigns by it."""
    if workerinput.get(WORKERINPUT_PLAN) != PLAN:
        return None
    index = worker_index(str(workerinput.get("workerid", "")))
    count = workerinput.get("workercount")
    if index is None or not isinstance(count, int) or not 0 <= index < count:
        return None
    items = session.items
    checks = account_checks_of(session.config)
    share = plan_shares([item.nodeid for item in items], count, checks)[index]
    return [items[i] for i in share]


def _private_queue(session: pytest.Session) -> list[pytest.Item]:
    """The items xdist has queued on this worker (pytest-xdist 3.x `WorkerInteractor`);
    every item when that shape is not there."""
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


def account_checks_of(config: pytest.Config) -> Collection[str]:
    """The test functions whose ids start with an AWS account (see `shares.group_key`)."""
    from smokegate.pytest_plugin.keys import ENV_KEY
    from smokegate.targets import account_checks

    env = config.stash.get(ENV_KEY, None)
    return account_checks(env.config) if env is not None else ()


def uses_share_plan(config: pytest.Config) -> bool:
    """smokegate schedules a run whose env is loaded and whose `--dist` is xdist's default."""
    from smokegate.pytest_plugin.keys import ENV_KEY

    return (
        _ShareScheduling is not None
        and config.stash.get(ENV_KEY, None) is not None
        and config.getoption("dist", None) == "load"
    )


def _make_share_scheduling() -> type | None:
    """xdist's `LoadScheduling`, with its first assignment replaced by the whole plan."""
    if LoadScheduling is None or not hasattr(LoadScheduling, "_send_tests"):
        return None

    class ShareScheduling(LoadScheduling):  # type: ignore[misc,valid-type]
        """Each worker gets its whole share, grouped by target, in one message; after that
        it behaves as `LoadScheduling` (a crashed worker's rest goes to the others)."""

        def schedule(self) -> None:
            if self.collection is not None or not self.node2collection:
                super().schedule()
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = next(iter(self.node2collection.values()))
            if not self.collection:
                return
            if self.maxschedchunk is None:  # what LoadScheduling sets on its first schedule
                self.maxschedchunk = len(self.collection)
            nodes = sorted(self.nodes, key=lambda n: worker_index(n.gateway.id) or 0)
            shares = plan_shares(self.collection, len(nodes), account_checks_of(self.config))
            for node, share in zip(nodes, shares, strict=True):
                if share:
                    self.node2pending[node].extend(share)
                    node.send_runtest_some(share)
            for node in nodes:
                node.shutdown()

    return ShareScheduling


_ShareScheduling = _make_share_scheduling()


class XdistPlan:
    """Registered on the xdist controller: smokegate's scheduler and its announcement."""

    def __init__(self, config: pytest.Config) -> None:
        self.active = uses_share_plan(config)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.active:
            node.workerinput[WORKERINPUT_PLAN] = PLAN

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if not self.active or _ShareScheduling is None:
            return None
        return _ShareScheduling(config, log)
