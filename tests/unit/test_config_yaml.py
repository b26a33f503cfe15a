"""Reading env and world YAML: a key given twice in one mapping is refused with the file,
the key and both lines, instead of PyYAML's silent last-one-wins; merge keys may still be
overridden, and the same key in different mappings is fine.

Through a real `pytest checks/ --env <file>` run: tests/e2e/test_config_errors.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smokegate.config import ConfigError, DuplicateKeyError, load_env, load_yaml
from tests.support.env_files import DUPLICATE_ENDPOINTS, write
from tests.support.paths import ROOT


def load(path: Path):
    return load_env(str(path), ROOT / "envs", ROOT)


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
