"""Env file loading (`load_env`): every mistake is one readable message naming file, entry
and field; good files load with their defaults; the shipped envs and the commented-out
sections of the template load; an `iam:` with every setting commented out audits with the
defaults; `mock:` beside `tls:` is refused.

The same mistakes through a real `pytest checks/ --env <file>` run, as a pipeline meets
them, are in tests/e2e/test_config_errors.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError, IamConfig, LoadedEnv, PasswordPolicyRule, load_env
from tests.support.env_files import BAD_FILES, MOCK_AND_TLS, write
from tests.support.paths import ROOT

GOOD = """\
endpoints:
  - name: api
    url: https://api.example.com/health
"""


def load(path: Path) -> LoadedEnv:
    return load_env(str(path), ROOT / "envs", ROOT)


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_is_one_clear_config_error(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:")
    for fragment in fragments:
        assert fragment in message
    assert "constrained" not in message and "pydantic" not in message  # no library internals
    assert fragments[0] in message.splitlines()[0]  # what explains the rest is said first


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "defaults:\n  timeout_s: fast\n"
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    max_latncy_ms: 5\n",
    )
    with pytest.raises(ConfigError) as raised:
        load(path)
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert "defaults.timeout_s" in lines[0]
    assert "did you mean 'max_latency_ms'?" in lines[1]


def test_unknown_env_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_env("nosuch", ROOT / "envs", ROOT)
    message = str(raised.value)
    assert "unknown env 'nosuch'" in message
    assert "envs/nosuch.yaml does not exist" in message
    assert "demo" in message and "example-prod" in message


def test_unknown_env_in_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Known envs: none: .* has no \*\.yaml"):
        load_env("prod", tmp_path / "envs", tmp_path)


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    env = load_env(str(write(tmp_path, GOOD, "staging")), ROOT / "envs", ROOT)
    assert env.name == "staging"
    (endpoint,) = env.config.endpoints
    assert endpoint.name == "api"
    assert endpoint.method == "GET"
    assert endpoint.expected_statuses == (200,)
    assert env.config.defaults.timeout_s == 5
    assert env.config.defaults.max_workers == 128


def test_names_are_derived_from_urls(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "endpoints:\n  - url: https://api.example.com/health/\n"
        "  - url: http://127.0.0.1:8080\n  - url: https://api.example.com/v2/health\n",
    )
    names = [e.name for e in load(path).config.endpoints]
    assert names == ["api.example.com/health", "127.0.0.1:8080", "api.example.com/v2/health"]


def test_empty_file_is_an_empty_env(tmp_path: Path) -> None:
    env = load(write(tmp_path, "# nothing yet\n"))
    assert env.config.endpoints == []


@pytest.mark.parametrize("name", ["demo", "example-prod"])
def test_shipped_envs_load(name: str) -> None:
    env = load_env(name, ROOT / "envs", ROOT)
    assert env.name == name
    assert env.config.endpoints


def test_example_prod_commented_sections_are_valid(tmp_path: Path) -> None:
    """The template's commented-out auth/tls/iam/waivers blocks load once uncommented."""
    text = (ROOT / "envs" / "example-prod.yaml").read_text(encoding="utf-8")
    out: list[str] = []
    block = False
    for line in text.splitlines():
        if line.startswith(("# auth:", "# tls:", "# iam:", "# waivers:")):
            block = True
        elif not line.startswith("#   "):
            block = False  # a block's body is indented under its commented-out key
        out.append(line[2:] if block else line)
    env = load(write(tmp_path, "\n".join(out) + "\n", "uncommented"))
    config = env.config
    assert [a.name for a in config.auth] == ["user-api", "web-session", "key-api"]
    assert config.auth[1].auth.header is not None and config.auth[2].anonymous_status == 401
    assert config.auth[0].forbidden[0].token_env == "READONLY_TOKEN"
    assert [t.name for t in config.tls] == ["api.example.com:443"]
    assert config.iam is not None and config.iam.max_access_key_age_days == 90
    assert [w.target for w in config.waivers] == ["legacy-bot:key1"]


# -- an explicit empty iam: ------------------------------------------------------------------


def test_iam_with_every_setting_commented_out_audits_with_defaults(tmp_path: Path) -> None:
    text = "iam:\n  # profile: audit\n  # role_arn: arn:aws:iam::123456789012:role/audit\n"
    config = load(write(tmp_path, text, "iam")).config
    assert config.iam == IamConfig()
    assert config.iam.max_access_key_age_days == 90
    assert config.iam.password_policy == PasswordPolicyRule()


def test_no_iam_section_still_means_no_audit(tmp_path: Path) -> None:
    config = load(write(tmp_path, "endpoints: []\n", "noiam")).config
    assert config.iam is None


# -- mock: with tls: ------------------------------------------------------------------------


def test_mock_with_tls_is_refused(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    path = write(tmp_path, MOCK_AND_TLS.format(world=world), "mocktls")
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: tls:")
    assert "mock:" in message
    assert "a mocked env sends no real traffic" in message
    assert "TLS checks need real handshakes" in message
    assert "run tls: from an env without mock:" in message


def test_tls_without_mock_and_mock_without_tls_still_load(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    tls_only = load(write(tmp_path, "tls:\n  - host: a.example.com\n", "tlsonly")).config
    assert [t.name for t in tls_only.tls] == ["a.example.com:443"]
    mock_only = load(write(tmp_path, f"mock: {world}\ntls: []\n", "mockonly")).config
    assert mock_only.mock == str(world) and mock_only.tls == []
