"""A run that is one shard of a CI matrix: pytest-split's `--splits N --group i`.

pytest-split chooses each shard's cases from a durations file, over the cases every
shard collects alike. The IAM cases cannot be collected alike without every shard
gathering every AWS account (their ids need each account's credential report), which
would multiply the AWS calls by the number of shards. So smokegate deals the accounts
itself, round robin over their labels (`smokegate.shares.in_shard`): a shard gathers
only its accounts, and its IAM cases are held back from pytest-split's split, then put
back. Everything else is pytest-split's.

Each shard writes its reports under its own name (`reports/<env>-shard-<i>-of-<N>/`) and
records `--splits` and `--group` in its JUnit file, which is how `python -m
smokegate.merge` knows how many shards to expect.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from smokegate.redact import escape_control, excerpt
from smokegate.shares import in_shard

# pytest-split reads its durations file whole with `json.loads`, before any case runs: a
# `--durations-path` (PYTEST_ADDOPTS, a committed `.test_durations` symlink) naming
# /dev/zero took 23 GB, a 70 MB file 453 MB a shard, and malformed JSON an INTERNALERROR
# (round 24b). 50 000 cases write about 4 MiB.
MAX_DURATIONS_BYTES = 16 * 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    splits: int
    group: int

    @property
    def suffix(self) -> str:
        return f"shard-{self.group}-of-{self.splits}"

    def keep(self, units: Sequence[T], label: Callable[[T], str]) -> list[T]:
        """This shard's units: every shard orders them by label and deals them round robin."""
        ordered = sorted(units, key=label)
        return [
            u for position, u in enumerate(ordered) if in_shard(position, self.splits, self.group)
        ]

    @property
    def first(self) -> bool:
        """Shard 1 carries what belongs to no unit (a failed organization listing, the
        account of a single-account audit)."""
        return self.group == 1


def merge_key(item: pytest.Item) -> str:
    """The case as every shard names it, whatever names its JUnit testcase: the merge keys
    cases by this. pytest writes `--junit-prefix` (and a `--rootdir` elsewhere) into the
    classname, so the same case in two shards read as two cases, the duplicate made up for
    a case that ran in no shard, and a merged `--full-gate` passed (round 28b)."""
    checks = _checks_dir(item.config)
    try:
        where = item.path.resolve().relative_to(checks).as_posix()
    except ValueError:
        return item.nodeid  # outside the checks folder: a partial run, refused by --full-gate
    return f"{where}::{item.nodeid.partition('::')[2]}"  # cut-ok: a node id's own parts


_CHECKS_DIR = pytest.StashKey[Any]()


def _checks_dir(config: pytest.Config) -> Any:
    checks = config.stash.get(_CHECKS_DIR, None)
    if checks is None:
        checks = (config.rootpath / str(config.getini("smokegate_checks_dir"))).resolve()
        config.stash[_CHECKS_DIR] = checks
    return checks


def shard_of(config: pytest.Config) -> Shard | None:
    """The shard this run is, from pytest-split's options; None for a whole run."""
    option = getattr(config, "option", None)
    splits = getattr(option, "splits", None)
    group = getattr(option, "group", None)
    if isinstance(splits, int) and isinstance(group, int) and splits >= 1 and 1 <= group <= splits:
        return Shard(splits, group)
    return None


