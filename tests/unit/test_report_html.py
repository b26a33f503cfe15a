"""The report's pure parts on hand-built results: each case's standing against the gate, the
banner, the overview, the rows of the table, the passing cases grouped per check, the
waivers to clean up, the console's once-per-run facts. Everything escaped."""

from __future__ import annotations

from datetime import date

import pytest

from smokegate.cases import CaseInfo, case_label
from smokegate.config import Waiver
from smokegate.gate import evaluate_gate
from smokegate.report.console import render_console, repeated_lines
from smokegate.report.html_page import (
    RunView,
    render_banner,
    render_overview,
    render_passing,
    render_waivers,
)
from smokegate.report.html_rows import header_cells, row_cells
from smokegate.report.standing import Standing, reading_order, severity_label, standing_of
from smokegate.report.waiver_notes import waiver_notes
from smokegate.results import RunResults
from smokegate.severity import Severity
from smokegate.waivers import StaleWaiver

TODAY = date(2026, 6, 1)
XSS = "<img src=x onerror=alert(1)>"


def case(target: str, severity: str = "high", check: str = "endpoint", kind: str = "health"):
    return CaseInfo(
        check=check,
        target=target,
        severity=Severity(severity),
        kind=kind,
        location=f"https://{target}.test/",
        measured="200 · 5 ms",
    )


def results() -> RunResults:
    r = RunResults()
    r.record("t[ok]", "call", "passed", case("ok", "critical"))
    r.record("t[down]", "call", "failed", case("down", "high"), "status 503")
    r.record("t[slow]", "call", "failed", case("slow", "medium"), "latency 900 ms > 300 ms")
    r.record("t[tok]", "call", "failed", case("tok", "low", "accepts_token", "auth"), "unset",
             verified=False)  # fmt: skip
    r.record("t[w]", "call", "skipped", case("w", "low"), "waived until 2026-07-01: OPS-1")
    return r


def view(threshold: str = "high", **kwargs) -> RunView:
    res = results()
    failures = res.failures
    gate = evaluate_gate(
        (f.case.severity for f in failures if not f.gates_regardless),
        Severity(threshold),
        unverified=sum(1 for f in failures if f.gates_regardless),
        incomplete=kwargs.pop("incomplete", ""),
    )
    return RunView(env=kwargs.pop("env", "prod"), env_file="envs/prod.yaml", gate=gate,
                   results=res, **kwargs)  # fmt: skip


def test_each_case_has_one_standing() -> None:
    standings = {nodeid: standing_of(r, Severity.HIGH) for nodeid, r in results().cases.items()}
    assert standings == {
        "t[ok]": Standing.PASSED,
        "t[down]": Standing.GATING,
        "t[slow]": Standing.BELOW_GATE,
        "t[tok]": Standing.VERIFIED_NOTHING,
        "t[w]": Standing.WAIVED,
    }


def test_reading_order_puts_what_gates_first_then_the_most_severe() -> None:
    keys = [
        reading_order(Standing.BELOW_GATE, Severity.CRITICAL),
        reading_order(Standing.GATING, Severity.LOW),
        reading_order(Standing.WAIVED, Severity.CRITICAL),
        reading_order(Standing.VERIFIED_NOTHING, Severity.CRITICAL),
        reading_order(Standing.GATING, Severity.HIGH),
    ]
    assert sorted(keys) == ["0-1", "0-2", "0-4", "1-1", "2-1"]


def test_severity_label_of_a_failure_message() -> None:
    assert severity_label(Severity.MEDIUM, Standing.BELOW_GATE, Severity.HIGH) == (
        "medium (below gate: --fail-on high)"
    )
    assert severity_label(Severity.LOW, Standing.VERIFIED_NOTHING, Severity.HIGH) == (
        "low (verified nothing)"
    )
    assert severity_label(Severity.HIGH, Standing.GATING, Severity.HIGH) == "high"


@pytest.mark.parametrize(
    ("kwargs", "word", "css"),
    [
        ({"threshold": "critical"}, "FAILED", "sg-gate-failed"),  # the unverified case gates
        ({"incomplete": "the run stopped early"}, "NOT EVALUATED", "sg-gate-not-evaluated"),
    ],
)
def test_banner_says_the_verdict_with_its_colour(kwargs, word, css) -> None:
    html = render_banner(view(**kwargs))
    assert html.startswith(f'<section id="sg-banner" class="sg-banner {css}"')
    assert f'<div class="sg-verdict">{word}</div>' in html
    assert "5</b> cases" in html


def test_a_passing_gate_is_green_without_zero_counts() -> None:
    res = RunResults()
    res.record("t[ok]", "call", "passed", case("ok"))
    green = RunView("prod", "envs/prod.yaml", evaluate_gate([], Severity.LOW), res)
    html = render_banner(green)
    assert 'class="sg-banner sg-gate-passed"' in html and ">PASSED<" in html
    assert "0 gating" not in html and "0 below gate" not in html and "1 passed" in html
    overview = render_overview(green)
    assert "No failures." in overview and "sg-matrix" not in overview


