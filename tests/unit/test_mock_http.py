"""A mocked world's `http.yaml`, read: every mistake is one clear message naming the file and
the route's field; a world without http.yaml mocks nothing. Nothing is mocked or sent here.

The world answering requests in-process: tests/integration/test_mock_http.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError
from smokegate.mock.http import load_http_world
from tests.support.worlds import make_world


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("routes:\n  - url: https://a/\n   status: 200\n", ["line 3", "invalid YAML"]),
        ("routes:\n  - url: https://a/\n    staus: 200\n", ["routes[0].staus", "unknown field"]),
        ("routes:\n  - url: https://a/\n    status: many\n", ["routes[0].status", "integer"]),
        ("routes:\n  - url: https://a/\n    status: 999\n", ["routes[0].status", "599"]),
        ("routes:\n  - status: 200\n", ["routes[0].url", "required"]),
        ("- url: https://a/\n", ["top level must be a mapping"]),
    ],
    ids=["yaml", "unknown-field", "wrong-type", "bad-status", "no-url", "top-level-list"],
)
def test_bad_world_file_is_a_clear_error(tmp_path: Path, text: str, fragments: list[str]) -> None:
    folder = make_world(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_http_world(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'http.yaml'}:")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_world_without_http_yaml_mocks_nothing(tmp_path: Path) -> None:
    assert load_http_world(tmp_path).routes == []
