"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch):
    """The scrubber's run-time registry as a run starts: no registered or server-issued
    secrets, no protected facts (restored after the test). Yields the redact module."""
    from smokegate import redact

    monkeypatch.setattr(redact, "_registered", set())
    monkeypatch.setattr(redact, "_issued", set())
    monkeypatch.setattr(redact, "_own_facts", {})
    return redact
