"""A pytest-split shard: which accounts it keeps, and its refusal to run when its IAM cases
could not be kept out of pytest-split's split (the proof that they are, with real pytest and
pytest-split, is tests/e2e/test_shards.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from smokegate.pytest_plugin.shards import HoldBackIam, Shard, shard_of


def test_a_shard_is_read_from_pytest_splits_options() -> None:
    assert shard_of(SimpleNamespace(option=SimpleNamespace(splits=4, group=2))) == Shard(4, 2)
    assert shard_of(SimpleNamespace(option=SimpleNamespace(splits=None, group=None))) is None
    assert shard_of(SimpleNamespace(option=SimpleNamespace())) is None  # no pytest-split
    assert Shard(4, 2).suffix == "shard-2-of-4"


def test_accounts_are_dealt_round_robin_by_label_whatever_their_order() -> None:
    labels = ["d", "a", "c", "b", "e"]
    dealt = {g: Shard(2, g).keep(labels, str) for g in (1, 2)}
    assert dealt == {1: ["a", "c", "e"], 2: ["b", "d"]}


class _Item:
    def __init__(self, iam: bool) -> None:
        self.iam = iam

    def get_closest_marker(self, name: str) -> Any:
        return object() if name == "iam" and self.iam else None


def _config(order: list[object], splitter: object) -> Any:
    impls = [SimpleNamespace(plugin=p) for p in order]
    hook = SimpleNamespace(
        pytest_collection_modifyitems=SimpleNamespace(get_hookimpls=lambda: impls)
    )
    manager = SimpleNamespace(
        hook=hook, get_plugin=lambda name: splitter if name == "pytestsplitplugin" else None
    )
    return SimpleNamespace(pluginmanager=manager)


def test_iam_cases_are_held_back_when_the_hold_runs_before_the_splitter() -> None:
    holder, splitter = HoldBackIam(lambda config, items: None), object()
    items = [_Item(iam=True), _Item(iam=False)]
    holder.pytest_collection_modifyitems(_config([splitter, holder], splitter), items)
    assert [i.iam for i in items] == [False]
    assert [i.iam for i in holder.held] == [True]


def test_a_shard_refuses_to_run_when_the_splitter_would_run_first() -> None:
    holder, splitter = HoldBackIam(lambda config, items: None), object()
    items = [_Item(iam=True), _Item(iam=False)]
    with pytest.raises(pytest.UsageError, match="cannot keep this shard's IAM cases"):
        holder.pytest_collection_modifyitems(_config([holder, splitter], splitter), items)
