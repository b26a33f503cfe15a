"""Under the full gate, pytest's root and ini file are the folder the gate started in.

A plain folder in PYTEST_ADDOPTS moves pytest's root and ini search to the common parent of
it and checks/; an ini file there names smokegate_envs_dir, and its prod.yaml would be the
gate's (attack round 10, F4). Judged on the facts pytest hands the guard, since the parent
of a checkout is no place for a test to write an ini file.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from smokegate.pytest_plugin.guard import refuse_smokegate_overrides


def _config(started_in: Path, root: Path, ini: Path | None, full_gate: bool = True):
    return SimpleNamespace(
        option=SimpleNamespace(smokegate_full_gate=full_gate, inifilename=None, rootdir=None),
        invocation_params=SimpleNamespace(dir=started_in, args=("checks/",)),
        rootpath=root,
        inipath=ini,
        getini=lambda name: [] if name == "addopts" else "",
    )


@pytest.mark.parametrize(
    ("moved", "refusal"),
    [
        ("root", "is not the folder the gate started in"),
        ("ini file", "or ini file is not the folder"),
    ],
)
def test_a_root_or_ini_file_of_a_parent_folder_is_refused(tmp_path, monkeypatch, moved, refusal):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    root = tmp_path if moved == "root" else project
    with pytest.raises(pytest.UsageError, match=refusal):
        refuse_smokegate_overrides(_config(project, root, tmp_path / "pytest.ini"))


def test_the_projects_own_root_and_ini_pass_and_outside_the_full_gate_anything_does(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("SMOKEGATE_FULL_GATE", raising=False)
    refuse_smokegate_overrides(_config(tmp_path, tmp_path, tmp_path / "pytest.ini"))
    refuse_smokegate_overrides(_config(tmp_path, tmp_path, None))
    refuse_smokegate_overrides(_config(tmp_path / "x", tmp_path, None, full_gate=False))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\naddopts = -q --fail-on high\n"),
        ("setup.cfg", "[tool:pytest]\naddopts = --fail-on=HIGH\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "--fail-on high"\n'),
        ("pyproject.toml", '[tool.pytest]\naddopts = ["--fail-on", "high"]\n'),
    ],
)
def test_the_threshold_said_is_the_ini_file_s_then_the_command_line_s(tmp_path, name, text):
    """Round 37b r01: what the project's ini file and the job's command line say, read from
    the file itself (pytest's own reading is what `-o addopts=` overrides)."""
    from smokegate.pytest_plugin.guard import fail_on_said

    ini = tmp_path / name
    ini.write_text(text, encoding="utf-8")

    def config(*args: str, path: Path | None = ini) -> SimpleNamespace:
        return SimpleNamespace(inipath=path, invocation_params=SimpleNamespace(args=args))

    assert fail_on_said(config()) == "high"
    assert fail_on_said(config("--fail-on", "critical")) == "critical"
    assert (
        fail_on_said(SimpleNamespace(inipath=None, invocation_params=SimpleNamespace(args=())))
        == "low"
    )
