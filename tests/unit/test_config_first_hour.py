"""The first hour with an env file, on `load_env` and its wording (`smokegate.config_help`):
severities in any case, "did you mean" only for a field close in meaning as well as
spelling, a secret written as `token_env` refused unseen, `--env local.yaml` and
`--env Local`, an env named by SMOKEGATE_ENV, the waiver horizon, YAML indentation and tabs.

Each bad file through a real run (exit 4, one message): tests/support/env_files.py BAD_FILES,
run by tests/unit/test_config.py and tests/e2e/test_config_errors.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smokegate.config import ConfigError, Endpoint, EnvConfig, load_env
from smokegate.config_help import secret_shaped, suggest_field, yaml_advice
from smokegate.severity import Severity
from tests.support.env_files import write


def _refusal(tmp_path: Path, text: str) -> str:
    """The one message `load_env` refuses an env file of `text` with."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    return str(raised.value)


ENDPOINT_FIELDS = [f.alias or n for n, f in Endpoint.model_fields.items()]
TOP_FIELDS = [f.alias or n for n, f in EnvConfig.model_fields.items()]


@pytest.mark.parametrize("written", ["Critical", "CRITICAL", " critical "])
def test_severity_is_read_in_any_case(tmp_path: Path, written: str) -> None:
    path = write(
        tmp_path,
        f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    severity: '{written}'\n",
    )
    env = load_env(str(path), tmp_path, tmp_path)
    assert env.config.endpoints[0].severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("typed", "known", "meant"),
    [
        ("expect_statsu", ENDPOINT_FIELDS, "expect_status"),  # a typo
        ("max_latncy_ms", ENDPOINT_FIELDS, "max_latency_ms"),
        ("sevrity", ENDPOINT_FIELDS, "severity"),
        ("endpoint", TOP_FIELDS, "endpoints"),
        ("status_code", ENDPOINT_FIELDS, "expect_status"),  # a synonym
        ("latency", ENDPOINT_FIELDS, "max_latency_ms"),
        ("allow_redirects", ENDPOINT_FIELDS, "follow_redirects"),  # requests' name
        ("verify", TOP_FIELDS, "ca_bundle"),  # requests' verify= is the CA
        ("verify", ENDPOINT_FIELDS, "ca_bundle"),  # an endpoint has its own ca_bundle
        ("request_headers", ENDPOINT_FIELDS, "request"),  # request: {headers: ...}
        # two letters swapped in a short word (new-user trial, stop 18)
        ("bearer_evn", ["bearer_env", "header", "query", "basic", "oauth2"], "bearer_env"),
        ("ulr", ENDPOINT_FIELDS, "url"),
        # close in spelling, far in meaning: no suggestion
        ("verify", ["url", "severity"], None),  # never severity
        ("request_headers", ["url", "security_headers"], None),
        ("body_headers", ENDPOINT_FIELDS, None),
    ],
)
def test_did_you_mean_needs_meaning_as_well_as_spelling(typed, known, meant) -> None:
    assert suggest_field(typed, known) == meant


def test_a_synonym_names_a_field_only_where_the_model_has_it() -> None:
    """Rows for fields a model lacks (`request:`, `credentials:` on a model without them)
    suggest nothing there, and start suggesting once the field exists."""
    assert suggest_field("request_headers", ["url", "headers"]) is None
    assert suggest_field("request_headers", ["url", "headers", "request"]) == "request"
    assert suggest_field("basic_auth", ["url", "credentials"]) == "credentials"


def test_unknown_field_without_a_meaningful_match_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path, "endpoints:\n  - name: api\n    url: https://a.example.com/\n    colour: red\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    message = str(raised.value)
    assert "endpoints[0] (api).colour: unknown field 'colour' (known: name, url," in message
    assert "did you mean" not in message


def _base64_name() -> str:
    return "AbCdEf0123456789" + "xyzXYZ0123456789abcdEF"  # 38 characters, a valid identifier


def _hex_token() -> str:
    return "0123456789abcdef" * 2 + "deadbeef"


