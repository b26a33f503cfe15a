"""The env file's own text holding part of a secret is refused (rounds 48 to 52: pieces of
a token in hosts, paths, names came back lower-cased, spread or cut in every report)."""

from __future__ import annotations

import pytest

from smokegate.config import EnvConfig
from smokegate.pytest_plugin.written_secrets import written_secret_problems

TOKEN = "Zq7Xk2mP93845762Lw"


def _problems(monkeypatch: pytest.MonkeyPatch, sections: dict, **environ: str) -> list[str]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return written_secret_problems(EnvConfig.model_validate(sections), environ)


def _endpoint(**fields: object) -> dict:
    return {"endpoints": [{"url": "https://api.example.com/health", **fields}]}


@pytest.mark.parametrize(
    ("fields", "place"),
    [
        ({"name": f"api-{TOKEN[:9]}"}, "endpoints[0].name"),
        ({"url": f"https://{TOKEN[2:12].lower()}.example.com/"}, "endpoints[0].url"),
        ({"url": f"https://{TOKEN[:5]}-{TOKEN[5:11]}.example.com/"}, "endpoints[0].url"),
        ({"headers": {"x-trace_env": TOKEN[4:14]}}, "endpoints[0].headers.x-trace_env"),
        ({"json": {"account": int(TOKEN[8:16])}}, "endpoints[0].json.account"),
    ],
)
def test_a_piece_of_the_token_anywhere_is_refused(monkeypatch, fields, place) -> None:
    """52a F1: a map key ending in `_env` skipped its value; 52c F2: a number skipped."""
    found = _problems(monkeypatch, _endpoint(token_env="API_TOKEN", **fields), API_TOKEN=TOKEN)
    assert found == [f"{place} holds part of the value of API_TOKEN"]


def test_a_variable_s_name_is_no_text_of_the_env_file(monkeypatch) -> None:
    """A variable's name is the author's, sent nowhere: `CANARY_PASSWORD` holding a value
    `canary-password-...` is an honest env (a variable named after a piece of its own value,
    round 52a F3, is accepted: documented)."""
    found = _problems(
        monkeypatch, _endpoint(token_env="CANARY_PASSWORD"), CANARY_PASSWORD="canary-password-x9"
    )
    assert found == []


def test_pieces_of_aws_and_proxy_secrets_are_refused(monkeypatch) -> None:
    """52a F2: only the env file's credential variables were known."""
    # percent-encoded in the URL, sent decoded (round 53a F1: compared encoded)
    monkeypatch.setenv("HTTPS_PROXY", "http://svc:Pr0xy%40Passw0rd9@127.0.0.1:3128")
    sections = _endpoint(headers={"x-one": "wJalrXUtnFEMI", "x-two": "0xy@passw"})
    config = EnvConfig.model_validate(sections)
    found = written_secret_problems(
        config, {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    )
    assert found == [
        "endpoints[0].headers.x-one holds part of the value of AWS_SECRET_ACCESS_KEY",
        "endpoints[0].headers.x-two holds part of the value of the https proxy's password",
    ]


@pytest.mark.parametrize("password", ["Redirects#2026", "Security-2026!", "Credentials!1"])
def test_smokegate_s_own_field_names_and_defaults_are_no_text_of_the_env_file(
    monkeypatch, password
) -> None:
    """52c F1: honest passwords sharing 8 letters with `follow_redirects`,
    `security_headers` or `credentials` were refused for a section that holds no secret."""
    sections = {
        "endpoints": [
            {
                "url": "https://api.example.com/health",
                "credentials": {"basic": {"username": "svc", "password_env": "APP_PW"}},
                "security_headers": True,
            }
        ]
    }
    assert _problems(monkeypatch, sections, APP_PW=password) == []


def test_the_whole_value_as_sent_in_a_path_is_masked_not_refused(monkeypatch) -> None:
    """httpbin's `/basic-auth/<user>/<password>` takes the password in its path, whole: that
    form is masked wherever it shows (round 52c). In a host it goes out lower-cased."""
    password = "Hb9xQ2-pw7Lk"
    basic = {"basic": {"username": "svc", "password_env": "HB_PASSWORD"}}
    in_path = _endpoint(url=f"http://127.0.0.1:9/basic-auth/svc/{password}", credentials=basic)
    assert _problems(monkeypatch, in_path, HB_PASSWORD=password) == []
    in_host = _endpoint(url=f"http://{password}.example.com/", credentials=basic)
    assert _problems(monkeypatch, in_host, HB_PASSWORD=password) == [
        "endpoints[0].url holds part of the value of HB_PASSWORD"
    ]


def test_the_whole_value_in_a_host_header_is_refused(monkeypatch) -> None:
    """Round 53a F2: a `Host:` request header goes out, and comes back, as a host does."""
    token = "QwErTyUiOpAsDf"
    sections = _endpoint(token_env="API_TOKEN", request={"headers": {"Host": f"{token}.test"}})
    assert _problems(monkeypatch, sections, API_TOKEN=token) == [
        "endpoints[0].request.headers.Host holds part of the value of API_TOKEN"
    ]
