"""Environment variables for code under test, set through pytest's monkeypatch or handed to a
subprocess. Pure: no server, no socket, no moto, so unit tests may use it too.

- `clear_environment()`: no proxies, no CA bundle variable, no netrc: nothing requests reads.
- `aws_env()`: fake credentials and `AWS_ENDPOINT_URL`, isolated from the machine's ~/.aws;
  `apply_env()` sets such a mapping through monkeypatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clear_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No proxies, no CA bundle variable, no netrc: nothing requests would read."""
    for name in (*PROXY_VARS, *(v.upper() for v in PROXY_VARS)):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


# Long enough to be secrets (smokegate refuses AWS secrets it could not mask: < 8 characters).
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session-token",
}


def aws_env(endpoint: str | None, **extra: str) -> dict[str, str]:
    """Environment variables for a boto3 caller talking to `endpoint` with fake keys, never
    reading this machine's AWS config or the instance metadata service."""
    env = {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    env.update(extra)
    return env


def apply_env(monkeypatch: object, env: dict[str, str]) -> None:
    """Set `env` through pytest's monkeypatch; empty values unset the variable. A named
    profile from the caller's shell is dropped too (the config file is /dev/null)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)  # type: ignore[attr-defined]
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)  # type: ignore[attr-defined]
        else:
            monkeypatch.delenv(name, raising=False)  # type: ignore[attr-defined]
