"""Credentials sent over plain http:// to another machine are named in every report
(new-user trial 47: a production token went out in clear with no word)."""

from __future__ import annotations

from smokegate.config import EnvConfig
from smokegate.targets import cleartext_credentials


def _config(**sections: object) -> EnvConfig:
    return EnvConfig.model_validate(sections)


def test_each_host_sent_a_credential_in_clear_is_named_with_its_entries() -> None:
    oauth2 = {
        "oauth2": {
            "token_url": "http://idp.example.com/token",
            "client_id_env": "CLIENT_ID",
            "client_secret_env": "CLIENT_SECRET",
        }
    }
    config = _config(
        endpoints=[
            {"name": "orders", "url": "http://api.example.com/orders", "token_env": "API_TOKEN"},
            {"name": "plain", "url": "http://api.example.com/health"},  # sends nothing
            {"name": "tls", "url": "https://secure.example.com/", "token_env": "API_TOKEN"},
            {"name": "local", "url": "http://127.0.0.1:8080/", "token_env": "API_TOKEN"},
            {"name": "v6", "url": "http://[::1]:8080/", "token_env": "API_TOKEN"},
            {"name": "dev", "url": "http://localhost:8080/", "token_env": "API_TOKEN"},
            {"name": "dev2", "url": "http://LocalHost:8080/", "token_env": "API_TOKEN"},
            {"name": "upper", "url": "HTTP://API.example.com:8080/x", "token_env": "API_TOKEN"},
            # 48c F3: loopback to urlsplit, api.example.com to the request
            {"name": "split", "url": "http://api.example.com\\.localhost/o", "token_env": "T"},
        ],
        auth=[
            {"name": "billing", "url": "https://billing.example.com/", "credentials": oauth2},
        ],
    )
    assert cleartext_credentials(config) == {
        "api.example.com": ["endpoints: orders"],
        "API.example.com": ["endpoints: upper"],  # as written (a secret in a host: 48a F3)
        "api.example.com\\.localhost": ["endpoints: split"],
        "idp.example.com": ["auth: billing (token_url)"],
    }


def test_no_credential_in_clear_is_no_notice() -> None:
    config = _config(
        endpoints=[{"name": "a", "url": "https://api.example.com/", "token_env": "API_TOKEN"}]
    )
    assert cleartext_credentials(config) == {}


def test_every_report_s_notices_name_the_host_and_its_entries(tmp_path, monkeypatch) -> None:
    from smokegate.config import load_env
    from smokegate.pytest_plugin.guard import run_notices
    from tests.support.env_files import write_env

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    entry = {"name": "orders", "url": "http://api.example.com/orders", "token_env": "API_TOKEN"}
    env = load_env(str(write_env(tmp_path, {"endpoints": [entry]})), tmp_path, tmp_path)
    assert run_notices(env) == [
        "Cleartext: credentials go over plain http:// to api.example.com (endpoints: orders): "
        "anyone on the path reads them; use https://"
    ]
