"""The words of env-file errors: what a person who just made the mistake needs to read.

`smokegate.config` finds the mistake (file, entry, field); this module says what to do in
plain words: an indentation or a tab in YAML, a URL without its scheme, a date in another
format, a field that does not exist (and the one meant, only if it is close in meaning as
well as in spelling), an env name in the wrong case, a secret where a variable name goes.
Pure text functions, standard library only.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from smokegate import linear_re
from smokegate.redact import excerpt

# -- "did you mean": close in meaning as well as in spelling ------------------------------
#
# A spelling match alone suggests nonsense (`request_headers` -> `security_headers`,
# `verify` -> `severity`). A field is suggested when
#   - the typed name is one of its synonyms below (what people write for it, from the
#     tools they know: requests, Postman, Gatus, Hurl, blackbox_exporter), or
#   - every word of the typed name is a misspelling of a word of the field
#     (`expect_statsu` -> `expect_status`, `max_latncy_ms` -> `max_latency_ms`).
# A row names a field and what people call it; rows whose field a model does not have
# are never suggested there, so a field added to a model gets its synonyms by adding a
# row here (fields being added per target: request, credentials, jmespath, max_redirects,
# ca_bundle).
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "url": ("uri", "address", "endpoint", "link", "href"),
    "name": ("id", "title", "label"),
    "method": ("verb", "http_method"),
    "expect_status": (
        "status",
        "status_code",
        "statuscode",
        "code",
        "expected_status",
        "expect_code",
        "expected_code",
        "valid_status_codes",
    ),
    "max_latency_ms": (
        "latency",
        "latency_ms",
        "max_latency",
        "max_response_time",
        "response_time",
        "response_time_ms",
        "max_duration_ms",
    ),
    "timeout_s": ("timeout", "timeout_seconds", "timeout_sec", "request_timeout"),
    "json": ("json_subset", "expect_json", "expected_json", "response_json", "json_body"),
    "body_contains": ("contains", "expect_body", "body_text", "text", "expect_text"),
    "body_regex": ("regex", "body_pattern", "pattern", "body_matches", "match"),
    "headers": ("expect_headers", "expected_headers", "response_headers"),
    "security_headers": ("owasp_headers", "secure_headers", "check_security_headers"),
    "follow_redirects": ("allow_redirects", "redirects", "follow", "follow_redirect"),
    "severity": ("level", "priority", "criticality", "importance"),
    "token_env": ("token_var", "token_variable", "token_env_var", "bearer_env", "env_token"),
    "min_days_left": ("days_left", "min_days", "expiry_days", "days_before_expiry"),
    "server_name": ("sni", "hostname", "server_hostname"),
    "expires": ("expiry", "expiration", "expire", "until", "valid_until", "expires_on"),
    "reason": ("why", "comment", "ticket", "justification", "note"),
    "target": ("targets", "case", "case_id"),
    "check": ("rule", "test", "checks"),
    # fields of requests and credentials, per target
    "request": (
        "request_headers",
        "send_headers",
        "headers_to_send",
        "request_body",
        "payload",
        "data",
        "params",
        "query",
        "query_params",
    ),
    "credentials": (
        "auth",
        "authorization",
        "authentication",
        "basic_auth",
        "bearer",
        "api_key",
        "apikey",
        "oauth2",
    ),
    "jmespath": ("jsonpath", "json_path", "jq", "query_json", "assertions"),
    "max_redirects": ("redirect_limit", "max_redirect", "redirects_max"),
    "ca_bundle": ("verify", "ca", "cafile", "ca_file", "ca_cert", "cacert", "ca_certs"),
}

# How alike two words must be to be one word misspelled.
WORD_MATCH = 0.75


def suggest_field(typed: str, known: Sequence[str]) -> str | None:
    """The field meant by `typed` among `known`, or None when no field is close both in
    meaning and in spelling."""
    low = typed.strip().lower()
    for field, words in FIELD_SYNONYMS.items():
        if field in known and low in words:
            return field
    candidates = [k for k in known if _same_words(low, k)]
    close = difflib.get_close_matches(low, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _same_words(typed: str, field: str) -> bool:
    """Every word of the typed name is a misspelling of one word of the field: close in
    spelling, or its letters swapped (`bearer_evn` for `bearer_env`: a short word's one
    transposition scores below WORD_MATCH; new-user trial, stop 18)."""
    fields = [w for w in field.lower().split("_") if w]
    words = [w for w in typed.split("_") if w]
    return bool(words) and all(
        any(
            difflib.SequenceMatcher(None, w, f).ratio() >= WORD_MATCH
            or (len(w) >= 3 and sorted(w) == sorted(f))
            for f in fields
        )
        for w in words
    )


# -- YAML: indentation and tabs ------------------------------------------------------------

_INDENTATION_PROBLEMS = (
    "did not find expected key",
    "did not find expected '-' indicator",
    "mapping values are not allowed",
    "expected <block end>",
    "could not find expected ':'",
)


def yaml_advice(text: str, line: int, problem: str) -> str:
    """Plain words for a YAML error at 0-based `line`: a tab, an indentation that does not
    line up with the line above, or the parser's own words with the usual causes."""
    lines = text.splitlines()
    here = lines[line] if 0 <= line < len(lines) else ""
    lead = here[: len(here) - len(here.lstrip(" \t"))]  # cut-ok: whitespace, never shown
    if "\t" in lead or "tab" in problem:
        return (
            f"line {line + 1} is indented with a tab character: YAML indents with spaces "
            "only; replace the tab with spaces"
        )
    above = _line_above(lines, line)
    if above is not None and any(p in problem for p in _INDENTATION_PROBLEMS):
        indent = len(lead)
        above_indent = len(above) - len(above.lstrip(" "))
        item = _LIST_ITEM.search(above)
        key_column = len(item.group(1)) if item else above_indent
        if item and indent == above_indent and not here.lstrip().startswith("-"):
            # `- url: ...` then `expect_status: 200` under the dash: the commonest slip, read
            # by the parser as a missing '-' (new-user trial 55)
            key = here.strip().split(":")[0]  # cut-ok: shown through excerpt
            return (
                f"indentation: line {line + 1} ('{_short(key)}') is at the column of the line "
                f"above's '-': a key of that entry lines up with its first key, {key_column} "
                "spaces in (YAML nests by indentation)"
            )
        if indent not in {above_indent, key_column} and not above.rstrip().endswith(":"):
            key = here.strip().split(":")[0]  # cut-ok: shown through excerpt
            above_words = (
                f"the line above's key by {key_column} (after its '- ')"
                if item
                else f"the line above by {above_indent}"
            )
            return (
                f"indentation: line {line + 1} ('{_short(key)}') is indented by {indent} "
                f"space{'s' if indent != 1 else ''}, {above_words}: the keys of one entry "
                "line up under each other (YAML nests by indentation)"
            )
    if "date" in problem:  # `expires: 2027-31-01`: the parser's own words, and the format
        return f"{problem}: write dates as YYYY-MM-DD (e.g. 2027-01-31)"
    if "is not used in env files" in problem:  # smokegate's own words: the cause is known
        return problem
    return (
        f"{problem} (often a missing ':' after a key, or a value with ': ' in it that needs quotes)"
    )


