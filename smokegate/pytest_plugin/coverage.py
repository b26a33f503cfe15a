"""Whether a run collected every case the env defines: what makes a run partial.

A partial run is told by what was collected, never by a list of options: `-k`, `-m`,
`--deselect`, `--ignore`, `--ignore-glob`, `-o python_files=`, `-o python_functions=`, a
module or a node id given as an argument, a conftest that drops items, and whatever pytest
adds next all end the same way: fewer cases than the checks folder defines for this env.

What the folder defines is read from its source (`defined_checks`: every `test*` function
of every `test_*.py` / `*_test.py` module, by pytest's default naming, whatever the ini
file or `-o` says), and how many cases each one has from the env (`expected_cases`): one
per target of the kind its parameter names (`targets.ENV_TARGETS`), or, for an IAM rule,
per principal of the audit. smokegate's own drops are no partial run: a check with no
targets in this env, an IAM rule switched off (a null threshold), a rule with no principal
to judge, every rule but `test_iam_audit` when the audit could not be read.

Counted once collection is final (`pytest_collection_finish`); in a pytest-split shard,
before the split (right before pytest-split's own hook), so a shard is partial only by
being a shard unless something else narrowed it too. Under xdist each worker counts its
collection and hands the count to the controller in its `workeroutput`.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smokegate.config import LoadedEnv
from smokegate.redact import excerpt
from smokegate.targets import ENV_TARGETS, IAM_CHECKS

if TYPE_CHECKING:
    from smokegate.pytest_plugin.iam import IamPlugin

WORKEROUTPUT_KEY = "smokegate_coverage"
SHOWN_MISSING = 4


@dataclass(frozen=True)
class CheckFunction:
    """One check as its source defines it: module, name (`Class.test_x` in a class), the
    names of its parameters."""

    module: Path
    name: str
    params: tuple[str, ...]

    @property
    def check(self) -> str:
        return self.name.rsplit(".", 1)[-1].removeprefix("test_")  # cut-ok: a name


def _is_test_module(path: Path) -> bool:
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


# A checks folder is a handful of modules. `-o smokegate_checks_dir=/` (a CI variable can
# say it) must neither walk the whole disk nor crash on /proc: the walk is bounded, and a
# folder past the bounds defines nothing, so no run against it is the full gate.
MAX_WALKED_ENTRIES = 20_000
MAX_CHECK_MODULES = 500
MAX_MODULE_BYTES = 1024 * 1024


class UnusableChecksFolder(Exception):
    """The folder is too large, or holds a module too large, to be a checks folder."""


def check_modules(checks_dir: Path) -> list[Path]:
    """The folder's test modules (pytest's default naming), walked within bounds; folders
    that cannot be read are passed over, as pytest's own collection would fail on them."""
    modules: list[Path] = []
    walked = 0
    for folder, subfolders, files in os.walk(checks_dir, onerror=lambda _: None):
        walked += len(subfolders) + len(files)
        if walked > MAX_WALKED_ENTRIES:
            raise UnusableChecksFolder(f"holds more than {MAX_WALKED_ENTRIES} files and folders")
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if _is_test_module(path):
                modules.append(path)
        if len(modules) > MAX_CHECK_MODULES:
            raise UnusableChecksFolder(f"holds more than {MAX_CHECK_MODULES} test modules")
    return modules


