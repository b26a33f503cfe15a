"""The JUnit file as a CI reads it: GitLab shows suite names, failure messages and
system-out (and ignores properties); GitHub reporters and Jenkins read properties too.
A failure below `--fail-on` must say so where each of them looks, the suites carry the
env's name, and the gate's verdict and threshold are suite properties, serially and under
xdist (where pytest's record_testsuite_property is lost)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmlschema

from tests.support.e2e import ROOT, run_checks
from tests.support.worlds import make_world

XSD = ROOT / "tests" / "data" / "junit.xsd"
WORLD = """\
routes:
  - url: https://core.test/health
    json: {status: ok}
  - url: https://reports.test/health
    status: 500
    body: boom
"""


@pytest.fixture
def env(tmp_path):
    world = make_world(tmp_path, WORLD)
    return {
        "mock": str(world),
        "endpoints": [
            {"name": "core", "url": "https://core.test/health", "severity": "critical"},
            {"name": "reports", "url": "https://reports.test/health", "severity": "medium"},
        ],
    }


def suite_properties(root: ET.Element) -> dict[str, str]:
    suite = root.find("testsuite")
    assert suite is not None
    props = suite.find("properties")
    return {p.get("name", ""): p.get("value", "") for p in props.iter("property")} if props else {}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_below_gate_failure_says_so_where_every_ci_reads(tmp_path, env, workers):
    run = run_checks(tmp_path, env, "--fail-on", "high", *workers)
    assert run.returncode == 0, run.output  # the medium failure does not gate
    xmlschema.XMLSchema(XSD).validate(run.junit_path)
    root = run.junit()
    assert root.tag == "testsuites" and root.get("name") == "smokegate-e2e"
    assert root.find("testsuite").get("name") == "smokegate-e2e"
    props = suite_properties(root)
    assert props.pop("notice").startswith("Mocked: no real target was contacted")
    # every run says whether --full-gate would take it (round 43b F1): a mocked one, not
    assert props.pop("full_gate_problem").startswith(
        "smokegate: --full-gate (or SMOKEGATE_FULL_GATE): "
    )
    assert "has mock:" in suite_properties(root)["full_gate_problem"]
    assert props == {
        "env": "e2e",
        "gate": "PASSED",
        "fail_on": "high",
        "fail_on_said": "high",  # the job's own command line said it (round 41b)
        "mocked": "yes",
        "gate_detail": "gate PASSED (--fail-on high): nothing gates; 1 below the gate (1 medium)",
        "selection": "full: every check of the env",
        "partial": "",
        "coverage": "complete",
        "splits": "1",
        "group": "1",
        "unattributed": "0",
        "waivers_used": "",
    }
    failure = run.testcases()["test_endpoint[reports]"].find("failure")
    assert failure.get("message").startswith(
        "Failed: [medium (below gate: --fail-on high)] endpoint reports (https://reports.test/"
    )
    assert "below gate" in failure.text  # the body a reader expands
    assert run.properties("test_endpoint[reports]")["gate"] == "below gate"
    assert run.properties("test_endpoint[core]")["gate"] == "passed"


def test_a_gating_failure_and_the_verdict(tmp_path, env):
    run = run_checks(tmp_path, env, "--fail-on", "medium")
    assert run.returncode == 1
    root = run.junit()
    props = suite_properties(root)
    assert (props["gate"], props["fail_on"]) == ("FAILED", "medium")
    message = run.testcases()["test_endpoint[reports]"].find("failure").get("message")
    assert message.startswith("Failed: [medium] endpoint reports")
    assert run.properties("test_endpoint[reports]")["gate"] == "gating"


def test_a_partial_run_names_its_selection(tmp_path, env):
    run = run_checks(tmp_path, env, "-k", "reports")
    props = suite_properties(run.junit())
    assert props["selection"] == "-k reports"
    assert props["gate"] == "FAILED (partial)"
    assert props["coverage"].startswith("1 of 2 cases collected (test_endpoint: 1 of 2 cases")


def test_a_run_that_stopped_early_is_not_evaluated(tmp_path, env):
    run = run_checks(tmp_path, env, "-x")
    props = suite_properties(run.junit())
    assert props["gate"] == "NOT EVALUATED"
