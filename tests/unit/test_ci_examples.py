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
    assert ".venv/bin/pytest checks/ --env prod --fail-on high --full-gate" in runs
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "reports/prod/junit.xml"
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/prod/"
    assert "role-to-assume" in uses["aws-actions/configure-aws-credentials"]["with"]
    assert workflow["permissions"]["id-token"] == "write"
    gate_step = next(s for s in steps if "--fail-on" in s.get("run", ""))
    assert gate_step["env"]["API_TOKEN"] == "${{ secrets.API_TOKEN }}"
    assert not any(looks_like_credential(c) for c in _commands(workflow))


def test_github_checks_follow_the_gate_and_run_after_a_successful_deployment_only():
    """The pytest step's exit code is the gate: the JUnit action only annotates (a check run
    of its own would be red for a below-gate failure while the gate passed), and a
    deployment_status event gates a deploy that succeeded, not one in progress or failed."""
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    for name in ("smokegate", "smokegate-shard"):
        condition = workflow["jobs"][name]["if"]
        assert "github.event.deployment_status.state == 'success'" in condition
        assert "github.event_name != 'deployment_status'" in condition
    junit_steps = [
        s
        for job in workflow["jobs"].values()
        for s in job["steps"]
        if s.get("uses", "").startswith("mikepenz/action-junit-report")
    ]
    assert junit_steps
    assert all(s["with"]["annotate_only"] is True for s in junit_steps)


def test_gitlab_job_gates_and_publishes_junit_and_html():
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["smokegate:prod"]
    assert ".venv/bin/pytest checks/ --env prod --fail-on high --full-gate" in job["script"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/prod/junit.xml"
    assert "reports/prod/" in job["artifacts"]["paths"]
    assert job["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in job["variables"]
    assert not any(looks_like_credential(c) for c in _commands(job))


SHARD_RUN = ".venv/bin/pytest checks/ --env prod --fail-on high --splits 4 --group"


def test_github_matrix_runs_four_shards_and_a_merge_that_sees_them_all():
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    jobs = workflow["jobs"]
    shard = jobs["smokegate-shard"]
    assert shard["strategy"]["matrix"]["group"] == [1, 2, 3, 4]
    assert shard["strategy"]["fail-fast"] is False
    runs = [s.get("run", "") for s in shard["steps"]]
    assert f"{SHARD_RUN} ${{{{ matrix.group }}}}" in runs
    upload = next(s for s in shard["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert upload["with"]["path"] == "reports/prod-shard-${{ matrix.group }}-of-4/"
    merge = jobs["smokegate-merge"]
    assert merge["needs"] == "smokegate-shard"
    assert "!cancelled()" in merge["if"]
    assert "needs.smokegate-shard.result != 'skipped'" in merge["if"]
    merge_runs = [s.get("run", "") for s in merge["steps"]]
    assert (
        ".venv/bin/python -m smokegate.merge --full-gate reports/smokegate-prod-shard-*/junit.xml"
        in (merge_runs)
    )
    # the single job and the sharded ones never run together
    assert "!= 'true'" in jobs["smokegate"]["if"]
    assert "== 'true'" in shard["if"]
    assert not any(looks_like_credential(c) for c in _commands(workflow))


def test_gitlab_parallel_four_shards_and_a_merge_job():
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    shard = pipeline["smokegate:prod:shard"]
    assert shard["parallel"] == 4
    assert shard["script"] == [f'{SHARD_RUN} "$CI_NODE_INDEX"'.replace(
        '--splits 4', '--splits "$CI_NODE_TOTAL"')]  # fmt: skip
    assert shard["artifacts"]["reports"]["junit"] == "reports/prod-shard-*/junit.xml"
    assert shard["id_tokens"] == pipeline["smokegate:prod"]["id_tokens"]
    assert "resource_group" not in shard  # one resource group would run the shards one by one
    assert pipeline["smokegate:prod"]["resource_group"] == "prod"
    merge = pipeline["smokegate:prod:merge"]
    assert merge["needs"] == [{"job": "smokegate:prod:shard", "artifacts": True}]
    assert merge["rules"][0]["when"] == "always"
    assert merge["script"] == [
        ".venv/bin/python -m smokegate.merge --full-gate reports/prod-shard-*/junit.xml"
    ]
    assert not any(looks_like_credential(c) for c in _commands(pipeline))
