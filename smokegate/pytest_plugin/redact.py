"""Where the scrubber is applied in a pytest run: every output gets scrubbed text.

Redaction happens where each output gets its text, not by editing files afterwards
(a file edited afterwards has already been uploaded, tailed or cached by then):

- every test report, in `pytest_runtest_makereport`, before any reporter sees it:
  the traceback structure (messages, source lines, locals), captured stdout/stderr/log
  sections, smokegate's own case facts and the JUnit properties. Console, HTML,
  JUnit and summary are all written from these reports;
- log records, by a `logging.Filter` on the handlers pytest writes logs with (live
  console logging, `--log-file`, captured logs) and on the root logger;
- prints under `-s`, `--capture=tee-sys` or with pytest's capture plugin disabled, through a
  scrubbing proxy of the stream that reaches the terminal;
- pytest's own tracing: the `--debug` file (what was written before smokegate knew the
  run's secrets is rewritten scrubbed, then every later line is scrubbed) and PYTEST_DEBUG;
- warnings and pytest-metadata's environment table (HTML "Environment", `-v` header).

Only text is scrubbed: smokegate's own facts about a case (check, target, severity, kind),
which the gate computes with, are never touched, so a secret that happens to read `high`
or a check's name cannot corrupt the verdict. Control characters in every report text are
shown escaped.

What a secret is, and the masking itself, is `smokegate.redact`.
"""

from __future__ import annotations

import logging
import sys
import warnings
import weakref
from collections.abc import Generator
from typing import Any

import pytest

from smokegate.redact import (
    Scrubber,
    ScrubbingStream,
    ScrubFilter,
    escape_control,
    process_scrubber,
    register_secret,
    registered_secrets,
)

# The case facts smokegate computes with (identity, severity, the "verified nothing" flag):
# never scrubbed. Every other value of `report.smokegate` is text and is.
IDENTITY_FACTS = frozenset({"check", "target", "severity", "kind", "unverified", "own_text"})
WORKEROUTPUT_SECRETS = "smokegate_secrets"


