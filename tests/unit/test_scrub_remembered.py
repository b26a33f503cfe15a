"""What the scrubber remembers between scrubs (the texts it scrubbed, the secrets it read,
the long forms' heads) never outlives the secrets it was made with: a secret that comes,
changes or is learnt later is masked at the next scrub. Issue 13: twenty accounts' runs
were slow in these places, and each shortcut here is a place a secret could slip."""

import os
import random
import string
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
    # rotated to a token of the same size: read again too
    rotated = TOKEN_A[::-1] + "-rotated"
    assert len(rotated) == len(TOKEN_B + "-rotated")
    token_file.write_text(rotated, encoding="utf-8")
    assert scrubber.scrub(f"t={rotated}") == f"t={MASK}"


def test_long_forms_are_found_wherever_their_heads_are_and_only_whole(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    # longer than a form searched as one RE2 branch: searched after a pass for its head
    rng = random.Random(7)  # letters only: searched in its own case (`case_blind` is not)
    long_token = "".join(rng.choice(string.ascii_letters + "-_") for _ in range(600))
    assert not redact.case_blind(long_token)
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


def test_a_long_case_blind_secret_is_found_in_any_case(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """A long API key with digits is masked whatever the case of its letters: its long
    form is looked for in the lower-cased text after a pass for its lower-cased head."""
    rng = random.Random(5)  # a token that repeats no stretch of itself
    long_token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(600))
    assert redact.case_blind(long_token) and len(long_token) > redact._SHORT_FORM_CHARS
    monkeypatch.setenv("SG_MEMO_TOKEN", long_token)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    for echo in (long_token.swapcase(), long_token.upper(), long_token.lower()):
        assert scrubber.scrub(f"a {echo} b") == f"a {MASK} b", echo[:20]
    # its head alone, in a case of its own, is no secret's whole
    head = long_token[: redact._HEAD_CHARS].swapcase()
    assert scrubber.scrub(f"a {head} b") == f"a {head} b"
    # escaped into a JSON string: found in the text's normalised view
    escaped = "".join(f"\\u{ord(c):04x}" if i % 50 == 0 else c for i, c in enumerate(long_token))
    assert long_token[1:40] not in scrubber.scrub(f'{{"echo": "{escaped}"}}')


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
    reads: list[int] = []
    read_secrets = scrubber._read_secrets

    def counted(*args: object) -> list[str]:
        reads.append(1)
        return read_secrets(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(scrubber, "_read_secrets", counted)
    before = scrubber.secrets_in_use()
    read_once = len(reads)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "checks/test_x.py::test_y (call)")
    assert scrubber.secrets_in_use() == before
    assert len(reads) == read_once  # not read again
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "checks/test_x.py::test_z (setup)")
    monkeypatch.setenv("SG_MEMO_TOKEN", TOKEN_B)
    assert scrubber.scrub(f"{TOKEN_A} {TOKEN_B}") == f"{TOKEN_A} {MASK}"
    assert len(reads) == read_once + 1 and scrubber.secrets_in_use() != before


