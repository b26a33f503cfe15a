"""A bad env file through a real `pytest checks/ --env <file>` run, as a pipeline meets it:
exit 4, one `ERROR: smokegate:` line naming file, entry and field, no traceback. Invalid
values, duplicate YAML keys (in the env file and in a mocked world's http.yaml), `mock:`
beside `tls:`.

The exact messages on `load_env` are in tests/unit/test_config.py and test_config_yaml.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smokegate.config import ConfigError
from smokegate.mock.http import load_http_world
from tests.support.e2e import assert_usage_error, run_checks
from tests.support.env_files import BAD_FILES, DUPLICATE_ENDPOINTS, MOCK_AND_TLS, write


def assert_one_usage_error_line(run, fragments: list[str]) -> None:
    """Exit 4, no traceback or INTERNALERROR, and every fragment in the one error line."""
    assert run.returncode == 4, run.output
    assert "Traceback" not in run.output, run.output
    assert "INTERNALERROR" not in run.output, run.output
    error_lines = [line for line in run.output.splitlines() if line.startswith("ERROR: smokegate:")]
    assert len(error_lines) == 1, run.output
    for fragment in fragments:
        assert fragment in error_lines[0], f"{fragment!r} not in:\n{run.output}"


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_is_a_usage_error_through_pytest(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    run = run_checks(tmp_path, path)
    assert_usage_error(run.returncode, run.output, [str(path), *fragments])


def test_duplicate_key_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    path = write(tmp_path, DUPLICATE_ENDPOINTS)
    run = run_checks(tmp_path, path)
    assert_one_usage_error_line(
        run, [str(path), "line 8", "duplicate key 'endpoints'", "first at line 3"]
    )


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
    assert_one_usage_error_line(run, ["http.yaml", "line 4", "duplicate key 'status'"])


def test_mock_with_tls_is_a_usage_error_through_pytest(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    path = write(tmp_path, MOCK_AND_TLS.format(world=world), "mocktls")
    run = run_checks(tmp_path, path)
    assert_one_usage_error_line(
        run, [str(path), "tls:", "mock:", "TLS checks need real handshakes"]
    )
