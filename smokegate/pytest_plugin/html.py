"""pytest-html glue: what each of its hooks puts on the page.

Registered by the plugin only when pytest-html is active and an env is loaded; the HTML
itself is rendered by `smokegate.report.html_page` and `html_rows` (pure, escaped).

- title: `smokegate · <env> · <UTC time>`;
- summary: the report's stylesheet, the gate banner and the overview first; the waivers to
  clean up and every passing case (grouped per check, static HTML) after the table, the
  Environment table last (CSS order);
- table: Result, Gate, Severity, Check, Target, Measured; only failing, waived and skipped
  cases are rows, gating first then by severity. pytest-html renders every row in the
  browser from one JSON blob (seconds per thousand rows), so passing cases are not rows;
- failure details: the failure as pytest wrote it, without the `[gw1] linux -- Python`
  line xdist puts in front of it;
- Environment: pytest-metadata's table (CI variables included) is written into the page with
  `innerHTML` by pytest-html: every value is escaped before it is.

pytest-html hands `pytest_html_report_title` its report data object; it is kept to fix
what no other hook reaches: the Passed count of the filters (passing cases are not rows),
the initial sort, and the escaping of the environment table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

import pytest

from smokegate.pytest_plugin.keys import ENV_KEY, STATE_KEY, skip_reason
from smokegate.report.html_page import (
    render_banner,
    render_overview,
    render_passing,
    render_waivers,
    stylesheet,
)
from smokegate.report.html_rows import header_cells, row_cells
from smokegate.report.standing import Standing

if TYPE_CHECKING:
    from smokegate.pytest_plugin.run import RunState


def register(config: pytest.Config) -> None:
    """Called by the plugin for a run with an env, when pytest-html is active."""
    config.pluginmanager.register(HtmlPlugin(config), "smokegate.report_html")


class HtmlPlugin:
    """pytest-html's hooks for one run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report_data: Any = None
        # pytest-metadata's dict, as pytest-html holds it (values raw); the report data
        # only ever holds an escaped copy of it
        self.environment: dict[str, Any] | None = None

    @property
    def state(self) -> RunState:
        return self.config.stash[STATE_KEY]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        env = self.config.stash[ENV_KEY].name
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        report.title = f"smokegate · {env} · {stamp}"
        self.report_data = report
        # Called by pytest-html right after it put the environment table in its data and
        # before its first write of the page (`-o generate_report_on_test=true` writes it
        # now and after every case): escaped from the first write on, not only the last.
        data = getattr(report, "data", None)
        if isinstance(data, dict) and isinstance(data.get("environment"), dict):
            self.environment = data["environment"]
            data["environment"] = escape_environment(self.environment)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        # pytest-html's Result column stays (its filters and colours key on it); its Test,
        # Duration and Links columns go: check + target name the case, Duration is pytest's
        # time, not the target's latency (Measured), and smokegate attaches no links.
        cells[1:] = header_cells()

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        if report.passed:
            cells.clear()  # a passing case is listed, with its facts, in the grouped section
            return
        state = self.state
        result = state.results.cases.get(report.nodeid)
        if result is None:  # a collection error, or a failure smokegate holds no facts of
            cells[1:] = row_cells(Standing.VERIFIED_NOTHING, None, report.nodeid)
        else:
            cells[1:] = row_cells(state.standing(result), result.case, report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        if report.passed:
            data.clear()
        elif reason := skip_reason(report):
            # pytest-html shows a skip as its raw (path, line, reason) tuple: show the reason
            # ("waived until 2027-01-31: ticket OPS-123").
            data[:] = [escape(reason) + "\n"]
        else:
            data[:] = failure_detail(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        view = self.state.run_view()
        prefix += [stylesheet(), render_banner(view), render_overview(view)]
        postfix += [render_waivers(view), render_passing(view)]
        if self.report_data is not None:
            self._finish_report_data(view.count()[Standing.PASSED])

    def _finish_report_data(self, passed: int) -> None:
        """What only pytest-html's report data reaches, done last (right before it writes)."""
        outcomes = getattr(self.report_data, "outcomes", None)
        if isinstance(outcomes, dict) and isinstance(outcomes.get("passed"), dict):
            # The filters count rows; passing cases are listed apart, results all the same.
            outcomes["passed"]["value"] = passed
        data = getattr(self.report_data, "data", None)
        if not isinstance(data, dict):
            return
        if self.config.getini("initial_sort") == "result":  # pytest-html's default
            data["initialSort"] = "gate"  # gating first, the most severe first
        if self.environment is not None:  # again: metadata added since (the AWS account)
            data["environment"] = escape_environment(self.environment)


def failure_detail(report: Any) -> list[str]:
    """The failure as pytest wrote it, and its captured sections, escaped; without the
    worker line xdist writes first (`[gw1] linux -- Python 3.11 /path/python`), which
    would otherwise open every failure of a `-n` run."""
    lines = report.longreprtext.splitlines()
    if lines and lines[0].startswith("[gw") and " -- Python " in lines[0]:
        lines = lines[1:]
    text = "\n".join(lines).strip("\n")
    parts = [escape(text) + "\n"] if text else []
    for header, content in report.sections:
        parts.append(f"{' ' + escape(header) + ' ':-^80}\n{escape(content)}")
    return parts


def escape_environment(environment: dict[str, Any]) -> dict[str, Any]:
    """pytest-metadata's table as pytest-html's JavaScript writes it: keys go in with
    `textContent` (left as they are), values and the items of a mapping value with
    `innerHTML` (escaped). Values come from CI variables, env and file names: data."""
    escaped: dict[str, Any] = {}
    for key, value in environment.items():
        if isinstance(value, dict):
            escaped[key] = {escape(str(k)): escape(str(v)) for k, v in value.items()}
        elif isinstance(value, list | tuple):
            escaped[key] = [escape(str(v)) for v in value]
        else:
            escaped[key] = escape(str(value))
    return escaped
