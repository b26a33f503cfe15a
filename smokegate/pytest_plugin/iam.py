"""pytest glue for the IAM audit: gather at collection, parametrize each rule over the
principals it applies to, and drop what must not run.

Cases are per user and per key, so the ids need the credential report before the tests
exist: the audit is gathered once per run, when the first IAM test function is collected
and the `-m` expression selects it (a `-m health` run never talks to AWS). Under xdist
every worker must collect the same cases, so the controller gathers (it collects nothing
itself) and hands the audits to its workers in their public `workerinput`
(`pytest_configure_node`): `-n` does not multiply the AWS calls. A worker that was handed
nothing (the controller judged `-m` to deselect IAM) gathers for itself.

With `accounts:` or `organization:` every account is gathered once, concurrently, and
every case id carries its account (`test_user_age[payments-prod/alice]`,
`test_root_mfa[payments-prod]`); an account that cannot be read is one failing
`test_iam_audit[<account>]` case, and the others still count. A pytest-split shard
gathers only the accounts dealt to it (`smokegate.pytest_plugin.shards`).

A rule whose threshold is null, a rule with no principal to judge, and every rule when the
audit could not be gathered get no case at all; in the last case `test_iam_audit` is the
one failing case that says why, so an audit without data can never pass.
"""

from __future__ import annotations

import hashlib
import operator
import pickle
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest

from smokegate.config import ORGANIZATION, IamConfig, LoadedEnv
from smokegate.facts.http import holds_secret
from smokegate.facts.iam import (
    UNLISTED_ACCOUNTS,
    AwsAccount,
    CredentialRow,
    IamAudit,
    IamAuditError,
    routes_text,
)
from smokegate.pytest_plugin.keys import IAM_KEY, deselect_without_targets
from smokegate.pytest_plugin.shards import Shard, shard_of
from smokegate.redact import excerpt, process_scrubber, protect_own_facts
from smokegate.secrets_shape import looks_like_credential
from smokegate.targets import AUDIT_TARGETS, IAM_CHECKS, AuditTargets

Outcome = IamAudit | IamAuditError
WORKERINPUT_IAM = "smokegate_iam"


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


def _selects_iam(config: pytest.Config) -> bool:
    """Whether `-m` can keep an IAM check, judged without collecting (the xdist controller
    collects nothing): the checks carry `iam` and `default_severity`. When this guesses no
    and a worker does need the audit, that worker gathers for itself."""
    expression = config.option.markexpr
    if not expression:
        return True
    try:
        from _pytest.mark.expression import Expression

        return Expression.compile(expression).evaluate(
            lambda name, **kwargs: name in ("iam", "default_severity")
        )
    except Exception:
        return True


def gather(settings: IamConfig) -> IamAudit:
    """The audit through boto3, imported on first use for start-up cost: runs without IAM
    checks never load boto3."""
    from smokegate.gather.iam import gather as gather_from_aws

    return gather_from_aws(settings)


def gather_accounts(
    settings: IamConfig, shard: Shard | None, dealt: list[str] | None = None
) -> list[Outcome]:
    """Every account of the audit that this process runs, each gathered once. `dealt`
    receives the fingerprint of the accounts a shard dealt its own from."""
    from smokegate.gather.iam import gather_accounts as gather_from_aws

    def select(accounts: list[AwsAccount]) -> list[AwsAccount]:
        if dealt is not None:
            dealt.append(accounts_fingerprint(accounts))
        return accounts if shard is None else shard.keep(accounts, lambda a: a.label)

    outcomes = gather_from_aws(settings, select=select)
    if shard is not None and not shard.first:
        # a failed or empty organization listing is one case of the whole run: shard 1's;
        # this shard says it dealt from no listing, and why (round 33b F3)
        unlisted = [o for o in outcomes if _label(o) == ORGANIZATION]
        if unlisted and dealt is not None:
            dealt.append(UNLISTED_ACCOUNTS + excerpt(str(unlisted[0]), 300))
        outcomes = [o for o in outcomes if _label(o) != ORGANIZATION]
    return outcomes


