"""Several AWS accounts in one audit, end to end: `pytest checks/ --env <env> -m iam` against
a moto server holding an Organization (STS assume_role into other account ids works in
moto's server mode), reached through a counting proxy and AWS_ENDPOINT_URL.

The organization: moto's management account ("master", no users) and payments-prod,
search-prod (both seeded with IAM_WORLD: one user per finding) and sandbox-1 (empty).
"""

from __future__ import annotations

import pytest

from smokegate.mock.iam import iam_backend, seed
from tests.e2e.test_iam import EXPECTED
from tests.support.e2e import run_checks
from tests.support.env_files import waiver_expiry
from tests.support.moto_helpers import (
    IAM_WORLD,
    AwsProxy,
    Fault,
    aws_env,
    error_xml,
    moto_server,
    reset_moto,
    seed_organization,
)

MEMBERS = ["payments-prod", "search-prod", "sandbox-1"]


def per_account(label: str) -> dict[str, str]:
    """EXPECTED (the single-account verdicts of IAM_WORLD) with the account in every id."""
    cases = {}
    for name, outcome in EXPECTED.items():
        function, _, target = name.partition("[")
        inside = f"{label}/{target[:-1]}" if target else label
        cases[f"{function}[{inside}]"] = outcome
    return cases


@pytest.fixture(scope="module")
def server():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def org(server, monkeypatch):
    """The organization, seeded; its ids by name; and a fresh counting proxy in front."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_moto(server)
    ids = seed_organization(server, MEMBERS)
    seed(IAM_WORLD, iam_backend(ids["payments-prod"]))
    seed(IAM_WORLD, iam_backend(ids["search-prod"]))
    with AwsProxy(server) as proxy:
        yield ids, proxy


def env_of(ids: dict[str, str], **organization: object) -> dict:
    """payments-prod by its role ARN under the alias `payments`, and the organization's
    `*-prod` accounts (payments-prod again: audited once, under its alias)."""
    return {
        "iam": {
            "accounts": [
                {
                    "role_arn": f"arn:aws:iam::{ids['payments-prod']}:role/SmokegateAudit",
                    "name": "payments",
                }
            ],
            "organization": {"role_name": "SmokegateAudit", "include": ["*-prod"], **organization},
        }
    }


def test_every_account_is_audited_once_with_the_account_in_every_case_id(tmp_path, org):
    ids, proxy = org
    run = run_checks(tmp_path, env_of(ids), "-m", "iam", env_vars=aws_env(proxy.url))
    assert run.returncode == 1, run.output
    assert run.outcomes() == {**per_account("payments"), **per_account("search-prod")}
    # each account gathered once, with the same few calls as one account; one listing
    assert proxy.actions["ListAccounts"] == 1
    assert proxy.actions["AssumeRole"] == 2
    assert proxy.actions["GetCredentialReport"] == 2
    per_account_calls = (proxy.requests - proxy.actions["ListAccounts"]) / 2
    assert per_account_calls <= 10
    props = run.properties("test_root_mfa[search-prod]")
    assert props["account"] == "search-prod"
    assert props["location"].startswith(f"account {ids['search-prod']} via arn:aws:iam::")
    summary = (run.reports_dir / "summary.md").read_text()
    assert "## AWS accounts" in summary
    assert "| payments | 25 | 5 | 0 |" in summary
    assert summary.index("### payments") < summary.index("### search-prod")


def test_xdist_gathers_each_account_once_for_all_workers(tmp_path, org):
    ids, proxy = org
    run = run_checks(tmp_path, env_of(ids), "-m", "iam", "-n", "2", env_vars=aws_env(proxy.url))
    assert run.outcomes() == {**per_account("payments"), **per_account("search-prod")}
    assert proxy.actions["AssumeRole"] == 2  # on the controller, handed to both workers
    assert proxy.actions["ListAccounts"] == 1


def test_an_account_that_cannot_be_assumed_is_one_failing_case_and_the_others_count(tmp_path, org):
    ids, proxy = org
    role = f"arn:aws:iam::{ids['search-prod']}:role/SmokegateAudit"
    proxy.faults["AssumeRole"] = Fault(
        403, error_xml("AccessDenied", "not authorized to assume"), when={"RoleArn": role}
    )
    run = run_checks(tmp_path, env_of(ids), "-m", "iam", env_vars=aws_env(proxy.url))
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    assert outcomes["test_iam_audit[search-prod]"] == "failed"
    assert not [name for name in outcomes if "[search-prod/" in name]
    assert {k: v for k, v in outcomes.items() if "payments" in k} == per_account("payments")
    message = run.testcases()["test_iam_audit[search-prod]"].find("failure").get("message")
    assert role in message
    assert "sts:AssumeRole" in message
    assert run.properties("test_iam_audit[search-prod]")["unverified"] == "yes"


def test_an_organization_listing_that_keeps_no_account_fails(tmp_path, org):
    _, proxy = org
    env = {"iam": {"organization": {"role_name": "SmokegateAudit", "include": ["none-*"]}}}
    run = run_checks(
        tmp_path, env, "-m", "iam", "--fail-on", "critical", env_vars=aws_env(proxy.url)
    )
    assert run.returncode == 1, run.output
    assert run.outcomes() == {"test_iam_audit[organization]": "failed"}
    message = run.testcases()["test_iam_audit[organization]"].find("failure").get("message")
    assert "none is kept by include ['none-*']" in message
    assert proxy.actions["AssumeRole"] == 0


def test_organization_include_and_exclude_pick_accounts_by_name_or_id(tmp_path, org):
    ids, proxy = org
    env = {
        "iam": {
            "organization": {
                "role_name": "SmokegateAudit",
                "exclude": ["sandbox-*", ids["payments-prod"], "master"],
            }
        }
    }
    run = run_checks(tmp_path, env, "-m", "iam", env_vars=aws_env(proxy.url))
    assert run.outcomes() == per_account("search-prod")


def test_waivers_target_one_account_or_every_account(tmp_path, org):
    ids, proxy = org
    env = env_of(ids)
    env["waivers"] = [
        {"check": "access_key_age", "target": "payments/stale:key1", "reason": "OPS-1",
         "expires": waiver_expiry()},
        {"check": "user_age", "target": "*/old", "reason": "OPS-2", "expires": waiver_expiry()},
    ]  # fmt: skip
    run = run_checks(tmp_path, env, "-m", "iam", env_vars=aws_env(proxy.url))
    outcomes = run.outcomes()
    assert outcomes["test_access_key_age[payments/stale:key1]"] == "skipped"
    assert outcomes["test_access_key_age[search-prod/stale:key1]"] == "failed"
    assert outcomes["test_user_age[payments/old]"] == "skipped"
    assert outcomes["test_user_age[search-prod/old]"] == "skipped"


def test_k_selects_one_account_by_its_alias(tmp_path, org):
    ids, proxy = org
    run = run_checks(tmp_path, env_of(ids), "-k", "search-prod", env_vars=aws_env(proxy.url))
    assert run.outcomes() == per_account("search-prod")