def test_a_shown_label_is_masked_once_its_secret_is_known(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """Case ids and account labels are judged once per label while the secrets stay the
    same; a secret learnt later (an account's STS credentials) is masked in the next."""
    from smokegate.pytest_plugin.iam import shown_label

    monkeypatch.delenv("SG_MEMO_TOKEN", raising=False)
    label = f"team-{TOKEN_A}-prod"
    assert shown_label(label) == label
    assert shown_label(label) == label  # remembered
    redact.register_secret(TOKEN_A)
    assert TOKEN_A not in shown_label(label) and MASK in shown_label(label)


def test_a_report_scrubbed_while_a_secret_was_learnt_is_scrubbed_again_for_the_console(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """The console's last pass skips a report only when it was scrubbed with the secrets
    known at the end, start to finish; a secret learnt while it was scrubbed (another
    thread registering an account's credentials) makes it count as not scrubbed."""
    from smokegate.pytest_plugin.redact import ScrubPlugin

    monkeypatch.delenv("SG_MEMO_TOKEN", raising=False)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    plugin = ScrubPlugin(config=None, scrubber=scrubber)  # type: ignore[arg-type]
    report = pytest.TestReport("t.py::t", ("t.py", 1, "t"), {}, "failed", None, "call")
    quiet = pytest.TestReport("t.py::u", ("t.py", 2, "u"), {}, "passed", None, "call")
    plugin.scrub_report(quiet)
    assert plugin._scrubbed_under[quiet] == scrubber.secrets_in_use()
    report.longrepr = f"server said {TOKEN_A}"
    original = plugin._scrub_report

    def learning_meanwhile(r: pytest.TestReport) -> None:
        original(r)
        redact.register_secret(TOKEN_A)  # learnt by another thread during the scrub

    monkeypatch.setattr(plugin, "_scrub_report", learning_meanwhile)
    plugin.scrub_report(report)
    assert report not in plugin._scrubbed_under
    assert quiet in plugin._scrubbed_under  # scrubbed under secrets no longer in use
    assert plugin._scrubbed_under[quiet] != scrubber.secrets_in_use()


def test_a_token_file_rewritten_with_its_time_put_back_is_read_and_the_old_token_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """A web-identity token file rotated: the new token is read even when its size and
    modification time are the old ones; the old one, which botocore sent until now and an
    answer may still quote, stays masked (54b F2)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN_A, encoding="utf-8")
    old = token_file.stat()
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    scrubber = Scrubber([])
    assert scrubber.scrub(TOKEN_A) == MASK
    token_file.write_text(TOKEN_B, encoding="utf-8")  # same size
    os.utime(token_file, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert token_file.stat().st_size == old.st_size
    assert scrubber.scrub(f"{TOKEN_B} {TOKEN_A}") == f"{MASK} {MASK}"


def test_a_token_file_variable_pointed_at_another_file_keeps_the_old_token_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """A conftest or plugin that points AWS_WEB_IDENTITY_TOKEN_FILE elsewhere mid-run: the
    old file's token, sent until then, stays masked (54c F5)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(TOKEN_A, encoding="utf-8")
    second.write_text(TOKEN_B, encoding="utf-8")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(first))
    scrubber = Scrubber([])
    assert scrubber.scrub(f"x {TOKEN_A} y") == f"x {MASK} y"
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(second))
    assert scrubber.scrub(f"x {TOKEN_A} {TOKEN_B} y") == f"x {MASK} {MASK} y"


def test_a_periodic_case_blind_key_echoed_back_to_back_is_masked_in_one_pass(
    monkeypatch: pytest.MonkeyPatch, registry: set[str]
) -> None:
    """`a1` x 4 000, a key a hostile token endpoint may hand out, echoed back to back: every
    repeat masked; the search steps over the run instead of starting again one character
    later at each occurrence (54b F1: minutes for a megabyte). Counted, not timed."""
    key = "a1" * 4000
    assert redact.case_blind(key)
    monkeypatch.setenv("SG_MEMO_TOKEN", key)
    scrubber = Scrubber(["SG_MEMO_TOKEN"])
    text = "A1" * 40_000 + " end"
    spans = scrubber._literal_pattern()._spans(redact._percent_upper(text))
    # one span over the whole run (and any found by other means), not one per occurrence:
    # each occurrence had its own search and its own span, 36 000 of them
    assert len(spans) < 50
    assert min(start for start, _ in spans) == 0
    assert max(end for _, end in spans) == len(text) - len(" end")
    assert scrubber.scrub(text) == f"{MASK} end"


@pytest.mark.parametrize("repoint", [False, True], ids=["rotated", "repointed"])
def test_a_replaced_token_file_holding_markup_is_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: set[str], repoint: bool
) -> None:
    """A token file's earlier contents stay a secret only as its contents would have been:
    `<failure message=` is no token (round 37a), and kept it would mask junit.xml's failure
    element (new-user trial 55: the fix of 54c F5 registered it)."""
    first = tmp_path / "first"
    first.write_text('<failure message="', encoding="utf-8")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(first))
    scrubber = Scrubber([])
    scrubber.secrets()
    if repoint:
        second = tmp_path / "second"
        second.write_text(TOKEN_B, encoding="utf-8")
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(second))
    else:
        first.write_text(TOKEN_B, encoding="utf-8")
    assert scrubber.scrub(f'<failure message="{TOKEN_B}"') == f'<failure message="{MASK}"'
    assert registry == set()


@pytest.mark.parametrize("how", ["unset", "emptied", "removed"])
def test_a_token_file_gone_keeps_its_token_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: set[str], how: str
) -> None:
    """Review 55: only a variable pointed at another file kept the old token; unset,
    emptied or the file removed, the token botocore sent until then showed in clear."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN_A, encoding="utf-8")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    scrubber = Scrubber([])
    assert scrubber.scrub(f"x {TOKEN_A} y") == f"x {MASK} y"
    if how == "unset":
        monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE")
    elif how == "emptied":
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    else:
        token_file.unlink()
    assert scrubber.scrub(f"x {TOKEN_A} y") == f"x {MASK} y"