def accounts_fingerprint(accounts: list[AwsAccount]) -> str:
    """What the shards of one run must agree on: each deals its accounts from its own
    listing, and an account that joined the organization between two jobs was dealt to
    no shard while every shard passed (round 14). The merge refuses shards that differ."""
    ids = "\n".join(sorted(f"{a.label} {a.account_id}" for a in accounts))
    digest = hashlib.sha256(ids.encode("utf-8", "backslashreplace")).hexdigest()
    return f"{len(accounts)} accounts, sha256 {digest}"


def _shown_ids(ids: Iterable[str]) -> list[str]:
    """Case ids made of what AWS answered (user names, account names) with every known
    secret masked: ids reach the console, report.html and junit.xml as pytest writes them,
    and an endpoint that named a user after the session token it was sent put the token,
    whole, into each (round 14). pytest numbers ids that come out alike.
    Pieces too, as in a server's body: 40 characters of the session token, or 30 of
    AWS_SECRET_ACCESS_KEY, in a user's name were shown (round 45a F4)."""
    return [shown_label(case_id) for case_id in ids]


# The name an IAM user is shown by when its own holds a secret of the run: no IAM name
# holds a blank or a parenthesis, so none is taken for another user's.
MASKED_USER = "user-{n} (name masked: holds a secret of this run)"


def _holds_secret(text: str) -> bool:
    """Whether `text` holds a known secret of the run or a piece of one, as a body's
    reading is judged (`facts.http.holds_secret`)."""
    return holds_secret(process_scrubber(), text)


def without_secrets(outcome: Outcome) -> Outcome:
    """The audit with every user name that holds a secret of the run (or a piece of one)
    replaced by `MASKED_USER`, in the credential report's rows and in iam:ListUsers' names
    alike, and every such ARN masked. Names and ARNs are an endpoint's text, and a hostile
    one named users after pieces of the session token it was sent (round 45a F4). Case
    ids, locations, messages and the run's facts are all made of these: none shows the
    piece, and none makes it a fact of the run (which no issued secret may mask). The
    user keeps every flag and date, so each rule judges it as before (a failing user
    still fails); with one name for both listings, no user is counted twice or missed."""
    if not isinstance(outcome, IamAudit):
        return outcome
    names = [u.user for u in outcome.users] + list(outcome.user_names or ())
    # one search over all of them first (per name, 5 000 users took 1.3 s): each ARN,
    # which ends with its user's name (gather refuses one that does not), and the names
    # iam:ListUsers alone gives
    reported = {u.user for u in outcome.users}
    alone = [n for n in outcome.user_names or () if n not in reported]
    if not _holds_secret("\n".join([*(u.arn for u in outcome.users), *alone])):
        return outcome
    held = [name for name in dict.fromkeys(names) if _holds_secret(name)]
    if not held and not any(_holds_secret(u.arn) for u in outcome.users):
        return outcome
    shown = {name: MASKED_USER.format(n=n) for n, name in enumerate(held, 1)}

    def masked(row: CredentialRow) -> CredentialRow:
        arn = shown_label(row.arn) if _holds_secret(row.arn) else row.arn
        return replace(row, user=shown.get(row.user, row.user), arn=arn)

    listed = outcome.user_names
    return replace(
        outcome,
        users=tuple(masked(u) for u in outcome.users),
        user_names=None if listed is None else tuple(shown.get(n, n) for n in listed),
    )


def _label(outcome: Outcome) -> str:
    return outcome.account_label if isinstance(outcome, IamAudit) else outcome.account


