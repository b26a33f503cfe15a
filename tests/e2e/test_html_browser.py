"""The HTML report as a person sees it: rendered by pytest-html's JavaScript in Chromium."""

import pytest

from tests.support.browser import chromium_page, chromium_path
from tests.support.e2e import ROOT, run_checks

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium on this machine (apt-get install chromium); .ci/run installs it",
)


def test_rendered_demo_report_shows_env_rows_and_failure_detail(tmp_path):
    tokens = {"DEMO_API_TOKEN": "demo-token-1", "DEMO_READONLY_TOKEN": "demo-readonly-1"}
    run = run_checks(
        tmp_path, ROOT / "envs" / "demo.yaml", "--fail-on", "critical", env_vars=tokens
    )
    assert run.returncode == 0, run.output
    outcomes = run.outcomes()
    n_failed = sum(1 for o in outcomes.values() if o == "failed")
    n_passed = sum(1 for o in outcomes.values() if o == "passed")
    assert n_failed >= 2 and n_passed >= 2

    with chromium_page() as page:
        page.goto(run.html_path.as_uri())
        page.wait_for_selector("tbody.results-table-row")
        title = page.locator("#title").inner_text()
        results = page.locator("tbody.results-table-row td.col-result").all_inner_texts()
        headers = page.locator("#results-table thead th").all_inner_texts()
        billing = page.locator("tbody.results-table-row", has_text="billing-health")
        billing_text = billing.inner_text()
        summary = page.locator("#results-table").evaluate("e => document.body.innerText")

    assert title.startswith("smokegate · demo · ")
    assert title.endswith(" UTC")
    assert results.count("Failed") == n_failed
    assert results.count("Passed") == n_passed
    for column in ("Check", "Target", "Severity", "Measured"):
        assert column in headers
    assert "https://billing.demo.internal/healthz" in billing_text
    assert "status 503, expected 200" in billing_text
    assert "hint:" in billing_text
    assert "gate PASSED (--fail-on critical)" in summary
    assert "below the gate" in summary
