"""Where the scrubber is applied in a pytest run: every output gets scrubbed text.

Redaction happens where each output gets its text, not by editing files afterwards
(a file edited afterwards has already been uploaded, tailed or cached by then):

- every test report, in `pytest_runtest_makereport`, before any reporter sees it:
  the traceback structure (messages, source lines, locals), captured stdout/stderr/log
  sections, smokegate's own case facts and the JUnit properties. Console, HTML,
  JUnit and summary are all written from these reports;
- log records, by a `logging.Filter` on the handlers pytest writes logs with (live
  console logging, `--log-file`, captured logs) and on the root logger;
- prints under `-s`, through a scrubbing proxy of sys.stdout/stderr;
- warnings and pytest-metadata's environment table (HTML "Environment", `-v` header).

What a secret is, and the masking itself, is `smokegate.redact`.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from smokegate.redact import Scrubber, ScrubbingStream, ScrubFilter


class ScrubPlugin:
    """Registered by the smokegate plugin for a run: the scrubber's pytest hooks."""

    def __init__(self, config: pytest.Config, scrubber: Scrubber) -> None:
        self.config = config
        self.scrubber = scrubber
        self.filter = ScrubFilter(scrubber)
        self._filtered: list[logging.Filterer] = []
        self._streams: dict[str, Any] = {}

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

    def scrub_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        with self.scrubber.frozen():
            self._scrub_report(report)

    def _scrub_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        scrub = self.scrubber
        report.longrepr = scrub.scrub_longrepr(report.longrepr)
        report.sections = [(title, scrub.scrub(text)) for title, text in report.sections]
        if isinstance(report, pytest.TestReport):
            report.user_properties = [
                (name, scrub.scrub_data(value)) for name, value in report.user_properties
            ]
        data = getattr(report, "smokegate", None)
        if isinstance(data, dict):
            scrub.scrub_data(data)

    # -- logs ------------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.install_log_filter()
        self.scrub_metadata()
        if self.config.getoption("capture", "fd") == "no":
            self.wrap_std_streams()

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
        clean = self.scrubber.scrub(text)
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
