"""pytest glue for the IAM audit: gather at collection, parametrize each rule over the
principals it applies to, and drop what must not run.

Cases are per user and per key, so the ids need the credential report before the tests
exist: the audit is gathered once per process, when the first IAM test function is
collected and the `-m` expression selects it (a `-m health` run never talks to AWS).
Under xdist the controller does not collect and each worker gathers once (a few calls
each); AWS serves every worker the same cached report, so they collect the same cases.

A rule whose threshold is null, a rule with no principal to judge, and every rule when the
audit could not be gathered get no case at all; in the last case `test_iam_audit` is the
one failing case that says why, so an audit without data can never pass.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from smokegate.cases import resolve_severity
from smokegate.config import IamConfig, LoadedEnv
from smokegate.iam_report import CredentialRow, IamAudit, IamAuditError, KeyRef
from smokegate.severity import Severity

IAM_KEY = pytest.StashKey["IamPlugin"]()


@dataclass(frozen=True)
class IamRule:
    """How one IAM check is collected: when it is on, and which principals it judges."""

    enabled: Callable[[IamConfig], bool]
    fixture: str | None = None  # the parametrized argument; None for one-case checks
    targets: Callable[[IamAudit], list[Any]] = lambda audit: []
    case_id: Callable[[Any], str] = lambda target: ""


def _users(audit: IamAudit) -> list[CredentialRow]:
    return list(audit.users)


def _user_id(row: CredentialRow) -> str:
    return row.user


# Check name (the test function without `test_`) -> its collection rule.
RULES: dict[str, IamRule] = {
    "iam_audit": IamRule(enabled=lambda c: True),
    "user_age": IamRule(
        enabled=lambda c: c.max_user_age_days is not None,
        fixture="iam_user",
        targets=_users,
        case_id=_user_id,
    ),
    "access_key_age": IamRule(
        enabled=lambda c: c.max_access_key_age_days is not None,
        fixture="iam_key",
        targets=lambda a: [KeyRef(r, k) for r in a.users for k in r.active_keys],
        case_id=lambda ref: ref.case_id,
    ),
    "unused_credentials": IamRule(
        enabled=lambda c: c.max_unused_days is not None,
        fixture="iam_credentialed_user",
        targets=lambda a: [r for r in a.users if r.password_enabled or r.active_keys],
        case_id=_user_id,
    ),
    "console_mfa": IamRule(
        enabled=lambda c: bool(c.require_console_mfa),
        fixture="iam_console_user",
        targets=lambda a: [r for r in a.users if r.password_enabled],
        case_id=_user_id,
    ),
    "active_keys": IamRule(
        enabled=lambda c: c.max_active_keys_per_user is not None,
        fixture="iam_key_holder",
        targets=lambda a: [r for r in a.users if r.active_keys],
        case_id=_user_id,
    ),
    "root_access_keys": IamRule(enabled=lambda c: bool(c.forbid_root_access_keys)),
    "root_mfa": IamRule(enabled=lambda c: bool(c.require_root_mfa)),
    "password_policy": IamRule(enabled=lambda c: c.password_policy is not None),
}


def _selected_by_markexpr(metafunc: pytest.Metafunc) -> bool:
    """Whether `-m` keeps this function, so a run that deselects IAM never gathers.
    pytest has no public evaluator for `-m`; if its private one moves, gather anyway
    (one audit too many is harmless, one too few is not)."""
    expression = metafunc.config.option.markexpr
    if not expression:
        return True
    try:
        from _pytest.mark import MarkMatcher
        from _pytest.mark.expression import Expression

        matcher = MarkMatcher.from_markers(metafunc.definition.iter_markers())
        return Expression.compile(expression).evaluate(matcher)
    except Exception:
        return True


def gather(settings: IamConfig) -> IamAudit:
    """The audit through boto3, imported on first use: runs without IAM checks never load it."""
    from smokegate.iam import gather as gather_from_aws

    return gather_from_aws(settings)


class IamPlugin:
    """One run's IAM audit (gathered at most once per process) and collection plan."""

    def __init__(self, config: pytest.Config, env: LoadedEnv) -> None:
        self.config = config
        self.env = env
        self.settings = env.config.iam
        self.outcome: IamAudit | IamAuditError | None = None
        self.dropped: set[Any] = set()  # test functions that get no case in this run

    def audit(self) -> IamAudit | IamAuditError:
        """The audit, or the reason it could not be gathered; gathered on first use."""
        if self.outcome is None:
            settings = self.settings or IamConfig()
            try:
                self.outcome = gather(settings)
            except IamAuditError as exc:
                self.outcome = exc
            except Exception as exc:  # a gatherer bug must not stop the HTTP checks either
                self.outcome = IamAuditError(
                    f"unexpected {type(exc).__name__} while gathering the audit: {exc}"
                )
            self._publish()
        return self.outcome

    def _publish(self) -> None:
        """The account and report time in the HTML report's environment section."""
        if not isinstance(self.outcome, IamAudit):
            return
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover - pytest-metadata ships with pytest-html
            return
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is not None:
            metadata["AWS account"] = self.outcome.account_id
            metadata["IAM credential report"] = self.outcome.report_time

    def _plan(self, metafunc: pytest.Metafunc, check: str, rule: IamRule) -> tuple[bool, list]:
        """(keep the function, its targets)."""
        if self.settings is None or not rule.enabled(self.settings):
            return False, []
        if not _selected_by_markexpr(metafunc):
            return False, []
        outcome = self.audit()
        if isinstance(outcome, IamAuditError):
            return check == "iam_audit", []
        return True, rule.targets(outcome)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if metafunc.definition.get_closest_marker("iam") is None:
            return
        check = metafunc.function.__name__.removeprefix("test_")
        rule = RULES.get(check)
        if rule is None:
            return
        keep, targets = self._plan(metafunc, check, rule)
        if rule.fixture is not None:
            ids = [rule.case_id(t) for t in targets]
            metafunc.parametrize(rule.fixture, targets, ids=ids)
            keep = keep and bool(targets)
        if not keep:
            self.dropped.add(metafunc.function)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Drop functions without cases; give IAM cases their ARN and the `iam.severity`."""
        from smokegate.plugin import CASE_KEY

        kept, dropped = [], []
        for item in items:
            function = getattr(item, "function", None)
            (dropped if function in self.dropped else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
        for item in kept:
            case = item.stash.get(CASE_KEY, None)
            if case is None or item.get_closest_marker("iam") is None:
                continue
            marker = item.get_closest_marker("default_severity")
            severity = resolve_severity(
                self.settings,
                self.env.config.defaults.severity,
                Severity(marker.args[0]) if marker else None,
            )
            item.stash[CASE_KEY] = dataclasses.replace(
                case, severity=severity, location=_location(item)
            )


def _location(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec else ():
        if isinstance(value, CredentialRow):
            return value.arn
        if isinstance(value, KeyRef):
            return value.row.arn
    return ""


def register(config: pytest.Config, env: LoadedEnv) -> IamPlugin:
    plugin = IamPlugin(config, env)
    config.stash[IAM_KEY] = plugin
    config.pluginmanager.register(plugin, "smokegate.iam")
    config.pluginmanager.register(sys.modules[__name__], "smokegate.iam_fixtures")
    return plugin


def _plugin(request: pytest.FixtureRequest) -> IamPlugin:
    request.getfixturevalue("smokegate_env")  # fails the case clearly when no env is loaded
    return request.config.stash[IAM_KEY]


@pytest.fixture(scope="session")
def iam_outcome(request: pytest.FixtureRequest) -> IamAudit | IamAuditError:
    """The run's IAM audit, or why it could not be gathered."""
    return _plugin(request).audit()


@pytest.fixture(scope="session")
def iam_audit(iam_outcome: IamAudit | IamAuditError) -> IamAudit:
    """The run's IAM audit; rules only run when it was gathered."""
    if isinstance(iam_outcome, IamAuditError):
        pytest.fail(f"IAM audit unavailable: {iam_outcome}", pytrace=False)
    return iam_outcome


@pytest.fixture(scope="session")
def iam_settings(request: pytest.FixtureRequest) -> IamConfig:
    """The env's `iam:` section (its thresholds)."""
    settings = _plugin(request).settings
    if settings is None:
        pytest.fail("smokegate: the env file has no iam: section", pytrace=False)
    return settings
