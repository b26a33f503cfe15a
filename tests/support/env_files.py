"""Env files for the tests: `write` (text) and `write_env` (text or a mapping, dumped as
YAML), and the input shared by the unit and end-to-end config tests: each bad file with the
fragments its one message must contain, inline credentials, duplicate keys, `mock:` beside
`tls:`, and credential shapes. Pure: writing a file is all it does.

The credential shapes in SHAPES are assembled at run time so no scanner mistakes this file
for a leak.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml


def write(tmp_path: Path, text: str, name: str = "bad") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def waiver_expiry(days: int = 90) -> str:
    """A waiver's `expires` some days ahead: within the one-year horizon, never stale."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def write_env(tmp_path: Path, content: dict[str, Any] | str, name: str = "e2e") -> Path:
    path = tmp_path / f"{name}.yaml"
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# (case id, env file text, fragments the one message must contain)
BAD_FILES: list[tuple[str, str, list[str]]] = [
    (
        # round 30b: the forbidden case's request was the token case's (one key, one answer)
        "forbidden-identity-on-the-entrys-own-variable",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {basic: {username: admin, password_env: SHARED_PW}}\n"
        "    forbidden:\n"
        "      - credentials: {basic: {username: guest, password_env: SHARED_PW}}\n",
        ["auth[0] (api).forbidden[0]", "names SHARED_PW", "needs a variable of its own"],
    ),
    (
        # round 28c: failed as "wrong host name" with two causes that were not the cause
        "server-name-with-a-trailing-dot",
        "tls:\n  - host: 127.0.0.1\n    server_name: localhost.\n",
        ["tls[0]", ".server_name: ", "ends with a dot", "write 'localhost'"],
    ),
    (
        "tls-host-with-a-trailing-dot",
        "tls:\n  - host: api.example.com.\n",
        ["tls[0]", ".host: ", "ends with a dot", "write 'api.example.com'"],
    ),
    (
        # round 36c: a URL, host:port and [::1] loaded, then failed as a Python error (the
        # port of host:port silently 443)
        "tls-host-written-as-a-url",
        "tls:\n  - host: https://api.example.com/\n",
        ["tls[0]", ".host: ", "is a URL: write only its host"],
    ),
    (
        "tls-host-with-its-port",
        "tls:\n  - host: api.example.com:8443\n",
        ["tls[0]", ".host: ", "write host: api.example.com and port: 8443"],
    ),
    (
        "tls-host-in-brackets",
        "tls:\n  - host: '[::1]'\n",
        ["tls[0]", ".host: ", "without brackets (::1)"],
    ),
    # round 37c: colons that make no IPv6 address, and names no DNS can carry, loaded and
    # failed at run time as a Python ValueError or an IDNA codec's words
    *(
        (
            f"tls-host-colons-{number}",
            f"tls:\n  - host: '{host}'\n",
            ["tls[0]", ".host: ", "holds a colon but is no IPv6 address"],
        )
        for number, host in enumerate(["127.0.0.1:", "127.0.0.1:abc", ":", ":::"])
    ),
    (
        "tls-host-bracketed-with-a-port",
        "tls:\n  - host: '[::1]:18999'\n",
        ["tls[0]", ".host: ", "holds a port: write host: ::1 and port: 18999"],
    ),
    (
        "tls-host-empty-label",
        "tls:\n  - host: local..host\n",
        ["tls[0]", ".host: ", "has an empty label (two dots together"],
    ),
    (
        "tls-server-name-long-label",
        f"tls:\n  - host: 127.0.0.1\n    server_name: {'a' * 64}.example\n",
        ["tls[0]", ".server_name: ", "has a label longer than 63 characters"],
    ),
    (
        "invalid-yaml",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n   expect_status: 200\n",
        ["line 4", "invalid YAML"],
    ),
    (
        "unclosed-quote",
        'endpoints:\n  - name: "api\n',
        ["line 3", "invalid YAML"],
    ),
    (
        "typo-in-entry",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    expect_statsu: 200\n",
        ["endpoints[0] (api)", "expect_statsu", "did you mean 'expect_status'?"],
    ),
    (
        "typo-top-level",
        "endpoint:\n  - url: https://a.example.com/\n",
        ["unknown field 'endpoint'", "did you mean 'endpoints'?"],
    ),
    (
        "typo-in-defaults",
        "defaults:\n  timeout: 3\n",
        ["defaults.timeout", "did you mean 'timeout_s'?"],
    ),
    (
        "wrong-type-status",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    expect_status: ok\n",
        ["endpoints[0] (api).expect_status", "valid integer", "(got 'ok')"],
    ),
    (
        "wrong-type-timeout",
        "defaults:\n  timeout_s: fast\n",
        ["defaults.timeout_s", "should be a number (such as 2.5)", "(got 'fast')"],
    ),
    (
        "date-in-request-json",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    method: POST\n"
        "    request:\n      json: {when: 2020-01-01}\n",
        ["endpoints[0] (api).request.json", "not JSON", "quote it ('2020-01-01')"],
    ),
    (
        "wrong-type-headers",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    headers: text/html\n",
        ["endpoints[0] (api).headers", "should be a mapping of names to values", "`name: value`"],
    ),
    (
        "status-out-of-range",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    expect_status: [200, 999]\n",
        ["endpoints[0] (api).expect_status", "599", "(got 999)"],
    ),
    (
        "url-without-scheme",
        "endpoints:\n  - name: api\n    url: api.example.com/health\n",
        [
            "endpoints[0] (api).url",
            "is not an http:// or https:// URL",
            "did you mean 'https://api.example.com/health' (or 'http://api.example.com/health'"
            " for a plain-HTTP port)?",
        ],
    ),
    (
        "url-with-another-scheme",
        "endpoints:\n  - name: api\n    url: ftp://files.example.com/\n",
        ["endpoints[0] (api).url", "'ftp://files.example.com/' is not an http:// or https://"],
    ),
    (
        "missing-url",
        "endpoints:\n  - name: api\n",
        ["endpoints[0] (api).url", "required field is missing"],
    ),
    (
        "bad-regex",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '(unclosed'\n",
        ["endpoints[0] (api).body_regex", "not a valid regular expression"],
    ),
    (
        "duplicate-name",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "  - name: api\n    url: https://b.example.com/\n",
        ["endpoints[1] (api)", "duplicate name 'api'", "endpoints[0]"],
    ),
    (
        "duplicate-derived-name",
        "endpoints:\n  - url: https://a.example.com/x\n  - url: https://a.example.com/x/\n",
        ["endpoints[1] (a.example.com/x)", "duplicate name"],
    ),
    (
        "top-level-list",
        "- url: https://a.example.com/\n",
        ["top level must be a mapping"],
    ),
    (
        "missing-mock-folder",
        "mock: fixtures/no-such-world\n",
        ["mock:", "fixtures/no-such-world", "does not exist"],
    ),
    (
        "json-and-form-body",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    method: POST\n"
        "    request: {json: {a: 1}, form: {b: '2'}}\n",
        ["endpoints[0] (api).request", "give one body, not json and form"],
    ),
    (
        "invalid-jmespath",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {'items[0': 1}\n",
        ["endpoints[0] (api).jmespath", "'items[0' is not a valid JMESPath expression"],
    ),
    (
        "jmespath-predicate-of-the-wrong-type",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {'length(items)': {gt: many}}\n",
        [
            "endpoints[0] (api).jmespath",
            "in the line 'length(items)', gt compares numbers, got 'many'",
        ],
    ),
    (
        "jmespath-bad-regex",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {version: {matches: '(v'}}\n",
        ["endpoints[0] (api).jmespath", "in the line 'version', matches: '(v' is not a valid"],
    ),
    (
        "two-credential-kinds",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {bearer_env: A, basic: {username: u, password_env: B}}\n",
        ["endpoints[0] (api).credentials", "give exactly one of", "(found bearer_env, basic)"],
    ),
    (
        "token-env-and-credentials",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    token_env: A\n    credentials: {bearer_env: B}\n",
        ["endpoints[0] (api)", "give token_env or credentials, not both"],
    ),
    (
        "password-written-inline",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {basic: {username: u, password: hunter22}}\n",
        ["credentials.basic.password", "secrets never live in the env file", "password_env"],
    ),
    (
        "basic-pair-in-a-request-header",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    request: {headers: {Authorization: 'Basic dXNlcjpwYXNz'}}\n",
        ['endpoints[0] (api).request.headers["Authorization"]: looks like a Basic credential'],
    ),
    (
        "authorization-request-header",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    request: {headers: {Authorization: 'Custom scheme-value'}}\n",
        ["endpoints[0] (api).request.headers", "'Authorization' carries credentials"],
    ),
    (
        "api-key-query-parameter",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    request: {params: {api_key: abc123}}\n",
        ["request.params", "'api_key' carries credentials", "credentials: {query:"],
    ),
    (
        "password-in-the-url",
        "endpoints:\n  - name: api\n    url: 'https://svc:pw@a.example.com/'\n",
        ["endpoints[0] (api).url", "user name or password in it"],
    ),
    (
        "bad-status-class",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    expect_status: 2x\n",
        ["endpoints[0] (api).expect_status", "status class (2xx)", "(got '2x')"],
    ),
    (
        "max-redirects-without-following",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    follow_redirects: false\n    max_redirects: 3\n",
        ["endpoints[0] (api)", "max_redirects has no effect with follow_redirects: false"],
    ),
    (
        "auth-entry-without-credentials",
        "auth:\n  - name: api\n    url: https://a.example.com/\n",
        ["auth[0] (api)", "give token_env or credentials"],
    ),
    (
        "forbidden-twice-the-same-variable",
        "auth:\n  - name: api\n    url: https://a.example.com/\n    token_env: A\n"
        "    forbidden:\n      - token_env: RO\n"
        "      - credentials: {header: {name: X-Key, value_env: RO}}\n",
        ["auth[0] (api).forbidden[1]", "names RO like forbidden[0]"],
    ),
    (
        "oauth2-without-secret",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {oauth2: {token_url: https://idp.example.com/t, client_id_env: ID}}\n",
        ["credentials.oauth2.client_secret_env", "required field is missing"],
    ),
    (
        "missing-per-target-ca-bundle",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    ca_bundle: certs/nope.pem\n",
        [
            "endpoints[0] (api).ca_bundle",
            "certs/nope.pem",
            "does not exist (a relative path is read from the project root: ",
        ],
    ),
    (
        "request-body-at-the-entry-level",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    method: POST\n"
        "    data: {a: 1}\n",
        ["endpoints[0] (api).data", "what is sent goes under request: (request: {body: ...})"],
    ),
    (
        "yaml-indentation",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n   expect_status: 200\n",
        ["line 4", "invalid YAML", "indentation", "'expect_status'", "3 spaces", "above by 4"],
    ),
    (
        "yaml-indentation-dedent",
        "iam:\n  max_user_age_days: 300\n max_unused_days: 30\n",
        ["line 3", "indentation", "'max_unused_days'", "1 space,", "above by 2"],
    ),
    (
        "yaml-tab",
        "defaults:\n\ttimeout_s: 3\n",
        ["line 2", "invalid YAML", "tab character", "spaces only"],
    ),
    (
        "yaml-tab-in-an-entry",
        "endpoints:\n  - name: api\n\turl: https://a.example.com/\n",
        ["line 3", "tab character", "spaces only"],
    ),
    (
        "unknown-severity",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    severity: severe\n",
        ["endpoints[0] (api).severity", "'critical', 'high', 'medium' or 'low'", "(got 'severe')"],
    ),
    (
        "date-in-another-format",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: 01/31/2027\n",
        ["waivers[0] (endpoint).expires", "'01/31/2027' is not a date", "YYYY-MM-DD"],
    ),
    (
        "date-as-a-number",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: 20270131\n",
        ["waivers[0] (endpoint).expires", "'20270131' is not a date", "YYYY-MM-DD"],
    ),
    (
        "waiver-beyond-the-horizon",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: 2099-01-31\n",
        ["waivers[0] (endpoint).expires", "2099-01-31 is", "at most 365 days", "pytest.ini"],
    ),
    (
        "synonym-of-a-field",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    status_code: 204\n",
        ["endpoints[0] (api)", "unknown field 'status_code'", "did you mean 'expect_status'?"],
    ),
    (
        "no-suggestion-for-a-field-close-in-spelling-only",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_headers: {A: b}\n",
        ["unknown field 'body_headers' (known: name, url,"],
    ),
    (
        "request-headers-at-the-entry-level",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    request_headers: {A: b}\n",
        ["endpoints[0] (api).request_headers", "(request: {headers: ...})"],
    ),
    # round 17b: an expectation written with no value checked nothing, and passed
    (
        "json-with-its-lines-commented-out",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    json:\n"
        "      # status: ok\n",
        ["line 4: endpoints[0] (api).json: is written without a value", "remove the line"],
    ),
    # round 41c F2: a list under json: means "has these elements", so `errors: []` held for
    # `["db down"]` while the same line under jmespath: (an exact match) failed
    (
        "json-empty-list",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    json:\n"
        "      status: ok\n      errors: []\n",
        ["endpoints[0] (api).json: ", "json.errors is [], which every array holds", "jmespath:"],
    ),
    (
        "empty-body-contains",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_contains: ''\n",
        ["endpoints[0] (api).body_contains: is written without a value"],
    ),
    (
        "empty-jmespath",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    jmespath: {}\n",
        ["endpoints[0] (api).jmespath: is written without a value"],
    ),
    (
        "regex-matching-any-body",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '(ok)?'\n",
        ["endpoints[0] (api).body_regex: /(ok)?/ finds a match in every failing answer tried"],
    ),
    # round 18b: more expectations that are written, yet check nothing
    *(
        (
            f"regex-{name}",
            f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '{rx}'\n",
            [f"body_regex: /{rx}/ finds a match in every failing answer tried"],
        )
        for name, rx in (
            ("dot-all", "(?s)."),
            ("class-of-all", "[\\s\\S]"),
            ("or-newline", ".|\\n"),
        )
    ),
    (
        "jmespath-matches-any-value",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {status: {matches: '.*'}}\n",
        ["in the line 'status', matches: '.*' finds a match in every failing value tried"],
    ),
    (
        "jmespath-literal",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {\"'ok'\": ok}\n",
        ["jmespath: ''ok'' never reads the body (it is made of literals only)"],
    ),
    (
        "jmespath-tautology",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {'length(@)': {ge: 0}}\n",
        ["'length(@)' holds on every failing answer tried"],
    ),
    (
        "jmespath-json-literal",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {'`\"ok\"`': ok}\n",
        ["never reads the body"],
    ),
    (
        "every-status-class",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    expect_status: [1xx, 2xx, 3xx, 4xx, 5xx]\n",
        ["endpoints[0] (api): expect_status:", "accepts every status"],
    ),
    (
        "empty-headers",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    headers: {}\n",
        ["endpoints[0] (api).headers: is written without a value"],
    ),
    (
        "empty-security-headers",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    security_headers: []\n",
        ["endpoints[0] (api).security_headers: is written without a value"],
    ),
    (
        "latency-past-any-timeout",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    max_latency_ms: 1e300\n",
        ["endpoints[0] (api).max_latency_ms", "3600000"],
    ),
    (
        "anonymous-status-of-an-accepted-request",
        "auth:\n  - name: a\n    url: https://a.example.com/\n    token_env: T\n"
        "    anonymous_status: 200\n",
        ["auth[0] (a): anonymous_status and authenticated_status are both 200"],
    ),
    (
        "forbidden-status-of-an-accepted-request",
        "auth:\n  - name: a\n    url: https://a.example.com/\n    token_env: T\n"
        "    forbidden:\n      - {token_env: LOW, status: 200}\n",
        ["auth[0] (a): forbidden[0].status is 200, the status of an accepted request"],
    ),
    (
        "empty-forbidden",
        "auth:\n  - name: a\n    url: https://a.example.com/\n    token_env: T\n"
        "    forbidden: []\n",
        ["auth[0] (a).forbidden: is written without an"],
    ),
    (
        "blank-waiver-reason",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: ' '\n"
        "    expires: 2027-01-31\n",
        ["waivers[0] (endpoint).reason: is blank"],
    ),
    (
        "endpoint-appended-under-waivers",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n"
        "    expires: 2027-01-31\n  - name: mine\n    url: http://127.0.0.1:8080/health\n",
        [
            "line 7: waivers[1] (mine).url: unknown field 'url': this entry is under waivers:",
            "belongs under endpoints: (or auth:): move it above the waivers: line",
        ],
    ),
    # round 19b: a wrong-typed switch, more vacuous expectations and unreachable limits
    *(
        (
            f"switch-written-as-{name}",
            f"iam:\n  forbid_root_access_keys: {value}\n",
            ["iam.forbid_root_access_keys: should be true or false"],
        )
        for name, value in (("zero", "0"), ("no", "'no'"), ("off", "'off'"))
    ),
    *(
        (
            f"regex-{name}",
            f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '{rx}'\n",
            [f"body_regex: /{rx}/ finds a match in every failing answer tried"],
        )
        for name, rx in (
            ("not-a-dash", "[^-]"),
            ("two-of-anything", "(?s).."),
            ("not-blank", "\\S"),
        )
    ),
    # round 20: more regexes every failing answer matches; an absence asserted is no such one
    *(
        (
            f"regex-{name}",
            f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '{rx}'\n",
            [f"body_regex: /{rx}/ finds a match in every failing answer tried"],
        )
        for name, rx in (
            ("word-boundary", "\\b"),
            ("a-word-character", "\\w"),
            ("a-letter", "[a-z]"),
        )
    ),
    (
        "latency-bound-past-the-timeout",
        "defaults:\n  timeout_s: 2\nendpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    max_latency_ms: 600000\n",
        ["endpoints[0] (api): max_latency_ms 600000 is not below its timeout of 2 s"],
    ),
    (
        "blank-body-contains",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_contains: ' '\n",
        ["endpoints[0] (api).body_contains: is only blanks"],
    ),
    (
        "body-contains-in-every-failing-body",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_contains: e\n",
        ["endpoints[0] (api).body_contains: 'e' is in every failing answer tried"],
    ),
    (
        "jmespath-contains-nothing",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {status: {contains: ''}}\n",
        ["in the line 'status', contains '' holds for any text"],
    ),
    (
        "jmespath-not-equals-nan",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    jmespath: {status: {not_equals: .nan}}\n",
        ["in the line 'status', holds nan, which no JSON value equals"],
    ),
    (
        "json-holds-infinity",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    json: {count: .inf}\n",
        ["endpoints[0] (api).json: holds inf"],
    ),
    (
        "two-keys-allowed",
        "iam:\n  max_active_keys_per_user: 2\n",
        ["iam.max_active_keys_per_user: is 2: IAM allows at most 2 access keys per user"],
    ),
    (
        "days-past-any-account",
        "iam:\n  max_unused_days: 100000\n",
        ["iam.max_unused_days", "36500"],
    ),
    (
        "waiver-reason-of-invisible-characters",
        'waivers:\n  - check: endpoint\n    target: api\n    reason: "\\u200b\\u3164\\u2800"\n'
        "    expires: 2027-01-31\n",
        ["waivers[0] (endpoint).reason: is blank"],
    ),
    (
        "impossible-date",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: 2027-02-30\n",
        ["line 5", "'2027-02-30' is not a valid date", "day is out of range"],
    ),
]

# (case id, env file text, where, credential kind): inline secrets point at token_env
SECRETS: list[tuple[str, str, str, str]] = [
    (
        "github-token",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    token: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
        "line 4: auth[0] (api).token",
        "GitHub token",
    ),
    (
        "aws-key-id",
        "iam:\n  profile: AKIAABCDEFGHIJKLMNOP\n",
        "line 2: iam.profile",
        "AWS access key id",
    ),
    (
        "bearer",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    headers: {Authorization: 'Bearer abc123def456ghi789'}\n",
        'line 4: endpoints[0] (api).headers["Authorization"]',
        "bearer token",
    ),
    (
        "jwt-as-token-env",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    token_env: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\n",
        "line 4: auth[0] (api).token_env",
        "JWT",
    ),
]

# The same refusal in the new fields (DESIGN.md §3a): a credential block, a request header,
# a request body, an OAuth2 token URL.
SECRETS += [
    (
        "github-token-as-value-env",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {header: {name: X-Key, value_env: ghp_abcdefghijklmnopqrstuvwxyz0123}}\n",
        "line 4: endpoints[0] (api).credentials.header.value_env",
        "GitHub token",
    ),
    (
        "bearer-in-a-request-header",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    request: {headers: {X-Forwarded-Auth: 'Bearer abc123def456ghi789'}}\n",
        "line 4: endpoints[0] (api).request.headers.X-Forwarded-Auth",
        "bearer token",
    ),
    (
        "slack-token-in-a-request-body",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    method: POST\n"
        "    request: {json: {hook: xoxb-1234567890-abcdefghij}}\n",
        "line 5: endpoints[0] (api).request.json.hook",
        "Slack token",
    ),
    (
        "aws-key-in-a-forbidden-basic-password-env",
        "auth:\n  - name: api\n    url: https://a.example.com/\n    token_env: T\n"
        "    forbidden:\n      - credentials: {basic: {username: u, "
        "password_env: AKIAABCDEFGHIJKLMNOP}}\n",
        "line 6: auth[0] (api).forbidden[0].credentials.basic.password_env",
        "AWS access key id",
    ),
]

# A top-level key given twice (lines 3 and 8)
DUPLICATE_ENDPOINTS = """\
defaults:
  timeout_s: 3
endpoints:
  - name: down
    url: https://down.example.com/health
waivers: []
# a second list, e.g. pasted from another env: PyYAML would keep only this one
endpoints:
  - name: up
    url: https://up.example.com/health
"""

# mock: beside tls: (format with world=<folder>)
MOCK_AND_TLS = """\
mock: {world}
endpoints:
  - name: a
    url: https://a.test/health
tls:
  - host: a.test
"""

# Credential shapes, and the kind each is reported as when it differs from its label
SHAPES = {
    "GitHub token": "ghp_" + "a1B2c3D4e5" * 4,
    "GitHub fine-grained token": "github_pat_" + "11ABCDEFG0" * 4,
    "AWS access key id": "AKIA" + "IOSFODNN7EXAMPL1",
    "AWS temporary key id": "ASIA" + "IOSFODNN7EXAMPL2",
    "Slack token": "xoxb-" + "1234567890-abcdefghij",
    "bearer token": "Bearer " + "abc123.def456-ghi",
    "JWT": "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiIxMjM0In0.c2lnbmF0dXJl",
    # round 56a: a committed pair under a misspelt header name, in body_contains: or json:
    "Basic credential (a base64 user and password)": "Basic " + "dXNlcjpwYXNzd29yZA==",
    "Token-scheme credential": "Token " + "9944b09199c62bcf" + "9418ad846dd0e4bbdfc6ee4b",
    # round 56b: a Basic value that decodes to no printable pair, and other schemes
    "Basic of a key with no password": "Basic " + "c2tfbGl2ZV81MUh4UTJwTGtROXZadFI4dzo=",
    "Okta SSWS": "SSWS " + "00QCjAl4MlV-WPXM-" + "ABCDEFGH12345",
    # round 56c: the other vendors' prefixes
    "GitLab token": "glpat-" + "Zx8vQ2mN5kLp9RtY3wBc",
    "Google API key": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "Stripe key": "sk_live_" + "51HqLyjWDarjtT1zdp7dcXyz",
    "npm token": "npm_" + "abcdEFGH1234ijklMNOP5678qrstUVWX90yz",
    "OpenAI key": "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
    "Slack webhook URL": "https://hooks.slack.com/services/" + "T0A1B2C3D/B0E1F2G3H/Zx8vQ2mN5kLp",
    # round 56d: more of each vendor's prefixes, and after an underscore
    "GitLab runner token": "glrt-" + "aBcDeFgHiJkLmNoPqRsTuV",
    "Stripe webhook secret": "whsec_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
    "Google OAuth secret or token": "GOCSPX-" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ01",
    "PGP private key": "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----",
    "GitHub token after an underscore": "id_" + "ghp_" + "a1B2c3D4e5" * 4,
}
KINDS = {
    "GitHub fine-grained token": "GitHub token",
    "AWS temporary key id": "AWS access key id",
    "Basic of a key with no password": "credential after an Authorization scheme",
    "Okta SSWS": "credential after an Authorization scheme",
    "Slack webhook URL": "webhook URL",
    "GitLab runner token": "GitLab token",
    "Stripe webhook secret": "Stripe key",
    "PGP private key": "private key",
    "GitHub token after an underscore": "GitHub token",
}


def env_with_url_value(value: str) -> dict:
    """A valid env with auth: and a waiver whose reason is `value`."""
    return {
        "endpoints": [{"name": "api", "url": "https://api.example.com/health"}],
        "auth": [
            {
                "name": "user-api",
                "url": "https://api.example.com/user",
                "token_env": "API_TOKEN",
                "forbidden": [{"token_env": "READONLY_TOKEN"}],
            }
        ],
        "waivers": [
            {"check": "endpoint", "target": "api", "reason": value, "expires": waiver_expiry()}
        ],
    }
