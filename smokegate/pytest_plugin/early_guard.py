"""The one check that must run before pytest prints anything of its own.

pytest opens the `--debug` file and prints `writing pytest debug information to <path>` as
soon as the command line is parsed, before the checks' conftest loads smokegate's plugin,
and prints the path again at exit: a path holding terminal control (ESC, CR) could erase
smokegate's verdict and print one of its own (attack round 14). Loaded through the
`pytest11` entry point, this runs in `pytest_load_initial_conftests`, after the command
line is read and before that line is printed, and refuses such a path. With
`PYTEST_DISABLE_PLUGIN_AUTOLOAD` set it is not loaded; smokegate's own guard then refuses
the run when it configures (exit 4), after pytest's first line.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest

from smokegate.redact import escape_control, excerpt, unsafe_characters


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: Any) -> None:
    known = early_config.known_args_namespace
    path = getattr(known, "debug", None)
    problem = terminal_control_problem("--debug", path)
    if problem:
        raise pytest.UsageError(f"smokegate: {problem}")
    # pytest opens these itself, blocking: a FIFO nobody reads hung the run before any
    # output (round 16)
    for option, value in (("--debug", path), ("--log-file", getattr(known, "log_file", None))):
        problem = fifo_problem(option, value)
        if problem:
            raise pytest.UsageError(f"smokegate: {problem}")


def fifo_problem(what: str, value: object) -> str | None:
    """Why a file pytest opens itself and writes as the run goes cannot be taken: a FIFO
    nobody reads hung the run before any output (round 16); a terminal, a device or this
    run's own stdout or stderr (`/proc/self/fd/2`) streams what the run writes before it
    knows every secret, where smokegate's end-of-run scrub cannot reach, and pytest would
    empty a job log it names (round 55d F2). `guard` asks it again for `--log-file` when
    this plugin was not loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD; round 17a)."""
    if not isinstance(value, str) or not value or value == os.devnull:
        return None
    shown = excerpt(escape_control(value, one_line=True), 500)
    try:
        info = os.stat(value)
    except (OSError, ValueError):
        info = None
    if info is not None and stat.S_ISFIFO(info.st_mode):
        return (
            f"{what} '{shown}' is a FIFO, which pytest would wait on for a reader forever: "
            "name a file"
        )
    if info is not None and not stat.S_ISREG(info.st_mode):
        return f"{what} '{shown}' is no regular file (a terminal, a device, a socket): name a file"
    if info is not None and _is_own_output(info):
        return (
            f"{what} '{shown}' is this run's own output (its stdout or stderr): pytest would "
            "empty it, and what streams there could not be masked again when the run ends: "
            "name a file"
        )
    if os.path.realpath(value).startswith(("/proc/", "/dev/")):
        return (
            f"{what} '{shown}' is a process's or a device's file, which smokegate cannot "
            "scrub again when the run ends: name a file"
        )
    return None


def _is_own_output(info: os.stat_result) -> bool:
    for descriptor in (1, 2):
        try:
            own = os.fstat(descriptor)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
            return True
    return False


def terminal_control_problem(what: str, value: object) -> str | None:
    """Why a path or text that pytest prints raw cannot be taken, or None; `guard` says the
    same of the others once smokegate is configured."""
    if not value or not unsafe_characters(str(value)):
        return None
    return (
        f"{what} '{excerpt(escape_control(str(value), one_line=True), 500)}' holds control "
        "characters or invisible formatting characters (C0, C1, bidi overrides, ...), which "
        "pytest prints raw to the terminal: name another path"
    )
