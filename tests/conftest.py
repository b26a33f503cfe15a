"""The suite's own tests run offline and need no --env."""

import pytest


@pytest.fixture(autouse=True)
def _own_token_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test reads AWS token files afresh: the scrubber remembers the files it read and
    the path each variable named, and keeps a file's earlier token a secret when the file
    or the path changes (a rotation mid-run). One test's file is no change for the next."""
    from smokegate import redact

    monkeypatch.setattr(redact, "_token_files", {})
    monkeypatch.setattr(redact, "_token_file_paths", {})
