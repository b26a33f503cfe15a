"""`iam: accounts:` and `iam: organization:` (DESIGN.md §3): what loads, and the one clear
message for what cannot become a case id or an assumable role."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError, load_env
from smokegate.targets import account_checks
from tests.support.paths import ROOT

ARN = "arn:aws:iam::111111111111:role/SmokegateAudit"


def load(tmp_path: Path, text: str):
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    return load_env(str(path), ROOT / "envs", ROOT)


def test_accounts_and_organization_load_as_design_md_shows(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        f"""
iam:
  accounts:
    - role_arn: {ARN}
      name: payments-prod
    - role_arn: arn:aws-us-gov:iam::222222222222:role/path/Audit
  organization:
    role_name: SmokegateAudit
    include: ["*-prod"]
    exclude: ["sandbox-*"]
""",
    )
    iam = env.config.iam
    assert iam.multi_account
    assert [(a.label, a.account_id) for a in iam.accounts] == [
        ("payments-prod", "111111111111"),
        ("222222222222", "222222222222"),
    ]
    assert iam.organization.include == ["*-prod"]
    assert "test_root_mfa" in account_checks(env.config)


def test_without_accounts_ids_stay_single_account(tmp_path: Path) -> None:
    env = load(tmp_path, "iam: {role_arn: " + ARN + "}\n")
    assert not env.config.iam.multi_account
    assert account_checks(env.config) == frozenset()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("accounts: [{role_arn: 'arn:aws:iam::1:role/x'}]", "is not an IAM role ARN"),
        ("accounts: [{role_arn: '" + ARN + "', name: 'a/b'}]", "cannot be part of a case id"),
        ("accounts: [{role_arn: '" + ARN + "', name: 'two words'}]", "no spaces"),
        # the organization's own case is labelled so: an account named so was read as it
        ("accounts: [{role_arn: '" + ARN + "', name: Organization}]", "organization's own case"),
        ("organization: {role_name: 'bad name'}", "is not an IAM role name"),
        ("organization: {include: ['*']}", "role_name"),
        ("accounts: [{role_arn: '" + ARN + "', nmae: x}]", "nmae"),
    ],
)
def test_a_bad_account_entry_is_one_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, f"iam: {{{text}}}\n")
    assert fragment in str(raised.value)


def test_two_accounts_with_one_label_are_refused(tmp_path: Path) -> None:
    other = ARN.replace("111111111111", "333333333333")
    with pytest.raises(ConfigError) as raised:
        load(
            tmp_path,
            f"iam:\n  accounts:\n    - {{role_arn: {ARN}, name: prod}}\n"
            f"    - {{role_arn: {other}, name: prod}}\n",
        )
    assert "line 4: iam.accounts[1] (prod): duplicate name 'prod'" in str(raised.value)
