"""The plan that gives each xdist worker its share, grouped by target, and the deal of AWS
accounts to pytest-split shards: pure functions both sides of a run compute alike."""

from __future__ import annotations

import pytest

from smokegate.shares import case_id, group_key, in_shard, plan_shares, worker_index

IAM = frozenset({"test_user_age", "test_root_mfa"})


def test_case_id_and_group_of_a_node_id() -> None:
    assert case_id("checks/test_health.py::test_endpoint[api.example.com/health]") == (
        "api.example.com/health"
    )
    assert case_id("checks/test_iam.py::test_root_mfa") == ""
    # an endpoint whose name holds a "/" is its own target, not an "account"
    assert group_key("checks/test_health.py::test_endpoint[a.com/x]", IAM) == "target:a.com/x"
    assert group_key("checks/test_iam.py::test_user_age[prod/alice]", IAM) == "account:prod"
    assert group_key("checks/test_iam.py::test_root_mfa[prod]", IAM) == "account:prod"
    assert (
        group_key("checks/test_iam.py::test_root_mfa", IAM) == "checks/test_iam.py::test_root_mfa"
    )


def test_the_cases_of_one_target_or_account_share_a_worker() -> None:
    nodeids = [
        "h.py::test_endpoint[a]",
        "h.py::test_endpoint[b]",
        "h.py::test_security_headers[a]",
        "h.py::test_security_headers[b]",
        "i.py::test_user_age[prod/alice]",
        "i.py::test_user_age[prod/bob]",
        "i.py::test_root_mfa[prod]",
        "i.py::test_root_mfa[dev]",
    ]
    shares = plan_shares(nodeids, 3, IAM)
    placed = {nodeids[i]: w for w, share in enumerate(shares) for i in share}
    assert sorted(i for share in shares for i in share) == list(range(len(nodeids)))
    assert placed["h.py::test_endpoint[a]"] == placed["h.py::test_security_headers[a]"]
    assert placed["h.py::test_endpoint[b]"] == placed["h.py::test_security_headers[b]"]
    prod = {placed[n] for n in nodeids if "[prod" in n}
    assert len(prod) == 1
    assert all(share == sorted(share) for share in shares)  # collection order kept


def test_shares_are_balanced_by_cases() -> None:
    nodeids = [f"h.py::test_endpoint[e{i}]" for i in range(10)]
    assert [len(s) for s in plan_shares(nodeids, 4)] == [3, 3, 2, 2]
    assert plan_shares(nodeids, 1) == [list(range(10))]
    assert plan_shares([], 2) == [[], []]
    with pytest.raises(ValueError):
        plan_shares(nodeids, 0)


def test_worker_ids_and_the_round_robin_of_shards() -> None:
    assert worker_index("gw0") == 0
    assert worker_index("gw12") == 12
    assert worker_index("master") is None
    dealt = {g: [p for p in range(7) if in_shard(p, 3, g)] for g in (1, 2, 3)}
    assert dealt == {1: [0, 3, 6], 2: [1, 4], 3: [2, 5]}
