"""Shard files are text anyone with the artifacts could have written (attack round 11): a
forged `splits`, an `env` that is a path, a `fail_on` that is no severity, and report
destinations that cannot be written each get one message, never a traceback, never memory
without bound, never a file outside the reports folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smokegate.merge import EXIT_NOT_EVALUATED, EXIT_PASSED, MAX_SPLITS, main


def shard_file(
    folder: Path,
    group: int,
    *,
    splits: str = "2",
    env: str = "prod",
    fail_on: str = "low",
    **extra: str,
) -> Path:
    props = {
        **extra,
        "gate": "PASSED (partial)",
        "splits": splits,
        "group": str(group),
        "env": env,
        "fail_on": fail_on,
        "gate_detail": "",
    }
    listed = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props.items())
    path = folder / f"shard{group}" / "junit.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1">'
        f"<properties>{listed}</properties>{_case_xml(f'ok-{group}', 'low', failure=False)}"
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    return path


def test_two_honest_shards_merge(tmp_path: Path, capsys) -> None:
    files = [shard_file(tmp_path, 1), shard_file(tmp_path, 2)]
    assert main([*map(str, files), "--out", str(tmp_path / "out")]) == EXIT_PASSED
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    # neither names a CI run: the merge passes and says what it could not check
    assert "No shard names its CI pipeline run" in summary and "SMOKEGATE_RUN_ID" in summary


@pytest.mark.parametrize("name", ["group", "splits", "unattributed", "waivers_used"])
def test_a_shards_long_text_is_said_shortened(tmp_path: Path, capsys, name) -> None:
    """Round 24a: a forged 30 MB `group` was printed whole to stderr."""
    path = shard_file(tmp_path, 1, **{"waivers_used": "1", "unattributed": "0"})
    text = path.read_text(encoding="utf-8")
    own = f'<property name="{name}" value="'
    start = text.index(own) + len(own)
    end = text.index('"', start)
    path.write_text(text[:start] + "7Q" * 500_000 + text[end:], encoding="utf-8")
    assert main([str(path), "--out", str(tmp_path / "out")]) == EXIT_NOT_EVALUATED
    said = capsys.readouterr().err
    assert f"suite property {name} is '7Q7Q" in said and "not a number" in said
    assert len(said) < 400


@pytest.mark.parametrize("splits", ["3000000000", str(MAX_SPLITS + 1), "0", "-3"])
def test_a_forged_number_of_shards_is_refused_at_once(tmp_path: Path, capsys, splits) -> None:
    """`set(range(1, splits + 1))` of a forged 3e9 took 2 GB and ended in MemoryError."""
    start = time.monotonic()
    code = main([str(shard_file(tmp_path, 1, splits=splits)), "--out", str(tmp_path / "o")])
    assert code == EXIT_NOT_EVALUATED and time.monotonic() - start < 30
    assert f"suite property splits is {int(splits)}" in capsys.readouterr().err


def test_the_missing_shards_are_listed_shortly(tmp_path: Path, capsys) -> None:
    code = main([str(shard_file(tmp_path, 1, splits=str(MAX_SPLITS))), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == EXIT_NOT_EVALUATED
    assert f"and {MAX_SPLITS - 21} more missing" in out and len(out) < 2000


@pytest.mark.parametrize("env", ["/tmp/elsewhere", "../../escaped", "..", "a/b", " prod"])
def test_an_env_that_is_no_folder_name_is_refused(tmp_path: Path, capsys, env: str) -> None:
    """The merged summary goes to reports/<env>-merged/: an absolute or `../` env wrote it
    anywhere."""
    files = [shard_file(tmp_path / "r", g, env=env) for g in (1, 2)]
    assert main(list(map(str, files))) == EXIT_NOT_EVALUATED
    assert "suite property env" in capsys.readouterr().err
    assert not list(tmp_path.rglob("summary.md"))


def test_a_fail_on_that_is_no_severity_is_not_evaluated(tmp_path: Path, capsys) -> None:
    files = [shard_file(tmp_path, g, fail_on="bogus") for g in (1, 2)]
    assert main(list(map(str, files))) == EXIT_NOT_EVALUATED
    assert "fail_on is 'bogus', not a severity" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_a_step_summary_that_cannot_be_written_is_said_and_the_verdict_kept(
    tmp_path: Path, capsys, monkeypatch, where: str
) -> None:
    target = tmp_path if where == "folder" else tmp_path / "missing" / "dir" / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    files = [shard_file(tmp_path / "r", g) for g in (1, 2)]
    assert main([*map(str, files), "--out", str(tmp_path / "out")]) == EXIT_PASSED
    assert "$GITHUB_STEP_SUMMARY" in capsys.readouterr().err


def test_an_unwritable_out_folder_is_said_and_the_verdict_kept(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    files = [shard_file(tmp_path / "r", g) for g in (1, 2)]
    assert main([*map(str, files), "--out", str(blocker / "out")]) == EXIT_PASSED
    assert "summary.md was not written" in capsys.readouterr().err


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path, capsys) -> None:
    import os

    fifo = tmp_path / "junit.xml"
    os.mkfifo(fifo)
    assert main([str(fifo), "--out", str(tmp_path / "o")]) == EXIT_NOT_EVALUATED
    assert "not a regular file" in capsys.readouterr().err


def test_a_shard_file_past_the_size_bound_is_refused_unread(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """A 93 MB file took 1.14 GB to parse (round 12): past the bound, it is not parsed."""
    import smokegate.merge as merge

    monkeypatch.setattr(merge, "MAX_SHARD_BYTES", 1024)
    path = shard_file(tmp_path, 1)
    path.write_text(path.read_text() + " " * 2048)
    assert main([str(path), "--out", str(tmp_path / "o")]) == EXIT_NOT_EVALUATED
    assert "MiB a shard's JUnit file may be" in capsys.readouterr().err


def test_a_shard_declaring_entities_is_refused_unread(tmp_path: Path, capsys) -> None:
    """Expat expands entities up to 100 times over: a forged 2 MiB shard took 412 MB
    (attack round 13). No JUnit file pytest writes declares one."""
    path = shard_file(tmp_path, 1)
    text = path.read_text()
    path.write_text('<!DOCTYPE x [<!ENTITY a "' + "A" * 1000 + '">]>' + text)
    assert main([str(path), "--out", str(tmp_path / "o")]) == EXIT_NOT_EVALUATED
    assert "declares a DOCTYPE or entities" in capsys.readouterr().err


def test_shards_that_dealt_accounts_from_different_listings_are_not_one_run(
    tmp_path: Path, capsys
) -> None:
    """Round 14, F1: each shard deals the accounts over its own ListAccounts answer; an
    account that joined between the jobs went to no shard, and the merge PASSED."""
    files = [
        shard_file(tmp_path, 1, accounts_dealt="2 accounts, sha256 aaaa"),
        shard_file(tmp_path, 2, accounts_dealt="3 accounts, sha256 bbbb"),
    ]
    assert main([*map(str, files), "--out", str(tmp_path / "out")]) == EXIT_NOT_EVALUATED
    said = capsys.readouterr().out
    assert "the shards dealt the AWS accounts from different listings (shard 1: 2 accounts" in said
    assert "shard 2: 3 accounts, sha256 bbbb" in said
    same = [
        shard_file(tmp_path / "same", g, accounts_dealt="3 accounts, sha256 bbbb") for g in (1, 2)
    ]
    assert main([*map(str, same), "--out", str(tmp_path / "same-out")]) == EXIT_PASSED


def test_a_shard_that_could_not_list_the_organization_is_named_with_its_reason(
    tmp_path: Path, capsys
) -> None:
    """Round 33b F3: shard 2's ListAccounts was denied; the merge refused the run but
    guessed that an account joined or left between the jobs, and said to run them again,
    which no missing permission survives."""
    files = [
        shard_file(tmp_path, 1, accounts_dealt="3 accounts, sha256 aaaa"),
        shard_file(
            tmp_path,
            2,
            accounts_dealt="no listing: cannot list the organization's accounts: "
            "organizations:ListAccounts was denied (AccessDeniedException)",
        ),
    ]
    assert main([*map(str, files), "--out", str(tmp_path / "out")]) == EXIT_NOT_EVALUATED
    said = capsys.readouterr().out
    assert (
        "shard 2 could not list the organization's AWS accounts, so its share of them was "
        "audited by no shard: cannot list the organization's accounts: "
        "organizations:ListAccounts was denied (AccessDeniedException)"
    ) in said
    assert "joined or left" not in said


@pytest.mark.parametrize(
    ("property_name", "first", "second", "said"),
    [
        ("ci_run", "GITHUB_RUN_ID=101", "GITHUB_RUN_ID=99", "CI pipeline run"),
        ("env_digest", "aaaa", "bbbb", "env file's content"),
        # round 24b: a shard that says no run (made where no run id was set) stood in for
        # the pipeline's own failing shard
        ("ci_run", "GITHUB_RUN_ID=101", "", "CI pipeline run"),
        ("env_digest", "aaaa", "", "env file's content"),
    ],
)
def test_shards_of_different_runs_are_not_one_run(
    tmp_path: Path, capsys, property_name, first, second, said
) -> None:
    """A stale junit.xml of an earlier pipeline (a cache, a glob over old folders) stood in
    for a lost shard, and its pass for the lost shard's cases. Shards say the CI's run id
    and their env file's digest; the merge refuses shards that differ."""
    files = [
        shard_file(tmp_path, 1, **{property_name: first}),
        shard_file(tmp_path, 2, **{property_name: second}),
    ]
    assert main([*map(str, files), "--out", str(tmp_path / "out")]) == EXIT_NOT_EVALUATED
    out = capsys.readouterr().out
    assert f"the shards disagree on the {said} (" in out and "not the shards of one run" in out
    same = [shard_file(tmp_path / "same", g, **{property_name: first}) for g in (1, 2)]
    assert main([*map(str, same), "--out", str(tmp_path / "same-out")]) == EXIT_PASSED


