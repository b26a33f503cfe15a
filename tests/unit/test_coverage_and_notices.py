"""What makes a run partial (read from the checks folder's source, counted against the env)
and what every report says about where the answers came from (attack round 1: C2, C5, the
MEDIUM redirection items). Pure: no pytest run."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from smokegate.config import load_env
from smokegate.pytest_plugin.coverage import (
    MAX_CHECK_MODULES,
    MAX_MODULE_BYTES,
    Coverage,
    UnusableChecksFolder,
    defined_checks,
    measure,
)
from smokegate.pytest_plugin.guard import clean_usage_error, run_notices
from tests.support.env_files import write_env
from tests.support.environment import apply_env, aws_env
from tests.support.paths import ROOT


def test_defined_checks_reads_the_source_by_pytest_s_default_naming(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "def test_one(endpoint): pass\n"
        "async def test_two(tls_target, other): pass\n"
        "def helper(endpoint): pass\n"
        "class TestGroup:\n    def test_three(self, endpoint): pass\n    def util(self): pass\n"
        "class Helper:\n    def test_no(self): pass\n"
    )
    (tmp_path / "b_test.py").write_text("def testfour(): pass\n")
    (tmp_path / "conftest.py").write_text("def test_not_a_check(): pass\n")
    (tmp_path / "test_broken.py").write_text("def test_(:\n")
    names = {(f.module.name, f.name, f.params) for f in defined_checks(tmp_path)}
    assert names == {
        ("test_a.py", "test_one", ("endpoint",)),
        ("test_a.py", "test_two", ("tls_target", "other")),
        ("test_a.py", "TestGroup.test_three", ("endpoint",)),
        ("b_test.py", "testfour", ()),
    }


def test_the_suite_s_own_checks_are_all_found():
    names = {f.name for f in defined_checks(ROOT / "checks")}
    assert {"test_endpoint", "test_security_headers", "test_certificate", "test_iam_audit"} <= names


def _item(path: Path, name: str, case_id: str | None):
    callspec = types.SimpleNamespace(id=case_id) if case_id is not None else None
    return types.SimpleNamespace(
        path=path, originalname=name, name=name, cls=None, callspec=callspec
    )


def test_measure_counts_distinct_cases_so_duplicates_cannot_hide_a_missing_one(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    module = checks / "test_health.py"
    module.write_text("def test_endpoint(endpoint, http_results, enforce): pass\n")
    env_file = write_env(
        tmp_path,
        {
            "endpoints": [
                {"name": "up", "url": "https://a.example/"},
                {"name": "down", "url": "https://b.example/"},
            ]
        },
    )
    env = load_env(str(env_file), tmp_path, tmp_path)
    functions = defined_checks(checks)
    twice_up = [_item(module.resolve(), "test_endpoint", "up")] * 2  # --keep-duplicates
    coverage = measure(twice_up, functions, env, None)
    assert not coverage.complete and coverage.describe().startswith("1 of 2 cases collected")
    both = [_item(module.resolve(), "test_endpoint", i) for i in ("up", "down")]
    assert measure(both, functions, env, None).complete


def test_coverage_travels_through_xdist_s_workeroutput_as_plain_data():
    coverage = Coverage(5, 3, ["test_endpoint: 1 of 2 cases"], exact=False)
    again = Coverage.from_dict(coverage.to_dict())
    assert again == coverage and "at least 5" in again.describe()
    assert Coverage.from_dict({"expected": "x"}) is None


def _env(tmp_path, content):
    return load_env(str(write_env(tmp_path, content)), tmp_path, tmp_path)


def test_notices_name_a_proxy_without_its_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:s3cretpass@proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    notices = run_notices(
        _env(tmp_path, {"endpoints": [{"name": "a", "url": "https://a.example/"}]})
    )
    assert len(notices) == 1 and "proxy.example:3128" in notices[0]
    assert "s3cretpass" not in notices[0] and "internal.example" in notices[0]


def test_notices_say_the_tls_checks_go_through_the_https_proxy_too(tmp_path, monkeypatch):
    for var in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    (notice,) = run_notices(_env(tmp_path, {"tls": [{"host": "a.example"}]}))
    assert notice.startswith("Proxy: https requests and TLS checks go through ")


@pytest.mark.parametrize(
    ("name", "services"),
    [
        ("AWS_ENDPOINT_URL", "IAM, STS"),
        ("AWS_ENDPOINT_URL_IAM", "IAM"),
        ("AWS_ENDPOINT_URL_STS", "STS"),
    ],
)
def test_notices_name_an_aws_endpoint_for_an_iam_audit(tmp_path, monkeypatch, name, services):
    _aws_isolated(monkeypatch, tmp_path)
    monkeypatch.setenv(name, "http://127.0.0.1:5000")
    (notice,) = run_notices(_env(tmp_path, {"iam": {}}))
    assert notice == (
        f"AWS endpoint: {name} is set: the IAM audit asked http://127.0.0.1:5000 for "
        f"{services}, not AWS's own endpoint"
    )
    assert run_notices(_env(tmp_path, {"endpoints": []})) == []


ROLE_ARN = "arn:aws:iam::123456789012:role/SmokegateAudit"
ORG_IAM = {"iam": {"organization": {"role_name": "SmokegateAudit"}}}


def _aws_isolated(monkeypatch, tmp_path, config: str = "") -> None:
    """No proxy, fake keys, no endpoint variable; an AWS config file holding `config`."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    for var in list(os.environ):
        if var.startswith("AWS_ENDPOINT_URL") or var in (
            "AWS_DATA_PATH",
            "AWS_REGION",
            "AWS_CA_BUNDLE",
        ):
            monkeypatch.delenv(var)
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(config, encoding="utf-8")
    apply_env(monkeypatch, aws_env(None, AWS_CONFIG_FILE=str(aws_config)))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/models of the machine's


