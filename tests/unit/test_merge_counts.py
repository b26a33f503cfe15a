"""The merge's count of the env's cases against what the shards ran: distinct cases of
smokegate's own, so neither a repeated case nor a foreign testcase makes up for a lost one,
and its console lines carry no control character from the files it read."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.cases import CaseInfo
from smokegate.merge import ShardCase, ShardReport, _say, check_complete
from smokegate.severity import Severity


def shard_case(name: str, kind: str = "health") -> ShardCase:
    info = CaseInfo(check="endpoint", target=name, severity=Severity.HIGH, kind=kind)
    return ShardCase(f"checks.test_health::test_endpoint[{name}]", info, "passed", "", True)


def shard(group: int, cases: list[ShardCase], split_cases: int = 4) -> ShardReport:
    return ShardReport(
        path=Path(f"shard-{group}.xml"),
        env="prod",
        splits=2,
        group=group,
        fail_on="low",
        verdict="passed",
        gate="gate PASSED",
        unattributed=0,
        cases=cases,
        coverage="complete",
        split_cases=split_cases,
    )


def test_every_case_in_some_shard_is_complete() -> None:
    shards = [
        shard(1, [shard_case("a"), shard_case("b")]),
        shard(2, [shard_case("c"), shard_case("d")]),
    ]
    assert check_complete(shards) == ""


@pytest.mark.parametrize(
    "filler",
    [
        shard_case("c"),  # a case repeated in its own shard
        ShardCase("other::test_x", None, "passed", "", True),  # a testcase that is not smokegate's
        shard_case("alice", kind="iam"),  # an IAM case: dealt per account, not split
    ],
    ids=["repeated", "foreign", "iam"],
)
def test_a_lost_case_is_not_made_up_for(filler: ShardCase) -> None:
    """Attack round 5: case d dropped, the count made up with a repeat or a foreign entry."""
    shards = [shard(1, [shard_case("a"), shard_case("b")]), shard(2, [shard_case("c"), filler])]
    said = check_complete(shards)
    if filler.nodeid == shard_case("c").nodeid:  # a repeat within a shard is an altered file
        assert "two of its cases share the id checks.test_health::test_endpoint[c]" in said
    else:
        assert "1 of the env's 4 cases (outside the IAM audit) ran in no shard" in said


def test_console_lines_of_the_merge_carry_no_control_characters(capsys) -> None:
    _say("env\x9b2J\x85gate PASSED\nfake line\x1b[31m")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert not any(c in out for c in "\x9b\x85\x1b")
