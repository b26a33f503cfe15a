"""Health expectations of an `endpoints:` entry, judged on a `ProbeResult`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from smokegate import linear_re
from smokegate.config import Endpoint
from smokegate.facts.http import ProbeResult
from smokegate.http_spec import json_equal
from smokegate.redact import (
    MASK,
    excerpt,
    masked_header_value,
    path_names_credential,
    process_scrubber,
    scrub_window,
    shown_url,
)
from smokegate.rules.hints import health_hint
from smokegate.rules.jmespath import dumped_start, jmespath_problems
from smokegate.verdict import Verdict

BODY_EXCERPT_CHARS = 160
HEADER_VALUE_CHARS = 200
SHORT_VALUE_CHARS = 80


def measured_http(result: ProbeResult) -> str:
    """'503 · 1840 ms' — the value the report's Measured column shows; 'not run' for a
    request that was never sent because its credentials were missing."""
    if result.status is None and not result.sent and result.latency_ms is None:
        return "not run"
    status = str(result.status) if result.status is not None else "no response"
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "-"
    # round 27c: nginx's `error_page` turned a dead upstream's 502 into a 302 to a
    # maintenance page on the same host, whose 200 passed with nothing saying so
    hops = result.redirects
    followed = f" · after {hops} redirect{'s' if hops > 1 else ''}" if hops else ""
    return f"{status} · {latency}{followed}"


def no_response(result: ProbeResult, measured: str, hint: str = "") -> Verdict:
    """The verdict of any HTTP rule on a probe that got no response. A request that was
    never sent (a URL the mocked world lacks, an unset credential variable, no OAuth2
    token) verified nothing about the target."""
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
        hint = health_hint(result, problems, credentialed=endpoint.auth is not None)
        return no_response(result, measured, hint=hint)
    problems: list[str] = []
    details = [_where(result)]
    if not endpoint.status_ok(result.status):
        problems.append(f"status {result.status}, expected {endpoint.expected_status_text}")
        quoted = body_excerpt(result)
        details.append(f"response body: {quoted}" if quoted else "")
        details.append(proxy_gateway_note(result))
    if result.error:
        problems.append(result.error)
    if (
        endpoint.max_latency_ms is not None
        and result.latency_ms is not None
        and (result.latency_ms > endpoint.max_latency_ms)
    ):
        problems.append(f"latency {result.latency_ms:.0f} ms > {endpoint.max_latency_ms:g} ms")
    downgraded = _downgrade(result)
    if downgraded:
        problems.append(downgraded)
        details = [d for d in details if not d.startswith("answered by ")]
    problems.extend(_header_problems(endpoint.headers, result))
    if not result.error:  # a body that did not arrive whole says nothing about its format
        problems.extend(_body_problems(endpoint, result))
    hint = health_hint(result, problems, credentialed=endpoint.auth is not None) if problems else ""
    detail = "\n".join(d for d in details if d) if problems else ""
    elsewhere = other_host(result)
    extra = {"answered_by": elsewhere} if elsewhere else {}
    return Verdict(
        problems=tuple(problems), measured=measured, hint=hint, detail=detail, extra=extra
    )


def _host_port(url: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(url)
        default = {"http": 80, "https": 443}.get(parts.scheme.lower())
        return (parts.hostname or "").lower().rstrip("."), parts.port or default
    except ValueError:
        return url, None


def other_host(result: ProbeResult) -> str:
    """The host and port that answered after redirects, when they are not the target's
    own ('' otherwise). Followed and judged like any answer (an apex redirecting to www, a
    login page on an SSO host are common), and said in every report: the check judged
    another server than the one its URL names."""
    if not result.redirects or not result.final_url:
        return ""
    asked, answered = _host_port(result.url), _host_port(result.final_url)
    if asked == answered:
        return ""
    host, port = answered
    return excerpt(f"{host}:{port}" if port else host, 200)


def _downgrade(result: ProbeResult) -> str:
    """An https:// endpoint whose redirects led to plain http:// (round 36c): the answer
    judged came over no TLS, open to anyone on the path to read and change; it passed with
    a note that another host answered."""
    if not result.redirects or not result.final_url:
        return ""
    asked, answered = urlsplit(result.url).scheme.lower(), urlsplit(result.final_url).scheme
    plural = "s" if result.redirects > 1 else ""
    if asked == "https" and answered.lower() == "http":
        return (
            f"redirected from https to plain http: answered by {shown_url(result.final_url)} "
            f"after {result.redirects} redirect{plural}, over no TLS"
        )
    if asked == "https" and result.plain_http_hop:
        # back to https after a plain hop (round 37c): that hop's Location, sent in the
        # clear, chose the host that answered; anyone on the path could have changed it
        return (
            f"redirected from https through plain http: {result.plain_http_hop} was asked "
            f"over no TLS before the chain came back to https (after {result.redirects} "
            f"redirect{plural}): anyone on the path could change where it led"
        )
    return ""


def proxy_gateway_note(result: ProbeResult) -> str:
    """A gateway status through a forward proxy may be the proxy's own (squid's 502 for a
    target it could not reach was read as the service's server error; round 21c)."""
    if result.forward_proxy and result.status in PROXY_GATEWAY_STATUSES:
        return (
            f"answered through the proxy {result.forward_proxy}: a {result.status} may be "
            "the proxy's own, when it could not reach the target"
        )
    return ""


PROXY_GATEWAY_STATUSES = (502, 503, 504)


def _where(result: ProbeResult) -> str:
    """Which URL answered, when redirects were followed to it."""
    if not result.redirects or not result.final_url:
        return ""
    plural = "s" if result.redirects > 1 else ""
    return f"answered by {shown_url(result.final_url)} after {result.redirects} redirect{plural}"


