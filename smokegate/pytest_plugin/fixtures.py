"""The fixtures checks use: the env, the gatherers' results, and `enforce` for a verdict.

Gatherers are session-wide and lazy: the first check that asks for a result gathers, in
one concurrent batch, every target of the cases this process is still going to run (all
of them, a `-k` selection, or an xdist worker's share).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from smokegate.cases import CaseInfo, failure_message
from smokegate.config import Endpoint, LoadedEnv
from smokegate.gather.http import HttpGatherer
from smokegate.pytest_plugin.keys import CASE_KEY, ENV_KEY, OWN_FAILURE_KEY, VERDICT_KEY
from smokegate.pytest_plugin.xdist import queued_items
from smokegate.redact import process_scrubber
from smokegate.report.standing import failure_standing, severity_label
from smokegate.severity import Severity
from smokegate.targets import AuthCase
from smokegate.verdict import Verdict

if TYPE_CHECKING:
    from smokegate.gather.tls import TlsGatherer


def pending_targets(session: pytest.Session) -> Iterator[object]:
    """The targets of every case this process will still run; each gatherer takes its own."""
    for item in queued_items(session):
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            yield from callspec.params.values()


@pytest.fixture(scope="session")
def smokegate_env(request: pytest.FixtureRequest) -> LoadedEnv:
    """The validated env file of this run."""
    env = request.config.stash.get(ENV_KEY, None)
    if env is None:
        pytest.fail("smokegate: no env loaded; run with --env NAME", pytrace=False)
    return env


HTTP_KEY = pytest.StashKey[HttpGatherer]()


def http_gatherer(session: pytest.Session, env: LoadedEnv) -> HttpGatherer:
    """The run's one HTTP gatherer (closed with the session's stash by `close_gatherers`)."""
    gatherer = session.stash.get(HTTP_KEY, None)
    if gatherer is None:
        gatherer = HttpGatherer(
            env.config.defaults,
            lambda: pending_targets(session),
            verify=env.ca_bundle or True,
            resolve=env.resolve,
        )
        session.stash[HTTP_KEY] = gatherer
    return gatherer


def start_probes(session: pytest.Session, env: LoadedEnv) -> None:
    """Send this process's HTTP probes as soon as its cases are known (collection done),
    when it will run any HTTP case: the round trips overlap the rest of the start-up
    (under xdist, the wait for the other workers' collections and the scheduling)."""
    kinds = (Endpoint, AuthCase)
    if any(isinstance(t, kinds) for t in pending_targets(session)):
        http_gatherer(session, env).start()


def close_gatherers(session: pytest.Session) -> None:
    gatherer = session.stash.get(HTTP_KEY, None)
    if gatherer is not None:
        gatherer.close()


@pytest.fixture(scope="session")
def http_results(request: pytest.FixtureRequest, smokegate_env: LoadedEnv) -> HttpGatherer:
    """HTTP results of the run; every pending target is probed at once, when collection
    finishes or when the first check asks, whichever comes first."""
    return http_gatherer(request.session, smokegate_env)


@pytest.fixture(scope="session")
def tls_results(request: pytest.FixtureRequest, smokegate_env: LoadedEnv) -> TlsGatherer:
    """Certificates of the run; the first TLS check that asks inspects every pending target."""
    session = request.session
    defaults = smokegate_env.config.defaults
    # Imported here for start-up cost: cryptography loads only for runs with tls: checks.
    from smokegate.gather.tls import TlsGatherer

    return TlsGatherer(
        lambda: pending_targets(session),
        ca_bundle=smokegate_env.ca_bundle,
        timeout_s=defaults.timeout_s,
        max_workers=defaults.max_workers,
        resolve=smokegate_env.resolve,
    )


@pytest.fixture
def enforce(request: pytest.FixtureRequest) -> Callable[[Verdict], None]:
    """Record a rule's verdict on this case and fail it, with the full message, when it fails."""
    item = request.node

    def _enforce(verdict: Verdict) -> None:
        item.stash[VERDICT_KEY] = verdict
        case = item.stash.get(CASE_KEY, None)
        if case is not None:
            case = case.with_verdict(verdict)
            item.stash[CASE_KEY] = case
        if not verdict.passed:
            message = _failure_text(item.config, case, verdict) if case else verdict.message
            item.stash[OWN_FAILURE_KEY] = True
            # raised masked: pytest's reprs of the exception (the --debug trace) cut its
            # text before any scrubber sees it, and a cut secret is no form (round 50a F4)
            pytest.fail(process_scrubber().scrub(message), pytrace=False)

    return _enforce


def _failure_text(config: pytest.Config, case: CaseInfo, verdict: Verdict) -> str:
    """The failure message, its bracket saying where the case stands against --fail-on."""
    threshold = Severity(config.option.smokegate_fail_on)
    standing = failure_standing(case.severity, verdict.verified, threshold)
    return failure_message(case, verdict, severity_label(case.severity, standing, threshold))
