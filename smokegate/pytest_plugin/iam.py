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

import sys
from typing import Any

import pytest

from smokegate.config import IamConfig, LoadedEnv
from smokegate.facts.iam import IamAudit, IamAuditError
from smokegate.pytest_plugin.keys import IAM_KEY
from smokegate.targets import AUDIT_TARGETS, IAM_CHECKS, AuditTargets


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
    """The audit through boto3, imported on first use for start-up cost: runs without IAM
    checks never load boto3."""
    from smokegate.gather.iam import gather as gather_from_aws

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

    def _plan(
        self, metafunc: pytest.Metafunc, check: str, kind: AuditTargets[Any] | None
    ) -> tuple[bool, list[Any]]:
        """(keep the function, its targets)."""
        if self.settings is None or not IAM_CHECKS[check](self.settings):
            return False, []
        if not _selected_by_markexpr(metafunc):
            return False, []
        outcome = self.audit()
        if isinstance(outcome, IamAuditError):
            return check == "iam_audit", []
        return True, kind.entries(outcome) if kind is not None else []

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if metafunc.definition.get_closest_marker("iam") is None:
            return
        check = metafunc.function.__name__.removeprefix("test_")
        if check not in IAM_CHECKS:
            return
        kind = next((k for k in AUDIT_TARGETS if k.fixture in metafunc.fixturenames), None)
        keep, targets = self._plan(metafunc, check, kind)
        if kind is not None:
            ids = [kind.case_id(t) for t in targets]
            metafunc.parametrize(kind.fixture, targets, ids=ids)
            keep = keep and bool(targets)
        if not keep:
            self.dropped.add(metafunc.function)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Drop the functions that get no case in this run."""
        kept, dropped = [], []
        for item in items:
            function = getattr(item, "function", None)
            (dropped if function in self.dropped else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept  # cut-ok: pytest's item list


def register(config: pytest.Config, env: LoadedEnv) -> IamPlugin:
    plugin = IamPlugin(config, env)
    config.stash[IAM_KEY] = plugin
    for part, name in (
        (plugin, "smokegate.iam"),
        (sys.modules[__name__], "smokegate.iam_fixtures"),
    ):
        if config.pluginmanager.register(part, name) is None:  # blocked with -p no:<name>
            raise pytest.UsageError(
                f"smokegate: -p no:{name} disables the IAM audit; the gate depends on every "
                "part of smokegate and refuses to run without one"
            )
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
