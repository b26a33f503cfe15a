"""JMESPath predicates on parsed JSON: each at its boundaries, and the message of an unmet
line (the expression, the value found, what was wanted)."""

from __future__ import annotations

from typing import Any

import pytest

from smokegate.http_spec import compile_jmespath, holds
from smokegate.rules.jmespath import jmespath_problems

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


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("length(@)", {"ge": 0}),
        ("@ == @", True),
        ("to_string([@])", {"matches": "^\\["}),
        ("@ || 'x'", {"exists": True}),
        ("type(@)", {"type": "string"}),
        ("length(to_string(@))", {"gt": 1}),
        ("not_null(missing_field, 'fallback')", "fallback"),
        ("starts_with(to_string(@), '')", True),
        ("[@][0] != `null` || `true`", True),
        # round 22b: raise on `[]` and "error", hold on every object
        ("length(keys(@))", {"ge": 0}),
        ("keys(@)", {"exists": True}),
        ("values(@)", {"type": "array"}),
        ("length(keys(@)) == length(values(@))", True),
    ],
)
def test_a_line_that_holds_on_every_failing_answer_is_refused(
    expression: str, expected: Any
) -> None:
    """It reads the body, so it is no literal; yet a maintenance answer meets it."""
    with pytest.raises(ValueError, match="holds on every failing answer tried") as caught:
        compile_jmespath({expression: expected})
    assert str(caught.value).startswith(f"'{expression}' holds on every failing answer")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("status", "ok"),
        ("status", {"not_equals": "down"}),
        ("length(items)", {"gt": 0}),
        ("length(items[?status == 'failed'])", 0),
        ("meta.version", {"matches": r"^v\d+"}),
        ("meta.region", {"exists": True}),
        ("type(@)", "object"),
        ("keys(@)", {"contains": "status"}),
        ("not_null(errors, `[]`) | length(@)", 0),
        ("healthy", True),
    ],
)
def test_lines_that_some_failing_answer_breaks_are_kept(expression: str, expected: Any) -> None:
    (check,) = compile_jmespath({expression: expected})
    assert check.expression == expression


def test_an_absence_beside_a_line_that_can_fail_is_kept_alone_it_is_refused() -> None:
    """`{exists: false}` holds on every failing answer by nature: beside a line that says
    what a healthy body holds it is a real expectation; alone it checks nothing."""
    checks = compile_jmespath({"status": "ok", "headers.Authorization": {"exists": False}})
    assert [c.expression for c in checks] == ["status", "headers.Authorization"]
    with pytest.raises(ValueError, match="holds on every failing answer tried"):
        compile_jmespath({"headers.Authorization": {"exists": False}})
    with pytest.raises(ValueError, match=r"\(every line of jmespath: holds on them\)"):
        compile_jmespath({"headers.Authorization": {"exists": False}, "length(@)": {"ge": 0}})
