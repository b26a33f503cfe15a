"""Hostile env files, mocked worlds and ini values (attack round 1 on issue 10: H4, H6 and
the MEDIUM items). Each is one usage error (exit 4), in bounded time and memory, never a
traceback, never a control character or a huge value echoed."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.e2e import Run, checks_command, run_checks
from tests.support.env_files import write
from tests.support.paths import ROOT

ESC = "\x1b[2K\x1b[1Agate PASSED\r"
RAW_IDS = "disable_test_id_escaping_and_forfeit_all_rights_to_community_support"
OUTPUT_BOUND = 20_000


def assert_clean_usage_error(result: Run, *fragments: str) -> None:
    assert result.returncode == 4, result.output
    assert "Traceback" not in result.output and "INTERNALERROR" not in result.output
    assert "\x1b" not in result.output and "\r" not in result.output.replace("\r\n", "\n")
    assert len(result.output) < OUTPUT_BOUND, len(result.output)
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_a_huge_scalar_aliased_many_times_is_refused_by_its_expanded_size(tmp_path):
    """1 MiB aliased 40 times is few values and 40 MiB of text: counted in characters."""
    big = "x" * (1024 * 1024)
    text = f"defaults:\n  timeout_s: 5\nx-big: &a '{big}'\nendpoints:\n" + "".join(
        f"  - {{name: e{i}, url: 'https://a.example/', body_contains: *a}}\n" for i in range(40)
    )
    result = run_checks(tmp_path, write(tmp_path, text, "alias-chars"))
    assert_clean_usage_error(result, "MiB of text once its aliases")


def test_a_wrong_typed_huge_list_of_aliases_is_quoted_shortly(tmp_path):
    big = "y" * (200 * 1024)
    aliases = ", ".join(["*a"] * 10)
    text = (
        f"x: &a '{big}'\nendpoints:\n  - name: e\n    url: https://a.example/\n"
        f"    expect_status: [{aliases}]\n"
    )
    result = run_checks(tmp_path, write(tmp_path, text, "alias-repr"))
    assert_clean_usage_error(result, "expect_status")


@pytest.mark.parametrize(
    "text",
    [
        f"endpoints:\n  - {{name: '{ESC}', url: 'https://a.example/'}}\n  - {{name: '{ESC}', url: 'https://b.example/'}}\n",
        f"tls:\n  - {{host: '{ESC}'}}\n  - {{host: '{ESC}'}}\n",
        f"mock: '{ESC}'\nendpoints:\n  - {{name: a, url: 'https://a.example/'}}\n",
        f"ca_bundle: '{ESC}'\nendpoints:\n  - {{name: a, url: 'https://a.example/'}}\n",
        f"endpoints:\n  - {{name: a, url: 'https://a.example/', ca_bundle: '{ESC}'}}\n",
        f"mock: '{'m' * 300}'\n",
        f"ca_bundle: '{'c' * 300}'\n",
        f"endpoints:\n  - {{name: a, url: 'https://a.example/', ca_bundle: '{'c' * 5000}'}}\n",
    ],
    ids=[
        "dup-name",
        "dup-tls",
        "mock",
        "ca-bundle",
        "entry-ca",
        "long-mock",
        "long-ca",
        "long-entry-ca",
    ],
)
def test_env_file_text_in_a_message_has_no_control_character_and_no_traceback(tmp_path, text):
    text = text.replace("\x1b", "\\e").replace("\r", "\\r")  # YAML escapes, in double quotes
    text = text.replace("'\\e", '"\\e').replace("\\r'", '\\r"')
    result = run_checks(tmp_path, write(tmp_path, text, "esc"))
    assert_clean_usage_error(result)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("http.yaml", b"routes:\n  - url: https://a.example/\n    \xff\xfe: 1\n"),
        ("http.yaml", b"routes:\n  - {url: 'https://a.example/', \"\\e[2Kevil\": 1}\n"),
        ("iam.yaml", b"users:\n  - name: \xc3\x28\n"),
    ],
    ids=["http-not-utf8", "http-unknown-key-esc", "iam-not-utf8"],
)
def test_a_mocked_world_file_that_cannot_be_used_is_one_usage_error(tmp_path, name, content):
    world = tmp_path / "world"
    world.mkdir()
    (world / name).write_bytes(content)
    env = {"mock": str(world), "endpoints": [{"name": "a", "url": "https://a.example/"}]}
    if name == "iam.yaml":
        env["iam"] = {}
    assert_clean_usage_error(run_checks(tmp_path, env), str(world))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-o", "smokegate_max_waiver_days=3000000"], "at most 36500"),
        (["-o", f"smokegate_max_waiver_days={'9' * 5000}"], "smokegate_max_waiver_days"),
        (["-o", f"smokegate_checks_dir={'d' * 300}"], "smokegate_checks_dir"),
        (["-p", "smokegate.redact"], "one of smokegate's own parts"),
        (["-p", "smokegate.waivers"], "one of smokegate's own parts"),
        (["-p", "no:metadata"], "pytest-metadata"),
        (["-o", f"{RAW_IDS}=true"], "prints test ids raw"),
    ],
    ids=[
        "horizon-big",
        "horizon-huge",
        "checks-dir-long",
        "p-redact",
        "p-waivers",
        "no-metadata",
        "raw-ids",
    ],
)
def test_ini_values_and_plugin_names_that_cannot_work_are_usage_errors(tmp_path, args, fragment):
    env = {"endpoints": [{"name": "a", "url": "https://a.example/"}]}
    assert_clean_usage_error(run_checks(tmp_path, env, *args), fragment)


def test_raw_test_ids_from_a_ci_variable_are_refused_before_a_name_reaches_the_terminal(
    tmp_path,
):
    """pytest's opt-out of id escaping, set through PYTEST_ADDOPTS (a CI variable), would
    print a target named with terminal control raw: a fake verdict over the real one."""
    env = {"endpoints": [{"name": "api" + ESC, "url": "https://a.example/"}]}
    run = run_checks(tmp_path, env, env_vars={"PYTEST_ADDOPTS": f"-v -o {RAW_IDS}=1"})
    assert_clean_usage_error(run, "prints test ids raw")
    assert "\x1b" not in run.output and not run.reports_dir.exists()


def test_an_argument_with_a_name_too_long_for_a_path_is_a_usage_error(tmp_path):
    command = checks_command(tmp_path / "none.yaml", tmp_path / "r", "checks/" + "z" * 5000)
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    output = done.stdout + done.stderr
    assert done.returncode == 4 and "Traceback" not in output and len(output) < OUTPUT_BOUND