def _line_above(lines: list[str], line: int) -> str | None:
    for previous in reversed(lines[:line]):  # cut-ok: the lines above, never shown
        if previous.strip() and not previous.lstrip().startswith("#"):
            return previous
    return None


def _short(text: str, limit: int = 40) -> str:
    """An env file's text quoted back: scrubbed and without control characters, then cut."""
    return excerpt(text, limit)


# -- values -------------------------------------------------------------------------------


def url_advice(url: str) -> str:
    """A URL without `https://` gets one suggested; any other bad URL says what is wanted."""
    shown = _short(url, 200)
    if "://" not in url and url.strip() and not url.startswith("/"):
        return (
            f"'{shown}' is not an http:// or https:// URL with a host: did you mean "
            f"'https://{shown.strip()}' (or 'http://{shown.strip()}' for a plain-HTTP port)?"
        )
    return f"'{shown}' is not an http:// or https:// URL with a host"


def date_advice(value: object) -> str:
    """`expires: 01/31/2027`: dates are written YYYY-MM-DD."""
    return f"'{_short(str(value), 60)}' is not a date: write it as YYYY-MM-DD (e.g. 2027-01-31)"


_HEX = linear_re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = linear_re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_LIST_ITEM = linear_re.compile(r"^(\s*-\s+)")


def secret_shaped(value: str) -> str | None:
    """What a `token_env` value looks like when it is the token itself, not a variable's
    name: long hex, or long base64 with mixed case and digits; None for a plausible name.
    Real variable names are words joined by `_` (`API_TOKEN`, `ORDERS_TOKEN_PROD`)."""
    if len(value) >= 32 and _HEX.search(value) and any(c.isdigit() for c in value):
        return f"{len(value)} characters of hex"
    if len(value) >= 20 and _BASE64.search(value):
        mixed = (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
        )
        if any(c in value for c in "+/=-") or (mixed and "_" not in value):
            return f"{len(value)} characters of base64"
    return None


def env_suggestion(name: str, known: Iterable[str]) -> str:
    """ "Did you mean 'local'?" for `--env Local` or `--env prdo`; '' when nothing is close."""
    names = list(known)
    if f"example-{name}" in names:  # the README's `--env prod` before envs/prod.yaml exists
        return (
            f"Copy envs/example-{name}.yaml to envs/{name}.yaml and set its targets, or pick "
            "another env."
        )
    same_case = [k for k in names if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.7)
    return f"Did you mean '{close[0]}'?" if close else ""


# -- pydantic's type words, in YAML's ------------------------------------------------------

_TYPE_WORDS = {
    "Input should be a valid dictionary": (
        "should be a mapping of names to values: `{Content-Type: application/json}`, or one "
        "`name: value` per line indented under it"
    ),
    "Input should be a valid list": (
        "should be a list: `[a, b]`, or one `- item` per line indented under it"
    ),
    "Input should be a valid integer": "should be a whole number (such as 5)",
    "Input should be a valid number": "should be a number (such as 2.5)",
    "Input should be a valid boolean": "should be true or false",
    "Input should be a valid string": (
        "should be text (quote it when YAML would read it as a number, a date or true/false)"
    ),
}


def type_advice(message: str) -> str:
    """pydantic's "Input should be a valid dictionary" as a YAML writer says it, with an
    example; any other message as it is."""
    for words, advice in _TYPE_WORDS.items():
        if message.startswith(words):
            return advice  # pydantic's rest (", unable to parse string as ...") adds nothing
    # a choice of values (a severity, a key kind): "Input should be 'critical', 'high' or
    # ..." is pydantic's voice; an env file's reader is told what it may write
    rest = message.removeprefix("Input should be ")
    if rest != message:
        return f"should be one of {rest}" if rest.startswith("'") else f"should be {rest}"
    return message
