"""Credentials written into the env file, through a real `pytest checks/ --env <file>` run:
a usage error (exit 4) whose one message points at token_env and never repeats the value;
a `token:` field is refused with the reason.

The same refusals on `load_env`: tests/unit/test_config_secrets.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.e2e import assert_usage_error, run_checks
from tests.support.env_files import KINDS, SECRETS, SHAPES, env_with_url_value, write


def test_inline_credential_through_pytest(tmp_path: Path) -> None:
    path = write(tmp_path, SECRETS[0][1])
    run = run_checks(tmp_path, path)
    assert_usage_error(run.returncode, run.output, ["auth[0] (api).token", "token_env"])
    assert "ghp_abcdefghijklmnop" not in run.output


@pytest.mark.parametrize("label", ["GitHub token", "JWT"])
def test_inline_credential_is_a_usage_error_exit_4(tmp_path, label):
    """The same refusal end to end: exit code 4, one message, no traceback, no value."""
    value = SHAPES[label]
    env = env_with_url_value("fine")
    env["endpoints"][0]["url"] = f"https://api.example.com/health?key={value}"
    run = run_checks(tmp_path, env)
    assert run.returncode == 4, run.output
    assert f"endpoints[0] (api).url: looks like a {KINDS.get(label, label)}" in run.output
    assert "token_env" in run.output
    assert value not in run.output
    assert "Traceback" not in run.output


def test_token_field_is_refused_with_the_reason(tmp_path):
    env = {"auth": [{"url": "https://api.example.com/user", "token": "plain-secret-value"}]}
    run = run_checks(tmp_path, env)
    assert run.returncode == 4
    assert (
        "auth[0].token: unknown field 'token': secrets never live in the env file; "
        "name the variable with token_env" in run.output
    )
    assert "plain-secret-value" not in run.output


@pytest.mark.parametrize(
    "value",
    [
        SHAPES["GitHub token"],
        "my token value!",
        "AbCdEf0123456789" + "xyzXYZ0123456789abcdEF",  # base64, yet a valid identifier
        "0123456789abcdef" * 2 + "deadbeef",
    ],
    ids=["github-token", "not-a-name", "base64", "hex"],
)
def test_a_secret_written_as_token_env_is_refused_without_echoing_it(tmp_path, value):
    env = {"auth": [{"name": "user-api", "url": "https://api.example.com/", "token_env": value}]}
    run = run_checks(tmp_path, env)
    assert run.returncode == 4
    assert "auth[0] (user-api).token_env" in run.output
    assert "token_env" in run.output
    assert value not in run.output


@pytest.mark.parametrize(
    "credentials",
    [
        {"bearer_env": "SG_BAD_BYTES"},
        {"basic": {"username": "svc", "password_env": "SG_BAD_BYTES"}},
    ],
    ids=["bearer", "basic"],
)
def test_a_credential_variable_with_a_byte_that_is_not_utf8_fails_its_case_only(
    tmp_path: Path, credentials: dict
) -> None:
    """Round 54d: such a variable (Python keeps its byte as `\\udcff`) stopped the run in an
    INTERNALERROR when the env file's own text was searched for pieces of it, and no report
    was written. Now its case fails naming the variable, and the run ends as any other."""
    env = {"endpoints": [{"name": "api", "url": "http://127.0.0.1:9/", "credentials": credentials}]}
    value = b"Xq7Lp2Wm9Kz3Rt\xff8Vb4Hj6".decode("utf-8", "surrogateescape")
    run = run_checks(tmp_path, env, env_vars={"SG_BAD_BYTES": value})
    assert run.returncode == 1, run.output
    assert "INTERNALERROR" not in run.output
    assert "SG_BAD_BYTES holds bytes that are not UTF-8 text; it was not sent" in run.output
    assert run.outcomes() == {"test_endpoint[api]": "failed"}
    assert "Xq7Lp2Wm9Kz3Rt" not in run.output + run.junit_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Authorization": "Bearer abc123def456ghi789"}, "looks like a bearer token"),
        ({"Authorization": 5}, "should be text"),
        ({"x-amz-security-token": 5}, "should be text"),
    ],
    ids=["inline-bearer", "number", "aws-header"],
)
def test_a_refusal_naming_a_credential_header_is_readable_on_the_console(
    tmp_path, headers, problem
):
    """`headers.Authorization: <problem>` reads as a header line to the console's scrubber,
    which masked the whole explanation (`headers.Authorization: ***`): the key is written
    `headers["Authorization"]`, and the problem is shown with its line."""
    env = {"endpoints": [{"name": "api", "url": "https://api.example.com/", "headers": headers}]}
    run = run_checks(tmp_path, env)
    assert run.returncode == 4, run.output
    name = next(iter(headers))
    assert f'endpoints[0] (api).headers["{name}"]: {problem}' in run.output
    assert ": line " in run.output
    assert "abc123def456ghi789" not in run.output


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        ({"jmespath": {"token": {"gt": "ten"}}}, "in the line 'token', gt compares numbers"),
        ({"jmespath": {"Authorization": {"gt": "ten"}}}, "in the line 'Authorization', gt"),
        ({"headers": {"Authorization:": "x"}}, "holds a key that is no HTTP header name"),
    ],
    ids=["jmespath-token", "jmespath-authorization", "header-name-with-a-colon"],
)
def test_a_refusal_quoting_a_credential_word_is_not_masked_on_the_console(tmp_path, field, shown):
    """Round 56a: `'token': gt compares numbers` read as a credential field to the console's
    scrubber (`'token': *** compares numbers`), as did a header key typed with its colon."""
    env = {"endpoints": [{"name": "api", "url": "https://api.example.com/", **field}]}
    run = run_checks(tmp_path, env)
    assert run.returncode == 4, run.output
    assert shown in run.output
    assert "***" not in run.output
