"""Hostile environments through a real `pytest checks/ --env <file>` run (issue 10): no silent
opt-out of smokegate's parts (items 4, 11), informational runs judge nothing and leave the
reports alone (item 9), hostile env files are usage errors in bounded time and memory (item
8), output paths that cannot be written say so (item 14), a secret reading like smokegate's
own data corrupts nothing (item 5), and a server cannot drive the terminal (item 13).

Every server is local (127.0.0.1) and bounded; every env file is written by the test.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.e2e import (
    Run,
    assert_one_usage_error,
    checks_command,
    passing_env,
    run_checks,
)
from tests.support.env_files import write, write_env
from tests.support.hostile_server import HostileServer
from tests.support.paths import ROOT
from tests.support.servers import LocalServer

# A child may use this much address space: pytest, its plugins, moto and boto3 imported
# fit well within; an expanded alias bomb or a 50 MB value echoed whole do not.
CHILD_ADDRESS_SPACE = 3 * 1024**3
OUTPUT_BOUND = 20_000  # characters of stdout + stderr for one usage error


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(max_seconds=10) as running:
        yield running


# -- items 4 and 11: no silent opt-out --------------------------------------------------------


@pytest.mark.parametrize(
    "part",
    [
        "smokegate.redact",
        "smokegate.run-end",
        "smokegate.run",
        "smokegate.waivers",
        "smokegate.iam",
    ],
)
@pytest.mark.parametrize("route", ["PYTEST_ADDOPTS", "command line"])
def test_disabling_a_part_of_smokegate_refuses_the_run(tmp_path, server, part, route):
    args = ["-x"] if route == "PYTEST_ADDOPTS" else ["-x", "-p", f"no:{part}"]
    env_vars = {"PYTEST_ADDOPTS": f"-p no:{part}"} if route == "PYTEST_ADDOPTS" else {}
    run = run_checks(tmp_path, passing_env(server), *args, env_vars=env_vars)
    assert_one_usage_error(run, f"-p no:{part} disables", "refuses to run")
    assert not (tmp_path / "reports" / "e2e" / "summary.md").exists()


# -- item 9: informational runs -----------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    ["--fixtures", "--fixtures-per-test", "--markers", "--setup-plan", "--setup-only", "--co"],
)
def test_informational_runs_are_not_evaluated_and_leave_the_reports(tmp_path, server, option):
    reports = tmp_path / "reports" / "e2e"
    reports.mkdir(parents=True)
    previous = {name: f"previous {name}" for name in ("junit.xml", "report.html", "summary.md")}
    for name, text in previous.items():
        (reports / name).write_text(text)
    run = run_checks(tmp_path, passing_env(server), option, "--color=no")
    assert run.returncode == 0, run.output
    assert "gate PASSED" not in run.output and "gate FAILED" not in run.output
    assert "gate NOT EVALUATED" in run.output, run.output  # --markers too (round 11, F15)
    for name, text in previous.items():
        assert (reports / name).read_text() == text, name
    assert sorted(p.name for p in reports.iterdir()) == sorted(previous)


def test_help_needs_no_env(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--fail-on" in done.stdout
    assert "smokegate: gate NOT EVALUATED: --help lists, it runs no check" in done.stdout


# -- item 8: hostile env files -------------------------------------------------------------------


def alias_bomb(levels: int = 9, fan: int = 10) -> str:
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * fan)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"endpoints: [{{name: api, url: 'https://a.example.com/', json: *a{levels}}}]")
    return "\n".join(lines) + "\n"


def deep_flow(depth: int) -> str:
    return "endpoints:\n  - name: api\n    url: https://a.example.com/\n    json: " + (
        "[" * depth + "]" * depth + "\n"
    )


def deep_block(depth: int) -> str:
    lines = ["endpoints:", "  - name: api", "    url: https://a.example.com/", "    json:"]
    lines += [" " * (6 + 2 * i) + f"k{i}:" for i in range(depth)]
    return "\n".join(lines) + " 1\n"


HUGE = 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("alias-bomb", ["expands to more than", "alias bomb"]),
        ("alias-bomb-wide", ["expands to more than"]),
        ("recursive-alias", ["refers to a value that contains it"]),
        ("deep-flow-980", ["nested more than 64 levels deep"]),
        ("deep-block-200", ["nested more than 64 levels deep"]),
        ("huge-wrong-type", ["defaults.timeout_s", "(got 'xxxx"]),
        ("huge-name", ["endpoints[0]"]),
        ("huge-file", ["larger than 16 MiB"]),
        ("symlink-loop", ["symlink loop"]),
        # round 15: 15 MiB of `- 0` composed for minutes and 2 GB before the budget ran
        ("many-small-values", ["holds more than 200000 values"]),
    ],
)
def test_a_hostile_env_file_is_a_usage_error_in_bounded_time_and_memory(tmp_path, case, fragments):
    path = tmp_path / "e2e.yaml"
    if case == "alias-bomb":
        path.write_text(alias_bomb())
    elif case == "alias-bomb-wide":
        path.write_text(alias_bomb(levels=4, fan=200))
    elif case == "recursive-alias":
        path.write_text("loop: &loop [*loop]\nendpoints: []\n")
    elif case == "deep-flow-980":
        path.write_text(deep_flow(980))
    elif case == "deep-block-200":
        path.write_text(deep_block(200))
    elif case == "huge-wrong-type":
        path.write_text("defaults:\n  timeout_s: " + "x" * (10 * 1024 * 1024) + "\n")
    elif case == "huge-name":
        path.write_text("endpoints:\n  - name: " + "n" * (10 * 1024 * 1024) + "\n    url: nope\n")
    elif case == "huge-file":
        path.write_text("# " + "x" * HUGE + "\n")
    elif case == "many-small-values":
        path.write_text("endpoints:\n" + "- 0\n" * 4_000_000)
    elif case == "symlink-loop":
        os.symlink(tmp_path / "other.yaml", path)
        os.symlink(path, tmp_path / "other.yaml")
    (tmp_path / "ref").mkdir()
    _, reference = bounded_run(tmp_path, write(tmp_path / "ref", "endpoints: 3\n", "e2e"))
    run, took = bounded_run(tmp_path, path)
    assert_one_usage_error(run, *fragments)
    assert len(run.output) < OUTPUT_BOUND, f"{len(run.output)} characters of output"
    # bounded time: about what any usage error takes (interpreter and plugin start-up)
    assert took < 5 * reference + 5, f"{took:.1f} s vs {reference:.1f} s for a plain one"


def bounded_run(tmp_path: Path, env_file: Path) -> tuple[Run, float]:
    """The run in a child whose address space is capped: a load that expanded the file
    would die of MemoryError (and say so) instead of exhausting the machine."""
    command = checks_command(env_file, tmp_path / "reports")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEGATE_")}
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        stdin=subprocess.DEVNULL,
        preexec_fn=cap,
    )
    took = time.perf_counter() - start
    return Run(done.returncode, done.stdout, done.stderr, tmp_path / "reports"), took


# -- item 14: output paths -----------------------------------------------------------------------


def test_a_reports_dir_that_cannot_be_created_is_a_usage_error(tmp_path, server):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    command = checks_command(write_env(tmp_path, passing_env(server)), blocker / "reports")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    run = Run(done.returncode, done.stdout, done.stderr, tmp_path)
    assert_one_usage_error(
        run, "cannot write the reports in", "a part of that path is a file", "--reports-dir"
    )


def test_a_junitxml_path_that_cannot_be_written_is_a_usage_error(tmp_path, server):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = run_checks(tmp_path, passing_env(server), f"--junitxml={blocker / 'x' / 'junit.xml'}")
    assert_one_usage_error(run, "cannot write --junitxml", "a part of that path is a file")


def test_an_existing_report_file_that_cannot_be_written_is_named(tmp_path, server):
    """`--html=/proc/version` said 'No such file or directory' of /proc (round 12): the
    file itself is checked now, and named (root included: the kernel refuses it)."""
    target = Path("/proc/version")
    if not target.is_file():
        pytest.skip("no /proc/version on this system")
    run = run_checks(tmp_path, passing_env(server), f"--html={target}")
    assert_one_usage_error(run, f"--html {target} cannot be written")
    assert "No such file" not in run.output


def test_a_run_without_pytest_html_says_there_is_no_report_html(tmp_path, server):
    """PYTEST_DISABLE_PLUGIN_AUTOLOAD (a CI variable) leaves pytest-html unloaded: the gate
    is judged as usual, and the console says why report.html is missing."""
    run = run_checks(
        tmp_path, passing_env(server), env_vars={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert run.returncode == 0, run.output
    assert "no report.html: pytest-html is not loaded" in run.stdout
    assert not run.html_path.exists() and run.junit_path.is_file()


def test_an_html_path_that_is_a_folder_is_a_usage_error(tmp_path, server):
    folder = tmp_path / "existing-folder"
    folder.mkdir()
    run = run_checks(tmp_path, passing_env(server), f"--html={folder}")
    assert_one_usage_error(run, "--html", "is a folder: name a file")


@pytest.mark.parametrize("where", ["missing-folder", "a-folder", "fifo-nobody-reads"])
def test_a_step_summary_that_cannot_be_written_is_said_and_keeps_the_gates_exit(
    tmp_path, server, where
):
    target = {
        "missing-folder": tmp_path / "nowhere" / "summary.md",
        "a-folder": tmp_path,
        "fifo-nobody-reads": tmp_path / "fifo",
    }[where]
    if where == "fifo-nobody-reads":
        os.mkfifo(target)
    run = run_checks(
        tmp_path, passing_env(server), env_vars={"GITHUB_STEP_SUMMARY": str(target)}, timeout=120
    )
    assert run.returncode == 0, run.output  # the gate passed; the write failure is said
    assert "Traceback" not in run.output
    assert "gate PASSED" in run.stdout
    assert "smokegate: $GITHUB_STEP_SUMMARY" in run.stdout and "was not written" in run.stdout
    assert (run.reports_dir / "summary.md").is_file()


@pytest.mark.parametrize("option", ["--junitxml", "--html"])
def test_a_report_that_cannot_be_written_is_said_and_the_gate_kept(tmp_path, server, option):
    """A full disk (/dev/full stands in) while pytest's junitxml or pytest-html writes:
    a passing run ended in a raw OSError traceback, exit 1, no verdict (round 11, F12),
    and then (round 13) the other report was lost with it and pytest-html still said
    "Generated html report" for a file never written."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    run = run_checks(tmp_path, passing_env(server), f"{option}=/dev/full", timeout=120)
    assert run.returncode == 0, run.output
    assert "Traceback" not in run.output and "gate PASSED" in run.stdout
    name, other = ("junit.xml", "report.html")
    if option == "--html":
        name, other = other, name
    said = f"smokegate: {name} (/dev/full) was not written: No space left on device; it is kept at "
    assert said in run.stdout, run.stdout
    kept = Path(run.stdout.split(said)[1].split()[0])
    assert kept.is_file() and b"test_endpoint" in kept.read_bytes()
    assert "report: /dev/full" not in run.stdout  # not listed among the reports written
    assert (run.reports_dir / other).is_file() and (run.reports_dir / "summary.md").is_file()
    assert f"report: {run.reports_dir / other}" in run.stdout
    if option == "--html":
        assert "file:///dev/full" not in run.stdout
        assert f"Generated html report: {kept.as_uri()}" in run.stdout
    else:
        assert f"Generated html report: {(run.reports_dir / other).as_uri()}" in run.stdout
        assert "<testsuites name=" in kept.read_text()  # the suite renamed before delivery
    kept.unlink()
    kept.parent.rmdir()


