"""The cells of a row of pytest-html's results table, for a failing, waived or skipped case.

pytest-html 4 takes each cell as an HTML string and inserts it with `innerHTML`, so every
value is escaped here. A sortable column is sorted by its cell's HTML as text: the Gate and
Severity cells open with a hidden sort key, so that sorting by Gate reads gating failures
first, the most severe first (the table's initial order), and Severity sorts by rank, not
alphabetically.
"""

from __future__ import annotations

from html import escape

from smokegate.cases import CaseInfo
from smokegate.report.standing import Standing, reading_order
from smokegate.severity import Severity

# (column key, header): after pytest-html's own Result column. pytest's Duration column is
# dropped: it is the test's time in pytest (a gather shared by every case lands on whichever
# ran first), and a reader takes it for the target's latency, which Measured shows.
COLUMNS = (
    ("gate", "Gate"),
    ("severity", "Severity"),
    ("check", "Check"),
    ("target", "Target"),
    ("measured", "Measured"),
)


def header_cells() -> list[str]:
    return [f'<th class="sortable" data-column-type="{key}">{label}</th>' for key, label in COLUMNS]


def row_cells(standing: Standing, case: CaseInfo | None, nodeid: str) -> list[str]:
    """Gate, Severity, Check, Target, Measured for one case; `case` is None for a failure
    smokegate knows no facts of (a collection error, a crashed worker's test)."""
    if case is None:
        severity_rank, severity = "9", ""
        check, target, measured = escape(nodeid), "", ""
        order = f"0-0 {escape(nodeid)}"
    else:
        severity_rank = str(5 - case.severity.rank)
        severity = badge_severity(case.severity)
        check = escape(case.check)
        target = escape(case.target)
        if case.location and case.location != case.target:
            target += f' <span class="sg-loc">{_breakable(escape(case.location))}</span>'
        measured = escape(case.measured)
        order = f"{reading_order(standing, case.severity)} {escape(nodeid)}"
    gate = f'<span class="sg-badge sg-st-{standing.css}">{escape(standing.value)}</span>'
    values = {
        "gate": f'<i hidden="">{order}</i>{gate}',
        "severity": f'<i hidden="">{severity_rank}</i>{severity}',
        "check": check,
        "target": target,
        "measured": measured,
    }
    return [f'<td class="col-{key}">{_one_line(values[key])}</td>' for key, _ in COLUMNS]


def badge_severity(severity: Severity) -> str:
    return f'<span class="sg-badge sg-sev-{severity.value}">{severity.value}</span>'


def _one_line(html: str) -> str:
    """pytest-html reads a sortable cell back with a one-line regex: keep cells on one line."""
    return html.replace("\r", " ").replace("\n", " ")


def _breakable(escaped_url: str) -> str:
    """A URL that wraps after its slashes, not inside a word (`<wbr>`: no text of its own,
    so copying the URL copies it whole)."""
    return escaped_url.replace("/", "/<wbr>")
