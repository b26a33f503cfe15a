"""What a run writes as it goes, before it knows every secret it will learn.

A token fetched from an OAuth2 endpoint, or STS credentials of an assumed role, is a
secret only once the run has it; a server may echo it earlier (a static per-client token,
a redirect to `/ok/<token>`). Reports are made whole at the end, with every secret known
then; what a run streams cannot be called back (round 55c F1: the token whole in the
`--debug` file, PYTEST_DEBUG's trace, `--log-file` and the live DEBUG log). So:

- the `--debug` file and the `--log-file` are scrubbed again when the run ends, with every
  secret known then and every piece of one (`rescrub_files`, a config cleanup: after the
  log file is closed, before the debug file is);
- a stream to the terminal that shows requests and answers as they happen (PYTEST_DEBUG,
  a live log, pytest's logging plugin disabled, xdist's workers' trace under `--debug`) is
  refused: it could not be masked there (`refuse_late_streams`). Written to a file in a
  serial run instead, it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smokegate.pytest_plugin.guard import ini_flag
from smokegate.pytest_plugin.redact import rewrite_debug_file
from smokegate.pytest_plugin.xdist import runs_workers
from smokegate.redact import escape_control

# a log file is read and scrubbed this much at a time (a DEBUG log of a large run is big),
# cut at a line's end: no secret holds a line break
_CHUNK_CHARS = 4 * 1024 * 1024


def refuse_late_streams(config: pytest.Config) -> None:
    """Any run may learn a secret late: an OAuth2 endpoint's or a login's token, a session
    cookie a server hands out, an assumed role's credentials (round 55d F1: a login's
    `access_token` echoed earlier was whole under PYTEST_DEBUG in an env with no OAuth2).
    A live log at any level streams it (round 55e F1: urllib3's WARNING for a retried
    redirect quotes its path, `/ok/<token>`); without pytest's logging plugin, Python's
    last-resort handler prints a library's warnings to stderr, past every filter."""
    streams = []
    if os.environ.get("PYTEST_DEBUG"):
        streams.append("PYTEST_DEBUG (pytest's trace on the terminal)")
    if config.pluginmanager.is_blocked("logging"):
        streams.append("-p no:logging (library warnings printed to the terminal unfiltered)")
    elif getattr(config.option, "log_cli_level", None) is not None or ini_flag(config, "log_cli"):
        streams.append("a live log (--log-cli-level / log_cli)")
    if getattr(config.option, "debug", None) and runs_workers(config):
        # xdist's workers trace every report they send to the terminal under --debug
        streams.append("--debug under xdist (its workers' trace on the terminal)")
    if streams:
        raise pytest.UsageError(
            f"smokegate: {' and '.join(streams)} shows requests and answers as they happen, "
            "before every secret of the run is known (a token an OAuth2 endpoint or a login "
            "hands out, a session cookie, an assumed role's credentials): a server's echo of "
            "one could not be masked there. Leave it out, or write to a file in a run "
            "without -n (--debug FILE, or --log-file with --log-file-level: both are masked "
            "again when the run ends)"
        )


def rescrub_files(config: pytest.Config, mask: Callable[[str], str]) -> None:
    """The `--debug` file (still open: pytest closes it last) and the `--log-file` (closed
    by now), scrubbed again with every secret known at the end. `mask`: a text's
    scrubbing, pieces included. A failure is said, never raised: the run is over."""
    problems = []
    try:
        rewrite_debug_file(config)
    except (OSError, ValueError, AttributeError) as exc:
        problems.append(f"--debug file: {exc.__class__.__name__}")
    log_file = _log_file(config)
    if log_file is not None:
        try:
            _rescrub_log(log_file, mask)
        except (OSError, ValueError) as exc:
            problems.append(f"--log-file: {exc.__class__.__name__}")
    for problem in problems:
        os.write(2, escape_control(f"smokegate: could not scrub the {problem} again\n").encode())


def _log_file(config: pytest.Config) -> Path | None:
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    handler = getattr(logging_plugin, "log_file_handler", None)
    name = getattr(handler, "baseFilename", None)
    if not name or name == os.devnull:
        return None
    path = Path(name)
    return path if path.is_file() else None


def _rescrub_log(path: Path, mask: Callable[[str], str]) -> None:
    """The log file scrubbed a chunk at a time into a new file that replaces it."""
    fresh = path.with_name(f".{path.name}.smokegate-scrub")
    with (
        open(path, encoding="utf-8", errors="replace", newline="") as source,
        open(fresh, "w", encoding="utf-8", newline="") as target,
    ):
        rest = ""
        while True:
            chunk = source.read(_CHUNK_CHARS)
            if not chunk:
                break
            text = rest + chunk
            cut = text.rfind("\n") + 1
            if cut == 0 and len(text) < 4 * _CHUNK_CHARS:
                rest = text  # no line's end yet: read on
                continue
            cut = cut or len(text)
            target.write(mask(text[:cut]))  # cut-ok: whole lines, each scrubbed whole
            rest = text[cut:]  # cut-ok: the unfinished line, scrubbed with the next chunk
        if rest:
            target.write(mask(rest))
    os.replace(fresh, path)
