"""Which cases each process of a parallel run gets: grouped by target, decided once.

Under pytest-xdist every worker collects the same cases (xdist checks that), and
smokegate's scheduler gives each worker its whole share when the run starts. A worker
then probes everything it will run in one concurrent batch instead of one small batch
per chunk of its queue, and the cases of one target (`test_endpoint[api]` and
`test_security_headers[api]` read one probe; the IAM cases of one AWS account read one
audit) stay on one worker, so no target is probed twice.

The plan is a pure function of the collected node ids and the number of workers, so the
controller (which assigns) and each worker (which probes its share before its first
case) compute the same plan without passing it around. Pure, no pytest: tested alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

# The name of the plan's version that the controller announces to its workers: a worker
# computes its share only when the controller says it assigns by this very plan.
PLAN = "smokegate-by-target-1"


def case_id(nodeid: str) -> str:
    """The id inside a node id's brackets (`api` for `...::test_endpoint[api]`), or ""."""
    name = nodeid.rsplit("::", 1)[-1]  # cut-ok: a node id, parsed
    start = name.find("[")
    return name[start + 1 : -1] if start >= 0 and name.endswith("]") else ""  # cut-ok: parsed


def function_name(nodeid: str) -> str:
    """`test_endpoint` for `checks/test_health.py::test_endpoint[api]`."""
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]  # cut-ok: a node id, parsed


def group_key(nodeid: str, account_checks: Collection[str]) -> str:
    """The unit a case is scheduled with: its target, or its AWS account for an IAM case.

    `account_checks` are the test functions whose ids start with `<account>/` when the
    env audits several accounts (user names cannot hold a `/`); an IAM case of a
    single-account audit, and any case without brackets, is a unit of its own.
    """
    function = function_name(nodeid)
    target = case_id(nodeid)
    if not target:
        return nodeid
    if function in account_checks:
        return "account:" + target.split("/", 1)[0]  # cut-ok: a case id, parsed
    return "target:" + target


def plan_shares(
    nodeids: Sequence[str], workers: int, account_checks: Collection[str] = ()
) -> list[list[int]]:
    """Indices into `nodeids` for each of `workers` shares, balanced by number of cases.

    Groups go, largest first, to the share with the fewest cases so far (ties: the lower
    share), so a share's size differs from another's by at most the largest group. Each
    share lists its indices in collection order.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    groups: dict[str, list[int]] = {}
    for index, nodeid in enumerate(nodeids):
        groups.setdefault(group_key(nodeid, account_checks), []).append(index)
    shares: list[list[int]] = [[] for _ in range(workers)]
    # sorted() is stable: equal-sized groups keep their collection order on both sides
    for members in sorted(groups.values(), key=len, reverse=True):
        smallest = min(range(workers), key=lambda w: (len(shares[w]), w))
        shares[smallest].extend(members)
    for share in shares:
        share.sort()
    return shares


def worker_index(workerid: str) -> int | None:
    """0 for xdist's `gw0`, 3 for `gw3`; None for an id of another shape."""
    digits = workerid.removeprefix("gw")
    return int(digits) if digits.isdigit() and workerid.startswith("gw") else None


def in_shard(position: int, splits: int, group: int) -> bool:
    """Whether the unit at `position` (0-based, in an order every shard computes alike) goes
    to `group` (1-based) of `splits`: round robin, so shard 1 takes the first."""
    return position % splits == group - 1


# `-n auto`: a worker costs about half a CPU second to start (interpreter, pytest, plugins,
# collection: measured ~0.5 s on this project's CI machine) and every case about 1 ms of
# CPU in pytest and the report plugins, while the probes of one process already overlap.
# A worker pays for itself past about 2 000 cases; below that the run is fastest serial.
CASES_PER_WORKER = 2000


def auto_workers(estimated_cases: int, cpus: int) -> int:
    """Workers for `-n auto`: 0 (a serial run) unless the cases' CPU outweighs start-up."""
    return max(0, min(cpus, estimated_cases // CASES_PER_WORKER))