def test_an_env_file_in_a_folder_named_in_bytes_that_are_not_utf8_is_reported(tmp_path, server):
    """Round 14: `--env $'/tmp/x-\\xff-dir/prod.yaml'` ended a passing run in pytest-html's
    UnicodeEncodeError traceback, with an empty report.html and exit 1."""
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/x-\xff-dir"))
    folder.mkdir()
    env_file = write_env(folder, passing_env(server), "prod")
    run = run_checks(tmp_path, env_file, timeout=120)
    assert run.returncode == 0, run.output
    assert "Traceback" not in run.output and "gate PASSED" in run.stdout
    assert "x-\\udcff-dir" in run.stdout  # the byte shown as its escape
    html = (run.reports_dir / "report.html").read_text(encoding="utf-8")
    assert "test_endpoint" in html and "x-\\udcff-dir" in html


@pytest.mark.parametrize("option", ["--junitxml", "--html"])
def test_a_report_path_that_is_a_fifo_nobody_reads_does_not_hang_the_run(tmp_path, server, option):
    """Round 15: `--junitxml=<fifo>` (PYTEST_ADDOPTS) blocked the delivery's open forever,
    after every check ran and before any verdict."""
    fifo = tmp_path / "report-fifo"
    os.mkfifo(fifo)
    run = run_checks(tmp_path, passing_env(server), f"{option}={fifo}", timeout=120)
    assert run.returncode == 0, run.output
    assert "gate PASSED" in run.stdout
    name = "junit.xml" if option == "--junitxml" else "report.html"
    assert f"smokegate: {name} ({fifo}) was not written: nothing reads that FIFO" in run.stdout