_TAG = linear_re.compile(r"<[^>]*>")
_SCRIPT = linear_re.compile(r"(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>")


def body_excerpt(result: ProbeResult, limit: int = BODY_EXCERPT_CHARS) -> str:
    """The start of the body, on one line, HTML tags dropped: for a wrong status it is often
    the diagnosis ("The plain HTTP request was sent to HTTPS port", "upstream connect
    error"). `excerpt` masks any secret a server echoes in it, before it cuts."""
    # scrubbed before the tags go: a secret with `<...>` in it (a password echoed in a
    # page) would otherwise lose its middle to the tag stripping and no longer be found
    text = process_scrubber().scrub(scrub_window(result.text, limit))
    content_type = result.headers.get("Content-Type", "").lower()
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    text = excerpt(text, limit)
    return f'"{text}"' if text else ""


def _header_problems(expected: dict[str, str], result: ProbeResult) -> list[str]:
    problems = []
    for name, prefix in expected.items():
        actual = result.headers.get(name)
        if actual is None:
            problems.append(f"header {name} missing, expected '{prefix}'")
        elif not actual.startswith(prefix):
            shown = excerpt(masked_header_value(name, actual), HEADER_VALUE_CHARS)
            problems.append(f"header {name} is '{shown}', expected '{prefix}…'")
    return problems


def _regex_problems(pattern: str, result: ProbeResult) -> list[str]:
    """A match found before a cut is a match in the whole body (RE2 has no look-ahead: only
    `$`, `\\z` and `\\b` look past a match, and they stop at its end). One that reaches the
    cut may hold only because the body ends there (`ok$`, `[^E]*$`): the unread rest
    decides it, so it is no pass (round 14: an anchored regex passed on a cut body)."""
    found = linear_re.compile(pattern).search(result.text)
    if found is None:
        cut = " (body truncated at the size cap)" if result.truncated else ""
        return [f"body does not match /{pattern}/{cut}"]
    if result.truncated and found.end() >= len(result.text):
        return [
            f"body matches /{pattern}/ only up to where it was cut at the size cap: the "
            "rest was not read, so the match cannot be judged (raise defaults.max_body_kb)"
        ]
    return []


def _body_problems(endpoint: Endpoint, result: ProbeResult) -> list[str]:
    problems = []
    cut = " (body truncated at the size cap)" if result.truncated else ""
    if endpoint.body_contains is not None and endpoint.body_contains not in result.text:
        problems.append(f"body does not contain '{endpoint.body_contains}'{cut}")
    if endpoint.body_regex is not None:
        problems.extend(_regex_problems(endpoint.body_regex, result))
    if endpoint.json_subset is not None or endpoint.jmespath:
        try:
            document = result.json()
        except ValueError as exc:
            problems.append(str(exc))
        else:
            try:
                if endpoint.json_subset is not None:
                    problems.extend(json_subset_problems(endpoint.json_subset, document))
                problems.extend(jmespath_problems(endpoint.jmespath_checks, document))
            except RecursionError:  # parsed, yet too deep to walk: never judged as a pass
                problems.append("body is JSON nested too deeply to be judged")
    return problems


def json_subset_problems(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` differs from the subset `expected`.

    Objects match on the keys given (others may be there too). A list matches when each
    expected element matches its own element of the actual list, in any order, the actual
    list holding any others besides: `[{id: 1}]` means "has an element with id 1", not
    "is exactly one element". Scalars match on JSON equality. For exact lists, order and
    length, use `jmespath:` (`items: {equals: [...]}`, `length(items): 3`).
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"json {path} is {_short_at(path, actual)}, expected an object"]
        problems = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                problems.append(f"json {where} missing, expected {_short(value)}")
            else:
                problems.extend(json_subset_problems(value, actual[key], where))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"json {path} is {_short_at(path, actual)}, expected an array"]
        missing = _unmatched(expected, actual)
        size = f"{len(actual)} element{'s' if len(actual) != 1 else ''}"
        return [f"json {path} has no element matching {_short(item)} ({size})" for item in missing]
    if not json_equal(expected, actual):
        return [f"json {path} is {_short_at(path, actual)}, expected {_short(expected)}"]
    return []


def json_subset_matches(expected: Any, actual: Any) -> bool:
    """Whether `actual` holds the subset `expected`, as `json_subset_problems` judges it,
    without writing a message: each element of a long array is tried against each expected
    one, and a message built and scrubbed for every one that did not match took 0.3 ms
    each, minutes for 400 000 numbers past every timeout (round 41c F6)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and json_subset_matches(value, actual[key])
            for key, value in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and not _unmatched(expected, actual)
    return json_equal(expected, actual)


def _unmatched(expected: list[Any], actual: list[Any]) -> list[Any]:
    """The expected elements left without an actual element of their own, in a maximum
    matching (Kuhn's augmenting paths: `[{a: 1}, {a: 1, b: 2}]` against
    `[{a: 1, b: 2}, {a: 1}]` matches both, where a greedy pass would not)."""
    fits = [
        [j for j, item in enumerate(actual) if json_subset_matches(want, item)] for want in expected
    ]
    owner: dict[int, int] = {}  # actual index -> expected index

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    placed = {i for i in range(len(expected)) if place(i, set())}
    return [want for i, want in enumerate(expected) if i not in placed]


def _json_equal(expected: Any, actual: Any) -> bool:
    return json_equal(expected, actual)


def _short_at(path: str, value: Any) -> str:
    """The value found at `path`, masked when the path names a credential."""
    return MASK if path_names_credential(path) else _short(value)


def _short(value: Any) -> str:
    """A JSON value as a message shows it: scrubbed, then cut (`excerpt`)."""
    return excerpt(dumped_start(value), SHORT_VALUE_CHARS)