def defined_checks(checks_dir: Path) -> list[CheckFunction]:
    """Every check of the folder, read from its source (not from what pytest collected).
    Raises UnusableChecksFolder past the walk's bounds."""
    found: list[CheckFunction] = []
    for module in check_modules(checks_dir):
        try:
            if module.stat().st_size > MAX_MODULE_BYTES:
                raise UnusableChecksFolder(
                    f"holds {excerpt(module.name, 80)}, larger than "
                    f"{MAX_MODULE_BYTES // 1024} KB: no check module is"
                )
        except OSError:
            continue  # pytest reports it as a collection error, which gates
        try:
            tree = ast.parse(module.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # pytest reports it as a collection error, which gates
        resolved = module.resolve()
        for node in tree.body:
            scopes: list[tuple[str, Iterable[ast.stmt]]] = [("", [node])]
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                scopes = [(f"{node.name}.", node.body)]
            for prefix, body in scopes:
                for function in body:
                    if isinstance(
                        function, ast.FunctionDef | ast.AsyncFunctionDef
                    ) and function.name.startswith("test"):
                        params = tuple(a.arg for a in function.args.args if a.arg != "self")
                        found.append(CheckFunction(resolved, prefix + function.name, params))
    return found


def expected_cases(
    function: CheckFunction, env: LoadedEnv, iam: IamPlugin | None
) -> tuple[int, bool]:
    """(cases, exact) the env gives this check; not exact: at least that many (an IAM rule
    whose audit this process did not read)."""
    for kind in ENV_TARGETS:
        if kind.fixture in function.params:
            return len(kind.entries(env.config)), True
    if function.check in IAM_CHECKS:
        if iam is None:
            return 0, False
        return iam.expected_cases(function.check, function.params)
    return 1, True


@dataclass
class Coverage:
    """What was collected of what the env defines."""

    expected: int = 0
    collected: int = 0
    missing: list[str] = field(default_factory=list)  # "test_endpoint: 1 of 2 cases"
    exact: bool = True  # False: `expected` is a lower bound (an IAM audit not read here)

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        """'3 of 5 cases collected (test_endpoint: 1 of 2 cases, ...)'; '' when complete."""
        if self.complete:
            return ""
        if not self.expected:  # nothing defined to count against
            return "; ".join(self.missing)
        shown = ", ".join(self.missing[:SHOWN_MISSING])  # cut-ok: our own list
        more = f", and {len(self.missing) - SHOWN_MISSING} more" if len(self.missing) > 4 else ""
        of = "" if self.exact else "at least "
        return f"{self.collected} of {of}{self.expected} cases collected ({shown}{more})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "collected": self.collected,
            "missing": self.missing,
            "exact": self.exact,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Coverage | None:
        if not isinstance(data, dict):
            return None
        try:
            missing = [str(m) for m in data.get("missing", [])]
            exact = bool(data.get("exact", True))
            return cls(int(data["expected"]), int(data["collected"]), missing, exact)
        except (KeyError, TypeError, ValueError):
            return None


def measure(
    items: Iterable[pytest.Item],
    functions: list[CheckFunction],
    env: LoadedEnv,
    iam: IamPlugin | None,
) -> Coverage:
    """Count the distinct cases collected per check against what each should have."""
    ids: dict[tuple[Path, str], set[str]] = {}
    resolved: dict[Any, Path] = {}  # one resolve per module, not per case
    for item in items:
        path = getattr(item, "path", None)
        name = getattr(item, "originalname", None) or item.name
        cls = getattr(item, "cls", None)
        if path is None:
            continue
        if path not in resolved:
            resolved[path] = Path(path).resolve()
        key = (resolved[path], f"{cls.__name__}.{name}" if cls is not None else name)
        callspec = getattr(item, "callspec", None)
        ids.setdefault(key, set()).add(callspec.id if callspec is not None else "")
    coverage = Coverage()
    for function in functions:
        want, exact = expected_cases(function, env, iam)
        got = len(ids.get((function.module, function.name), ()))
        coverage.expected += want
        coverage.exact = coverage.exact and exact
        coverage.collected += min(got, want) if exact else got
        if (exact and got < want) or (not exact and want and not got):
            of = f"{got} of {want}" if exact else f"{got} of at least {want}"
            coverage.missing.append(f"{function.name}: {of} case{'s' if want != 1 else ''}")
    return coverage


class CoveragePlugin:
    """Counts this process's collection (see the module doc). `shard`: count before the
    split, in `pytest_collection_modifyitems` (registered before pytest-split's splitter)."""

    def __init__(
        self, config: pytest.Config, env: LoadedEnv, iam: IamPlugin | None, *, shard: bool
    ) -> None:
        self.config = config
        self.env = env
        self.iam = iam
        self.shard = shard
        self.coverage: Coverage | None = None
        self.reported: list[Coverage] = []  # what xdist workers reported (controller)

    def _measure(self, items: Iterable[pytest.Item]) -> Coverage:
        checks_dir = self.config.rootpath / self.config.getini("smokegate_checks_dir")
        try:
            functions = defined_checks(checks_dir)
        except UnusableChecksFolder as exc:
            return Coverage(
                missing=[f"the checks folder {excerpt(str(checks_dir), 200)} {exc}"],
                exact=False,
            )
        if not functions:
            # `--rootdir` or `-o smokegate_checks_dir` pointed somewhere without checks:
            # nothing to count against, so nothing says the run is whole
            return Coverage(
                missing=[f"the checks folder {excerpt(str(checks_dir), 200)} defines no check"],
                exact=False,
            )
        return measure(items, functions, self.env, self.iam)

    def split_cases(self) -> int | None:
        """How many cases the env defines outside the IAM audit: what pytest-split deals
        over the shards of a run, known from the env and the checks' source alone (no
        collection). `python -m smokegate.merge` holds the shards' cases against it, so a
        case that ran in no shard (the jobs split different collections) is caught. None
        when the checks folder defines nothing to count."""
        checks_dir = self.config.rootpath / self.config.getini("smokegate_checks_dir")
        try:
            functions = [f for f in defined_checks(checks_dir) if f.check not in IAM_CHECKS]
        except UnusableChecksFolder:
            return None
        if not functions:
            return None
        return sum(expected_cases(f, self.env, None)[0] for f in functions)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if self.shard:
            self.coverage = self._measure(items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.shard:
            self.coverage = self._measure(session.items)
        workeroutput = getattr(self.config, "workeroutput", None)
        if isinstance(workeroutput, dict) and self.coverage is not None:
            workeroutput[WORKEROUTPUT_KEY] = self.coverage.to_dict()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        reported = Coverage.from_dict(getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY))
        if reported is not None:
            self.reported.append(reported)

    def result(self) -> Coverage | None:
        """This run's coverage: its own count, or under xdist the least complete of what
        its workers reported (they collect alike); None when nobody counted."""
        counts = [c for c in [self.coverage, *self.reported] if c is not None]
        if not counts:
            return None
        return min(counts, key=lambda c: (c.complete, c.collected - c.expected))
