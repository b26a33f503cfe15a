"""Env file validation: every mistake is one readable message naming file, entry and field.

Each bad input is checked twice: on `load_env` (the exact message) and through a real
`pytest checks/ --env <file>` run (exit 4, the message on the console, no traceback),
because a pipeline only ever sees the second.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smokegate.config import ConfigError, LoadedEnv, load_env
from tests.e2e import ROOT, run_checks

GOOD = """\
endpoints:
  - name: api
    url: https://api.example.com/health
"""

# (case id, env file text, fragments the one message must contain)
BAD_FILES: list[tuple[str, str, list[str]]] = [
    (
        "invalid-yaml",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n   expect_status: 200\n",
        ["line 4", "invalid YAML"],
    ),
    (
        "unclosed-quote",
        'endpoints:\n  - name: "api\n',
        ["line 3", "invalid YAML"],
    ),
    (
        "typo-in-entry",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    expect_statsu: 200\n",
        ["endpoints[0] (api)", "expect_statsu", "did you mean 'expect_status'?"],
    ),
    (
        "typo-top-level",
        "endpoint:\n  - url: https://a.example.com/\n",
        ["unknown field 'endpoint'", "did you mean 'endpoints'?"],
    ),
    (
        "typo-in-defaults",
        "defaults:\n  timeout: 3\n",
        ["defaults.timeout", "did you mean 'timeout_s'?"],
    ),
    (
        "wrong-type-status",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    expect_status: ok\n",
        ["endpoints[0] (api).expect_status", "valid integer", "(got 'ok')"],
    ),
    (
        "wrong-type-timeout",
        "defaults:\n  timeout_s: fast\n",
        ["defaults.timeout_s", "valid number", "(got 'fast')"],
    ),
    (
        "status-out-of-range",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    expect_status: [200, 999]\n",
        ["endpoints[0] (api).expect_status", "599", "(got 999)"],
    ),
    (
        "not-a-url",
        "endpoints:\n  - name: api\n    url: api.example.com/health\n",
        ["endpoints[0] (api).url", "is not an http:// or https:// URL"],
    ),
    (
        "missing-url",
        "endpoints:\n  - name: api\n",
        ["endpoints[0] (api).url", "required field is missing"],
    ),
    (
        "bad-regex",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n    body_regex: '(unclosed'\n",
        ["endpoints[0] (api).body_regex", "not a valid regular expression"],
    ),
    (
        "duplicate-name",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "  - name: api\n    url: https://b.example.com/\n",
        ["endpoints[1] (api)", "duplicate name 'api'", "endpoints[0]"],
    ),
    (
        "duplicate-derived-name",
        "endpoints:\n  - url: https://a.example.com/x\n  - url: https://a.example.com/x/\n",
        ["endpoints[1] (a.example.com/x)", "duplicate name"],
    ),
    (
        "top-level-list",
        "- url: https://a.example.com/\n",
        ["top level must be a mapping"],
    ),
    (
        "missing-mock-folder",
        "mock: fixtures/no-such-world\n",
        ["mock:", "fixtures/no-such-world", "does not exist"],
    ),
    (
        "impossible-date",
        "waivers:\n  - check: endpoint\n    target: api\n    reason: r\n    expires: 2027-02-30\n",
        ["line 5", "'2027-02-30' is not a valid date", "day is out of range"],
    ),
]

# (case id, env file text, where, credential kind): inline secrets point at token_env
SECRETS: list[tuple[str, str, str, str]] = [
    (
        "github-token",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    token: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
        "auth[0] (api).token",
        "GitHub token",
    ),
    (
        "aws-key-id",
        "iam:\n  profile: AKIAABCDEFGHIJKLMNOP\n",
        "iam.profile",
        "AWS access key id",
    ),
    (
        "bearer",
        "endpoints:\n  - name: api\n    url: https://a.example.com/\n"
        "    headers: {Authorization: 'Bearer abc123def456ghi789'}\n",
        "endpoints[0] (api).headers.Authorization",
        "bearer token",
    ),
    (
        "jwt-as-token-env",
        "auth:\n  - name: api\n    url: https://a.example.com/\n"
        "    token_env: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\n",
        "auth[0] (api).token_env",
        "JWT",
    ),
]


def write(tmp_path: Path, text: str, name: str = "bad") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> LoadedEnv:
    return load_env(str(path), ROOT / "envs", ROOT)


def run_pytest(*args: str, env_vars: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """pytest from the project root with SMOKEGATE_* cleared, as a fresh pipeline shell."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    environ.update(env_vars or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_usage_error(returncode: int, output: str, fragments: list[str]) -> None:
    assert returncode == 4, output
    assert "Traceback" not in output, output
    error_lines = [line for line in output.splitlines() if line.startswith("ERROR: smokegate:")]
    assert len(error_lines) == 1, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


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


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_is_a_usage_error_through_pytest(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    run = run_checks(tmp_path, path)
    assert_usage_error(run.returncode, run.output, [str(path), *fragments])


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


def test_inline_credential_through_pytest(tmp_path: Path) -> None:
    path = write(tmp_path, SECRETS[0][1])
    run = run_checks(tmp_path, path)
    assert_usage_error(run.returncode, run.output, ["auth[0] (api).token", "token_env"])
    assert "ghp_abcdefghijklmnop" not in run.output


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


def test_unknown_env_through_pytest() -> None:
    done = run_pytest("checks/", "--env", "nosuch")
    assert_usage_error(
        done.returncode,
        done.stdout + done.stderr,
        ["unknown env 'nosuch'", "Known envs: ", "demo", "example-prod"],
    )


def test_unknown_env_in_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Known envs: none: .* has no \*\.yaml"):
        load_env("prod", tmp_path / "envs", tmp_path)


def test_no_env_is_a_usage_error_listing_envs() -> None:
    done = run_pytest("checks/")
    output = done.stdout + done.stderr
    assert_usage_error(done.returncode, output, ["no env given", "--env NAME", "SMOKEGATE_ENV"])
    assert "demo" in output and "example-prod" in output


def test_no_env_without_arguments_also_fails() -> None:
    """`pytest` alone collects checks/ (testpaths), so it must not run on a default."""
    done = run_pytest()
    assert_usage_error(done.returncode, done.stdout + done.stderr, ["no env given"])


def test_smokegate_env_variable_selects_the_env(tmp_path: Path) -> None:
    done = run_pytest("checks/", "--reports-dir", str(tmp_path), env_vars={"SMOKEGATE_ENV": "demo"})
    assert done.returncode == 1, done.stdout + done.stderr  # the demo holds deliberate failures
    assert (tmp_path / "demo" / "junit.xml").is_file()
    assert "test_endpoint" in (tmp_path / "demo" / "junit.xml").read_text()


def test_env_option_wins_over_the_variable(tmp_path: Path) -> None:
    run = run_checks(tmp_path, ROOT / "envs" / "demo.yaml", env_vars={"SMOKEGATE_ENV": "nosuch"})
    assert run.returncode == 1, run.output
    assert "test_endpoint[api-health]" in run.outcomes()


def test_own_tests_need_no_env() -> None:
    done = run_pytest("tests/test_health_rules.py", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    env = load_env(str(write(tmp_path, GOOD, "staging")), ROOT / "envs", ROOT)
    assert env.name == "staging"
    (endpoint,) = env.config.endpoints
    assert endpoint.name == "api"
    assert endpoint.method == "GET"
    assert endpoint.expected_statuses == (200,)
    assert env.config.defaults.timeout_s == 5
    assert env.config.defaults.max_workers == 64


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
    assert [a.name for a in config.auth] == ["user-api"]
    assert config.auth[0].forbidden[0].token_env == "READONLY_TOKEN"
    assert [t.name for t in config.tls] == ["api.example.com:443"]
    assert config.iam is not None and config.iam.max_access_key_age_days == 90
    assert [w.target for w in config.waivers] == ["legacy-bot"]
