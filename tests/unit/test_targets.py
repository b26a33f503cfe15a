"""targets.py, the markers and the checks in checks/ stay in step.

Every kind of target is declared once, in smokegate/targets.py. These tests fail when a
check takes an argument no target kind or plugin fixture provides, when a check is marked
with a kind targets.py does not declare, when pytest.ini declares markers of its own beside
the plugin's, when a row of targets.py serves no check (or a check of another kind), and
when an IAM check has no switch in IAM_CHECKS (or a switch has no check).
"""

from __future__ import annotations

import configparser
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest

from smokegate.pytest_plugin import fixtures, iam
from smokegate.targets import AUDIT_TARGETS, ENV_TARGETS, IAM_CHECKS, MARKERS, TARGET_KINDS

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_MARKERS = {"default_severity"}


def _check_modules() -> list[ModuleType]:
    modules = []
    for path in sorted((ROOT / "checks").glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"checks_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def _checks() -> list[tuple[str, set[str], set[str]]]:
    """(check name, its arguments, its markers) for every test function of checks/."""
    found = []
    for module in _check_modules():
        module_marks = getattr(module, "pytestmark", [])
        module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
        for name, function in vars(module).items():
            if not (name.startswith("test_") and callable(function)):
                continue
            marks = [*module_marks, *getattr(function, "pytestmark", [])]
            arguments = set(inspect.signature(function).parameters)
            found.append((name.removeprefix("test_"), arguments, {m.name for m in marks}))
    return found


def _plugin_fixtures() -> set[str]:
    names = set()
    for module in (fixtures, iam):
        for name, value in vars(module).items():
            if type(value).__name__ == "FixtureFunctionDefinition":
                names.add(name)
    return names


def test_the_checks_were_found() -> None:
    names = {name for name, _, _ in _checks()}
    assert {"endpoint", "certificate", "accepts_token", "root_mfa"} <= names


def test_every_check_argument_is_a_target_kind_or_a_plugin_fixture() -> None:
    provided = set(TARGET_KINDS) | _plugin_fixtures()
    for name, arguments, _ in _checks():
        assert arguments <= provided, f"check {name} takes {arguments - provided}"


def test_every_check_has_exactly_one_declared_kind() -> None:
    for name, _, marks in _checks():
        kinds = marks & set(MARKERS)
        assert len(kinds) == 1, f"check {name} is marked {sorted(marks)}"
        assert marks - set(MARKERS) <= PLUGIN_MARKERS, f"check {name}: {marks - set(MARKERS)}"


def test_every_target_kind_serves_a_check_of_its_own_marker() -> None:
    for kind in (*ENV_TARGETS, *AUDIT_TARGETS):
        users = [(name, marks) for name, arguments, marks in _checks() if kind.fixture in arguments]
        assert users, f"no check takes {kind.fixture}"
        for name, marks in users:
            assert kind.marker in marks, f"check {name} takes {kind.fixture} ({kind.marker})"


def test_the_iam_switches_are_the_iam_checks() -> None:
    iam_checks = {name for name, _, marks in _checks() if "iam" in marks}
    assert set(IAM_CHECKS) == iam_checks


def test_markers_are_declared_once_by_the_plugin() -> None:
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    assert "markers" not in ini["pytest"], "pytest.ini redeclares markers of targets.py"


def test_the_run_registers_every_declared_marker(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0].split("(")[0] for line in pytestconfig.getini("markers")}
    assert set(MARKERS) | PLUGIN_MARKERS <= registered
