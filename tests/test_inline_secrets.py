"""Bad input: credentials written into the env file, a `token:` field, a bad token_env.

Each is a usage error (exit 4) whose message points at token_env and never repeats the
value. The fake credentials are assembled at run time so no scanner mistakes this file
for a leak.
"""

from pathlib import Path

import pytest

from smokegate.config import ConfigError, load_env
from smokegate.secrets_shape import looks_like_credential
from tests.e2e import run_checks, write_env

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


@pytest.mark.parametrize("label", list(SHAPES))
def test_each_shape_is_recognised(label):
    assert looks_like_credential(SHAPES[label]) == KINDS.get(label, label)


@pytest.mark.parametrize(
    "text",
    [
        "Bearer authentication is required",
        "https://api.example.com/v1/tokens",
        "ASIA-pacific rollout",
        "xoxo",
        "API_TOKEN",
    ],
)
def test_ordinary_text_is_not_a_credential(text):
    assert looks_like_credential(text) is None


def env_with_url_value(value: str) -> dict:
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
            {"check": "endpoint", "target": "api", "reason": value, "expires": "2030-01-01"}
        ],
    }


@pytest.mark.parametrize("label", list(SHAPES))
def test_inline_credential_is_refused_pointing_at_token_env(tmp_path, label):
    """Every shape, through the loader: the message names entry and field, not the value."""
    value = SHAPES[label]
    path = write_env(tmp_path, env_with_url_value(f"see {value}"))
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    message = str(raised.value)
    kind = KINDS.get(label, label)
    assert f"waivers[0] (endpoint).reason: looks like a {kind}" in message
    assert "name that variable with token_env" in message
    assert value not in message


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
    "value", [SHAPES["GitHub token"], "my token value!"], ids=["github-token", "not-a-name"]
)
def test_a_secret_written_as_token_env_is_refused_without_echoing_it(tmp_path, value):
    env = {"auth": [{"name": "user-api", "url": "https://api.example.com/", "token_env": value}]}
    run = run_checks(tmp_path, env)
    assert run.returncode == 4
    assert "auth[0] (user-api).token_env" in run.output
    assert "token_env" in run.output
    assert value not in run.output


def test_forbidden_token_env_is_checked_too(tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text(
        "auth:\n  - url: https://api.example.com/\n    token_env: API_TOKEN\n"
        "    forbidden:\n      - token_env: 'xoxp-1234567890-abcdef'\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"auth\[0\]\.forbidden\[0\]\.token_env: looks like a Slack"
    ):
        load_env(str(path), tmp_path, Path(tmp_path))