@pytest.mark.parametrize("value", [_base64_name(), _hex_token(), "dGhpcyBpcyBhIHRva2VuIQ=="])
def test_a_secret_written_as_token_env_is_refused_without_echoing_it(
    tmp_path: Path, value: str
) -> None:
    message = _refusal(
        tmp_path,
        f"auth:\n  - name: api\n    url: https://a.example.com/\n    token_env: '{value}'\n",
    )
    assert "auth[0] (api).token_env: looks like a secret value" in message
    assert "not the name of a variable" in message
    assert value not in message and value[:12] not in message


@pytest.mark.parametrize(
    "name", ["API_TOKEN", "DEMO_READONLY_TOKEN", "ORDERS_TOKEN_PROD_EU_WEST_1", "myToken", "T"]
)
def test_variable_names_are_not_taken_for_secrets(name: str) -> None:
    assert secret_shaped(name) is None


def test_env_file_name_is_found_in_the_envs_folder(tmp_path: Path, monkeypatch) -> None:
    envs = tmp_path / "envs"
    envs.mkdir()
    write(envs, "endpoints: []\n", "local")
    monkeypatch.chdir(tmp_path)  # ./local.yaml does not exist: envs/local.yaml is meant
    env = load_env("local.yaml", envs, tmp_path)
    assert env.path == envs / "local.yaml"


@pytest.mark.parametrize(("typed", "meant"), [("Local", "local"), ("locl", "local")])
def test_an_env_name_in_the_wrong_case_or_misspelt_is_suggested(tmp_path, typed, meant):
    envs = tmp_path / "envs"
    envs.mkdir()
    write(envs, "endpoints: []\n", "local")
    write(envs, "endpoints: []\n", "prod")
    with pytest.raises(ConfigError) as raised:
        load_env(typed, envs, tmp_path)
    assert f"unknown env '{typed}'" in str(raised.value)
    assert f"does not exist. Did you mean '{meant}'? Known envs: local, prod" in str(raised.value)


def test_the_readmes_prod_before_it_is_copied_says_to_copy_the_example(tmp_path):
    """New-user trial (stop 18): `--env prod`, as the README and CI examples write it,
    listed the known envs and no way on."""
    envs = tmp_path / "envs"
    envs.mkdir()
    write(envs, "endpoints: []\n", "example-prod")
    with pytest.raises(ConfigError) as raised:
        load_env("prod", envs, tmp_path)
    assert "Copy envs/example-prod.yaml to envs/prod.yaml and set its targets" in str(raised.value)


def test_an_env_named_by_the_variable_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown env 'stagin' \(named by SMOKEGATE_ENV\)"):
        load_env("stagin", tmp_path, tmp_path, named_by="SMOKEGATE_ENV")


def test_waiver_horizon_is_configurable(tmp_path: Path) -> None:
    soon = (datetime.now(UTC).date() + timedelta(days=40)).isoformat()
    path = write(
        tmp_path,
        f"waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: {soon}\n",
    )
    assert load_env(str(path), tmp_path, tmp_path).config.waivers[0].reason == "r"
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path, waiver_horizon_days=30)
    assert "waivers[0] (endpoint).expires" in str(raised.value)
    assert "a waiver lasts at most 30 days" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "line", "problem", "words"),
    [
        ("a:\n  b: 1\n c: 2\n", 2, "did not find expected key", ["indentation", "1 space,"]),
        ("a:\n\tb: 1\n", 1, "found character that cannot start any token", ["tab character"]),
        ("a:\n  - n x\n    u: 1\n", 2, "mapping values are not allowed here", ["missing ':'"]),
        # under a list item the keys line up after '- ', not under the dash
        (
            "endpoints:\n  - name: a\n     url: x\n",
            2,
            "did not find expected key",
            ["indented by 5 spaces, the line above's key by 4 (after its '- ')"],
        ),
    ],
)
def test_yaml_advice_in_plain_words(text, line, problem, words) -> None:
    advice = yaml_advice(text, line, problem)
    for word in words:
        assert word in advice


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_an_env_path_that_is_no_regular_file_says_so(tmp_path: Path, kind: str) -> None:
    """/dev/zero, a FIFO or a folder exists: "does not exist" would send the user looking for
    a file that is there."""
    import os

    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "env.yaml", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    assert "is not a regular file" in str(raised.value), raised.value
    assert "does not exist" not in str(raised.value)


