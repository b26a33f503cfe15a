"""JMESPath predicates on parsed JSON: each at its boundaries, and the message of an unmet
line (the expression, the value found, what was wanted)."""

from __future__ import annotations

from typing import Any

import pytest

from smokegate.http_spec import compile_jmespath
from smokegate.rules.jmespath import holds, jmespath_problems

DOC = {
    "items": [{"id": 1, "status": "ok"}, {"id": 2, "status": "failed"}],
    "meta": {"version": "v2.4.1", "count": 2, "ready": True, "region": None},
}


@pytest.mark.parametrize(
    ("name", "expected", "found", "result"),
    [
        ("equals", 1, 1, True),
        ("equals", 1, True, False),  # JSON: true is not 1
        ("equals", [1, 2], [1, 2], True),
        ("not_equals", "a", "b", True),
        ("not_equals", "a", "a", False),
        ("not_equals", "down", None, False),  # round 20: a missing path is no other value
        ("not_equals", None, None, False),
        ("lt", 2, 1, True),
        ("lt", 2, 2, False),
        ("le", 2, 2, True),
        ("gt", 0, 1, True),
        ("gt", 0, 0, False),
        ("ge", 0, 0, True),
        ("gt", 0, "5", False),  # a string is not a number
        ("gt", 0, None, False),
        ("gt", 0, True, False),
        ("matches", r"^v\d+", "v2.4.1", True),
        ("matches", r"^v\d+", "2.4.1", False),
        ("matches", r"\d", 5, False),
        ("contains", "ok", "token ok", True),
        ("contains", 2, [1, 2], True),
        ("contains", {"a": 1}, [{"a": 1}], True),
        ("contains", 3, [1, 2], False),
        ("contains", "key", {"key": 1}, True),
        ("contains", 1, 1, False),
        ("exists", True, 0, True),
        ("exists", True, None, False),
        ("exists", False, None, True),
        ("type", "array", [], True),
        ("type", "number", 1.5, True),
        ("type", "boolean", False, True),
        ("type", "null", None, True),
        ("type", "string", 1, False),
        ("type", "object", {}, True),
    ],
)
def test_each_predicate(name: str, expected: Any, found: Any, result: bool) -> None:
    assert holds(name, expected, found) is result


def test_met_lines_are_silent_and_unmet_ones_are_each_listed() -> None:
    checks = compile_jmespath(
        {
            "length(items)": {"gt": 0},
            "items[0].status": "ok",
            "meta.version": {"matches": r"^v\d+"},
            "length(items[?status == 'failed'])": 0,
            "meta.count": {"ge": 3, "lt": 10},
            "meta.region": {"exists": True},
            "items[*].id": {"contains": 7},
            "meta.ready": {"type": "string"},
        }
    )
    assert jmespath_problems(checks, DOC) == [
        "jmespath length(items[?status == 'failed']) is 1, expected 0",
        "jmespath meta.count is 2, expected >= 3",
        "jmespath meta.region is null (not found), expected to exist",
        "jmespath items[*].id is [1, 2] (array), expected to contain 7",
        "jmespath meta.ready is true, expected type string",
    ]
