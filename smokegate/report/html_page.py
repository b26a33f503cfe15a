"""The parts of report.html a person reads before the table: the gate banner, the overview,
the waivers to clean up, and every passing case grouped by check.

pytest-html stays the engine: these are HTML fragments its summary hook places on the page
(`smokegate.pytest_plugin.html`), styled by `report.css`. They are static HTML, not rows of
pytest-html's JavaScript table, for two reasons: a person sees the verdict before any
script runs, and tens of thousands of passing cases cost the browser a parse, not a
render (pytest-html builds each of its rows in JavaScript: ~12 s for 12 500 rows).
Every value is escaped here: env names, file names, targets and server text are data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from smokegate.gate import GateResult
from smokegate.redact import escape_control
from smokegate.report.standing import Standing, standing_of
from smokegate.report.waiver_notes import WaiverNote
from smokegate.results import CaseResult, RunResults
from smokegate.severity import Severity
from smokegate.targets import MARKERS

CSS_PATH = Path(__file__).with_name("report.css")


def _text(value: str) -> str:
    """Text as HTML: control, bidi and invisible characters shown as escapes (a waiver's
    U+202E would reverse the rest of its line in the browser), then HTML-escaped."""
    return escape(escape_control(value))


# Passing cases per closed chunk inside a big group: laying out a table of 40 000 rows
# takes the browser seconds, a chunk of 1 000 a few tens of milliseconds.
CHUNK = 1000

# The bar's segments and the legend, in reading order.
BAR_ORDER = (
    Standing.GATING,
    Standing.VERIFIED_NOTHING,
    Standing.BELOW_GATE,
    Standing.WAIVED,
    Standing.SKIPPED,
    Standing.PASSED,
)


@dataclass(frozen=True)
class RunView:
    """What the page says about a run: the same fold and gate as every other report."""

    env: str
    env_file: str
    gate: GateResult
    results: RunResults
    selection: str = ""  # "" when the full gate ran; else e.g. "-m iam -k alice"
    partial: str = ""  # why the run is not the full gate ("" when it is)
    notices: Sequence[str] = ()  # where the answers came from: a mocked world, a proxy, ...
    waiver_notes: Sequence[WaiverNote] = ()
    standings: dict[str, Standing] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        threshold = self.gate.threshold
        for nodeid, result in self.results.cases.items():
            self.standings[nodeid] = standing_of(result, threshold)

    def count(self) -> Counter[Standing]:
        return Counter(self.standings.values())


def verdict_word(gate: GateResult) -> str:
    return gate.word


def stylesheet() -> str:
    """The report's own CSS, placed on the page by the summary hook."""
    return f"<style>{CSS_PATH.read_text(encoding='utf-8')}</style>"


def render_banner(view: RunView) -> str:
    """The coloured verdict first: PASSED / FAILED / NOT EVALUATED, threshold, counts."""
    word = verdict_word(view.gate)
    gate = view.gate
    css = "not-evaluated" if gate.incomplete else ("passed" if gate.passed else "failed")
    counts = view.count()
    total = len(view.results.cases)
    failed = any(counts.get(s) for s in BAR_ORDER if s.is_failure)
    chips = " ".join(  # "0 gating" beside a failure says it does not gate; on a green run, noise
        f'<span class="sg-chip sg-st-{s.css}{"" if counts[s] else " sg-none"}">'
        f"{counts[s]} {_text(s.value)}</span>"
        for s in BAR_ORDER
        if counts.get(s) or (failed and s in (Standing.GATING, Standing.BELOW_GATE))
    )
    failing = sum(counts[s] for s in BAR_ORDER if s.gates)
    if failing and counts[Standing.VERIFIED_NOTHING]:
        # "9 gating" beside "5 verified nothing" read as if those 5 did not gate (new-user
        # trial 56): the two are said together as what fails the gate
        chips = f'<span class="sg-gate-sum">{failing} fail the gate:</span> {chips}'
    lines = [
        f'<p class="sg-banner-head">gate <b>{word}</b> at <code>--fail-on '
        f"{view.gate.threshold.value}</code> · env <b>{_text(view.env)}</b> "
        f'<span class="sg-file">{_text(view.env_file)}</span></p>',
        f'<p class="sg-banner-counts"><b>{total}</b> case{"" if total == 1 else "s"}: {chips}</p>',
        f'<p class="sg-banner-why">{_text(view.gate.describe())}</p>',
    ]
    lines += [f'<p class="sg-notice">{_text(notice)}</p>' for notice in view.notices]
    if view.selection:
        lines.append(
            f'<p class="sg-selection">Partial run: only <code>{_text(view.selection)}</code> '
            f"was selected. This report is not the full gate of env {_text(view.env)}.</p>"
        )
    elif view.partial:
        lines.append(
            f'<p class="sg-selection">Partial run: {_text(view.partial)}. This report is not '
            f"the full gate of env {_text(view.env)}.</p>"
        )
    return (
        f'<section id="sg-banner" class="sg-banner sg-gate-{css}" role="status">'
        f'<div class="sg-verdict">{word}</div><div class="sg-banner-body">'
        + "".join(lines)
        + "</div></section>"
    )