class IamPlugin:
    """One run's IAM audit (gathered at most once per run) and collection plan."""

    def __init__(self, config: pytest.Config, env: LoadedEnv) -> None:
        self.config = config
        self.env = env
        self.settings = env.config.iam
        self.shard = shard_of(config)
        self.outcome: Outcome | None = None  # the single-account audit
        self.outcomes: list[Outcome] | None = None  # the multi-account audit
        self.accounts_dealt: str | None = None  # what a shard dealt from (accounts_fingerprint)
        self.dropped: set[Any] = set()  # test functions that get no case in this run
        self._handoff: bytes | None = None  # what every xdist worker receives
        # (the audits, where they went in words): see `routes_text`
        self._routes_said: tuple[tuple[Outcome, ...], str] = ((), "")

    @property
    def multi_account(self) -> bool:
        return self.settings is not None and self.settings.multi_account

    def _handed(self) -> Any:
        """What the xdist controller gathered for this worker, if anything."""
        data = getattr(self.config, "workerinput", {}).get(WORKERINPUT_IAM)
        return pickle.loads(data) if isinstance(data, bytes) else None

    def audit(self) -> Outcome:
        """The single-account audit, or the reason it could not be gathered; gathered on
        first use."""
        if self.outcome is None:
            handed = self._handed()
            if isinstance(handed, IamAudit | IamAuditError):
                self.outcome = handed
            else:
                self.outcome = self._guarded(lambda: gather(self.settings or IamConfig()))
            self.outcome = without_secrets(self.outcome)
            self._publish()
        return self.outcome

    def accounts(self) -> list[Outcome]:
        """Each account's audit or error, for the accounts this process runs."""
        if self.outcomes is None:
            handed = self._handed()
            if isinstance(handed, list):
                self.outcomes = handed
            else:
                settings = self.settings or IamConfig()
                dealt: list[str] = []
                result = self._guarded(lambda: gather_accounts(settings, self.shard, dealt))
                self.accounts_dealt = dealt[-1] if dealt else None
                if isinstance(result, IamAuditError) and not result.account:
                    result = IamAuditError(str(result), ORGANIZATION)  # a case id, never ""
                self.outcomes = result if isinstance(result, list) else [result]
            self.outcomes = [without_secrets(o) for o in self.outcomes]
            self._publish()
        return self.outcomes

    @staticmethod
    def _guarded(gathering: Any) -> Any:
        try:
            return gathering()
        except IamAuditError as exc:
            return exc
        except Exception as exc:  # a gatherer bug must not stop the HTTP checks either
            return IamAuditError(
                f"unexpected {type(exc).__name__} while gathering the audit: "
                f"{excerpt(str(exc), 500)}",
                ORGANIZATION,
            )

    def needed_here(self) -> bool:
        """Whether this process's collection will need the audit (a shard other than the
        first has no single-account audit to run)."""
        if self.settings is None or not _selects_iam(self.config):
            return False
        return self.multi_account or self.shard is None or self.shard.first

    def handoff(self) -> bytes | None:
        """The audit(s) for the xdist workers, gathered here once; None when not needed."""
        if self._handoff is None and self.needed_here():
            self._handoff = pickle.dumps(self.accounts() if self.multi_account else self.audit())
        return self._handoff

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker receives the same audits, gathered once."""
        data = self.handoff()
        if data is not None:
            node.workerinput[WORKERINPUT_IAM] = data

    def routes_text(self) -> str:
        """Where this process's audits went, when not simply to AWS (facts.iam.routes_text):
        carried by every IAM case, so that a run without test_iam_audit's case (`-k`,
        `--deselect`, another shard) still names it (round 46b F3)."""
        outcomes = [self.outcome] if self.outcome is not None else list(self.outcomes or [])
        # asked for every report of every IAM case: the same words until the audits change
        said_for, said = self._routes_said
        same = len(said_for) == len(outcomes) and all(map(operator.is_, said_for, outcomes))
        if not same:
            routes = {r for o in outcomes if isinstance(o, IamAudit) for r in o.routes}
            said = routes_text(sorted(r for r in routes if r.worth_saying))
            self._routes_said = (tuple(outcomes), said)
        return said

    def _publish(self) -> None:
        """The account(s) and report time in the HTML report's environment section; their
        names and ids are facts of the run, which no server-issued value may mask. One
        that holds a secret of the run is no fact (user names are masked already:
        `without_secrets`): made one, a piece of a token a target issued took that token
        out of what is masked (round 45a F4)."""
        outcomes = [self.outcome] if self.outcome is not None else list(self.outcomes or [])
        audits = [o for o in outcomes if isinstance(o, IamAudit)]
        facts = (
            [a.account_id for a in audits]
            + [a.account_label for a in audits]
            + [u.user for a in audits for u in a.users]
        )
        protect_own_facts([fact for fact in facts if not _holds_secret(fact)])
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover - pytest-metadata ships with pytest-html
            return
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is None:
            return
        if isinstance(self.outcome, IamAudit):
            metadata["AWS account"] = self.outcome.account_id
            metadata["IAM credential report"] = self.outcome.report_time
        if self.outcomes is not None:
            metadata["AWS accounts"] = ", ".join(
                f"{shown_label(o.account_label)} = {o.account_id}"
                if isinstance(o, IamAudit)
                else f"{shown_label(o.account)} (not read)"
                for o in self.outcomes
            )

    def _plan(
        self, metafunc: pytest.Metafunc, check: str, kind: AuditTargets[Any] | None
    ) -> tuple[bool, list[Any]]:
        """(keep the function, its targets)."""
        if self.settings is None or not IAM_CHECKS[check](self.settings):
            return False, []
        if not _selected_by_markexpr(metafunc):
            return False, []
        if self.shard is not None and not self.shard.first:
            return False, []  # the one account of a single-account audit is shard 1's
        outcome = self.audit()
        if isinstance(outcome, IamAuditError):
            return check == "iam_audit", []
        return True, kind.entries(outcome) if kind is not None else []

    def expected_cases(self, check: str, params: tuple[str, ...]) -> tuple[int, bool]:
        """(cases, exact) the env and the audit give the IAM check `check` in this process,
        whatever `-m` or `-k` select (for `smokegate.pytest_plugin.coverage`). Not exact
        when the audit was not read here: at least one `test_iam_audit` case then."""
        if self.settings is None or not IAM_CHECKS[check](self.settings):
            return 0, True
        if not self.multi_account and self.shard is not None and not self.shard.first:
            return 0, True
        kind = next((k for k in AUDIT_TARGETS if k.fixture in params), None)
        if self.multi_account:
            if self.outcomes is None:
                return int(check == "iam_audit"), False
            if check == "iam_audit":
                return len(self.outcomes), True
            audits = [o for o in self.outcomes if isinstance(o, IamAudit)]
            if kind is None:
                return (len(audits) if "iam_audit" in params else 0), True
            return sum(len(kind.entries(a)) for a in audits), True
        if self.outcome is None:
            return int(check == "iam_audit"), False
        if isinstance(self.outcome, IamAuditError):
            return int(check == "iam_audit"), True
        return (1 if kind is None else len(kind.entries(self.outcome))), True

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if metafunc.definition.get_closest_marker("iam") is None:
            return
        check = metafunc.function.__name__.removeprefix("test_")
        if check not in IAM_CHECKS:
            return
        kind = next((k for k in AUDIT_TARGETS if k.fixture in metafunc.fixturenames), None)
        if self.multi_account:
            if not self._parametrize_accounts(metafunc, check, kind):
                self.dropped.add(metafunc.function)
            return
        keep, targets = self._plan(metafunc, check, kind)
        if kind is not None:
            ids = _shown_ids(kind.case_id(t) for t in targets)
            metafunc.parametrize(kind.fixture, targets, ids=ids)
            keep = keep and bool(targets)
        if not keep:
            self.dropped.add(metafunc.function)

    def _parametrize_accounts(
        self, metafunc: pytest.Metafunc, check: str, kind: AuditTargets[Any] | None
    ) -> bool:
        """Cases of every account, ids prefixed with the account; False when none."""
        assert self.settings is not None
        if not IAM_CHECKS[check](self.settings) or not _selected_by_markexpr(metafunc):
            if kind is not None:
                metafunc.parametrize(kind.fixture, [])
            return False
        outcomes = self.accounts()
        if check == "iam_audit":
            metafunc.parametrize("iam_outcome", outcomes, ids=_shown_ids(map(_label, outcomes)))
            return bool(outcomes)
        audits = [o for o in outcomes if isinstance(o, IamAudit)]
        takes_audit = "iam_audit" in metafunc.fixturenames
        if kind is None:
            if takes_audit:
                ids = _shown_ids(a.account_label for a in audits)
                metafunc.parametrize("iam_audit", audits, ids=ids)
            return bool(audits) and takes_audit
        pairs = [(target, audit) for audit in audits for target in kind.entries(audit)]
        ids = _shown_ids(f"{audit.account_label}/{kind.case_id(target)}" for target, audit in pairs)
        if takes_audit:
            metafunc.parametrize([kind.fixture, "iam_audit"], pairs, ids=ids)
        else:
            metafunc.parametrize(kind.fixture, [t for t, _ in pairs], ids=ids)
        return bool(pairs)

    def drop(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Drop the functions that get no case in this run."""
        kept, dropped = [], []
        for item in items:
            function = getattr(item, "function", None)
            (dropped if function in self.dropped else kept).append(item)
        if dropped:
            deselect_without_targets(config, dropped)
            items[:] = kept  # cut-ok: pytest's item list

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        self.drop(config, items)


