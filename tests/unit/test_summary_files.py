"""Report files written to what a variable or an option names: a FIFO whose reader stops
reading is given up on, never waited on forever."""

from __future__ import annotations

import os
import select
import threading
import time

import pytest

from smokegate.report import summary_files
from smokegate.report.summary_files import write_to


def test_a_fifo_whose_reader_never_reads_is_given_up_on(tmp_path, monkeypatch):
    """Round 17a, F4: `--html=<fifo>` held open by a reader that never read hung the run
    after its checks, before the verdict, once the pipe's 64 KiB were full."""
    monkeypatch.setattr(summary_files, "FIFO_STALL_S", 0.3)
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDWR)  # a reader that never reads
    try:
        reason = write_to(str(fifo), b"x" * (1024 * 1024))
    finally:
        os.close(holder)
    assert reason == "was not written whole: its reader stopped reading for 0.3 s"


def test_a_fifo_whose_reader_reads_gets_everything(tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # there before the writer opens
    data = os.urandom(512 * 1024)
    received = bytearray()
    written = threading.Event()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                select.select([reader], [], [], 0.1)
                continue
            if chunk:
                received.extend(chunk)
            elif written.is_set():
                return
            else:
                time.sleep(0.01)  # no writer yet, or between its writes

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        assert write_to(str(fifo), data) is None
    finally:
        written.set()
        thread.join(10)
        os.close(reader)
    assert bytes(received) == data


@pytest.mark.parametrize("append", [False, True])
def test_a_regular_file_is_written(tmp_path, append):
    target = tmp_path / "summary.md"
    target.write_bytes(b"before\n")
    assert write_to(str(target), b"after\n", append=append) is None
    assert target.read_bytes() == (b"before\nafter\n" if append else b"after\n")


@pytest.mark.parametrize("value", ["|high|endpoint|", "|high|2|yes|", "|**14**|**0**"])
def test_a_runner_value_across_summary_table_cells_masks_no_cell(
    empty_registry, monkeypatch, value
) -> None:
    """Round 41a F2, F3: summary.md's last pass read a table row whole, and a CI variable
    spanning its cells masked a failing case's severity and check, a severity's whole row,
    or the failed total."""
    from smokegate.report.summary import scrubbed_lines

    monkeypatch.setenv("CI_DEPLOY_TOKEN", value)
    rows = (
        "| high | endpoint | billing-health (https://b.test/) | 503 · 4 ms | status 503 |\n"
        "| high | 2 | yes |\n"
        "| **all** | **26** | **14** | **0** | **1** | **0** |"
    )
    assert scrubbed_lines(rows) == rows


def test_a_mask_taking_a_pipe_s_backslash_adds_no_cell(empty_registry, monkeypatch) -> None:
    """Round 42a F3: a CI variable ending in a backslash masked the `\\` of a server's
    escaped `\\|`, and the failing row grew cells the server wrote."""
    from smokegate.report.summary import scrubbed_lines

    monkeypatch.setenv("CI_DEPLOY_TOKEN", "Zq7xK2m\\")
    row = "| high | endpoint | api | 200 | header X is 'Zq7xK2m\\| x \\| y' |"
    out = scrubbed_lines(row)
    assert "Zq7xK2m" not in out
    assert out.replace("\\|", "").count("|") == 6, out  # five cells, as written


@pytest.mark.parametrize("active", ["$", "~", "`"])
def test_a_mask_taking_any_escape_s_backslash_leaves_it_escaped(
    empty_registry, monkeypatch, active
) -> None:
    """Round 43a F1: only a pipe's escape was put back; a CI variable ending in a backslash
    freed `$` (GitHub math: a green "gate PASSED" drawn by a server), `~` and backticks.
    The mask this pass writes is text too, not emphasis."""
    from smokegate.report.summary import md_text, scrubbed_lines

    monkeypatch.setenv("CI_DEPLOY_TOKEN", "Zq7xK2m\\")
    written = md_text(f"Server 'nginx (Zq7xK2m{active}x Zq7xK2m{active})'")
    # md_text left `Zq7xK2m` (no backslash yet) and wrote `\\$` after it: the last pass masks
    # the variable there, backslash and all
    row = f"| medium | security_headers | web | 200 | {written} |"
    out = scrubbed_lines(row)
    assert "Zq7xK2m" not in out, out
    bare = [i for i, c in enumerate(out) if c == active and (i == 0 or out[i - 1] != "\\")]
    assert not bare, out
    assert "***" not in out.replace("\\*", ""), out


def test_a_mask_after_a_dangling_backslash_stays_text(empty_registry, monkeypatch) -> None:
    from smokegate.report.summary import scrubbed_lines

    monkeypatch.setenv("CI_DEPLOY_TOKEN", "Kq8Wm3Lz")
    out = scrubbed_lines("| a | x\\Kq8Wm3Lz y |")
    assert "Kq8Wm3Lz" not in out
    assert "\\\\\\*\\*\\*" in out, out  # the backslash escaped, the mask's stars each escaped
