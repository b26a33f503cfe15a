"""The pipeline examples in ci-examples/ gate on prod, publish JUnit and HTML, hold no secrets."""

import yaml

from smokegate.secrets_shape import looks_like_credential
from tests.support.paths import ROOT

EXAMPLES = ROOT / "ci-examples"


def _commands(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _commands(value)
    elif isinstance(node, list):
        for value in node:
            yield from _commands(value)
    elif isinstance(node, str):
        yield node


def test_github_workflow_gates_publishes_and_uses_oidc():
    text = (EXAMPLES / "github-actions.yml").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["smokegate"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert ".venv/bin/pytest checks/ --env prod --fail-on high" in runs
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "reports/prod/junit.xml"
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/prod/"
    assert "role-to-assume" in uses["aws-actions/configure-aws-credentials"]["with"]
    assert workflow["permissions"]["id-token"] == "write"
    gate_step = next(s for s in steps if "--fail-on" in s.get("run", ""))
    assert gate_step["env"]["API_TOKEN"] == "${{ secrets.API_TOKEN }}"
    assert not any(looks_like_credential(c) for c in _commands(workflow))


def test_gitlab_job_gates_and_publishes_junit_and_html():
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["smokegate:prod"]
    assert ".venv/bin/pytest checks/ --env prod --fail-on high" in job["script"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/prod/junit.xml"
    assert "reports/prod/" in job["artifacts"]["paths"]
    assert job["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in job["variables"]
    assert not any(looks_like_credential(c) for c in _commands(job))