def test_each_validation_error_names_its_line(tmp_path: Path) -> None:
    """An editor jumps to `line N`: the key's line, the list item's, the enclosing entry's
    for a missing field, and a key brought in by a merge is found where the entry
    overrides it (the data's last word)."""
    path = write(
        tmp_path,
        "defaults:\n"  # 1
        "  timeout_s: -1\n"  # 2
        "base: &base {url: 'https://a.example.com/', expect_status: 200}\n"  # 3
        "endpoints:\n"  # 4
        "  - name: api\n"  # 5
        "    url: https://a.example.com/\n"  # 6
        "    expect_statsu: 200\n"  # 7
        "  - {name: no-url}\n"  # 8
        "  - <<: *base\n"  # 9
        "    name: merged\n"  # 10
        "    expect_status: [200, 'x']\n",  # 11
    )
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    message = str(raised.value)
    assert "line 2: defaults.timeout_s:" in message
    assert "line 7: endpoints[0] (api).expect_statsu: unknown field" in message
    assert "line 8: endpoints[1] (no-url).url: required field is missing" in message
    assert "line 11: endpoints[2] (merged).expect_status[1]:" in message
    assert "line 3: base: unknown field 'base'" in message


def test_lines_in_a_large_mapping_and_places_not_in_the_file() -> None:
    """Keys of a 20 000-key mapping (one index per mapping, not a scan per error); a place
    below a scalar or absent from the file falls back to its nearest enclosing line."""
    import yaml

    from smokegate.yaml_places import YamlPlaces

    keys = 20_000
    node = yaml.compose("\n".join(f"k{i}: {i}" for i in range(keys)))
    places = YamlPlaces(node)
    assert [places.line_of((f"k{i}",)) for i in (0, 1, keys - 1)] == [1, 2, keys]
    assert places.line_of(("nope", "deeper")) == 1  # not in the file: the document's start
    assert places.line_of(("k5", "deeper")) == 6  # below a scalar: the scalar's own line


@pytest.mark.parametrize("written", ["$LOCAL_API_TOKEN", "${LOCAL_API_TOKEN}"])
def test_a_variable_written_the_shells_way_is_told_to_drop_the_dollar(
    tmp_path: Path, written: str
) -> None:
    """New-user trial 54 (L3): `token_env: $LOCAL_API_TOKEN` was told it is no variable
    name; the mistake is the `$`, and the name alone is what to write."""
    message = _refusal(
        tmp_path,
        f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    token_env: '{written}'\n",
    )
    assert "endpoints[0] (api).token_env" in message
    assert "written with a '$'" in message and "name alone, LOCAL_API_TOKEN" in message


def test_a_token_behind_a_dollar_is_still_never_echoed(tmp_path: Path) -> None:
    message = _refusal(
        tmp_path,
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    token_env: '$Zq7+xK2/mPw9=='\n",
    )
    assert "Zq7" not in message


def test_a_choice_of_values_is_said_in_an_env_file_readers_words(tmp_path: Path) -> None:
    """New-user trial 54 (L3): pydantic's "Input should be 'critical', ..." voice."""
    message = _refusal(
        tmp_path,
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    severity: urgent\n",
    )
    assert "severity: should be one of 'critical', 'high', 'medium' or 'low' (got 'urgent')" in (
        message
    )
    assert "Input should be" not in message


def test_a_key_under_the_lists_dash_is_told_to_line_up_with_the_entrys_first_key(tmp_path):
    """New-user trial 55: `- url: ...` then `expect_status: 200` under the dash was told of
    a missing ':' or a value needing quotes; the slip is the indentation."""
    message = _refusal(
        tmp_path, "endpoints:\n  - url: http://127.0.0.1:8765/health.json\n  expect_status: 200\n"
    )
    assert "line 3 ('expect_status') is at the column of the line above's '-'" in message
    assert "4 spaces in" in message and "missing ':'" not in message


