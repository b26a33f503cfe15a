"""The prober without a network: an invalid URL is a result, not a raise; requests' per-request
environment lookups are skipped only when the environment holds nothing for them; retries
extend a request's deadline; the watchdog aborts overdue attempts in deadline order.

The prober against real servers on 127.0.0.1: tests/integration/test_gather_probe.py and
test_gather_probe_deadlines.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from smokegate.gather.probe import Prober, ProbeRequest
from tests.support.environment import clear_environment

MB = 1024 * 1024


@pytest.fixture
def prober() -> Iterator[Prober]:
    instance = Prober(max_workers=64, max_body_bytes=MB)
    yield instance
    instance.close()


def probe(prober: Prober, url: str, timeout_s: float = 2.0, **kwargs: Any) -> Any:
    return prober.probe(ProbeRequest(key="k", url=url, timeout_s=timeout_s, **kwargs))


def test_invalid_url_does_not_raise(prober: Prober) -> None:
    result = probe(prober, "http:///no-host")
    assert result.status is None
    assert result.error is not None and result.error.startswith("invalid URL")


def test_environment_lookups_skipped_only_when_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    clear_environment(monkeypatch, tmp_path)
    assert Prober().session.trust_env is False
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    with_bundle = Prober()
    assert with_bundle.session.trust_env is False  # the bundle is read once, here:
    assert with_bundle.trust.cafile == str(tmp_path / "ca.pem")
    assert with_bundle.trust.source == f"$REQUESTS_CA_BUNDLE ({tmp_path / 'ca.pem'})"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert Prober().session.trust_env is True
    monkeypatch.delenv("HTTPS_PROXY")
    # a netrc file is never read: credentials come from the env file's variables only
    (tmp_path / "no-netrc").write_text("machine example.com login a password b\n")
    assert Prober().session.trust_env is False


def test_retries_extend_the_deadline(prober: Prober) -> None:
    retrying = Prober(retries=2)
    try:
        request = ProbeRequest(key="k", url="http://127.0.0.1:1/", timeout_s=2)
        assert prober.deadline_s(request) == 2
        # three attempts of 2 s; urllib3 sleeps 0 s before the first retry, 0.4 s before the next
        assert retrying.deadline_s(request) == pytest.approx(2 * 3 + 0.4)
    finally:
        retrying.close()


def test_watchdog_aborts_in_deadline_order_and_spares_forgotten_probes() -> None:
    """Deadlines far ahead, then a nearer one: the watchdog wakes for the nearer one (it was
    asleep until the far ones), aborts it, and leaves both ended and distant probes alone."""
    from smokegate.gather.probe import _Attempt, _Watchdog

    watchdog = _Watchdog()
    now = time.monotonic()
    distant = [_Attempt() for _ in range(200)]
    for attempt in distant:
        watchdog.watch(attempt, now + 60)
    for _ in range(200):  # let it fall asleep until the distant deadline: the case to test
        with watchdog._cond:
            if watchdog._wake_at == now + 60:
                break
        time.sleep(0.01)
    assert watchdog._wake_at == now + 60
    ended = _Attempt()
    watchdog.watch(ended, now + 0.05)
    watchdog.forget(ended)
    ended.end()
    overdue = _Attempt()
    watchdog.watch(overdue, now + 0.1)
    try:
        for _ in range(200):  # up to 10 s: a watchdog that never wakes fails, not hangs
            if overdue.aborted:
                break
            time.sleep(0.05)
        assert overdue.aborted
        assert not ended.aborted
        assert not any(attempt.aborted for attempt in distant)
    finally:
        watchdog.close()
    assert all(attempt.aborted for attempt in distant)  # close cuts off what is in flight