def shown_label(label: str) -> str:
    """An account's label (a case id, an ARN) as the reports show it: Organizations'
    account names are an endpoint's text, and one named after a piece of the session token
    it was sent was shown whole in summary.md's accounts, junit.xml and report.html (round
    46a F1); every known secret and the pieces of each are masked, as in a server's body."""
    if not label:
        return label
    # asked of every report of every case: twenty accounts' 15 100 cases asked 45 000 times
    return process_scrubber().remember("shown label", label, _shown_now)


def _shown_now(label: str) -> str:
    scrubber = process_scrubber()
    if not (holds_secret(scrubber, label) or looks_like_credential(label)):
        return label  # scrubbing a short text costs ~1.5 ms: 500 endpoints' ids took 0.8 s
    return scrubber.mask_fragments(scrubber.scrub(label))


def case_account(item: pytest.Item) -> tuple[str, str]:
    """(account label, where: its id and role) of an IAM case of a multi-account audit;
    ("", "") otherwise. The label as shown (`shown_label`)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in ("iam_audit", "iam_outcome"):
        value = params.get(name)
        if isinstance(value, IamAudit):
            where = f"account {value.account_id} via {value.role_arn}"
            return shown_label(value.account_label), where
        if isinstance(value, IamAuditError):
            return shown_label(value.account), ""
    return "", ""


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
def iam_outcome(request: pytest.FixtureRequest) -> Outcome:
    """The run's IAM audit, or why it could not be gathered (per account, with several,
    by parametrization)."""
    return _plugin(request).audit()


@pytest.fixture(scope="session")
def iam_audit(request: pytest.FixtureRequest, iam_outcome: Outcome) -> IamAudit:
    """The run's IAM audit; rules only run when it was gathered. With several accounts
    each case is parametrized with its own account's audit instead."""
    if _plugin(request).multi_account:
        pytest.fail(
            "smokegate: with several accounts a check takes its account's audit as a "
            "parameter; this check was not parametrized per account",
            pytrace=False,
        )
    if isinstance(iam_outcome, IamAuditError):
        said = process_scrubber().scrub(f"IAM audit unavailable: {iam_outcome}")
        pytest.fail(said, pytrace=False)  # masked before pytest's reprs cut it
    return iam_outcome


@pytest.fixture(scope="session")
def iam_settings(request: pytest.FixtureRequest) -> IamConfig:
    """The env's `iam:` section (its thresholds)."""
    settings = _plugin(request).settings
    if settings is None:
        pytest.fail("smokegate: the env file has no iam: section", pytrace=False)
    return settings
