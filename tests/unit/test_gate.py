"""The gate, the per-case fold of setup/call/teardown into one outcome, and summary.md,
on hand-built results: no pytest run."""

from datetime import UTC, datetime

import pytest

from smokegate.cases import CaseInfo
from smokegate.gate import evaluate_gate
from smokegate.report.summary import render_summary
from smokegate.results import RunResults
from smokegate.severity import Severity


def _case(target, severity, kind="health"):
    return CaseInfo(check="endpoint", target=target, severity=Severity(severity), kind=kind)


def test_gate_counts_only_failures_at_or_above_threshold():
    gate = evaluate_gate([Severity.LOW, Severity.MEDIUM, Severity.MEDIUM], Severity.MEDIUM)
    assert (gate.gating, gate.below_gate, gate.passed) == (2, 1, False)
    assert gate.describe() == "gate FAILED (--fail-on medium): 2 medium; 1 below the gate (1 low)"
    relaxed = evaluate_gate([Severity.LOW], Severity.HIGH)
    assert relaxed.passed
    assert relaxed.describe() == (
        "gate PASSED (--fail-on high): nothing gates; 1 below the gate (1 low)"
    )
    assert evaluate_gate([], Severity.LOW).describe() == "gate PASSED (--fail-on low): no failures"


def test_results_fold_phases_into_one_outcome_per_case():
    results = RunResults()
    ok, bad, broken, waived = (
        _case("a", "high"),
        _case("b", "low"),
        _case("c", "critical"),
        _case("d", "medium"),
    )
    for when in ("setup", "call", "teardown"):
        results.record("t[a]", when, "passed", ok)
    results.record("t[b]", "setup", "passed", bad)
    results.record("t[b]", "call", "failed", bad, "status 500")
    results.record("t[b]", "teardown", "passed", bad)
    results.record("t[c]", "setup", "failed", broken, "setup error: boom")
    results.record("t[c]", "teardown", "passed", broken)
    results.record("t[d]", "call", "skipped", waived, "waived until 2027-01-31: ticket")
    outcomes = {r.nodeid: (r.outcome, r.message) for r in results.cases.values()}
    assert outcomes == {
        "t[a]": ("passed", ""),
        "t[b]": ("failed", "status 500"),
        "t[c]": ("error", "setup error: boom"),
        "t[d]": ("skipped", "waived until 2027-01-31: ticket"),
    }
    assert results.failures_by_severity() == {Severity.LOW: 1, Severity.CRITICAL: 1}


def test_a_teardown_error_does_not_hide_a_call_failure():
    results = RunResults()
    case = _case("x", "high")
    results.record("t[x]", "call", "failed", case, "status 503")
    results.record("t[x]", "teardown", "failed", case, "teardown error")
    assert results.cases["t[x]"].outcome == "failed"
    assert results.cases["t[x]"].message == "status 503"


def test_summary_marks_below_gate_rows_and_escapes_pipes():
    results = RunResults()
    results.record("t[a]", "call", "failed", _case("a", "low"), "body does not match /a|b/")
    results.record("t[w]", "call", "skipped", _case("w", "high", "iam"), "waived until X: y")
    gate = evaluate_gate([Severity.LOW], Severity.HIGH)
    text = render_summary(
        "prod",
        results,
        gate,
        stale_waivers=["access_key_age bot-*"],
        generated=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    )
    assert text.startswith("# smokegate · prod · 2026-01-02 03:04 UTC\n\n✅ **gate PASSED")
    assert "| low (below gate) | endpoint | a |  | body does not match /a\\|b/ |" in text
    assert "## Waived" in text and "| endpoint | w | waived until X: y |" in text
    assert "- access_key_age bot-\\*" in text  # Markdown: an escaped asterisk
    assert "| iam | 0 | 0 | 0 | 1 |" in text


def test_failures_that_verified_nothing_gate_at_any_threshold():
    gate = evaluate_gate([Severity.LOW], Severity.CRITICAL, unverified=1)
    assert not gate.passed
    assert gate.describe() == (
        "gate FAILED (--fail-on critical): 1 verified nothing (gates at any --fail-on); "
        "1 below the gate (1 low)"
    )


def test_an_incomplete_run_is_never_a_pass():
    gate = evaluate_gate([], Severity.LOW, incomplete="no check ran (pytest exit 5)")
    assert not gate.passed
    assert gate.describe() == "gate NOT EVALUATED (--fail-on low): no check ran (pytest exit 5)"


