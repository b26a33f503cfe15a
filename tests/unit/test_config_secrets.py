"""Credentials written into the env file, on `load_env`: each is refused with a message that
names the entry and field, points at token_env, and never repeats the value.

The same refusals as usage errors (exit 4) of a real run: tests/e2e/test_config_secrets.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError, LoadedEnv, load_env
from tests.support.env_files import KINDS, SECRETS, SHAPES, env_with_url_value, write, write_env
from tests.support.paths import ROOT


def load(path: Path) -> LoadedEnv:
    return load_env(str(path), ROOT / "envs", ROOT)


@pytest.mark.parametrize(
    ("text", "where", "kind"), [c[1:] for c in SECRETS], ids=[c[0] for c in SECRETS]
)
def test_inline_credentials_are_rejected(tmp_path: Path, text: str, where: str, kind: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert f"{path}: {where}: looks like a" in message
    assert kind in message
    assert "token_env" in message
    for secret in ("ghp_abcdef", "AKIAABCDEF", "abc123def456", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in message  # the error must not echo the secret it refuses


@pytest.mark.parametrize("label", list(SHAPES))
def test_inline_credential_is_refused_pointing_at_token_env(tmp_path, label):
    """Every shape, through the loader: the message names entry and field, not the value."""
    value = SHAPES[label]
    path = write_env(tmp_path, env_with_url_value(f"see {value}"))
    with pytest.raises(ConfigError) as raised:
        load_env(str(path), tmp_path, tmp_path)
    message = str(raised.value)
    kind = KINDS.get(label, label)
    article = "an" if kind[0] in "AEIOU" else "a"
    assert f"waivers[0] (endpoint).reason: looks like {article} {kind}" in message
    assert "name that variable with token_env" in message
    assert value not in message


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


@pytest.mark.parametrize(
    "entry",
    [
        "  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {bearer_env: DEPLOY_CRED}\n    timeout_s: 'Zq9xK2mP7vL4nR8tW3yB'\n",
        "  - name: Zq9xK2mP7vL4nR8tW3yB\n    url: https://a.example.com/\n"
        "    credentials: {bearer_env: DEPLOY_CRED}\n"
        "  - name: Zq9xK2mP7vL4nR8tW3yB\n    url: https://b.example.com/\n",
    ],
    ids=["in-a-wrong-field", "as-a-duplicate-name"],
)
def test_a_refusal_masks_the_value_of_a_variable_the_file_names(tmp_path, monkeypatch, entry):
    """Round 56a: refusals are made before the run knows its credential variables, and a
    variable named like no secret (DEPLOY_CRED) had its token, pasted into the file too,
    quoted whole by the refusal."""
    monkeypatch.setenv("DEPLOY_CRED", "Zq9xK2mP7vL4nR8tW3yB")
    path = write(tmp_path, "endpoints:\n" + entry)
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert "Zq9xK2mP7vL4nR8tW3yB" not in message
    assert "***" in message and "line 5:" in message


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("json: {'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789': 1}", "endpoints[0] (api).json"),
        ("headers: {AKIAIOSFODNN7EXAMPLE: x}", "endpoints[0] (api).headers"),
        (
            "jmespath: {\"length(items[?k=='ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789'])\": 1}",
            "endpoints[0] (api).jmespath",
        ),
    ],
    ids=["json-key", "header-name", "jmespath-expression"],
)
def test_a_credential_written_as_a_key_is_refused_without_naming_it(tmp_path, field, where):
    """Round 56b: keys were never judged, so a token as a `json:` key, a header name or in
    a jmespath expression loaded and its failing case quoted it in every output."""
    path = write(
        tmp_path, f"endpoints:\n  - name: api\n    url: https://a.example.com/\n    {field}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert f"line 4: {where}: holds a key that looks like a" in message
    assert "ghp_aBcDeF" not in message and "AKIAIOSFODNN7" not in message


@pytest.mark.parametrize("section", ["endpoints", "tls"])
def test_a_credential_written_as_an_entrys_name_is_not_repeated_as_its_label(tmp_path, section):
    """Round 56c: a place is named with its entry's name, so a token written as the name
    was repeated by its own refusal (`endpoints[0] (ghp_...).name: looks like ...`)."""
    token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    target = "url: https://a.example.com/" if section == "endpoints" else "host: a.example.com"
    path = write(tmp_path, f"{section}:\n  - name: {token}\n    {target}\n")
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert f"line 2: {section}[0].name: looks like a GitHub token" in message
    assert "aBcDeFgHiJ" not in message


def test_a_variable_named_on_the_line_after_its_key_is_masked_too(tmp_path, monkeypatch):
    """Round 56c: the names were read from single lines only; a name on the next line (or
    behind `!!str`) is read from the parsed file."""
    monkeypatch.setenv("DEPLOY_CRED", "Zq9xK2mP7vL4nR8tW3yB")
    path = write(
        tmp_path,
        "defaults:\n  timeout_s: 'Zq9xK2mP7vL4nR8tW3yB'\nendpoints:\n  - name: api\n"
        "    url: https://a.example.com/\n    token_env:   # the deploy job's\n"
        "      !!str DEPLOY_CRED\n",
    )
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert "line 2: defaults.timeout_s" in message
    assert "Zq9xK2mP7vL4nR8tW3yB" not in message and "***" in message


@pytest.mark.parametrize(
    "text",
    [
        # a variable named through an alias, then a line YAML cannot read quoting the token
        "x: &tok DEPLOY_CRED\nendpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {bearer_env: *tok}\n     Zq9xK2mP7vL4nR8tW3yB: 1\n",
        # a GitHub token on a badly indented line: the file's own check never ran
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "     ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789: 1\n",
        # round 56e: the value glued to punctuation on the quoted line
        "x: &tok DEPLOY_CRED\nendpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    credentials: {bearer_env: *tok}\n     a=Zq9xK2mP7vL4nR8tW3yB}: 1\n",
    ],
    ids=["variable-named-through-an-alias", "github-token", "value-glued-to-punctuation"],
)
def test_a_yaml_error_does_not_quote_a_secret(tmp_path, monkeypatch, text):
    """Round 56d: a file YAML cannot parse names its variables in ways its text does not show,
    and its indentation advice quotes the offending line's key."""
    monkeypatch.setenv("DEPLOY_CRED", "Zq9xK2mP7vL4nR8tW3yB")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert "invalid YAML" in message
    assert "Zq9xK2mP" not in message and "aBcDeFgHiJ" not in message