def render_overview(view: RunView) -> str:
    """A bar of every case by standing, and the failures as a kind × severity matrix."""
    return (
        '<section id="sg-overview" class="sg-overview">'
        + _standing_bar(view)
        + _matrix(view)
        + "</section>"
    )


def _standing_bar(view: RunView) -> str:
    counts = view.count()
    segments = "".join(
        f'<span class="sg-seg sg-st-{s.css}" style="flex-grow:{counts[s]}" '
        f'title="{counts[s]} {s.value}"></span>'
        for s in BAR_ORDER
        if counts.get(s)
    )
    legend = "".join(
        f'<li><i class="sg-swatch sg-st-{s.css}"></i><b>{counts[s]}</b> {s.value}</li>'
        for s in BAR_ORDER
        if counts.get(s)
    )
    return (
        '<div class="sg-panel"><h3>Cases by standing</h3>'
        f'<div class="sg-bar">{segments}</div><ul class="sg-legend">{legend}</ul></div>'
    )


def _kinds(results: RunResults) -> list[str]:
    present = {r.case.kind or "other" for r in results.cases.values()}
    ordered = [k for k in MARKERS if k in present]
    return ordered + sorted(present - set(ordered))


def _matrix(view: RunView) -> str:
    threshold = view.gate.threshold
    findings: Counter[tuple[str, Severity]] = Counter()
    unverified: Counter[str] = Counter()
    unverified_of: Counter[tuple[str, Severity]] = Counter()  # said beside the findings
    for nodeid, result in view.results.cases.items():
        standing = view.standings[nodeid]
        kind = result.case.kind or "other"
        if standing is Standing.VERIFIED_NOTHING:
            unverified[kind] += 1
            unverified_of[kind, result.case.severity] += 1
        elif standing.is_failure:
            findings[kind, result.case.severity] += 1
    if not findings and not unverified:
        return (
            '<div class="sg-panel"><h3>Failures by kind and severity</h3>'
            '<p class="sg-no-failures">No failures.</p></div>'
        )
    head = "".join(f'<th class="sg-sev-head">{s.value}</th>' for s in Severity)
    gates = "".join(
        f'<td class="sg-gates-{"yes" if s.at_least(threshold) else "no"}">'
        f"{'gates' if s.at_least(threshold) else 'below gate'}</td>"
        for s in Severity
    )
    rows = []
    for kind in _kinds(view.results):
        cells = []
        for severity in Severity:
            n = findings[kind, severity]
            below = "" if severity.at_least(threshold) else " sg-below"
            cls = f"sg-cell sg-sev-{severity.value}{below}" if n else "sg-cell sg-zero"
            # a critical case that verified nothing showed "·" under critical, beside its
            # row badged critical (new-user trial 47): it is said here, and counted there
            vn = unverified_of[kind, severity]
            # (where it is counted said with it: trial 55 read it as counted twice)
            also = f'<br><span class="sg-vn">+{vn} in verified nothing</span>' if vn else ""
            cells.append(f'<td class="{cls}">{n or "·"}{also}</td>')
        n = unverified[kind]
        cells.append(
            f'<td class="{"sg-cell sg-st-verified-nothing" if n else "sg-cell sg-zero"}">'
            f"{n or '·'}</td>"
        )
        total = sum(findings[kind, s] for s in Severity) + n
        rows.append(
            f'<tr><th>{_text(kind)}</th>{"".join(cells)}<td class="sg-total">{total}</td></tr>'
        )
    legend = (
        '<p class="sg-matrix-legend">Each failing case is counted once. A case that verified '
        "nothing (its target was never checked: a token unset, a request not sent) is "
        "counted under “verified nothing” and gates at any --fail-on; a purple “+N in "
        "verified nothing” under a severity says which severity those cases have.</p>"
        if any(unverified.values())
        else ""
    )
    return (
        '<div class="sg-panel"><h3>Failures by kind and severity</h3>'
        '<table class="sg-matrix"><thead>'
        f"<tr><th></th>{head}<th>verified nothing</th><th>total</th></tr>"
        f'<tr class="sg-gate-row"><th></th>{gates}<td class="sg-gates-yes">gates</td><td></td></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>{legend}</div>"
    )