def test_a_shard_says_its_ci_run_and_env_digest(monkeypatch) -> None:
    from smokegate.report.provenance import ci_run

    assert ci_run({"GITHUB_RUN_ID": "7", "CI_PIPELINE_ID": "8"}) == "GITHUB_RUN_ID=7"
    assert ci_run({"CI_PIPELINE_ID": "8\x1b[2J"}) == "CI_PIPELINE_ID=8\\x1b[2J"
    assert ci_run({}) == ""


@pytest.mark.parametrize("where", ["beside the suite", "inside a case"])
def test_a_flood_of_elements_is_refused_not_kept(tmp_path: Path, capsys, where) -> None:
    """Round 15b, F6: 33 million empty elements beside the cases were kept (2.9 GB, 86 s)
    and the merge then passed with no case."""
    path = shard_file(tmp_path, 1, splits="1")
    flood = "<x/>" * 200_000
    text = path.read_text(encoding="utf-8")
    if where == "beside the suite":
        text = text.replace("</testsuites>", flood + "</testsuites>")
    else:
        text = text.replace("</testsuite>", f'<testcase name="t">{flood}</testcase></testsuite>')
    path.write_text(text, encoding="utf-8")
    assert main([str(path), "--out", str(tmp_path / "out")]) == EXIT_NOT_EVALUATED
    assert "more XML elements than smokegate writes" in capsys.readouterr().err