def test_a_case_without_a_call_report_is_not_run_and_gates_regardless():
    results = RunResults()
    crashed = _case("x", "low")
    results.record("t[x]", "setup", "passed", crashed)  # the worker died during the call
    unverified = _case("y", "low")
    results.record("t[y]", "call", "failed", unverified, "DEMO_TOKEN is not set", verified=False)
    finding = _case("z", "low")
    results.record("t[z]", "call", "failed", finding, "status 500")
    by_id = results.cases
    assert by_id["t[x]"].outcome == "not run" and by_id["t[x]"].gates_regardless
    assert by_id["t[y]"].outcome == "failed" and by_id["t[y]"].gates_regardless
    assert by_id["t[z]"].outcome == "failed" and not by_id["t[z]"].gates_regardless


def test_summary_counts_findings_by_severity_and_unverified_apart():
    results = RunResults()
    results.record("t[a]", "call", "failed", _case("a", "high"), "status 500")
    results.record("t[b]", "call", "failed", _case("b", "high"), "TOKEN unset", verified=False)
    gate = evaluate_gate([Severity.HIGH], Severity.CRITICAL, unverified=1)
    text = render_summary("prod", results, gate)
    assert "| high | 1 (+1 in the verified nothing row) | no (below --fail-on) |" in text
    assert "| verified nothing | 1 | yes (at any --fail-on) |" in text


def test_every_verdict_headline_survives_the_escaper_unchanged():
    """summary.md passes `escape_control` on its way out: the NOT EVALUATED icon carried
    U+FE0F, which it escapes, and every such headline read `⚠\\ufe0f` (attack round 12)."""
    from smokegate.redact import escape_control

    for gate in (
        evaluate_gate([], Severity.LOW),
        evaluate_gate([Severity.HIGH], Severity.LOW),
        evaluate_gate([], Severity.LOW, incomplete="the run stopped early"),
    ):
        headline = render_summary("prod", RunResults(), gate).splitlines()[2]
        assert escape_control(headline) == headline, headline


@pytest.mark.parametrize(
    ("server_text", "shown"),
    [
        ("__gate PASSED__", "\\_\\_gate PASSED\\_\\_"),
        ("~~1 critical~~", "\\~\\~1 critical\\~\\~"),
        (":white_check_mark: ok", ":white_check_mark\\: ok"),
        # (and a zero-width space after `#`: `#9989` is an issue reference, round 46a F3)
        ("&#9989; &check;", "&amp;#&#8203;9989; &amp;check;"),
        ("access_key_1 at 12:30:45, status: 503", "access_key_1 at 12:30:45, status: 503"),
        ("arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:user/bob"),
    ],
)
def test_server_text_in_summary_md_draws_no_markdown_of_its_own(server_text, shown):
    """Round 14: a JSON value could draw "✅ **gate PASSED**" inside the failing-cases
    table with `__bold__`, `~~strike~~`, a `:shortcode:` or an HTML entity."""
    from smokegate.report.summary import md_text

    assert md_text(server_text) == shown


def test_no_text_of_a_path_a_waiver_or_a_server_starts_a_block_or_a_link():
    """Round 24a: `--html=[pix]: https://…` put a link reference definition at the start of
    a list item, and every `[pix]` / `![pix]` of the summary (smokegate's own `waivers[0]`,
    a server's header value) rendered as a link or an image; `$…$` is GitHub's math. The
    summary is rendered by CommonMark's reference parser with GFM tables."""
    from markdown_it import MarkdownIt

    results = RunResults()
    hostile = "![pix] [0] [^1] $\\color{green}{\\textsf{gate PASSED}}$"
    results.record("t[a]", "call", "failed", _case("a", "high"), f"header X is '{hostile}'")
    gate = evaluate_gate([Severity.HIGH], Severity.LOW)
    text = render_summary(
        "prod",
        results,
        gate,
        stale_waivers=["waivers[0] check endpoint, target ![pix]", "# gate PASSED"],
        reports=[
            "[pix]: https://evil.example/pass.png",
            "[0]: https://evil.example/phish",
            "[^1]: https://evil.example/note",
            "> quoted",
            "1. ordered",
            "  - nested",
        ],
        notes=["[pix]: https://evil.example/pass.png", "=== setext"],
    )
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<a " not in html and "<img" not in html
    assert html.count("<h1>") == 1 and "<h2>" in html and "<blockquote>" in html
    assert "<blockquote>\n<p>quoted" not in html and "<ol" not in html
    assert "<ul>\n<li>nested" not in html
    assert "\\$\\\\color" in text  # the dollar escaped: no math
    for line in ("[pix]: https://evil.example/pass.png", "[0]: https://evil.example/phish"):
        assert f"<li>{line}</li>" in html  # shown as what it is