def test_a_run_whose_failures_are_all_below_the_gate_says_none_gates() -> None:
    res = RunResults()
    res.record("t[ok]", "call", "passed", case("ok"))
    res.record("t[slow]", "call", "failed", case("slow", "medium"), "latency 900 ms > 300 ms")
    gate = evaluate_gate([Severity.MEDIUM], Severity.HIGH)
    html = render_banner(RunView("prod", "envs/prod.yaml", gate, res))
    assert ">0 gating</span>" in html and ">1 below gate</span>" in html


def test_the_banner_says_what_fails_the_gate_together() -> None:
    """New-user trial 56: "1 gating" beside "1 verified nothing" read as if the second did
    not gate; the banner says both fail the gate, and a run without such cases is as before."""
    html = render_banner(view())
    assert '<span class="sg-gate-sum">2 fail the gate:</span>' in html
    assert ">1 gating</span>" in html and ">1 verified nothing</span>" in html
    res = RunResults()
    res.record("t[down]", "call", "failed", case("down", "high"), "status 503")
    plain = RunView("prod", "envs/prod.yaml", evaluate_gate([Severity.HIGH], Severity.LOW), res)
    assert "sg-gate-sum" not in render_banner(plain) and ">1 gating</span>" in render_banner(plain)
    assert "Each failing case is counted once" not in render_overview(plain)


def test_banner_escapes_the_env_and_names_a_partial_run() -> None:
    html = render_banner(view(env=XSS, selection=f"-k '{XSS}'"))
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Partial run: only <code>-k &#x27;&lt;img" in html
    assert "not the full gate" in html


def test_overview_counts_failures_by_kind_and_severity() -> None:
    html = render_overview(view())
    assert '<td class="sg-cell sg-sev-high">1</td>' in html  # health, gating
    assert '<td class="sg-cell sg-sev-medium sg-below">1</td>' in html  # health, below
    assert '<td class="sg-cell sg-st-verified-nothing">1</td>' in html  # auth
    assert 'title="1 below gate"' in html and 'title="1 waived"' in html


def test_a_case_that_verified_nothing_is_said_under_its_severity_too() -> None:
    """New-user trial 47: "critical 0" (HTML matrix and summary.md) stood above a failing
    row badged critical that verified nothing: is anything critical broken? Both say it."""
    from smokegate.report.summary import render_summary

    shown = view()
    html = render_overview(shown)
    low_auth = '<td class="sg-cell sg-zero">·<br><span class="sg-vn">+1 in verified nothing</span>'
    assert low_auth in html  # auth's low column: no finding, one that verified nothing
    assert html.count("sg-vn") == 1
    # new-user trial 56: "+1" read as one more to add; the legend says each case counts once
    assert "Each failing case is counted once" in html
    summary = render_summary("prod", shown.results, shown.gate)
    assert "| low | 0 (+1 in the verified nothing row) | no (below --fail-on) |" in summary
    assert "| high | 1 | yes |" in summary


def test_rows_are_escaped_one_line_and_sort_gating_first() -> None:
    hostile = CaseInfo("endpoint", XSS, Severity.LOW, "health", f"https://x/\n{XSS}", XSS)
    cells = row_cells(Standing.BELOW_GATE, hostile, f"t[{XSS}]")
    assert len(cells) == len(header_cells()) - 0 == 5
    assert all("\n" not in c and XSS not in c for c in cells)
    gating = row_cells(Standing.GATING, case("a", "low"), "t[a]")[0]
    below = row_cells(Standing.BELOW_GATE, case("b", "critical"), "t[b]")[0]
    assert gating < below  # the Gate cell's text sorts what gates first
    assert row_cells(Standing.VERIFIED_NOTHING, None, "checks/x.py")[2] == (
        '<td class="col-check">checks/x.py</td>'
    )


def test_passing_cases_are_grouped_per_check_with_their_facts() -> None:
    res = RunResults()
    res.record("c.py::test_endpoint[b]", "call", "passed", case("b"))
    res.record("c.py::test_endpoint[a]", "call", "passed", case("a"))
    res.record(f"c.py::test_user_age[{XSS}]", "call", "passed", case(XSS, "low", "user_age", "iam"))
    res.record("c.py::test_endpoint[x]", "call", "failed", case("x"), "boom")
    html = render_passing(RunView("prod", "p", evaluate_gate([Severity.HIGH], Severity.LOW), res))
    assert html.count('<details class="sg-group"') == 2
    assert "<b>endpoint</b>" in html and "2 passed" in html
    assert html.index("test_endpoint[a]") < html.index("test_endpoint[b]")
    assert "test_endpoint[x]" not in html  # a failure is a row of the table, not listed here
    assert "<td>https://a.test/<td>high<td>200 · 5 ms" in html
    assert XSS not in html and "test_user_age[&lt;img" in html
    assert "<details open" not in html and "open>" not in html  # groups start closed


