"""A mocked env end to end: `pytest checks/ --env <file>` with `mock:` answers from the
world's http.yaml; an unmocked URL fails as "verified nothing" and gates at any --fail-on;
a bad world file is a usage error (exit 4).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.e2e import run_checks
from tests.support.worlds import make_world


def test_mocked_env_end_to_end(tmp_path: Path) -> None:
    folder = make_world(tmp_path)
    env = {
        "mock": str(folder),
        "endpoints": [
            {
                "name": "health",
                "url": "https://api.mock.internal/health",
                "json": {"db": {"connected": True}},
            },
            {"name": "down", "url": "https://api.mock.internal/down"},
            {"name": "unlisted", "url": "https://api.mock.internal/unlisted"},
        ],
    }
    run = run_checks(tmp_path, env)
    assert run.returncode == 1, run.output
    assert run.outcomes() == {
        "test_endpoint[health]": "passed",
        "test_endpoint[down]": "failed",
        "test_endpoint[unlisted]": "failed",
    }
    unlisted = run.testcases()["test_endpoint[unlisted]"].find("failure")
    assert unlisted is not None
    assert "not mocked" in unlisted.get("message", "")
    assert str(folder / "http.yaml") in unlisted.get("message", "")
    # An unmocked URL checked nothing: it gates at any --fail-on, the 503 (a finding) does not.
    strict = run_checks(
        tmp_path, {**env, "endpoints": env["endpoints"][:2]}, "--fail-on", "critical"
    )
    assert strict.returncode == 0, strict.output
    run = run_checks(tmp_path, env, "--fail-on", "critical")
    assert run.returncode == 1, run.output
    assert "1 verified nothing (gates at any --fail-on)" in run.stdout
    summary = (run.reports_dir / "summary.md").read_text()
    assert "| high (verified nothing) | endpoint | unlisted" in summary


def test_bad_world_file_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    folder = make_world(tmp_path, "routes:\n  - url: https://a/\n    staus: 200\n")
    run = run_checks(tmp_path, {"mock": str(folder), "endpoints": [{"url": "https://a/"}]})
    assert run.returncode == 4, run.output
    assert "Traceback" not in run.output
    assert f"{folder / 'http.yaml'}: routes[0].staus: unknown field" in run.output
