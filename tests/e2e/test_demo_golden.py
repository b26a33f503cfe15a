"""`make demo`'s JUnit, case by case, against the one recorded before the layers moved.

Names, outcomes and failure messages of the shipped demo (tokens unset, as `make demo`
runs it, and set) must stay what they were when tests/data/demo-junit.json was recorded:
a refactoring that changes what a pipeline reads fails here. Only what changes from run to
run is normalized (measured latencies, dates, times). The demo's waiver is moved a month
ahead of today in a copy of the env file, so the comparison does not change meaning on the
day the shipped waiver expires.

A change that alters the demo's reports on purpose re-records the file:
`SMOKEGATE_RECORD_GOLDEN=1 pytest tests/e2e/test_demo_golden.py`, and the diff of
tests/data/demo-junit.json shows reviewers what the change does to a pipeline's JUnit.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e import ROOT, run_checks

GOLDEN = ROOT / "tests" / "data" / "demo-junit.json"
TOKENS = {"DEMO_API_TOKEN": "demo-token-1", "DEMO_READONLY_TOKEN": "demo-readonly-1"}
SCENARIOS = {
    "without tokens": {"DEMO_API_TOKEN": "", "DEMO_READONLY_TOKEN": ""},
    "with tokens": TOKENS,
}


def normalize(text: str | None) -> str:
    text = re.sub(r"(latency |· )\d+ ms", r"\1N ms", text or "")
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD", text)
    return re.sub(r"\d{2}:\d{2} UTC", "HH:MM UTC", text)


def demo_env_copy(tmp_path: Path) -> Path:
    """envs/demo.yaml with its waivers valid for another month."""
    ahead = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    text = (ROOT / "envs" / "demo.yaml").read_text(encoding="utf-8")
    moved, count = re.subn(r"(?m)^(\s*expires:\s*)\d{4}-\d{2}-\d{2}", rf"\g<1>{ahead}", text)
    assert count, "the demo env has no waiver to move"
    path = tmp_path / "demo.yaml"
    path.write_text(moved, encoding="utf-8")
    return path


def junit_cases(junit: Any) -> list[dict[str, str]]:
    cases = []
    for case in junit.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome, message = tag, normalize(element.get("message"))
                break
        cases.append(
            {
                "classname": case.get("classname", ""),
                "name": case.get("name", ""),
                "outcome": outcome,
                "message": message,
            }
        )
    return cases


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_demo_junit_matches_the_recorded_cases(tmp_path: Path, scenario: str) -> None:
    run = run_checks(tmp_path, demo_env_copy(tmp_path), env_vars=SCENARIOS[scenario])
    assert run.returncode == 1, run.output
    found = junit_cases(run.junit())
    if os.environ.get("SMOKEGATE_RECORD_GOLDEN"):
        recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
        recorded[scenario] = found
        GOLDEN.write_text(json.dumps(recorded, indent=1, ensure_ascii=False), encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[scenario]
    assert [c["name"] for c in found] == [c["name"] for c in expected]
    for got, want in zip(found, expected, strict=True):
        assert got == want, f"{want['name']} differs from tests/data/demo-junit.json"
