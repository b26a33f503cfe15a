"""Review fixes in env file loading: duplicate YAML keys, an empty `iam:`, `mock:` with `tls:`.

Each is checked on `load_env` (the exact message) and, where a pipeline would meet it,
through a real `pytest checks/ --env <file>` run (exit 4, the message, no traceback).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smokegate.config import (
    ConfigError,
    DuplicateKeyError,
    IamConfig,
    PasswordPolicyRule,
    load_env,
    load_yaml,
)
from smokegate.mock.http import load_http_world
from tests.e2e import ROOT, run_checks

DUPLICATE_ENDPOINTS = """\
defaults:
  timeout_s: 3
endpoints:
  - name: down
    url: https://down.example.com/health
waivers: []
# a second list, e.g. pasted from another env: PyYAML would keep only this one
endpoints:
  - name: up
    url: https://up.example.com/health
"""


def write(tmp_path: Path, text: str, name: str = "dup") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path):
    return load_env(str(path), ROOT / "envs", ROOT)


def assert_usage_error(run, fragments: list[str]) -> None:
    assert run.returncode == 4, run.output
    assert "Traceback" not in run.output, run.output
    assert "INTERNALERROR" not in run.output, run.output
    error_lines = [line for line in run.output.splitlines() if line.startswith("ERROR: smokegate:")]
    assert len(error_lines) == 1, run.output
    for fragment in fragments:
        assert fragment in error_lines[0], f"{fragment!r} not in:\n{run.output}"


# -- 1. duplicate keys ------------------------------------------------------------------------


def test_duplicate_top_level_key_names_file_key_and_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, DUPLICATE_ENDPOINTS)
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert str(raised.value) == f"{path}: line 8: duplicate key 'endpoints' (first at line 3)"


def test_duplicate_key_inside_an_entry_is_refused(tmp_path: Path) -> None:
    text = (
        "endpoints:\n"
        "  - name: api\n"
        "    url: https://a.example.com/\n"
        "    expect_status: 200\n"
        "    expect_status: 503\n"
    )
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text))
    assert "line 5: duplicate key 'expect_status' (first at line 4)" in str(raised.value)


def test_duplicate_key_in_a_flow_mapping_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, "defaults: {timeout_s: 3, timeout_s: 9}\n"))
    assert "line 1: duplicate key 'timeout_s' (first at line 1)" in str(raised.value)


def test_merge_keys_may_still_be_overridden() -> None:
    """`<<: *base` then a key of its own is YAML's override, not a duplicate."""
    data = load_yaml("base: &b {x: 1, y: 2}\nentry:\n  <<: *b\n  x: 3\n")
    assert data["entry"] == {"x": 3, "y": 2}


def test_load_yaml_raises_a_yaml_error_carrying_the_lines() -> None:
    with pytest.raises(DuplicateKeyError) as raised:
        load_yaml("a: 1\nb: 2\na: 3\n")
    assert isinstance(raised.value, yaml.YAMLError)
    assert (raised.value.key, raised.value.line, raised.value.first_line) == ("a", 3, 1)


def test_same_key_in_different_mappings_is_fine(tmp_path: Path) -> None:
    text = (
        "endpoints:\n"
        "  - name: a\n    url: https://a.example.com/\n"
        "  - name: b\n    url: https://b.example.com/\n"
    )
    config = load(write(tmp_path, text)).config
    assert [e.name for e in config.endpoints] == ["a", "b"]


def test_duplicate_key_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    path = write(tmp_path, DUPLICATE_ENDPOINTS)
    run = run_checks(tmp_path, path)
    assert_usage_error(run, [str(path), "line 8", "duplicate key 'endpoints'", "first at line 3"])


def test_duplicate_key_in_a_mocked_world_is_refused(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "http.yaml").write_text(
        "routes:\n  - url: https://a.test/health\n    status: 500\n    status: 200\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_http_world(world)
    assert str(raised.value) == (
        f"{world / 'http.yaml'}: line 4: duplicate key 'status' (first at line 3)"
    )
    env = {"mock": str(world), "endpoints": [{"name": "a", "url": "https://a.test/health"}]}
    run = run_checks(tmp_path, env)
    assert_usage_error(run, ["http.yaml", "line 4", "duplicate key 'status'"])


# -- 2. an explicit empty iam: ----------------------------------------------------------------


def test_iam_with_every_setting_commented_out_audits_with_defaults(tmp_path: Path) -> None:
    text = "iam:\n  # profile: audit\n  # role_arn: arn:aws:iam::123456789012:role/audit\n"
    config = load(write(tmp_path, text, "iam")).config
    assert config.iam == IamConfig()
    assert config.iam.max_access_key_age_days == 90
    assert config.iam.password_policy == PasswordPolicyRule()


def test_no_iam_section_still_means_no_audit(tmp_path: Path) -> None:
    config = load(write(tmp_path, "endpoints: []\n", "noiam")).config
    assert config.iam is None


# -- 3. mock: with tls: -----------------------------------------------------------------------

MOCK_AND_TLS = """\
mock: {world}
endpoints:
  - name: a
    url: https://a.test/health
tls:
  - host: a.test
"""


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


def test_mock_with_tls_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    path = write(tmp_path, MOCK_AND_TLS.format(world=world), "mocktls")
    run = run_checks(tmp_path, path)
    assert_usage_error(run, [str(path), "tls:", "mock:", "TLS checks need real handshakes"])


def test_tls_without_mock_and_mock_without_tls_still_load(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    tls_only = load(write(tmp_path, "tls:\n  - host: a.example.com\n", "tlsonly")).config
    assert [t.name for t in tls_only.tls] == ["a.example.com:443"]
    mock_only = load(write(tmp_path, f"mock: {world}\ntls: []\n", "mockonly")).config
    assert mock_only.mock == str(world) and mock_only.tls == []
