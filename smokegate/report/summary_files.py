"""Writing summary.md and appending to $GITHUB_STEP_SUMMARY, for a run and for the shard
merge alike: each returns the reason it could not write, never raises, so that a passing
gate is never turned into a traceback (or a changed exit code) by a report file.
"""

from __future__ import annotations

import errno
import os
import select
import stat
from pathlib import Path

from smokegate.redact import excerpt

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; elsewhere an ordinary open
# How long a FIFO's reader may stop reading before the write is given up (round 17a: a
# reader that never read hung the run, before its verdict, once the pipe's 64 KiB filled).
FIFO_STALL_S = 10.0


def shown_path(path: Path | str) -> str:
    """A path as a message about a report file quotes it (it may come from a variable)."""
    return excerpt(str(path), 500)


def write_summary_file(path: Path, text: str) -> str | None:
    """Write summary.md; the reason it could not be written, or None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        return f"summary.md was not written to {shown_path(path)}: {exc.strerror or exc}"
    return None


def append_step_summary(target: str, text: str) -> str | None:
    """Append to $GITHUB_STEP_SUMMARY; the reason it could not be, or None."""
    reason = write_to(target, (text + "\n").encode("utf-8"), append=True)
    if reason is None:
        return None
    return f"$GITHUB_STEP_SUMMARY ({shown_path(target)}) {reason}"


def write_to(target: str, data: bytes, *, append: bool = False) -> str | None:
    """Write `data` to `target`; why it was not written ("was not written: ...", "is not a
    file: not written"), or None.

    The path comes from a variable or the command line: a FIFO nobody reads would block an
    ordinary open forever (round 15: `--junitxml=<fifo>` hung the run before its verdict),
    so it is opened without blocking (a FIFO without a reader is then refused), and only a
    regular file, a terminal-like device or a FIFO with a reader is written.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(target, flags | _NONBLOCK, 0o644)
    except OSError as exc:
        reason = "nothing reads that FIFO" if exc.errno == errno.ENXIO else exc.strerror
        return f"was not written: {reason or exc}"
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            return "is not a file: not written"
        if stat.S_ISFIFO(mode) and _NONBLOCK:
            return _write_to_reader(fd, data)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        while data:
            written = os.write(fd, data)
            data = data[written:]  # cut-ok: bytes already written, never shown
    except OSError as exc:
        return f"was not written: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return None


def _write_to_reader(fd: int, data: bytes) -> str | None:
    """Write to a FIFO that has a reader, without blocking: each wait for room is bounded."""
    while data:
        _, ready, _ = select.select([], [fd], [], FIFO_STALL_S)
        if not ready:
            return f"was not written whole: its reader stopped reading for {FIFO_STALL_S:g} s"
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            continue
        data = data[written:]  # cut-ok: bytes already written, never shown
    return None