@pytest.mark.parametrize(
    "quoted", ['\'{"status": "ok"}\'', "' [1, 2]'", '"{\\"a\\": {\\"b\\": 1}}"']
)
def test_json_written_as_a_quoted_string_is_told_to_drop_the_quotes(tmp_path, quoted):
    """A body pasted from curl between quotes asks for a body that is one JSON string: said
    when the file is read, with its line, instead of failing every run."""
    entry = "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
    message = _refusal(tmp_path, f"{entry}    json: {quoted}\n")
    assert "line 4: endpoints[0] (api).json: is a quoted string holding JSON" in message
    assert "remove the quotes" in message


@pytest.mark.parametrize("text", ["'ok'", "'{not json'", "'[1, 2'", "'42'", "{status: ok}"])
def test_json_that_is_a_plain_string_or_data_still_loads(tmp_path, text):
    """A JSON string answer (`"ok"`), text that only starts like JSON, and YAML data are what
    they say: no refusal."""
    path = write(tmp_path, f"endpoints:\n  - url: https://a.example.com/\n    json: {text}\n")
    env = load_env(str(path), tmp_path, tmp_path)
    assert env.config.endpoints[0].json_subset is not None


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization", "Custom 0123456789abcdef"),  # (a Basic pair: refused by shape)
        ("X-Api-Key", "3f9a1c7e2b8d4f6a0c5e9b1d7f3a2c8e4b6d0f1a"),
        ("x-auth-token", "Zk3q9xLmP2vR7tYw8nB4cD6fH1jK5sQ0"),
        ("Cookie", "session=0123456789abcdef"),
        # round 56e: credential headers no credential word names
        ("X-Auth", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("Authentication", "9f8e7d6c5b4a39281706f5e4d3c2b1a1"),
        ("X-Registry-Auth", "eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ"),
    ],
)
def test_a_credential_under_the_answers_headers_is_refused_without_echoing_it(
    tmp_path, header, value
):
    """`headers:` lists what the answer must carry; a credential written there is committed
    in the file, and a failing case quoted it in every report (new-user trial 56)."""
    entry = "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
    message = _refusal(tmp_path, f'{entry}    headers: {{{header}: "{value}"}}\n')
    assert f"line 4: endpoints[0] (api).headers: '{header}' carries credentials" in message
    assert f"credentials: {{header: {{name: {header}, value_env: VAR}}}}" in message
    assert value not in message and value[-12:] not in message


@pytest.mark.parametrize("header", ["Accept", "user-agent", "Referer"])
def test_a_header_only_a_client_sends_is_told_to_go_under_request(tmp_path, header):
    entry = "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
    message = _refusal(tmp_path, f"{entry}    headers: {{{header}: application/json}}\n")
    assert f"'{header}' is a header a client sends" in message
    assert f"write it under request: {{headers: {{{header}: ...}}}}" in message


@pytest.mark.parametrize(
    "headers",
    [
        "{Content-Type: application/json, Strict-Transport-Security: max-age}",
        "{WWW-Authenticate: Bearer, Set-Cookie: 'session='}",
        "{X-Csrf-Token: ''}",  # present at all: too short to be a secret
    ],
)
def test_headers_an_answer_carries_still_load(tmp_path, headers):
    path = write(tmp_path, f"endpoints:\n  - url: https://a.example.com/\n    headers: {headers}\n")
    env = load_env(str(path), tmp_path, tmp_path)
    assert env.config.endpoints[0].headers


def test_a_duplicate_name_is_refused_at_its_line(tmp_path):
    """New-user trial 56: every env-file message names its line but this one."""
    text = (
        "endpoints:\n  - name: a\n    url: https://a.example.com/\n"
        "  - name: a\n    url: https://b.example.com/\n"
    )
    message = _refusal(tmp_path, text)
    assert "line 4: endpoints[1] (a): duplicate name 'a', already used by endpoints[0]" in message
