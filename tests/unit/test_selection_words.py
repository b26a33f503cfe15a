"""What a run's selection says it left out: the words the reports print beside a partial
gate."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from smokegate.pytest_plugin.selection import selection_text

ROOT = Path(__file__).resolve().parents[2]


def _config(**options: object) -> SimpleNamespace:
    option = SimpleNamespace(
        **{"markexpr": "", "keyword": "", "deselect": None, "lf": False, **options}
    )
    return SimpleNamespace(
        option=option,
        rootpath=ROOT,
        getini=lambda name: "checks",
        args=["checks/"],
        invocation_params=SimpleNamespace(dir=ROOT),
    )


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"stepwise": True}, "--stepwise"),
        ({"stepwise_skip": True}, "--stepwise-skip"),
        ({"lf": True}, "--last-failed"),
    ],
)
def test_a_run_that_skips_what_passed_before_says_so(options, said) -> None:
    """Round 34b F6: a stepwise run said "full: every check of the env" in its JUnit
    selection property, beside a partial count."""
    assert said in selection_text(_config(**options))


def test_a_full_run_says_nothing() -> None:
    assert selection_text(_config(stepwise=False, stepwise_skip=False)) == ""