def _case_xml(name: str, severity: str, *, failure: bool, standing: str = "") -> str:
    props = {"case": f"test_health.py::{name}", "check": "status", "severity": severity,
             "target": name, "gate": standing}  # fmt: skip
    listed = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props.items() if v)
    failed = f'<failure message="Failed: [{severity}] status">x</failure>' if failure else ""
    return (
        f'<testcase classname="checks.test_health" name="{name}">'
        f"<properties>{listed}</properties>{failed}</testcase>"
    )


def _failed_shard_of(tmp_path: Path, *cases: str) -> tuple[Path, str]:
    """A one-shard run that FAILED, holding `cases`, its testsuite counting 2 failures."""
    path = shard_file(tmp_path, 1, splits="1")
    text = path.read_text(encoding="utf-8").replace('"PASSED (partial)"', '"FAILED (partial)"')
    text = text.replace('failures="0"', 'failures="2"').replace(
        "</testsuite>", f"{''.join(cases)}</testsuite>"
    )
    path.write_text(text, encoding="utf-8")
    return path, text


def test_a_shard_whose_cases_hold_fewer_failures_than_its_suite_counts_is_altered(
    tmp_path: Path, capsys
) -> None:
    """Round 33a F1: masked pieces took a critical case's failure element and its `gate`
    property away while a low case kept failing, so the shard's FAILED verdict still had
    a failing case, and the merge at --fail-on high PASSED. pytest's own counts on the
    testsuite (failures="2") still said what the cases held before."""
    path, text = _failed_shard_of(
        tmp_path,
        _case_xml("crit", "critical", failure=False),
        _case_xml("minor", "low", failure=True),
    )
    argv = [str(path), "--fail-on", "high", "--out", str(tmp_path / "out")]
    assert main(argv) == EXIT_NOT_EVALUATED
    said = capsys.readouterr().out
    assert "its testsuite counts 2 failures, yet its cases hold 1 <failure> element(s)" in said
    # the same file as pytest wrote it (its count kept whole) merges
    path.write_text(text.replace('failures="2"', 'failures="1"'), encoding="utf-8")
    assert main(argv) == EXIT_PASSED
    # a count masked into no number is no count
    path.write_text(text.replace('failures="2"', 'failures="***"'), encoding="utf-8")
    assert main(argv) == EXIT_NOT_EVALUATED
    assert "its testsuite's failures count is missing or no number" in capsys.readouterr().out


