"""envs/example-prod.yaml copied as a new user does, with only its URLs changed (here to a
local server on 127.0.0.1): a working env. Every case runs and is judged on what the server
answered, a finding or a pass, never a usage error or a check that verified nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.e2e import ROOT, run_checks
from tests.support.servers import LocalServer


def test_the_template_with_its_urls_changed_is_a_working_env(tmp_path: Path) -> None:
    text = (ROOT / "envs" / "example-prod.yaml").read_text(encoding="utf-8")
    with LocalServer() as server:
        copied = re.sub(r"https?://[a-z.]+example\.com/[\w/]*", server.url("/ok"), text)
        assert "example.com/" not in copied.split("# auth:")[0]
        env_file = tmp_path / "mine.yaml"
        env_file.write_text(copied, encoding="utf-8")
        run = run_checks(tmp_path, env_file)
    assert run.returncode in (0, 1), run.output
    outcomes = run.outcomes()
    assert sorted(outcomes) == [
        "test_endpoint[api-health]",
        "test_endpoint[http-redirects-to-https]",
        "test_endpoint[version]",
        "test_endpoint[web-home]",
    ]
    for name in outcomes:
        assert run.properties(name)["gate"] in ("passed", "gating"), name  # judged, not unverified
