"""pytest-html glue: title, smokegate columns, light passing rows.

Registered by the plugin only when pytest-html is active and an env is loaded.
pytest-html 4 renders the table in the browser from one JSON blob, so passing rows
carry no log: a 5 000-case report stays quick to open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

import pytest

from smokegate.pytest_plugin.keys import ENV_KEY, STATE_KEY, skip_reason

COLUMNS = (
    ("check", "Check"),
    ("target", "Target"),
    ("severity", "Severity"),
    ("measured", "Measured"),
)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    env = report.config.stash[ENV_KEY].name
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report.title = f"smokegate · {env} · {stamp}"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    new = [f'<th class="sortable" data-column-type="{key}">{label}</th>' for key, label in COLUMNS]
    cells[1:1] = new
    # "Links" and "Test": smokegate attaches no links, and check + target name the case.
    # Every column costs render time in a 5 000-row report (pytest-html renders in JS).
    del cells[-1]
    del cells[-2]


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    data = getattr(report, "smokegate", None) or {}
    location = data.get("location", "")
    target = escape(data.get("target", ""))
    if location and location != data.get("target"):
        target = f"{target} · {escape(location)}"
    values = {
        "check": escape(data.get("check", "")),
        "target": target,
        "severity": escape(data.get("severity", "")),
        "measured": escape(data.get("measured", "")),
    }
    new = [f'<td class="col-{key}">{values[key]}</td>' for key, _ in COLUMNS]
    cells[1:1] = new
    del cells[-1]
    del cells[-2]


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    if report.passed:
        data.clear()
    elif reason := skip_reason(report):
        # pytest-html shows a skip as its raw (path, line, reason) tuple: show the reason
        # ("waived until 2027-01-31: ticket OPS-123").
        data[:] = [escape(reason) + "\n"]


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    env = session.config.stash[ENV_KEY]
    prefix.append(
        f"<p>Environment <strong>{escape(env.name)}</strong> "
        f"from <code>{escape(str(env.path.name))}</code>.</p>"
    )
    prefix.append(f"<p><strong>{escape(state.evaluate_gate().describe())}</strong></p>")
