"""The credentials `test_rejects_invalid_token` sends (round 28c): the entry's scheme, values
nobody issued, never read from (nor derived from) the real secrets."""

from __future__ import annotations

import base64

import pytest

from smokegate.config import AuthEntry, Defaults
from smokegate.gather.credentials import INVENTED_PREFIX
from smokegate.gather.http import auth_probe
from smokegate.gather.probe import ProbeRequest
from smokegate.targets import AuthCase

SCHEMES = {
    "bearer": {"bearer_env": "INV_TOKEN"},
    "header": {"header": {"name": "X-API-Key", "value_env": "INV_TOKEN"}},
    "header-scheme": {
        "header": {"name": "Authorization", "scheme": "token", "value_env": "INV_TOKEN"}
    },
    "query": {"query": {"name": "api_key", "value_env": "INV_TOKEN"}},
    "basic": {"basic": {"username_env": "INV_USER", "password_env": "INV_TOKEN"}},
    "oauth2": {
        "oauth2": {
            "token_url": "https://idp.example.com/token",
            "client_id_env": "INV_USER",
            "client_secret_env": "INV_TOKEN",
        }
    },
}


def _invalid_request(scheme: str) -> ProbeRequest:
    entry = AuthEntry(name="api", url="https://api.example.com/me", credentials=SCHEMES[scheme])
    built = auth_probe(AuthCase(entry, "INV_TOKEN", 401, "invalid", entry.auth), Defaults())
    assert isinstance(built, ProbeRequest), built
    return built


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_invented_credentials_are_sent_without_any_variable_set(monkeypatch, scheme):
    """The real variables are never read: unset, the case is still sent."""
    monkeypatch.delenv("INV_TOKEN", raising=False)
    monkeypatch.delenv("INV_USER", raising=False)
    request = _invalid_request(scheme)
    assert request.oauth2 is None  # OAuth2's token endpoint is not asked
    sent = " ".join([*request.headers.values(), *(v for _, v in request.params)])
    if scheme == "basic":
        user, _, password = base64.b64decode(sent.removeprefix("Basic ")).decode().partition(":")
        assert user == f"{INVENTED_PREFIX}user"  # no real account collects a failed login
        sent = password
    assert INVENTED_PREFIX in sent
    expected = {"header": "X-API-Key", "header-scheme": "Authorization", "query": None}
    if expected.get(scheme):
        assert set(request.headers) >= {expected[scheme]}
    if scheme == "header-scheme":
        assert request.headers["Authorization"].startswith(f"token {INVENTED_PREFIX}")
    if scheme == "query":
        assert [name for name, _ in request.params] == ["api_key"]


def test_invented_values_are_random_and_never_the_real_one(monkeypatch):
    real = "inv-real-Zq7xK2mP9vB4nT6w"
    monkeypatch.setenv("INV_TOKEN", real)
    sent = {_invalid_request("bearer").headers["Authorization"] for _ in range(20)}
    assert len(sent) == 20
    assert not any(real in value or real[4:12] in value for value in sent)