def test_a_shard_with_two_cases_of_one_id_is_altered(tmp_path: Path, capsys) -> None:
    """Round 34a F2: two target names masked to `***` made two cases one id; the merge kept
    the later (low) one and passed a shard that failed on a critical case."""
    path, _ = _failed_shard_of(
        tmp_path, _case_xml("***", "critical", failure=True), _case_xml("***", "low", failure=True)
    )
    argv = [str(path), "--fail-on", "high", "--out", str(tmp_path / "out")]
    assert main(argv) == EXIT_NOT_EVALUATED
    assert "two of its cases share the id test_health.py::***" in capsys.readouterr().out


def test_shards_holding_no_case_are_not_evaluated(tmp_path: Path, capsys) -> None:
    """Round 34b F3: a hand-written shard with no case merged PASSED under --full-gate; a
    pytest run with no case is NOT EVALUATED."""
    path = shard_file(tmp_path, 1, splits="1")
    text = path.read_text(encoding="utf-8")
    start, end = text.index("<testcase"), text.index("</testcase>") + len("</testcase>")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert main([str(path), "--full-gate", "--out", str(tmp_path / "o")]) == EXIT_NOT_EVALUATED
    assert "no shard holds a case" in capsys.readouterr().out


def test_a_shard_of_more_cases_than_any_run_holds_is_refused(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """Round 34b F2: 10 million empty cases in a 120 MB file took 3.4 GB."""
    from smokegate import merge as merge_module

    monkeypatch.setattr(merge_module, "MAX_SHARD_CASES", 50)
    path = shard_file(tmp_path, 1, splits="1")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("</testsuite>", "<testcase/>" * 60 + "</testsuite>"))
    assert main([str(path), "--out", str(tmp_path / "o")]) == EXIT_NOT_EVALUATED
    assert "more than 50 cases" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["why", "message"])
def test_a_case_s_huge_reason_is_cut_and_read_in_large_feeds(
    tmp_path: Path, capsys, monkeypatch, where
) -> None:
    """Round 37b F4: one case's 120 MiB `why` property or failure message took minutes
    (expat parsed the unfinished attribute from its start at each 16 KiB feed) and was
    written whole into summary.md (125 MB). Its reason is cut as the run cuts its own; the
    file is handed to expat in feeds of _FEED_BYTES (counted here)."""
    from smokegate import merge

    huge = "Q" * (3 * 1024 * 1024)
    why = f'<property name="why" value="{huge}"/>' if where == "why" else ""
    message = huge if where == "message" else "status"
    case = (
        '<testcase classname="checks.test_health" name="big"><properties>'
        '<property name="case" value="test_health.py::big"/><property name="check" '
        f'value="status"/><property name="severity" value="low"/><property name="target" '
        f'value="big"/>{why}</properties>'
        f'<failure message="Failed: [low] {message}">x</failure></testcase>'
    )
    path, _ = _failed_shard_of(tmp_path, case, _case_xml("other", "low", failure=True))
    feeds: list[int] = []
    real = merge.ET.XMLPullParser

    class Counting(real):  # type: ignore[misc,valid-type]
        def feed(self, data: bytes) -> None:
            feeds.append(len(data))
            super().feed(data)

    monkeypatch.setattr(merge.ET, "XMLPullParser", Counting)
    monkeypatch.setattr(merge, "_FEED_BYTES", 1024 * 1024)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 1
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "QQQQ" in summary and len(summary) < 10_000
    assert len(feeds) == 4 and max(feeds) == 1024 * 1024  # 3 MiB and more, in 1 MiB feeds


@pytest.mark.parametrize(
    ("said", "code", "shown"),
    [
        ({}, EXIT_NOT_EVALUATED, "does not say how it was run (no suite property full_gate_"),
        ({"full_gate_problem": "none"}, EXIT_PASSED, "gate PASSED (--fail-on low)"),
        (
            {"full_gate_problem": "smokegate: --full-gate (or SMOKEGATE_FULL_GATE): -c chose"},
            EXIT_NOT_EVALUATED,
            "shard 1 of 1 was no gate run: -c chose",
        ),
    ],
    ids=["unsaid", "none", "refused"],
)
def test_the_full_gate_merge_reads_a_file_that_does_not_say_how_it_ran_as_unsaid(
    tmp_path: Path, capsys, said, code, shown
) -> None:
    """Round 43b F1: a whole run's junit.xml (splits 1, group 1) recorded no refusal, and
    `merge --full-gate` read that silence as a run the full gate would take: PASSED."""
    path = shard_file(
        tmp_path, 1, splits="1", coverage="complete", mocked="no", fail_on_said="low", **said
    )
    assert main([str(path), "--full-gate", "--out", str(tmp_path / "o")]) == code
    assert shown in capsys.readouterr().out
    assert main([str(path), "--out", str(tmp_path / "o")]) == EXIT_PASSED  # not the gate
