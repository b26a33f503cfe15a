"""The IAM plugin gathers the audit once per run; a gatherer bug becomes the audit's failure
(one failing case with the exception named), never a crash of the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from smokegate.config import EnvConfig, LoadedEnv
from smokegate.facts.iam import IamAuditError
from smokegate.pytest_plugin import iam as iam_plugin


def test_an_unexpected_gatherer_error_becomes_the_audit_failure(monkeypatch):
    def broken(settings):
        raise KeyError("State")

    monkeypatch.setattr(iam_plugin, "gather", broken)
    env = LoadedEnv(name="x", path=Path("x.yaml"), root=Path("."), config=EnvConfig(iam={}))
    plugin = iam_plugin.IamPlugin(SimpleNamespace(stash={}), env)
    outcome = plugin.audit()
    assert isinstance(outcome, IamAuditError)
    assert str(outcome) == "unexpected KeyError while gathering the audit: 'State'"
    assert plugin.audit() is outcome  # gathered (and failed) once
