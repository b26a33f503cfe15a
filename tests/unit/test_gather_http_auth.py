"""The auth request built for a case, without sending it: its repr does not show the token.

Auth probes against a real bearer-token server: tests/integration/test_gather_http_auth.py.
"""

from __future__ import annotations

import pytest

from smokegate.config import AuthEntry, Defaults
from smokegate.gather.http import auth_request
from smokegate.targets import AuthCase


@pytest.fixture
def tokens(monkeypatch):
    monkeypatch.setenv("SG_API_TOKEN", "good-token-1")
    monkeypatch.setenv("SG_READONLY_TOKEN", "readonly-token-1")
    monkeypatch.delenv("SG_UNSET_TOKEN", raising=False)


def test_request_repr_does_not_show_the_token(tokens):
    entry = AuthEntry(url="http://127.0.0.1:9/api", token_env="SG_API_TOKEN")
    request = auth_request(AuthCase(entry, "SG_API_TOKEN", 200, "token"), Defaults())
    assert request is not None
    assert request.headers["Authorization"] == "Bearer good-token-1"
    assert "good-token-1" not in repr(request)


def test_an_auth_entry_has_its_own_timeout_trust_and_request(tokens, tmp_path):
    entry = AuthEntry.model_validate(
        {
            "url": "http://127.0.0.1:9/api",
            "method": "POST",
            "credentials": {"bearer_env": "SG_API_TOKEN"},
            "request": {"json": {"probe": True}, "headers": {"Accept": "application/json"}},
            "timeout_s": 12,
            "ca_bundle": "certs/api-ca.pem",
        }
    )
    request = auth_request(AuthCase(entry, "SG_API_TOKEN", 200, "token"), Defaults(timeout_s=3))
    assert request is not None
    assert request.timeout_s == 12
    assert request.verify == "certs/api-ca.pem"  # resolved by the plugin against the root
    assert request.body == b'{"probe":true}'
    assert dict(request.headers) == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Authorization": "Bearer good-token-1",
    }
    assert request.follow_redirects is False
    anonymous = auth_request(AuthCase(entry, None, 401, "anonymous"), Defaults(timeout_s=3))
    assert anonymous is not None and "Authorization" not in anonymous.headers