def test_no_passing_case_no_section() -> None:
    res = RunResults()
    res.record("t[x]", "call", "failed", case("x"), "boom")
    assert (
        render_passing(RunView("p", "p", evaluate_gate([Severity.HIGH], Severity.LOW), res)) == ""
    )


def _waiver(target: str, expires: date = date(2026, 7, 1), check: str = "endpoint") -> Waiver:
    return Waiver(check=check, target=target, reason=f"OPS {XSS}", expires=expires)


def test_waiver_notes_say_what_to_do() -> None:
    res = RunResults()
    res.record("t[api-down]", "call", "failed", case("api-down"), "boom")
    res.record("t[api-up]", "call", "passed", case("api-up"))
    waivers = [
        _waiver("api-dwn"),  # a typo
        _waiver("api-up"),  # fixed since
        _waiver("nothing-like-it"),
        _waiver("api-d*", expires=date(2026, 1, 1)),  # expired, still matching a failure
    ]
    stale = [StaleWaiver(i, waivers[i], expired=False) for i in (0, 1, 2)]
    notes = waiver_notes(waivers, stale, res.cases.values(), TODAY)
    text = [n.describe() for n in notes]
    assert text[0] == (
        "waivers[0] check endpoint, target api-dwn (expires 2026-07-01): matched no case; the "
        "closest case id of endpoint is 'api-down' (a typo in target?)"
    )
    assert "it matches 1 passing case (api-up): the finding is fixed" in text[1]
    assert text[2].endswith("matched no case of endpoint: remove it")
    assert text[3] == (
        "waivers[3] check endpoint, target api-d* (expired 2026-01-01): expired: no longer "
        "waives 1 failing case (api-down); fix them or renew the waiver"
    )
    html = render_waivers(view(waiver_notes=notes))
    assert html.count('class="sg-waiver sg-waiver-stale"') == 3
    assert html.count('class="sg-waiver sg-waiver-expired"') == 1
    assert XSS not in html


def test_the_pages_text_shows_control_and_bidi_characters_as_escapes() -> None:
    """A stale waiver's target and reason reached report.html with a raw U+202E, which
    reverses the rest of the line in the browser (attack round 8a, F5): every text the page
    shows is escaped as the console escapes it."""
    hostile = "nomatch\x1b[2J\u202eDESSAP etag\x9b"
    waivers = [Waiver(check="endpoint", target=hostile, reason=f"why {hostile}", expires=TODAY)]
    notes = waiver_notes(waivers, [StaleWaiver(0, waivers[0], expired=False)], [], TODAY)
    html = render_waivers(view(waiver_notes=notes)) + render_banner(view(env=hostile))
    for raw in ("\x1b", "\u202e", "\x9b"):
        assert raw not in html
    assert html.count("nomatch\\x1b[2J\\u202eDESSAP etag\\x9b") >= 3  # shown, escaped


def test_console_says_a_repeated_fact_once_and_a_check_named_after_itself_once() -> None:
    note = "credential report of unknown age; AWS reuses a report for up to 4 h"
    texts = [
        f"[low] user_age bob: old\nmeasured: 500 days old\n{note}\nhint: remove it",
        f"[high] console_mfa carol: no MFA\nmeasured: MFA off\n{note}\nhint: remove it",
        "[medium] password_policy: weak\nmeasured: min length 8",
    ]
    assert repeated_lines(texts) == {note: 2}  # not the hints: they belong to their case
    res = RunResults()
    policy = case("password_policy", "medium", "password_policy", "iam")
    res.record("t", "call", "failed", policy, "weak")
    lines = render_console(
        "prod", res, evaluate_gate([Severity.MEDIUM], Severity.LOW), [],
        selection="-m iam", notes=[note],
    )  # fmt: skip
    assert "  [medium] password_policy: weak" in lines
    assert "partial run: only -m iam was selected; not the full gate" in lines
    assert f"note: {note}" in lines
    assert case_label("endpoint", "api") == "endpoint api"


def test_a_big_group_opens_to_closed_chunks_of_cases() -> None:
    res = RunResults()
    for i in range(2500):
        res.record(f"c.py::test_endpoint[svc-{i:05d}]", "call", "passed", case(f"svc-{i:05d}"))
    html = render_passing(RunView("p", "p", evaluate_gate([], Severity.LOW), res))
    assert html.count('<details class="sg-chunk">') == 3  # 1 000 + 1 000 + 500
    assert "test_endpoint[svc-00000] … test_endpoint[svc-00999]" in html
    assert "test_endpoint[svc-02000] … test_endpoint[svc-02499]" in html
    assert all(f"test_endpoint[svc-{i:05d}]<td>" in html for i in range(2500))
