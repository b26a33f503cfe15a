"""Credentials in URLs (issue 10 item 3): refused in an env file without echoing the value,
and masked in any URL that reaches a report (a redirect's Location, a URL in an error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError, load_env
from smokegate.redact import MASK, Scrubber, is_credential_name
from tests.support.env_files import write

SECRET = "Zq9-value-never-shown"
REFUSED = [
    f"https://svc:{SECRET}@api.example.com/health",
    f"https://api.example.com/health?token={SECRET}",
    f"https://api.example.com/health?access_token={SECRET}&x=1",
    f"https://api.example.com/health?api_key={SECRET}",
    f"https://api.example.com/health?apiKey={SECRET}",
    f"https://api.example.com/health?key={SECRET}",
    f"https://api.example.com/health?sig={SECRET}",
    f"https://api.example.com/health?signature={SECRET}",
    f"https://bucket.s3.amazonaws.com/o?X-Amz-Signature={SECRET}&X-Amz-Date=1",
    f"https://api.example.com/health?password={SECRET}",
    f"https://api.example.com/health?PASS={SECRET}",
    f"https://api.example.com/health?client_secret={SECRET}",
    f"https://api.example.com/health?%74oken={SECRET}",
    f"https://api.example.com/health#access_token={SECRET}",
    f"https://api.example.com/app;jsessionid={SECRET}/health",
    f"https://gitlab.example.com/api/v4/projects?private_token={SECRET}",
]
ACCEPTED = [
    "https://api.example.com/health?limit=10&page=2",
    "https://api.example.com/v1/keys/list?monkey=1",
    "https://api.example.com/search?q=token",
    "https://api.example.com/api;v=2/items",
]


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("section", ["endpoints", "auth"])
def test_a_credential_in_an_env_file_url_is_refused_without_echoing_it(tmp_path, url, section):
    entry = f"  - name: x\n    url: '{url}'\n"
    if section == "auth":
        entry += "    token_env: SOME_TOKEN\n"
    path = write(tmp_path, f"{section}:\n{entry}")
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, Path("/"))
    message = str(raised.value)
    assert SECRET not in message and "Zq9" not in message
    assert "credentials:" in message or "credential" in message


@pytest.mark.parametrize("url", ACCEPTED)
def test_other_query_parameters_stay_allowed(tmp_path, url):
    path = write(tmp_path, f"endpoints:\n  - name: x\n    url: '{url}'\n")
    assert load_env(str(path), tmp_path, Path("/")).config.endpoints[0].url == url


@pytest.mark.parametrize("url", REFUSED)
def test_any_such_url_in_text_is_masked(url):
    text = f"after redirect to {url}: connection refused"
    scrubbed = Scrubber().scrub(text)
    assert SECRET not in scrubbed and MASK in scrubbed


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("X-Amz-Signature", True),
        ("refresh_token", True),
        ("Idempotency-Key", False),
        ("page", False),
        ("author", False),
        ("monkey", False),
        ("code", True),  # an Azure Functions key, an OAuth2 authorization code
        ("X-Hub-HMAC", True),
        ("hmac_sha256", True),
        ("country_code", False),
        ("zip-code", False),
        ("hash", False),  # a cache-busting content hash far more often than a signature
    ],
)
def test_credential_names(name, credential):
    assert is_credential_name(name) is credential