def render_waivers(view: RunView) -> str:
    """Stale and expired waivers, each with what to do about it; nothing when none."""
    if not view.waiver_notes:
        return ""
    items = "".join(
        f'<li class="sg-waiver sg-waiver-{"stale" if n.stale else "expired"}">'
        f"<b>{'stale' if n.stale else 'expired'}</b> {_text(n.describe())}<br>"
        f'<span class="sg-reason">reason: {_text(n.waiver.reason)}</span></li>'
        for n in view.waiver_notes
    )
    return (
        '<section id="sg-waivers" class="sg-waivers"><h2>Waivers to clean up</h2>'
        f"<ul>{items}</ul></section>"
    )


def render_passing(view: RunView) -> str:
    """Every passing case, grouped per check in a closed <details>: one line each with its
    facts (test name, where, severity, measured). Closed groups cost the browser a parse and
    no layout, and the browser's find-in-page still opens the group holding a name."""
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for nodeid, result in view.results.cases.items():
        if view.standings[nodeid] is Standing.PASSED:
            groups.setdefault((result.case.kind or "other", result.case.check), []).append(result)
    total = sum(len(g) for g in groups.values())
    if not total:
        return ""
    kind_rank = {kind: i for i, kind in enumerate(_kinds(view.results))}
    parts = [
        '<section id="sg-passing" class="sg-passing">',
        f"<h2>Passed: {total} case{'' if total == 1 else 's'}, grouped by check</h2>",
        '<p class="sg-hint">Each check opens to its passing cases and what was measured; '
        "the browser's find (Ctrl+F) finds a case by name inside closed groups.</p>",
        '<div class="sg-groups">',
    ]
    for kind, check in sorted(groups, key=lambda k: (kind_rank.get(k[0], 99), k[1])):
        cases = sorted(groups[kind, check], key=lambda r: r.nodeid)
        if len(cases) <= CHUNK:
            body = _passing_table(cases)
        else:  # a group opens at once, whatever its size: its cases in closed chunks
            body = "".join(
                _passing_chunk(cases[start : start + CHUNK])
                for start in range(0, len(cases), CHUNK)
            )
        parts.append(
            f'<details class="sg-group" data-check="{_text(check)}"><summary>'
            f'<b>{_text(check)}</b> <span class="sg-kind">{_text(kind)}</span> '
            f'<span class="sg-n">{len(cases)} passed</span></summary>{body}</details>'
        )
    parts.append("</div></section>")
    return "".join(parts)


def _passing_table(cases: Sequence[CaseResult]) -> str:
    rows = "".join(_passing_row(r) for r in cases)
    return (
        '<table class="sg-pass-table"><thead><tr><th>Case<th>Where<th>Severity'
        f"<th>Measured</thead><tbody>{rows}</tbody></table>"
    )


def _passing_chunk(cases: Sequence[CaseResult]) -> str:
    first, last = (_case_name(r) for r in (cases[0], cases[-1]))
    return (
        f'<details class="sg-chunk"><summary>{_text(first)} … {_text(last)} '
        f'<span class="sg-n">{len(cases)}</span></summary>{_passing_table(cases)}</details>'
    )


def _case_name(result: CaseResult) -> str:
    """`test_endpoint[api-health]`: the case as pytest and the JUnit file name it."""
    return result.nodeid.rpartition("::")[2]


def _passing_row(result: CaseResult) -> str:
    """One line per passing case: its test name (`test_endpoint[api-health]`, as pytest and
    the JUnit file name it), where, severity and what was measured. Closing tags omitted
    (valid HTML, a third of the bytes at 50 000 cases)."""
    case = result.case
    where = case.location if case.location != case.target else ""
    return (
        f"<tr><td>{_text(_case_name(result))}<td>{_text(where)}<td>{case.severity.value}"
        f"<td>{_text(case.measured)}\n"
    )
