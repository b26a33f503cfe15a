"""`jmespath:` assertions on a JSON body: each expression's value against its predicates.

Expressions were compiled and the predicates type-checked when the env file was loaded
(`smokegate.http_spec.compile_jmespath`), so here only the response can be wrong. Each unmet
line is listed with the expression, the value found and what was wanted, and every line is
judged: one run shows everything that is off.
"""

from __future__ import annotations

import json
from typing import Any

from smokegate import linear_re
from smokegate.http_spec import JmesCheck
from smokegate.redact import MASK, excerpt, path_names_credential

_SHORT_CHARS = 80
_REASON_CHARS = 200


def jmespath_problems(checks: tuple[JmesCheck, ...], document: Any) -> list[str]:
    problems = []
    for check in checks:
        try:
            found = check.search(document)
        except RecursionError:
            raise  # the caller says "nested too deeply"
        except Exception as exc:  # JMESPath's own type errors: the body's shape, not a bug
            # (`length(orders)` on a number), said as a problem of this line, never a
            # traceback that would quote the whole document under -l
            reason = excerpt(str(exc), _REASON_CHARS)
            problems.append(
                f"jmespath {check.expression} cannot be evaluated on this body: {reason}"
            )
            continue
        unmet = [
            _wanted(name, expected)
            for name, expected in check.predicates
            if not holds(name, expected, found)
        ]
        if unmet:
            shown = MASK if path_names_credential(check.expression) else describe(found)
            problems.append(
                f"jmespath {check.expression} is {shown}, expected {' and '.join(unmet)}"
            )
    return problems


def holds(name: str, expected: Any, found: Any) -> bool:
    """Whether `found` (a JMESPath result; None when the path does not exist) meets one
    predicate. Ordering predicates want a number: anything else does not meet them."""
    if name == "equals":
        return json_equal(expected, found)
    if name == "not_equals":
        # a value that is not there is no value "other than" anything: `state.phase:
        # {not_equals: down}` passed on a body without `state` (round 20); JMESPath says
        # missing and null alike, so a null fails it too
        return found is not None and not json_equal(expected, found)
    if name in ("lt", "le", "gt", "ge"):
        if not _is_number(found):
            return False
        return {
            "lt": found < expected,
            "le": found <= expected,
            "gt": found > expected,
            "ge": found >= expected,
        }[name]
    if name == "matches":
        return isinstance(found, str) and linear_re.search(expected, found)
    if name == "contains":
        if isinstance(found, str):
            return isinstance(expected, str) and expected in found
        if isinstance(found, list):
            return any(json_equal(expected, item) for item in found)
        if isinstance(found, dict):
            return isinstance(expected, str) and expected in found
        return False
    if name == "exists":
        return (found is not None) == expected
    if name == "type":
        return json_type(found) == expected
    raise ValueError(f"unknown predicate {name}")  # load_env refuses it first


def _wanted(name: str, expected: Any) -> str:
    symbols = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if name == "equals":
        return _short(expected)
    if name == "not_equals":
        return f"a value other than {_short(expected)}"
    if name in symbols:
        return f"{symbols[name]} {_short(expected)}"
    if name == "matches":
        return f"to match /{expected}/"
    if name == "contains":
        return f"to contain {_short(expected)}"
    if name == "exists":
        return "to exist" if expected else "not to exist"
    return f"type {expected}"


def describe(found: Any) -> str:
    """The value found, as JSON, with a missing path said in words."""
    if found is None:
        return "null (not found)"
    text = _short(found)
    return f"{text} ({json_type(found)})" if isinstance(found, list | dict) else text


def json_type(value: Any) -> str:
    """JMESPath's `type()` names: string, number, boolean, array, object, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_equal(expected: Any, actual: Any) -> bool:
    """JSON equality: unlike Python's, `true` is not `1` and `false` is not `0`."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(json_equal, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            json_equal(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    """A value as a message shows it: scrubbed, then cut (`excerpt`)."""
    return excerpt(dumped_start(value), _SHORT_CHARS)


# How much of a JSON value is rendered to be quoted: far past what a message shows, so the
# scrubber sees any secret whole (and `excerpt` masks a fragment cut at the end).
RENDERED_CHARS = 64 * 1024


def dumped_start(value: Any, limit: int = RENDERED_CHARS) -> str:
    """The start of `json.dumps(value)`, rendered lazily and stopped past `limit`: a
    parsed body of 64 MiB (`[{},{},...]`) dumped whole to quote 80 characters of it took
    gigabytes in chunks (attack round 8b, F7)."""
    parts: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(default=str).iterencode(value):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return "".join(parts)
