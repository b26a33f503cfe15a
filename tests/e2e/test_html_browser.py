"""The HTML report as a person sees it, rendered by Chromium: the gate banner first, an
overview, failing rows gating first with severity badges and a below-gate mark, failure
details without empty boxes or xdist's worker line, stale waivers, every passing case
grouped per check, the Environment table last; and no script from any data on the page."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.browser import chromium_page, chromium_path, file_url
from tests.support.e2e import ROOT, Run, run_checks
from tests.support.env_files import waiver_expiry
from tests.support.worlds import make_world

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium on this machine (apt-get install chromium); .ci/run installs it",
)

COLUMNS = ["Result", "Gate", "Severity", "Check", "Target", "Measured"]
GROUPS = {"verified nothing": 0, "gating": 0, "below gate": 1, "waived": 2, "skipped": 3}
RANKS = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def open_report(page: Any, run: Run) -> None:
    page.goto(file_url(run.html_path))
    page.wait_for_selector("#results-table tbody.results-table-row")


def read_rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#results-table tbody.results-table-row",
        """bodies => bodies.map(b => ({
            result: b.querySelector('.col-result')?.innerText ?? '',
            gate: b.querySelector('.col-gate')?.innerText ?? '',
            severity: b.querySelector('.col-severity')?.innerText ?? '',
            severityClass: b.querySelector('.col-severity span')?.className ?? '',
            check: b.querySelector('.col-check')?.innerText ?? '',
            target: b.querySelector('.col-target')?.innerText ?? '',
            log: b.querySelector('.log')?.innerText ?? '',
        }))""",
    )


def top(page: Any, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["y"]


def test_demo_report_reads_at_a_glance(tmp_path):
    # --fail-on high: the demo's medium and low findings are below the gate; the tokens
    # are unset, so its four token cases (two auth, orders-list, trigger-deploy) verified
    # nothing and gate anyway.
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", "--fail-on", "high")
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    passed = sorted(name for name, o in outcomes.items() if o == "passed")
    n_failed = sum(1 for o in outcomes.values() if o == "failed")

    with chromium_page() as page:
        open_report(page, run)
        banner = page.locator("#sg-banner")
        banner_text = banner.inner_text()
        banner_class = banner.get_attribute("class")
        order = [top(page, s) for s in ("#sg-banner", "#title", "#sg-overview", "#results-table")]
        env_below = top(page, "#environment") > top(page, "#sg-passing")
        headers = page.locator("#results-table thead th").all_inner_texts()
        rows = read_rows(page)
        matrix = page.locator(".sg-matrix").inner_text()
        filters = page.locator(".filters").inner_text()
        run_count_visible = page.locator(".run-count").is_visible()
        passing_text = page.locator("#sg-passing").text_content()
        groups_open = page.eval_on_selector_all("#sg-passing details", "ds => ds.map(d => d.open)")
        boxes = page.eval_on_selector_all(
            "#results-table tr.extras-row:not(.hidden) .logwrapper",
            "ws => ws.map(w => ({text: w.innerText.trim(), height: w.clientHeight,"
            " scroll: w.scrollHeight}))",
        )
        media_shown = page.locator("#results-table .media:visible").count()
        title = page.locator("#title").inner_text()

    # the banner first, then the title, the overview, the table; the environment last
    assert "FAILED" in banner_text and "--fail-on high" in banner_text
    assert "sg-gate-failed" in banner_class
    assert "5 verified nothing" in banner_text and "below gate" in banner_text
    assert order == sorted(order)
    assert env_below
    assert title.startswith("smokegate · demo · ") and title.endswith(" UTC")
    # the overview: failures of each kind by severity
    for kind in ("health", "auth", "iam"):
        assert kind in matrix
    # columns: no Duration (pytest's time, not the target's latency: Measured is)
    assert headers == COLUMNS
    # failing rows: gating first (verified nothing included), then by severity
    keys = [(GROUPS[r["gate"]], -RANKS[r["severity"]]) for r in rows]
    assert keys == sorted(keys), rows
    by_target = {r["target"].splitlines()[0]: r for r in rows}
    assert by_target["search-health"]["gate"] == "below gate"
    assert "below gate: --fail-on high" in by_target["search-health"]["log"]
    assert by_target["billing-health"]["gate"] == "gating"
    assert "status 503, expected 200" in by_target["billing-health"]["log"]
    assert "hint:" in by_target["billing-health"]["log"]
    assert by_target["account-api"]["gate"] == "verified nothing"
    assert by_target["legacy-bot:key1"]["gate"] == "waived"
    assert "waived until" in by_target["legacy-bot:key1"]["log"]
    assert all(r["severityClass"] == f"sg-badge sg-sev-{r['severity']}" for r in rows)
    assert sum(1 for r in rows if r["result"] == "Failed") == n_failed
    # the filters count every result, passing cases included; pytest-html's own count
    # (which leaves out skips) is not shown
    assert f"{n_failed} Failed" in filters and f"{len(passed)} Passed" in filters
    assert "1 Skipped" in filters and not run_count_visible
    # no empty or fixed-height grey boxes: every detail holds text, and all of it
    assert boxes and all(b["text"] and b["scroll"] <= b["height"] + 1 for b in boxes), boxes
    assert media_shown == 0
    # every passing case is on the page by name, grouped per check, groups closed
    for name in passed:
        assert name in passing_text, name
    assert groups_open and not any(groups_open)


def test_a_passing_case_opens_to_its_facts(tmp_path):
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml")
    with chromium_page() as page:
        open_report(page, run)
        group = page.locator('#sg-passing details[data-check="endpoint"]')
        group.locator("> summary").click()
        row = group.locator("tr", has_text="test_endpoint[api-health]")
        facts = row.inner_text()
    assert "https://api.demo.internal/health" in facts
    assert "critical" in facts
    assert "200 · " in facts and " ms" in facts


def test_no_worker_line_opens_a_failure_under_xdist(tmp_path):
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", "-n", "2")
    assert run.returncode == 1, run.output
    with chromium_page() as page:
        open_report(page, run)
        logs = [r["log"] for r in read_rows(page)]
    assert len(logs) >= 10
    for log in logs:
        assert "[gw" not in log and "-- Python" not in log, log
        assert log.lstrip().startswith(("[", "waived until")), log


def test_stale_and_expired_waivers_are_listed(tmp_path):
    world, soon = make_world(tmp_path), waiver_expiry()
    env = {
        "mock": str(world),
        "endpoints": [
            {"name": "api-health", "url": "https://api.mock.internal/health"},
            {"name": "api-down", "url": "https://api.mock.internal/down"},
        ],
        "waivers": [
            # a typo: the case is api-down
            {"check": "endpoint", "target": "api-dwn", "reason": "OPS-1", "expires": soon},
            {"check": "endpoint", "target": "api-d*", "reason": "OPS-2", "expires": "2020-01-31"},
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    with chromium_page() as page:
        open_report(page, run)
        waivers = page.locator("#sg-waivers").inner_text()
    assert "waivers[0] check endpoint, target api-dwn" in waivers
    assert "closest case id of endpoint is 'api-down'" in waivers
    assert "waivers[1] check endpoint, target api-d* (expired 2020-01-31)" in waivers
    assert "no longer waives 1 failing case (api-down)" in waivers


def test_a_partial_run_says_so_in_the_banner(tmp_path):
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", "-m", "health", "-k", "billing")
    with chromium_page() as page:
        open_report(page, run)
        selection = page.locator("#sg-banner .sg-selection").inner_text()
    assert "-m health -k billing" in selection
    assert "not the full gate" in selection


# -- no script from data (issue 10, item 12) --------------------------------------------------

ROUTES = {
    # route: the payload that travels it (each calls alert with its own word)
    "env file name": "<img src=x onerror=alert('envfile')>",
    "endpoint name (case id)": "<img src=x onerror=alert('caseid')>",
    "server text": "<img src=x onerror=alert('server')>",
    "waiver reason": "<img src=x onerror=alert('waiver')>",
    "CI variable (pytest-metadata)": "feature/<svg/onload=alert('ci')>",
    "--metadata value": "<img src=x onerror=alert('metadata')>",
}


def test_no_data_route_runs_script_in_the_report(tmp_path):
    world = tmp_path / "world<img src=x onerror=alert('path')>"
    world.mkdir()
    routes = [
        {"url": "https://a.test/health", "json": {"status": ROUTES["server text"]}},
        {"url": "https://b.test/health", "status": 500, "body": "x"},
    ]
    (world / "http.yaml").write_text(yaml.safe_dump({"routes": routes}))
    env = {
        "mock": str(world),
        "endpoints": [
            {
                "name": ROUTES["endpoint name (case id)"],
                "url": "https://a.test/health",
                "json": {"status": "ok"},
            },
            {"name": "waived", "url": "https://b.test/health"},
        ],
        "waivers": [
            {
                "check": "endpoint",
                "target": "waived",
                "reason": ROUTES["waiver reason"],
                "expires": waiver_expiry(),
            }
        ],
    }
    env_file = tmp_path / f"{ROUTES['env file name']}.yaml"
    env_file.write_text(yaml.safe_dump(env))
    run = run_checks(
        tmp_path,
        env_file,
        "--metadata",
        "Deployed by",
        ROUTES["--metadata value"],
        env_vars={"CI_COMMIT_REF_NAME": ROUTES["CI variable (pytest-metadata)"]},
    )
    assert run.returncode == 1, run.output
    assert run.html_path.is_file(), run.output

    dialogs: list[str] = []
    with chromium_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_report(page, run)
        page.locator("#sg-passing details").evaluate_all("ds => ds.forEach(d => d.open = true)")
        page.wait_for_timeout(300)
        text = page.locator("body").inner_text()
        injected = page.eval_on_selector_all(
            "img[src='x'], img[onerror], svg, [onload], [onerror], script",
            "els => els.map(e => e.outerHTML.slice(0, 80))",
        )
    assert dialogs == []
    # pytest-html's own inline script is the only script on the page
    assert [e for e in injected if not e.startswith("<script>")] == []
    assert len([e for e in injected if e.startswith("<script>")]) == 1
    for route, payload in ROUTES.items():
        assert payload in text, f"{route}: payload not shown as text"
    assert "world<img src=x onerror=alert('path')>" in text


# Round 40a F5: JSON's escape of the payload (`\\u003c`, its backslash doubled) preceded by
# a CI variable's value ending in a backslash (`Zq\u00e9\`, backslash-u written out): the
# report's last pass masked the first backslash, and JSON read `<img onerror>` that ran
CUT_PAYLOAD = "Zq\u00e9\\u003cimg src=x onerror=alert('cut') Zq\u00e9\\u003e"


@pytest.mark.parametrize(
    ("secret", "route"),
    [
        ("Zq\\u00e9\\", "server text"),
        ("Zq\\u00e9\\", "CI variable"),
        ("#34;tests", "server text"),  # round 40a F3: `&#34;` cut, the data read as no JSON
    ],
)
def test_a_secret_cutting_the_reports_escapes_breaks_nothing_and_runs_no_script(
    tmp_path, secret, route
):
    said = CUT_PAYLOAD if route == "server text" else "down"
    routes = [{"url": "https://a.test/health", "json": {"status": said}}]
    world = make_world(tmp_path, yaml.safe_dump({"routes": routes}))
    env = {
        "mock": str(world),
        "endpoints": [{"name": "api", "url": "https://a.test/health", "json": {"status": "ok"}}],
    }
    env_vars = {"CI_DEPLOY_TOKEN": secret}
    if route == "CI variable":
        env_vars["CI_JOB_NAME"] = f"smoke {CUT_PAYLOAD}"
    run = run_checks(tmp_path, env, env_vars=env_vars)
    assert run.returncode == 1, run.output

    dialogs: list[str] = []
    with chromium_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_report(page, run)
        rows = read_rows(page)
        injected = page.eval_on_selector_all(
            "img[src='x'], img[onerror], [onerror]", "els => els.map(e => e.outerHTML)"
        )
    assert dialogs == [] and injected == []
    assert [r["target"].split()[0] for r in rows] == ["api"], rows  # the data still parses