@pytest.mark.parametrize("option", ["--debug", "--log-file"])
def test_a_debug_or_log_file_that_is_a_fifo_is_refused_before_pytest_opens_it(
    tmp_path, server, option
):
    """Round 16: pytest opens these itself, blocking on a FIFO nobody reads: the run hung
    before any output."""
    fifo = tmp_path / "log-fifo"
    os.mkfifo(fifo)
    run = run_checks(tmp_path, passing_env(server), f"{option}={fifo}", timeout=120)
    assert_one_usage_error(run, f"{option} '{fifo}' is a FIFO")


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/proc/self/fd/1", "is this run's own output"),  # run_checks' stdout: a pipe... or file
        ("/dev/stderr", "a device's file"),
        ("/dev/zero", "no regular file"),
    ],
)
@pytest.mark.parametrize("option", ["--debug", "--log-file"])
def test_a_debug_or_log_file_that_streams_where_no_scrub_reaches_is_refused(
    tmp_path, server, option, path, said
):
    """Round 55d F2: `--log-file /proc/self/fd/2` put the run's DEBUG log on the terminal as
    it went (a secret learnt later whole there), or emptied the job log it named; the
    end-of-run scrub cannot reach either. Only a file is taken."""
    run = run_checks(tmp_path, passing_env(server), f"{option}={path}", timeout=120)
    assert run.returncode == 4, run.output[-2000:]
    assert f"{option} '{path}'" in run.output
    assert any(words in run.output for words in (said, "is a FIFO", "own output", "no regular"))