class ScrubPlugin:
    """Registered by the smokegate plugin for a run: the scrubber's pytest hooks."""

    def __init__(self, config: pytest.Config, scrubber: Scrubber) -> None:
        self.config = config
        self.scrubber = scrubber
        self.filter = ScrubFilter(scrubber)
        self._filtered: list[logging.Filterer] = []
        self._streams: dict[str, Any] = {}
        # report -> the secrets it was scrubbed with (`Scrubber.secrets_in_use`)
        self._scrubbed_under: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._first_written: int | None = None  # see `pytest_runtest_logreport`

    # -- reports: console, HTML, JUnit and summary are all written from these -----------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield  # tryfirst wrapper: outermost, so every other wrapper has run
        self.scrub_report(report)
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(
        self,
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        self.scrub_report(report)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self) -> None:
        """The secrets known before the start-up probes send anything: a secret learnt after
        this (a token fetched for a probe, one a server hands out) is late, and the pieces
        of it an earlier excerpt cut are masked at the end (`Scrubber.late_pieces`). Not at
        the first case: a token fetched during the probes was no late one (review 55); not
        at configure: twenty accounts' STS credentials, gathered while collecting and before
        any text is cut, would all be late, searched in every file for nothing."""
        self.scrubber.note_first_written()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The secrets known when the first case reached the report writers (under xdist
        the controller's, which learns the workers' only at their end)."""
        if self._first_written is None:
            self._first_written = self.scrubber.secrets_in_use()
            self.scrubber.note_first_written()  # a run that collected nothing of its own

    def learnt_late(self) -> bool:
        """Whether a secret became known after the first case was written into the reports
        (a token fetched late, credentials STS issued later, another worker's): the texts
        written before were not searched for it in every form, spreads included."""
        first = self._first_written
        return first is not None and self.scrubber.secrets_in_use() != first

    def scrub_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        before = self.scrubber.secrets_in_use()
        with self.scrubber.frozen():
            self._scrub_report(report)
        # marked as scrubbed with those secrets only when no other were learnt meanwhile
        # (an account's thread registering its credentials): the console's pass then
        # scrubs it again (review 54)
        if self.scrubber.secrets_in_use() == before:
            self._scrubbed_under[report] = before

    def _scrub_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        scrub = self.scrubber
        data = getattr(report, "smokegate", None)
        # a rule's failure is smokegate's own message: every quote in it was scrubbed,
        # pieces included, when it was written; a piece search over the whole would take
        # its words for a secret's (a password `critical-infra-2024!` masked the severity,
        # the check and "expected" of every failing case: rounds 28a, 29a)
        own = isinstance(data, dict) and data.get("own_text") == "yes"
        report.longrepr = scrub.scrub_longrepr(report.longrepr, pieces=not own)
        report.sections = [(title, scrub.scrub(text)) for title, text in report.sections]
        if isinstance(report, pytest.TestReport):
            report.user_properties = [
                (name, value if name in IDENTITY_FACTS else scrub.scrub_data(value))
                for name, value in report.user_properties
            ]
        if isinstance(data, dict):
            for key, value in data.items():
                if key not in IDENTITY_FACTS:
                    data[key] = scrub.scrub_data(value)

    # -- the console: its failures are printed at the end, with every secret known then ----
    # A case is scrubbed when it ends; a value learnt later in the run (a token fetched for
    # another endpoint, credentials STS issued, what another worker learnt) was masked in
    # the files' last pass but printed bare in the console's FAILURES section and case lines
    # (round 43a F3). pytest's terminal reporter prints them in its own wrapper of this
    # hook, before it yields: this outer wrapper scrubs every report again first.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None]:
        with self.scrubber.frozen():
            now = self.scrubber.secrets_in_use()
            late = self.scrubber.late_pieces()
            for reports in list(getattr(terminalreporter, "stats", {}).values()):
                for report in reports:
                    if not isinstance(report, pytest.TestReport | pytest.CollectReport):
                        continue
                    # scrubbed when made with the secrets known now: nothing to add (15 100
                    # cases took seconds here); a report that came from an xdist worker
                    # was never scrubbed in this process
                    if self._scrubbed_under.get(report, -1) != now:
                        self._scrub_report(report)
                    if late is not None and (report.longrepr or report.sections):
                        # whenever it was scrubbed: an excerpt cut before the secret came
                        # may be in a report made after (review 55)
                        self._mask_late_pieces(report)
        return (yield)

    def _mask_late_pieces(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """The pieces of the secrets learnt after the first case was written, masked in a
        report made before: its excerpts were cut without knowing them (round 54a F1)."""
        mask = self.scrubber.mask_late_pieces
        seen: set[int] = set()
        report.longrepr = self.scrubber.walk_strings(report.longrepr, mask, seen)
        report.sections = [(title, mask(text)) for title, text in report.sections]

    # -- under xdist: what one worker learnt, every output knows ----------------------------
    # A token one worker's login handed out (or fetched) is a known secret there only: an
    # endpoint on another worker that echoed it was quoted bare (round 18b: the console,
    # report.html and junit.xml of a `-n 2` run). Each worker hands its secrets to the
    # controller (the public `workeroutput`, in memory) as it finishes, before the
    # controller writes any output.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if isinstance(workeroutput, dict):
            # and every secret this worker's scrubber holds: a conftest or plugin that set a
            # credential-named variable on one worker, mid-run (round 54a F3) or when the
            # worker imported it (54c F3: keyed on PYTEST_XDIST_WORKER), left the
            # controller without it, and an echo on another worker was quoted whole. The
            # controller takes only what it does not hold already.
            held = self.scrubber.secrets()
            workeroutput[WORKEROUTPUT_SECRETS] = sorted({*registered_secrets(), *held})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        values = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_SECRETS) or ()
        held = set(self.scrubber.secrets())
        for value in values if isinstance(values, list) else ():
            if isinstance(value, str) and value not in held:
                register_secret(value)

    # -- logs ------------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.install_log_filter()
        self.scrub_metadata()
        capture = self.config.getoption("capture", "fd")
        if capture == "no" or not self.config.pluginmanager.has_plugin("capturemanager"):
            self.wrap_std_streams()
        elif capture == "tee-sys":
            self.wrap_tee_streams()

    def wrap_tee_streams(self) -> None:
        """--capture=tee-sys copies every print to the terminal stream it saved at start-up:
        scrub that copy. Should pytest's capture change shape, the run is refused rather
        than left printing secrets."""
        manager = self.config.pluginmanager.get_plugin("capturemanager")
        capturing = getattr(manager, "_global_capturing", None)
        tees = [getattr(getattr(capturing, name, None), "tmpfile", None) for name in ("out", "err")]
        tees = [tee for tee in tees if tee is not None and hasattr(tee, "_other")]
        if not tees:
            raise pytest.UsageError(
                "smokegate: --capture=tee-sys: cannot scrub what it copies to the terminal; "
                "use --capture=no (-s) or the default capture"
            )
        for tee in tees:
            if not isinstance(tee._other, ScrubbingStream):
                tee._other = ScrubbingStream(tee._other, self.scrubber)

    def wrap_std_streams(self) -> None:
        """With capture off (`-s`) prints go straight to the terminal: scrub them there."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, ScrubbingStream):
                self._streams[name] = stream
                setattr(sys, name, ScrubbingStream(stream, self.scrubber))

    def install_log_filter(self) -> None:
        """On pytest's own log handlers (captured, report, live console, --log-file), on every
        root handler, and on the root logger itself."""
        logging_plugin = self.config.pluginmanager.get_plugin("logging-plugin")
        targets: list[logging.Filterer] = [logging.getLogger(), *logging.getLogger().handlers]
        for attr in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler"):
            handler = getattr(logging_plugin, attr, None)
            if isinstance(handler, logging.Handler):
                targets.append(handler)
        for target in targets:
            if self.filter not in target.filters:
                target.addFilter(self.filter)
                self._filtered.append(target)

    def pytest_unconfigure(self) -> None:
        for target in self._filtered:
            target.removeFilter(self.filter)
        self._filtered.clear()
        for name, stream in self._streams.items():
            setattr(sys, name, stream)
        self._streams.clear()

    # -- warnings and the environment table -------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        text = str(warning_message.message)
        clean = escape_control(self.scrubber.scrub(text))
        if clean != text:
            category = warning_message.category
            try:
                warning_message.message = category(clean)
            except Exception:
                warning_message.message = UserWarning(clean)

    @pytest.hookimpl(optionalhook=True, trylast=True)
    def pytest_metadata(self, metadata: dict[str, Any], config: pytest.Config) -> None:
        self.scrubber.scrub_data(metadata)

    def scrub_metadata(self) -> None:
        """Again at session start, in case metadata was gathered before this plugin existed."""
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:
            return
        metadata = self.config.stash.get(metadata_key, None)
        if isinstance(metadata, dict):
            self.scrubber.scrub_data(metadata)


# -- pytest's own tracing: --debug and PYTEST_DEBUG ------------------------------------------------


class _ScrubbingWriter:
    """pluggy's trace writer, scrubbed: hook calls are traced with their arguments, and an
    exception's repr there holds whatever text it was raised with."""

    def __init__(self, write: Any) -> None:
        self.write = write

    def __call__(self, text: str) -> None:
        scrubber = process_scrubber()
        self.write(escape_control(_debug_text(scrubber, scrubber.scrub(text))))


def _debug_text(scrubber: Scrubber, text: str) -> str:
    """A trace line with every piece of a secret (8 characters or more) masked, not only
    its forms: pytest's saferepr cuts an exception's repr at 240 characters, and a token at
    the cut is no form any more (round 50a F4: 13 of its 14 characters), and the trace
    holds the env's targets whole, a piece of a token in a URL's path with them. The debug
    file is a diagnosis, no report: a secret that shares a piece with smokegate's own words
    (`security-review-2024`) masks them there, which is the lesser harm."""
    return scrubber.mask_fragments(text)


def scrubbed_for_debug(text: str) -> str:
    """A diagnosis file's text (`--debug`, `--log-file`) as it may be written: every secret
    known now and every piece of one masked, control characters escaped."""
    scrubber = process_scrubber()
    return escape_control(_debug_text(scrubber, scrubber.scrub(text)))


def install_trace_scrubber(manager: pytest.PytestPluginManager) -> None:
    """Scrub pytest's tracing from now on (its writer is set by PYTEST_DEBUG at start-up and
    by --debug after the command line is parsed: called at both points)."""
    root = manager.trace.root
    writer = getattr(root, "_writer", None)
    if writer is not None and not isinstance(writer, _ScrubbingWriter):
        root.setwriter(_ScrubbingWriter(writer))


def scrub_debug_file(config: pytest.Config) -> None:
    """`--debug FILE` was opened, and written to, before smokegate knew the run's secrets
    (its header holds the command line): rewrite what is there, scrubbed. Later lines pass
    the trace scrubber."""
    try:
        rewrite_debug_file(config)
    except (OSError, ValueError, AttributeError) as exc:
        raise pytest.UsageError(
            f"smokegate: --debug: the debug file could not be scrubbed ({exc}); run without --debug"
        ) from None


def rewrite_debug_file(config: pytest.Config) -> None:
    """The `--debug` file's text so far, written again as `scrubbed_for_debug` makes it,
    through pytest's own open handle (it goes on writing after). Raises what the file
    does (OSError, ValueError, AttributeError); nothing without `--debug`."""
    writer = getattr(config.trace.root, "_writer", None)
    write = getattr(writer, "write", writer)
    handle = getattr(write, "__self__", None)
    if not getattr(config.option, "debug", None) or handle is None:
        return
    handle.flush()
    with open(handle.name, encoding="utf-8", errors="replace") as existing:
        text = existing.read()
    handle.seek(0)
    handle.truncate()
    handle.write(scrubbed_for_debug(text))
    handle.flush()