class HoldBackIam:
    """Keeps this shard's IAM cases out of pytest-split's hands and puts them back after.

    Its `pytest_collection_modifyitems` is trylast like pytest-split's and registered
    before it (from smokegate's tryfirst `pytest_configure`, before pytest-split's own
    registers its splitter): pluggy calls the trylast implementations registered earlier
    first, so this runs after `-k`, `-m` and smokegate's own drops, just before the split
    (tests/e2e/test_shards.py holds the proof: 3 shards merged give the unsplit run). The
    wrapper (`PutBackIam`) puts the held cases back once every implementation has run.
    """

    def __init__(self, drop: Callable[[pytest.Config, list[pytest.Item]], None]) -> None:
        self.held: list[pytest.Item] = []
        self.drop = drop

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        self.held = [i for i in items if i.get_closest_marker("iam") is not None]
        if not self.held:
            return
        if not self._runs_before_the_splitter(config):
            # pytest-split would split this shard's IAM cases again and lose some: refuse
            # the run rather than gate on part of it
            raise pytest.UsageError(
                "smokegate: cannot keep this shard's IAM cases out of pytest-split's split "
                "(the order of pluggy's hook calls changed); run the IAM audit unsharded"
            )
        items[:] = [i for i in items if i.get_closest_marker("iam") is None]  # cut-ok: items

    def _runs_before_the_splitter(self, config: pytest.Config) -> bool:
        """pluggy calls a hook's implementations from the end of `get_hookimpls()` back."""
        impls = config.pluginmanager.hook.pytest_collection_modifyitems.get_hookimpls()
        plugins = [impl.plugin for impl in impls]
        splitter = config.pluginmanager.get_plugin("pytestsplitplugin")
        if splitter is None or splitter not in plugins:
            return True  # nothing splits this run
        return plugins.index(self) > plugins.index(splitter)


class PutBackIam:
    """The wrapper half of `HoldBackIam` (a plugin has one implementation per hook name)."""

    def __init__(self, holder: HoldBackIam) -> None:
        self.holder = holder

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> Any:
        result = yield
        if self.holder.held:
            held, self.holder.held = self.holder.held, []
            items.extend(held)
            self.holder.drop(config, items)
        return result


def register(
    config: pytest.Config, drop: Callable[[pytest.Config, list[pytest.Item]], None]
) -> None:
    holder = HoldBackIam(drop)
    config.pluginmanager.register(holder, "smokegate.shard-hold")
    config.pluginmanager.register(PutBackIam(holder), "smokegate.shard-put-back")


def durations_problem(config: pytest.Config) -> str | None:
    """Why pytest-split's durations file cannot be read or written safely (None: it can,
    or nothing splits). A missing file is pytest-split's own case: every case weighs the same."""
    option = getattr(config, "option", None)
    path = getattr(option, "durations_path", None)
    splitting = getattr(option, "splits", None) and getattr(option, "group", None)
    if not isinstance(path, str) or not (splitting or getattr(option, "store_durations", None)):
        return None
    shown = escape_control(excerpt(path, 120), one_line=True)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"--durations-path {shown}: cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return (
            f"--durations-path {shown} is not a regular file (a device or a FIFO is read or "
            "written forever): give pytest-split's durations file, or none"
        )
    if info.st_size > MAX_DURATIONS_BYTES:
        return (
            f"--durations-path {shown} is larger than {MAX_DURATIONS_BYTES // 2**20} MiB: a "
            "durations file of 50 000 cases is about 4 MiB; is it the right file?"
        )
    return _durations_content_problem(path, shown)  # read by --store-durations too


def _durations_content_problem(path: str, shown: str) -> str | None:
    """The file holds what pytest-split reads: an object of case id to seconds (or its
    older list of pairs)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_DURATIONS_BYTES + 1)
        durations = json.loads(data)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else type(exc).__name__
        where = (
            f" at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        return f"--durations-path {shown}: not pytest-split's JSON ({reason}{where})"
    if isinstance(durations, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in durations
    ):
        durations = dict(durations)  # pytest-split's older format, which it still reads
    if not isinstance(durations, dict) or not all(
        isinstance(k, str)
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and v >= 0  # a negative or NaN weight starved a shard of every case (round 24b)
        for k, v in durations.items()
    ):
        return (
            f"--durations-path {shown}: holds no object of case ids to seconds (each a "
            "number, 0 or more), which is what pytest-split reads (--store-durations writes it)"
        )
    return None
