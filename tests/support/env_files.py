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
        ["defaults.timeout_s", "valid number", "(got 'fast')"],
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
            "did you mean 'https://api.example.com/health'?",
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
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    request_headers: {A: b}\n",
        ["unknown field 'request_headers' (known: name, url,"],
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
        "auth[0] (api).token",
        "GitHub token",
    ),
    (
        "aws-key-id",
        "iam:\n  profile: AKIAABCDEFGHIJKLMNOP\n",
        "iam.profile",
        "AWS access key id",
    ),
    (
        "bearer",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    headers: {Authorization: 'Bearer abc123def456ghi789'}\n",
        "endpoints[0] (api).headers.Authorization",
        "bearer token",
    ),
    (
        "jwt-as-token-env",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    token_env: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\n",
        "auth[0] (api).token_env",
        "JWT",
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
}
KINDS = {
    "GitHub fine-grained token": "GitHub token",
    "AWS temporary key id": "AWS access key id",
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