def test_a_log_file_fifo_is_refused_with_plugin_autoload_off(tmp_path, server):
    """Round 17a, F6: PYTEST_DISABLE_PLUGIN_AUTOLOAD (a CI variable) left the early guard
    out, and `--log-file=<fifo>` hung the run; smokegate's own plugin (loaded by the
    checks' conftest) configures before pytest's logging opens the file, and refuses it."""
    fifo = tmp_path / "log-fifo"
    os.mkfifo(fifo)
    run = run_checks(
        tmp_path,
        passing_env(server),
        f"--log-file={fifo}",
        env_vars={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        timeout=120,
    )
    assert_one_usage_error(run, f"--log-file '{fifo}' is a FIFO")


def test_reports_are_delivered_to_a_pipe_and_nothing_is_left_behind(tmp_path, server):
    """A destination is written into, never replaced: `--junitxml=/dev/stdout` puts the
    file on the console; no staging folder outlives a run that delivered everything."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    run = run_checks(
        tmp_path,
        passing_env(server),
        "--junitxml=/dev/stdout",
        env_vars={"TMPDIR": str(temporary)},
        timeout=120,
    )
    assert run.returncode == 0, run.output
    assert '<testsuites name="smokegate-' in run.stdout and "gate PASSED" in run.stdout
    assert "was not written" not in run.stdout
    assert (run.reports_dir / "report.html").is_file()
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("name", ["...yaml", "..yaml"])
def test_an_env_named_dots_never_writes_outside_the_reports_folder(tmp_path, server, name):
    path = tmp_path / name
    write_env(tmp_path, passing_env(server), "x").rename(path)
    reports = tmp_path / "sandbox" / "reports"
    reports.mkdir(parents=True)
    done = subprocess.run(
        checks_command(path, reports), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    run = Run(done.returncode, done.stdout, done.stderr, reports)
    assert_one_usage_error(run, "gives no folder name for its reports", "Rename the file")
    assert list((tmp_path / "sandbox").rglob("*")) == [reports]


# -- item 5: a secret that reads like smokegate's data ------------------------------------------


@pytest.mark.parametrize("token", ["critical", "password_policy", "endpoint", "12345678"])
def test_a_token_equal_to_a_severity_check_or_number_corrupts_nothing(tmp_path, token):
    from tests.support.auth_server import auth_server

    with auth_server({"some-other-token-1": 200}) as auth:
        env = {
            "defaults": {"severity": "critical"},
            "endpoints": [{"name": "endpoint", "url": auth.url("/open")}],
            "auth": [{"name": "echo", "url": auth.url("/echo"), "token_env": "SG_TOKEN"}],
        }
        run = run_checks(tmp_path, env, env_vars={"SG_TOKEN": token})
    assert "is not a valid Severity" not in run.output and "INTERNALERROR" not in run.output
    assert run.returncode == 1, run.output  # the echo case fails: a finding, judged
    outcomes = run.outcomes()
    assert outcomes["test_endpoint[endpoint]"] == "passed"
    assert outcomes["test_accepts_token[echo]"] == "failed"
    props = run.properties("test_accepts_token[echo]")
    assert props["severity"] == "critical" and props["check"] == "accepts_token"


# -- item 13: no terminal control from a server ---------------------------------------------------


def test_a_servers_escape_sequences_never_reach_the_terminal_or_the_summary(tmp_path, hostile):
    env = {"endpoints": [{"name": "term", "url": hostile.url("/terminal")}]}
    run = run_checks(tmp_path, env, "--color=no", "-rA")
    assert run.returncode == 1, run.output
    for char in ("\x1b", "\x07", "\x00", "\u202e"):
        assert char not in run.stdout, repr(char)
        assert char not in (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "\\x1b[2K" in run.stdout  # shown, escaped
    gate_lines = [line for line in run.stdout.splitlines() if line.startswith("gate ")]
    assert gate_lines == [gate_lines[0]] and gate_lines[0].startswith("gate FAILED")


def test_a_user_named_after_the_session_token_is_masked_in_case_ids(tmp_path):
    """Round 14 (HIGH): a hostile AWS endpoint named an IAM user after the
    AWS_SESSION_TOKEN it was sent; the token went whole into the case ids, so into the
    console, report.html and junit.xml, while the message beside it was masked."""
    from tests.support.environment import aws_env
    from tests.support.moto_helpers import moto_client, moto_server, reset_moto

    token = "FwoGZXIvYXdzEBYaDH7gJ2x9QzKp4Lm8Nr2Vt6Xw"
    with moto_server() as endpoint:
        reset_moto(endpoint)
        iam = moto_client("iam", endpoint)
        iam.create_user(UserName=token)
        iam.create_login_profile(UserName=token, Password="Aa1!aaaaaaaaaaaa")
        env = {"iam": {"max_user_age_days": 365, "require_console_mfa": True}}
        run = run_checks(tmp_path, env, "-rA", env_vars=aws_env(endpoint, AWS_SESSION_TOKEN=token))
    assert run.returncode == 1, run.output
    # shown by a placeholder since round 45a F4 (pieces of secrets in names too)
    assert "test_console_mfa[user-1 (name masked: holds a secret of this run)]" in run.stdout
    written = [run.output, *(p.read_text() for p in run.reports_dir.iterdir() if p.is_file())]
    for text in written:
        assert token[:12] not in text and token[-12:] not in text


@pytest.mark.parametrize("option", ["-m {token}", "-k {token}"])
def test_a_ci_token_on_the_command_line_reaches_no_report(tmp_path, server, option):
    """Round 14: `-m $CI_JOB_TOKEN` was masked in the console and summary.md but whole in
    report.html's banner and JUnit's gate_detail. Every report passes a last scrub of known
    secrets."""
    token = "glcbt-64_Zq7xK2mP9vLw4RtY8nBc"
    args = option.format(token=token).split(" ")
    run = run_checks(tmp_path, passing_env(server), *args, env_vars={"CI_JOB_TOKEN": token})
    assert run.returncode in (0, 2, 5), run.output
    written = [run.output]
    written += [p.read_text() for p in run.reports_dir.iterdir() if p.is_file()]
    assert len(written) > 1
    for text in written:
        assert token not in text and "Zq7xK2mP9vLw4RtY8nBc" not in text


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("--junit-prefix={token}", "--junit-prefix"),
        ("--junit-prefix=x{piece}y", "--junit-prefix"),  # a piece of it, split by a -
        ("--junitxml={tmp}/j-{token}.xml", "--junitxml"),
        ("--html={tmp}/h-{token}.html", "--html"),
        ("--reports-dir={tmp}/r-{token}", "--reports-dir"),
        ("--log-file={tmp}/l.log --log-format={token}_%(message)s", "--log-format"),
        ("--log-cli-date-format=%H:{token}", "--log-cli-date-format"),
        ("-v --metadata {token} x", "a --metadata key"),
    ],
)
def test_a_ci_token_in_an_option_pytest_prints_as_it_is_refuses_the_run(
    tmp_path, server, option, named
):
    """Round 28a: paths, log formats, the JUnit prefix and --metadata keys are printed or
    written as they are, after or outside every scrub: `$CI_JOB_TOKEN` expanded in
    PYTEST_ADDOPTS put the token whole in the console and the log file. The run is refused,
    naming the option, never its value."""
    token = "glcbt-64_Zq7xK2mP9vLw4RtY8nBc"
    args = option.format(token=token, piece=token[9:21], tmp=tmp_path).split(" ")
    run = run_checks(tmp_path, passing_env(server), *args, env_vars={"CI_JOB_TOKEN": token})
    assert run.returncode == 4, run.output
    assert f"smokegate: {named} hold(s) a secret of this run" in run.output
    assert token[9:21] not in run.output
    assert not run.junit_path.exists()


def test_a_line_break_in_a_users_arn_prints_no_verdict_of_its_own(tmp_path):
    """Round 16: an ARN from the credential report is a case's location; a line break in a
    quoted CSV field printed `==== smokegate ====` and `gate PASSED` under a failure. Since
    round 40b such a report is damaged (AWS quotes no cell across lines): the audit fails
    as verified nothing, quoting none of it."""
    import base64
    import csv
    import io

    from tests.support.environment import aws_env
    from tests.support.moto_helpers import AwsProxy, Fault, moto_client, moto_server, reset_moto

    columns = [
        "user",
        "arn",
        "user_creation_time",
        "password_enabled",
        "password_last_used",
        "password_last_changed",
        "password_next_rotation",
        "mfa_active",
        "access_key_1_active",
        "access_key_1_last_rotated",
        "access_key_1_last_used_date",
        "access_key_1_last_used_region",
        "access_key_1_last_used_service",
        "access_key_2_active",
        "access_key_2_last_rotated",
        "access_key_2_last_used_date",
        "access_key_2_last_used_region",
        "access_key_2_last_used_service",
        "cert_1_active",
        "cert_1_last_rotated",
        "cert_2_active",
        "cert_2_last_rotated",
    ]
    forged = (
        "arn:aws:iam::123456789012:user/alice\n==== smokegate ====\ngate PASSED (--fail-on low)"
    )
    row = ["alice", forged, "2026-11-01T00:00:00+00:00", "true", "N/A", "N/A", "N/A", "false"]
    row += ["false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A"]
    row += ["false", "N/A", "false", "N/A"]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([columns, row])
    content = base64.b64encode(text.getvalue().encode()).decode()
    generated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # fresh, as AWS hands out
    report = (
        '<GetCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<GetCredentialReportResult><Content>{content}</Content><ReportFormat>text/csv"
        f"</ReportFormat><GeneratedTime>{generated}</GeneratedTime>"
        "</GetCredentialReportResult></GetCredentialReportResponse>"
    ).encode()
    with moto_server() as endpoint:
        reset_moto(endpoint)
        moto_client("iam", endpoint).create_user(UserName="alice")
        with AwsProxy(endpoint) as proxy:
            proxy.faults["GetCredentialReport"] = Fault(200, report)
            env = {"iam": {"require_console_mfa": True}}
            run = run_checks(tmp_path, env, env_vars=aws_env(proxy.url))
    assert run.returncode == 1, run.output
    assert "a quote, a line break or a character AWS never writes: the report is damaged" in (
        run.stdout
    )
    lines = run.stdout.splitlines()
    assert not [line for line in lines if line.startswith("gate PASSED")], run.stdout
    assert not [line for line in lines if line.startswith("==== smokegate ====")]