def test_notices_name_the_organizations_endpoint_of_its_own_variable(tmp_path, monkeypatch):
    """Round 43b F3 (a): AWS_ENDPOINT_URL_ORGANIZATIONS chose which accounts were audited
    at all, and no report named it (three variables were looked at, not botocore)."""
    _aws_isolated(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", "http://127.0.0.1:5009")
    (notice,) = run_notices(_env(tmp_path, ORG_IAM))
    assert notice == (
        "AWS endpoint: AWS_ENDPOINT_URL_ORGANIZATIONS is set: the IAM audit asked "
        "http://127.0.0.1:5009 for Organizations, not AWS's own endpoint"
    )


@pytest.mark.parametrize(
    ("config", "profile", "chosen_by", "services"),
    [
        (
            "[default]\nendpoint_url = http://127.0.0.1:5010\n",
            None,
            "endpoint_url of profile default in the AWS config file ",
            "IAM, STS, Organizations",
        ),
        (
            "[profile ci]\nservices = forged\n[services forged]\norganizations =\n"
            "  endpoint_url = http://127.0.0.1:5010\n",
            "ci",
            "endpoint_url of organizations in [services forged] of the AWS config file ",
            "Organizations",
        ),
    ],
    ids=["profile", "services-section"],
)
def test_notices_name_an_endpoint_the_aws_config_file_chose(
    tmp_path, monkeypatch, config, profile, chosen_by, services
):
    """Round 43b F3 (b): `endpoint_url` in the config file's profile, or in a `[services]`
    section the profile names, had the whole audit answered elsewhere, and no notice."""
    _aws_isolated(monkeypatch, tmp_path, config)
    if profile:
        monkeypatch.setenv("AWS_PROFILE", profile)
    (notice,) = run_notices(_env(tmp_path, ORG_IAM))
    assert notice.startswith(f"AWS endpoint: {chosen_by}{tmp_path / 'aws-config'}")
    assert notice.endswith(
        f"is set: the IAM audit asked http://127.0.0.1:5010 for {services}, not AWS's own endpoint"
    )


def _endpoint_rule_sets(folder: Path, url: str) -> Path:
    """botocore data files for IAM and STS whose endpoint rule set sends every request to
    `url` (what AWS_DATA_PATH or ~/.aws/models may hold)."""
    import json

    builtins = {"Region": "AWS::Region", "Endpoint": "SDK::Endpoint"}
    flags = {"UseDualStack": "AWS::UseDualStack", "UseFIPS": "AWS::UseFIPS"}
    parameters = {
        n: {"builtIn": b, "required": False, "type": "String"} for n, b in builtins.items()
    }
    parameters |= {
        n: {"builtIn": b, "required": True, "default": False, "type": "Boolean"}
        for n, b in flags.items()
    }
    for service, version in (("iam", "2010-05-08"), ("sts", "2011-06-15")):
        where = folder / service / version
        where.mkdir(parents=True)
        endpoint = {"url": url, "headers": {}, "properties": {}}
        rules = [{"conditions": [], "type": "endpoint", "endpoint": endpoint}]
        ruleset = {"version": "1.0", "parameters": parameters, "rules": rules}
        (where / "endpoint-rule-set-1.json").write_text(json.dumps(ruleset), encoding="utf-8")
    return folder


@pytest.mark.parametrize("via", ["AWS_DATA_PATH", "~/.aws/models"])
def test_notices_name_where_an_endpoint_rule_set_sends_the_audit(tmp_path, monkeypatch, via):
    """Round 44b F1: each request goes where the service's endpoint rule set says, and one
    from AWS_DATA_PATH or ~/.aws/models sent the audit to another server while the client's
    `meta.endpoint_url` still said iam.amazonaws.com: no notice."""
    _aws_isolated(monkeypatch, tmp_path)
    if via == "AWS_DATA_PATH":
        monkeypatch.setenv(
            "AWS_DATA_PATH", str(_endpoint_rule_sets(tmp_path / "d", "http://127.0.0.1:5012"))
        )
    else:
        import botocore.loaders

        # the folder botocore read at import from the runner's home
        models = _endpoint_rule_sets(tmp_path / ".aws" / "models", "http://127.0.0.1:5012")
        monkeypatch.setattr(botocore.loaders.Loader, "CUSTOMER_DATA_PATH", str(models))
    (notice,) = run_notices(_env(tmp_path, {"iam": {}}))
    assert notice == (
        "AWS endpoint: botocore's endpoint data (AWS_DATA_PATH or ~/.aws/models) gives it: the "
        "IAM audit asked http://127.0.0.1:5012 for IAM, STS, not AWS's own endpoint"
    )


def test_notices_name_the_proxy_and_the_ca_bundle_of_an_iam_only_audit(tmp_path, monkeypatch):
    """Round 44b F2: an IAM-only env named no proxy (only HTTP and TLS checks did) and no
    CA bundle, and a proxy trusted through AWS_CA_BUNDLE answered the whole audit."""
    _aws_isolated(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read here\n")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    proxy, trust = run_notices(_env(tmp_path, {"iam": {}}))
    assert proxy.startswith("Proxy: https the IAM audit go through http://proxy.example:3128 ")
    assert "unless it holds a key of a CA bundle the IAM audit trusts" in proxy
    assert trust.startswith(f"AWS trust: the IAM audit trusts the certificates of {bundle} ")


def test_notices_name_the_ca_bundle_of_the_profile_an_assumed_role_reads(tmp_path, monkeypatch):
    """Round 45b F2: the caller's profile (`iam.profile`) was read alone, and an assumed
    role's clients, made in the default profile, trusted that profile's ca_bundle unnamed."""
    bundle = tmp_path / "role-ca.pem"
    bundle.write_text("not read here\n")
    config = f"[profile audit]\nregion = us-east-1\n\n[default]\nca_bundle = {bundle}\n"
    _aws_isolated(monkeypatch, tmp_path, config)
    notices = run_notices(_env(tmp_path, {"iam": {"profile": "audit", "role_arn": ROLE_ARN}}))
    assert notices == [
        f"AWS trust: the IAM audit trusts the certificates of {bundle} (AWS_CA_BUNDLE or "
        "ca_bundle in the AWS config file), not the system's: a server or proxy holding a key "
        "of that CA answers for AWS"
    ]
    assert run_notices(_env(tmp_path, {"iam": {"profile": "audit"}})) == []  # no role: unused


def test_notices_of_the_audit_s_own_requests_say_what_the_start_did_not():
    from smokegate.facts.iam import AuditRoute
    from smokegate.pytest_plugin.guard import aws_route_notices, aws_trust_notice

    routes = [
        AuditRoute("http://127.0.0.1:5012", "IAM", False),
        AuditRoute("http://127.0.0.1:5012", "STS", False),
        AuditRoute("http://127.0.0.1:50", "Organizations", False),
        AuditRoute("https://iam.amazonaws.com", "IAM", True),  # AWS's own: nothing to say
        AuditRoute("https://sts.amazonaws.com", "STS", True, "/ca/one.pem"),
        AuditRoute("https://iam.amazonaws.com", "IAM", True, "/ca/two.pem"),
    ]
    start = [
        "AWS endpoint: X is set: the IAM audit asked http://127.0.0.1:50 for Organizations, "
        "not AWS's own endpoint"
    ]
    assert aws_route_notices(routes, [*start, aws_trust_notice("/ca/two.pem")]) == [
        "AWS endpoint: the IAM audit's requests to IAM, STS went to http://127.0.0.1:5012 (as "
        "botocore sent them), not AWS's own endpoint",
        aws_trust_notice("/ca/one.pem", "STS"),
    ]
    assert aws_trust_notice("/ca/one.pem", "STS").startswith(
        "AWS trust: the IAM audit's requests to STS trust the certificates of /ca/one.pem "
    )
    assert aws_route_notices(routes[3:4], []) == []
    # round 46b F4: the start named the host for STS alone; IAM's requests went there too
    sts_only = [
        "AWS endpoint: AWS_ENDPOINT_URL_STS is set: the IAM audit asked http://127.0.0.1:5012 "
        "for STS, not AWS's own endpoint"
    ]
    assert aws_route_notices(routes[:2], sts_only) == [
        "AWS endpoint: the IAM audit's requests to IAM, STS went to http://127.0.0.1:5012 (as "
        "botocore sent them), not AWS's own endpoint"
    ]


def test_notices_say_nothing_of_aws_s_own_endpoints(tmp_path, monkeypatch):
    _aws_isolated(monkeypatch, tmp_path, "[default]\nregion = eu-west-1\n")
    assert run_notices(_env(tmp_path, ORG_IAM)) == []
    assert run_notices(_env(tmp_path, {"iam": {"role_arn": ROLE_ARN}})) == []


def test_usage_errors_are_cleaned_of_secrets_and_control_characters(monkeypatch):
    monkeypatch.setenv("SOME_API_TOKEN", "tok-3f9a8b7c6d5e")
    message = "argument --fail-on: invalid choice: 'tok-3f9a8b7c6d5e'\x1b[2K"
    cleaned = clean_usage_error(message, None)
    assert "tok-3f9a8b7c6d5e" not in cleaned and "\x1b" not in cleaned


def test_a_folder_too_large_to_be_a_checks_folder_defines_nothing(tmp_path: Path) -> None:
    """`-o smokegate_checks_dir=/` (attack round 6) walked the disk and crashed on /proc:
    the walk is bounded, and past it the folder is unusable (so no run is the full gate)."""
    many = tmp_path / "many"
    many.mkdir()
    for i in range(MAX_CHECK_MODULES + 1):
        (many / f"test_{i}.py").write_text("def test_x(endpoint):\n    pass\n")
    with pytest.raises(UnusableChecksFolder, match="more than 500 test modules"):
        defined_checks(many)
    big = tmp_path / "big"
    big.mkdir()
    (big / "test_big.py").write_text("# x\n" * (MAX_MODULE_BYTES // 4 + 1))
    with pytest.raises(UnusableChecksFolder, match="larger than 1024 KB"):
        defined_checks(big)
    assert [f.name for f in defined_checks(ROOT / "checks")]  # the real one is fine


def test_an_unreadable_subfolder_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text("def test_endpoint(endpoint):\n    pass\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        assert [f.name for f in defined_checks(tmp_path)] == ["test_endpoint"]
    finally:
        locked.chmod(0o700)
