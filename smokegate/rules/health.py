"""Health expectations of an `endpoints:` entry, judged on a `ProbeResult`."""

from __future__ import annotations

import json
import re
from typing import Any

from smokegate.config import Endpoint
from smokegate.facts.http import ProbeResult
from smokegate.rules.hints import health_hint
from smokegate.verdict import Verdict


def measured_http(result: ProbeResult) -> str:
    """'503 · 1840 ms' — the value the report's Measured column shows."""
    status = str(result.status) if result.status is not None else "no response"
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "-"
    return f"{status} · {latency}"


def no_response(result: ProbeResult, measured: str, hint: str = "") -> Verdict:
    """The verdict of any HTTP rule on a probe that got no response. A request that was
    never sent (a URL the mocked world lacks) verified nothing about the target."""
    return Verdict(
        problems=(result.error or "no response",),
        measured=measured,
        hint=hint,
        verified=result.sent,
    )


def check_endpoint(endpoint: Endpoint, result: ProbeResult) -> Verdict:
    """Every unmet expectation, each with the measured value next to the expected one."""
    measured = measured_http(result)
    if result.status is None:
        problems = [result.error or "no response"]
        return no_response(result, measured, hint=health_hint(result, problems))
    problems: list[str] = []
    if result.status not in endpoint.expected_statuses:
        expected = " or ".join(str(s) for s in endpoint.expected_statuses)
        problems.append(f"status {result.status}, expected {expected}")
    if result.error:
        problems.append(result.error)
    if (
        endpoint.max_latency_ms is not None
        and result.latency_ms is not None
        and (result.latency_ms > endpoint.max_latency_ms)
    ):
        problems.append(f"latency {result.latency_ms:.0f} ms > {endpoint.max_latency_ms:g} ms")
    problems.extend(_header_problems(endpoint.headers, result))
    problems.extend(_body_problems(endpoint, result))
    hint = health_hint(result, problems) if problems else ""
    return Verdict(problems=tuple(problems), measured=measured, hint=hint)


def _header_problems(expected: dict[str, str], result: ProbeResult) -> list[str]:
    problems = []
    for name, prefix in expected.items():
        actual = result.headers.get(name)
        if actual is None:
            problems.append(f"header {name} missing, expected '{prefix}'")
        elif not actual.startswith(prefix):
            problems.append(f"header {name} is '{actual}', expected '{prefix}…'")
    return problems


def _body_problems(endpoint: Endpoint, result: ProbeResult) -> list[str]:
    problems = []
    cut = " (body truncated at the size cap)" if result.truncated else ""
    if endpoint.body_contains is not None and endpoint.body_contains not in result.text:
        problems.append(f"body does not contain '{endpoint.body_contains}'{cut}")
    if endpoint.body_regex is not None and not re.search(endpoint.body_regex, result.text):
        problems.append(f"body does not match /{endpoint.body_regex}/{cut}")
    if endpoint.json_subset is not None:
        try:
            document = result.json()
        except ValueError as exc:
            problems.append(str(exc))
        else:
            problems.extend(json_subset_problems(endpoint.json_subset, document))
    return problems


def json_subset_problems(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` differs from the subset `expected`: dicts match on the keys given,
    everything else on equality."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"json {path} is {_short(actual)}, expected an object"]
        problems = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                problems.append(f"json {where} missing, expected {_short(value)}")
            else:
                problems.extend(json_subset_problems(value, actual[key], where))
        return problems
    if not _json_equal(expected, actual):
        return [f"json {path} is {_short(actual)}, expected {_short(expected)}"]
    return []


def _json_equal(expected: Any, actual: Any) -> bool:
    """JSON equality: unlike Python's, `true` is not `1` and `false` is not `0`."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_json_equal, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _json_equal(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
