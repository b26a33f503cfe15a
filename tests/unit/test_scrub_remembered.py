"""What the scrubber remembers between scrubs (the texts it scrubbed, the secrets it read,
the long forms' heads) never outlives the secrets it was made with: a secret that comes,
changes or is learnt later is masked at the next scrub. Issue 13: twenty accounts' runs
were slow in these places, and each shortcut here is a place a secret could slip."""

from pathlib import Path

import pytest

from smokegate import redact
from smokegate.redact import MASK, Scrubber

TOKEN_A = "sgA7f3Qx9LmZ2pK8vR4tW6yB1nC5dE0h"
TOKEN_B = "sgB2u8Kq4JtX7rN1mV9cZ3wE6pL0aY5s"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """This test's registered secrets only (the process's own are put back after)."""
    fresh: set[str] = set()
    monkeypatch.setattr(redact, "_registered", fresh)
    return fresh


def test_a_changed_variable_is_masked_at_the_next_scrub_of_the_same_text(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_A)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])  # os.environ itself: the fast path is taken
    text = f"server said {TOKEN_B} and {TOKEN_A}"
    assert scrubber.scrub(text) == f"server said {TOKEN_B} and {MASK}"
    assert scrubber.scrub(text) == f"server said {TOKEN_B} and {MASK}"  # remembered
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_B)
    assert scrubber.scrub(text) == f"server said {MASK} and {TOKEN_A}"
    assert scrubber.leaks(TOKEN_B) and not scrubber.leaks(TOKEN_A)


def test_a_secret_registered_after_a_text_was_scrubbed_is_masked_in_it_then(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    monkeypatch.delenv("SG_MEMO_TOKEN", raising=False)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    text = f"user {TOKEN_A}"
    assert scrubber.scrub(text) == text
    assert not scrubber.leaks(text)
    assert scrubber.mask_fragments(text) == text
    token_before = scrubber.secrets_in_use()
    redact.register_secret(TOKEN_A)
    assert scrubber.secrets_in_use() is not token_before
    assert scrubber.scrub(text) == f"user {MASK}"
    assert scrubber.leaks(text)
    assert TOKEN_A[:12] not in scrubber.mask_fragments(f"user {TOKEN_A[:12]}")
    # the same secrets: the same token, so a report scrubbed under it needs no second pass
    assert scrubber.secrets_in_use() is scrubber.secrets_in_use()


def test_a_rotated_token_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN_A, encoding="utf-8")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    scrubber = Scrubber([])
    assert scrubber.scrub(f"t={TOKEN_A}") == f"t={MASK}"
    token_file.write_text(TOKEN_B + "-rotated", encoding="utf-8")
    assert scrubber.scrub(f"t={TOKEN_B}-rotated") == f"t={MASK}"


def test_long_forms_are_found_wherever_their_heads_are_and_only_whole(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    # longer than a form searched as one RE2 branch: searched after a pass for its head
    long_token = ("Lg" + TOKEN_A) * 20
    assert len(long_token) > redact._SHORT_FORM_CHARS
    monkeypatch.setenv("SG_MEMO_TOKEN", long_token)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    head = long_token[: redact._HEAD_CHARS]
    # heads without the whole, then the whole right after one of them, then a text
    # shorter than the token that holds its head
    text = f"{head} x {head}{long_token} y"
    scrubbed = scrubber.scrub(text)
    assert long_token not in scrubbed and scrubbed.endswith(f"{MASK} y")
    assert scrubber.scrub(f"a {long_token} b") == f"a {MASK} b"
    short = f"only the head {head[:40]}."
    assert scrubber.scrub(short) == short
    # and the long form that reaches no head pass: the whole text is one long form
    assert scrubber.scrub(long_token) == MASK


def test_texts_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch, registry: set[str]) -> None:
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_A)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    for number in range(redact._SCRUB_MEMO_ENTRIES + 10):
        scrubber.scrub(f"line {number}")
    assert len(scrubber._memo[1]) <= redact._SCRUB_MEMO_ENTRIES
    long_text = "x" * (redact._SCRUB_MEMO_CHARS + 1) + TOKEN_A
    assert scrubber.scrub(long_text).endswith(MASK)
    assert ("scrub", long_text) not in scrubber._memo[1]


def test_pytest_rewriting_its_current_test_variable_is_no_change_of_secrets(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """pytest sets PYTEST_CURRENT_TEST for every phase of every case: read as a change,
    every scrub of a run decoded the whole environment again. A secret variable set in the
    same breath is still seen."""
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_A)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    before = scrubber.secrets_in_use()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "checks/test_x.py::test_y (call)")
    assert scrubber.secrets_in_use() is before
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "checks/test_x.py::test_z (setup)")
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_B)
    assert scrubber.scrub(f"{TOKEN_A} {TOKEN_B}") == f"{TOKEN_A} {MASK}"
