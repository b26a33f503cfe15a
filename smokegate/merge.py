"""`python -m smokegate.merge reports/*/junit.xml`: one verdict for a run sharded over a CI
matrix (pytest-split's `--splits N --group i`, one shard per job).

Each shard gates on its own cases and writes its own JUnit file, whose suite properties
say which shard it is of how many (`smokegate_splits`, `smokegate_group`), the threshold,
whether it completed, and which waivers it used or found stale. This command reads those
files, and only those: it folds every case into one result, applies the same gate as a
single run and writes one summary.md.

A lost shard must never look like a pass. The merge fails (exit 2, gate NOT EVALUATED)
when a shard of the N its siblings announce is missing, given twice or did not complete,
when the files disagree on the env, the number of shards or the threshold, when one
case appears in two shards, or when a case the env defines ran in no shard (their
durations files or pytest-split options differed). With `--full-gate`, a file that records
what a single run's --full-gate would refuse, or does not say (`full_gate_problem`, which
every run records, a whole run's too), is NOT EVALUATED as well. Exit codes: 0 gate passed,
1 gate failed, 2 not evaluated. Plain Python: no pytest.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smokegate.cases import CaseInfo
from smokegate.config import env_name_problem, shown_file_name
from smokegate.facts.iam import UNLISTED_ACCOUNTS
from smokegate.gate import FULL_GATE_NO_PROBLEM, FULL_GATE_PROPERTY, GateResult, evaluate_gate
from smokegate.redact import escape_control, excerpt
from smokegate.report.provenance import CI_RUN_VARIABLES
from smokegate.report.summary import render_summary
from smokegate.report.summary_files import append_step_summary, write_summary_file
from smokegate.results import RunResults
from smokegate.severity import Severity

EXIT_PASSED, EXIT_FAILED, EXIT_NOT_EVALUATED = 0, 1, 2
MAX_SHARD_BYTES = 128 * 1024 * 1024
# cases a shard's file may hold: each is kept until every file is judged (~300 bytes),
# and 10 million empty `<testcase/>` in a 120 MB file took 3.4 GB (round 34b F2)
MAX_SHARD_CASES = 200_000
MAX_SPLITS = 1000  # far past any CI matrix (GitHub allows 256 jobs, GitLab parallel: 200)
MISSING_SHOWN = 20
# a shard's own text (its gate's detail, notices, stale waivers) said at most this long:
# a forged 30 MB property was printed whole (round 24a)
_SAID_CHARS = 1000
_STALE_PROPERTY = "stale_waiver"
# The suite property `gate` as every report words it, and the merge's own word for it.
_VERDICTS = {
    "PASSED": "passed",
    "FAILED": "failed",
    "NOT EVALUATED": "not evaluated",
    "PASSED (partial)": "passed",  # every shard is one part of the run
    "FAILED (partial)": "failed",
}


class MergeError(Exception):
    """Input the merge cannot judge; the message names the file."""


@dataclass
class ShardCase:
    nodeid: str
    case: CaseInfo | None  # None: a case without smokegate's facts (a crashed worker, ...)
    outcome: str  # passed | failed | error | skipped
    message: str
    verified: bool
    standing: str = ""  # the shard's own word for where the case stood (property gate)


@dataclass
class ShardReport:
    path: Path
    env: str
    splits: int
    group: int
    fail_on: str
    verdict: str
    gate: str
    unattributed: int
    waivers_used: set[int] = field(default_factory=set)
    stale: dict[int, str] = field(default_factory=dict)
    cases: list[ShardCase] = field(default_factory=list)
    # "complete" when the shard collected every case of the env before the split (nothing
    # but the split narrowed it); else how many it collected. A file without it: unknown.
    coverage: str = "unknown: the shard's JUnit file does not say"
    notices: list[str] = field(default_factory=list)
    # how many cases the env defines outside the IAM audit (what pytest-split deals); None:
    # the file does not say (an older shard, or a checks folder that defines nothing)
    split_cases: int | None = None
    # the AWS account listing the shard dealt its accounts from; None: it audited none
    accounts_dealt: str | None = None
    # the env file's digest and the CI's run id (`GITHUB_RUN_ID=...`); None: not said
    env_digest: str | None = None
    ci_run: str | None = None
    tallies: Tallies | None = None
    # the --fail-on the shard job's own command line and ini file said, and whether a mocked
    # world answered it; None: the file does not say
    fail_on_said: str | None = None
    mocked: bool | None = None
    # why the shard's run would not have been the deploy gate under --full-gate ('' none)
    full_gate_refusal: str = ""
    # whether the file says so at all (`full_gate_problem`, which every run records): a
    # whole run's file said nothing and passed as "shard 1 of 1" (round 43b F1)
    full_gate_said: bool = False


def _int(value: str | None, name: str, path: Path) -> int:
    try:
        return int(value or "")
    except ValueError:
        shown = escape_control(excerpt(value or "", 40), one_line=True)
        raise MergeError(f"{path}: suite property {name} is '{shown}', not a number") from None


def _case(element: ET.Element) -> ShardCase:
    name = element.get("name", "")
    classname = element.get("classname", "")
    props = {p.get("name", ""): p.get("value", "") for p in element.iter("property")}
    outcome, message = "passed", ""
    for tag in ("failure", "error", "skipped"):
        found = element.find(tag)
        if found is not None:
            outcome = "failed" if tag == "failure" else tag
            message = (found.get("message") or "").removeprefix("Failed: ")
            message = message.removeprefix("Skipped: ")
            break
    case = None
    if props.get("check") and props.get("severity") in Severity.names():
        case = CaseInfo.from_dict({**props, "severity": props["severity"]})
    verified = props.get("unverified") != "yes"
    why = props.get("why") or message.split("\n")[0]  # cut-ok: a scrubbed report's own line
    # a case's reason as summary.md shows it (REASON_CHARS, the run's own cut): a forged
    # shard's 120 MiB `why` was written whole, a 125 MB summary.md (round 37b)
    why = excerpt(why, _WHY_CHARS, first_line=True)
    # a shard's own name for the case: a classname carries any --junit-prefix (round 28b)
    key = props.get("case") or f"{classname}::{name}"
    return ShardCase(key, case, outcome, why, verified, props.get("gate", ""))


_WHY_CHARS = 2000  # smokegate.pytest_plugin.plugin.REASON_CHARS (the merge is plain Python)


def _refuse_declarations(path: Path) -> None:
    """No JUnit file pytest writes declares a DOCTYPE or an entity; a forged one made expat
    expand its entities up to 100 times over, about 200 bytes of memory a byte of file
    (attack round 13). Such a file is refused unread."""
    tail = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                window = tail + chunk
                if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                    raise MergeError(
                        f"{path}: declares a DOCTYPE or entities, which no JUnit file of "
                        "pytest holds: refused unread"
                    )
                tail = window[-16:]  # cut-ok: bytes kept to find a marker split by a read
    except OSError as exc:
        raise MergeError(f"{path}: cannot read a JUnit file: {exc.strerror or exc}") from None


# What pytest's testsuite element counts: the cases' elements of each kind
_TALLIED = ("failure", "error", "skipped")
_TALLY_ATTRIBUTES = {"failure": "failures", "error": "errors", "skipped": "skipped"}


@dataclass
class Tallies:
    """The suite's own counts of failure, error and skipped elements, and those the cases
    hold: pytest writes both from one run, so they differ only in an altered file."""

    declared: dict[str, int | None] = field(default_factory=dict)  # None: unreadable
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TALLIED, 0))

    def declare(self, suite: ET.Element) -> None:
        for tag in _TALLIED:
            value = suite.get(_TALLY_ATTRIBUTES[tag], "")
            counted = int(value) if value.isascii() and value.isdigit() else None
            before = self.declared.get(tag, 0)
            self.declared[tag] = None if counted is None or before is None else before + counted

    def hold(self, case: ET.Element) -> None:
        for tag in _TALLIED:
            self.held[tag] += len(case.findall(tag))

    def apart(self) -> str:
        """How the two counts differ, or ""."""
        for tag in _TALLIED:
            declared, held = self.declared.get(tag), self.held[tag]
            attribute = _TALLY_ATTRIBUTES[tag]
            if declared is None:
                return f"its testsuite's {attribute} count is missing or no number"
            if declared != held:
                return (
                    f"its testsuite counts {declared} {attribute}, yet its cases hold {held} "
                    f"<{tag}> element(s)"
                )
        return ""


def _read_junit(path: Path) -> tuple[list[ET.Element], list[ShardCase], Tallies]:
    """The first suite's `<property>` elements and every case, read as a stream: each
    `<testcase>` is folded into a `ShardCase` and let go, so a file of 400 000 cases is
    not a 1 GB tree (round 12). Every other element is let go as it ends too, and their
    number is bounded: 33 million empty elements beside the cases were kept, 2.9 GB, and
    took 86 s before the merge "passed" with no case (round 15)."""
    tags: list[str] = []
    open_elements: list[ET.Element] = []
    suite_properties: list[ET.Element] | None = None
    cases: list[ShardCase] = []
    tallies = Tallies()
    suites = outside = inside = 0
    _refuse_declarations(path)
    try:
        for event, element in _events(path):
            if event == "start":
                in_case = element.tag == "testcase" or "testcase" in tags[-3:]  # cut-ok: tags
                if in_case:
                    inside += 1
                else:
                    outside += 1
                if inside > MAX_CASE_ELEMENTS or outside > MAX_OTHER_ELEMENTS:
                    raise MergeError(
                        f"{path}: more XML elements than smokegate writes "
                        f"({MAX_CASE_ELEMENTS} in a testcase, {MAX_OTHER_ELEMENTS} outside "
                        "the testcases): not the JUnit file of a smokegate run"
                    )
                tags.append(element.tag)
                open_elements.append(element)
                continue
            tags.pop()
            open_elements.pop()
            if element.tag == "testcase":
                if len(cases) >= MAX_SHARD_CASES:
                    raise MergeError(
                        f"{path}: more than {MAX_SHARD_CASES} cases, past what one shard of a "
                        "smokegate run holds: not merged"
                    )
                cases.append(_case(element))
                tallies.hold(element)
                inside = 0
            elif "testcase" in tags[-3:] or element.tag == "property":  # cut-ok: tags
                continue  # part of the case being read (let go with it), or a property
            elif element.tag == "properties" and tags[-1:] == ["testsuite"]:  # cut-ok: a tag
                if suite_properties is None:
                    suite_properties = list(element.iter("property"))
            elif element.tag == "testsuite":
                suites += 1
                tallies.declare(element)
            element.clear()
            if open_elements and len(open_elements[-1]) and open_elements[-1][-1] is element:
                del open_elements[-1][-1]  # the parent holds it no more
    except (OSError, ET.ParseError) as exc:
        raise MergeError(f"{path}: cannot read a JUnit file: {exc}") from None
    if not suites:
        raise MergeError(f"{path}: no <testsuite> in it")
    return suite_properties or [], cases, tallies


# How much of a shard's file expat is handed at once. expat 2.5 parses an unfinished token
# from its start again at each feed: iterparse's 16 KiB feeds made one 120 MiB attribute
# take minutes (round 37b); at 8 MiB, a few seconds. The events of one feed are kept.
_FEED_BYTES = 8 * 1024 * 1024


def _events(path: Path) -> Iterator[tuple[str, ET.Element]]:
    parser = ET.XMLPullParser(events=("start", "end"))
    with path.open("rb") as handle:
        while chunk := handle.read(_FEED_BYTES):
            parser.feed(chunk)
            yield from parser.read_events()  # type: ignore[misc]
    parser.close()
    yield from parser.read_events()  # type: ignore[misc]


# What a shard's JUnit file holds at most, in elements: a case writes its properties (about
# a dozen), its failure and its captured output; outside the cases, a suite's properties.
MAX_CASE_ELEMENTS = 1_000
MAX_OTHER_ELEMENTS = 100_000


def read_shard(path: Path) -> ShardReport:
    """One shard's JUnit file; MergeError when it is not a smokegate run's."""
    try:
        info = path.stat()
    except OSError as exc:
        raise MergeError(f"{path}: cannot read a JUnit file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO nobody writes would wait forever
        raise MergeError(f"{path}: not a regular file")
    if info.st_size > MAX_SHARD_BYTES:  # streamed, but each case is kept: ~3.5 bytes a byte
        raise MergeError(
            f"{path}: {info.st_size // (1024 * 1024)} MiB, past the {MAX_SHARD_BYTES // 2**20} "
            "MiB a shard's JUnit file may be (50 000 cases write about 50 MiB)"
        )
    suite_properties, cases, tallies = _read_junit(path)
    props: dict[str, str] = {}
    stale: dict[int, str] = {}
    notices: list[str] = []
    for prop in suite_properties:
        name, value = prop.get("name", ""), prop.get("value", "")
        if name == "notice":
            notices.append(excerpt(value, _SAID_CHARS))
        elif name == _STALE_PROPERTY:
            index = value.removeprefix("waivers[").split("]", 1)[0]  # cut-ok: an index
            stale[_int(index, name, path)] = excerpt(value, _SAID_CHARS)
        else:
            props[name] = value
    if props.get("gate") not in _VERDICTS or "splits" not in props:
        raise MergeError(
            f"{path}: no smokegate gate and splits suite properties: not the JUnit file of a "
            "completed "
            "`pytest checks/` run (pytest was killed before it wrote its verdict?)"
        )
    splits = _int(props.get("splits"), "splits", path)
    if not 1 <= splits <= MAX_SPLITS:  # each missing shard is listed: a forged 3e9 was 2 GB
        raise MergeError(
            f"{path}: suite property splits is {splits}: a run has 1 to {MAX_SPLITS} shards"
        )
    env = props.get("env", "")
    problem = env_name_problem(env) if env else None
    if problem:  # the merged summary goes to reports/<env>-merged/: never elsewhere
        raise MergeError(f"{path}: suite property env '{shown_file_name(env)}' {problem}")
    fail_on = props.get("fail_on", "")
    if fail_on and fail_on not in Severity.names():
        raise MergeError(
            f"{path}: suite property fail_on is '{excerpt(fail_on, 40)}', not a severity "
            f"({', '.join(Severity.names())})"
        )
    report = ShardReport(
        path=path,
        env=env,
        splits=splits,
        group=_int(props.get("group"), "group", path),
        fail_on=fail_on,
        verdict=_VERDICTS[props["gate"]],
        gate=excerpt(props.get("gate_detail", ""), _SAID_CHARS),
        unattributed=_int(props.get("unattributed", "0"), "unattributed", path),
        waivers_used={
            _int(i, "waivers_used", path) for i in props.get("waivers_used", "").split(",") if i
        },
        stale=stale,
        notices=notices,
    )
    if "coverage" in props:
        report.coverage = excerpt(props["coverage"], _SAID_CHARS)
    if "split_cases" in props:
        report.split_cases = _int(props["split_cases"], "split_cases", path)
    if "accounts_dealt" in props:
        report.accounts_dealt = excerpt(props["accounts_dealt"], 400)
    for name in ("env_digest", "ci_run"):
        if props.get(name):
            setattr(report, name, excerpt(props[name], 120))
    if props.get("fail_on_said") in Severity.names():
        report.fail_on_said = props["fail_on_said"]
    if props.get("mocked") in ("yes", "no"):
        report.mocked = props["mocked"] == "yes"
    report.full_gate_said = FULL_GATE_PROPERTY in props
    for name in (FULL_GATE_PROPERTY, "full_gate_refusal"):  # a shard records both
        refusal = props.get(name, "")
        if refusal and refusal != FULL_GATE_NO_PROBLEM and not report.full_gate_refusal:
            said = refusal.partition("): ")[2] or refusal  # cut-ok: excerpt()ed below
            report.full_gate_refusal = excerpt(said, _SAID_CHARS)
    report.cases = cases
    report.tallies = tallies
    return report


def check_complete(shards: Sequence[ShardReport]) -> str:
    """Why these shards are not one whole run ("" when they are)."""
    if not shards:
        return "no shard's JUnit file was given"
    for attribute, what in (
        ("env", "env"),
        ("splits", "number of shards"),
        ("fail_on", "--fail-on"),
    ):
        values = {getattr(s, attribute) for s in shards}
        if len(values) > 1:
            listed = ", ".join(f"{s.path}: {getattr(s, attribute)}" for s in shards)
            return f"the shards disagree on the {what} ({listed})"
    apart = _of_different_runs(shards)
    if apart:
        return apart
    splits = shards[0].splits
    groups = [s.group for s in shards]
    twice = sorted({g for g in groups if groups.count(g) > 1})
    if twice:
        return f"shard(s) {', '.join(map(str, twice))} of {splits} given more than once"
    outside = sorted(g for g in groups if not 1 <= g <= splits)
    if outside:
        return f"shard(s) {', '.join(map(str, outside))} are not shards of {splits}"
    missing = sorted(set(range(1, splits + 1)) - set(groups))
    if missing:
        names = ", ".join(f"{g} of {splits}" for g in missing[:MISSING_SHOWN])  # cut-ok: ints
        more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        return f"shard {names}{more} missing: its cases were never judged (a lost shard is no pass)"
    for shard in sorted(shards, key=lambda s: s.group):
        if shard.verdict not in ("passed", "failed"):
            # the shard's own verdict line, without its head the merge's line says again
            head, said, reason = shard.gate.partition("): ")
            why = reason if said and head.startswith("gate NOT EVALUATED (") else shard.gate
            return f"shard {shard.group} of {splits} did not complete: {why}"
        altered = _altered(shard)
        if altered:
            return f"shard {shard.group} of {splits}: {altered}"
    seen: dict[str, int] = {}
    for shard in shards:
        for case in shard.cases:
            first = seen.setdefault(case.nodeid, shard.group)
            if first != shard.group:
                return (
                    f"{excerpt(case.nodeid, 200)} ran in shard {first} and shard "
                    f"{shard.group}: the shards split different collections (same durations "
                    "file and checkout in each?)"
                )
    if not seen:
        # a pytest run with no case is NOT EVALUATED; so are shards of one (round 34b F3)
        return "no shard holds a case: nothing was judged, which is never a pass"
    return _accounts_dealt_apart(shards) or _cases_in_no_shard(shards)


# a case's standing when its failure counted (`report.standing.Standing`)
_FAILED_STANDINGS = frozenset({"gating", "verified nothing", "below gate"})


def _altered(shard: ShardReport) -> str:
    """Why a shard's cases do not add up to its own verdict: a case whose standing says it
    failed without a failure element, or a FAILED shard without any failing case. A
    credential variable holding `<failure` and another holding `</failure>` masked the
    element into text, and the merge read the failing case as passed and PASSED (round
    31a); any edit of a file could do as much."""
    for case in shard.cases:
        if case.standing in _FAILED_STANDINGS and case.outcome == "passed":
            return (
                f"{excerpt(case.nodeid, 200)} stood as '{case.standing}', yet its JUnit "
                "element holds no failure: the file was altered (a credential variable "
                "masked in it, or an edit); not merged"
            )
    # pytest gives every case of a run its own id: two alike are names masked into one
    # (`test_endpoint[***]`), and the merge kept one of them (round 34a F2, 34b F4)
    ids: set[str] = set()
    for case in shard.cases:
        if case.nodeid in ids:
            return (
                f"two of its cases share the id {excerpt(case.nodeid, 200)}, where pytest "
                "gives each its own: the file was altered (a credential variable masked in "
                "it, or an edit); not merged"
            )
        ids.add(case.nodeid)
    # round 33a: three masked pieces took a critical case's failure element and its
    # standing away while a low case kept failing; pytest's own counts still said two
    apart = shard.tallies.apart() if shard.tallies is not None else ""
    if apart:
        return (
            f"{apart}: the file was altered (a credential variable masked in it, or an edit); "
            "not merged"
        )
    failed = [c for c in shard.cases if c.outcome in ("failed", "error")]
    if shard.verdict == "failed" and not failed and not shard.unattributed:
        return (
            "its verdict is FAILED, yet none of its cases failed: the file was altered (a "
            "credential variable masked in it, or an edit); not merged"
        )
    return ""


def _of_different_runs(shards: Sequence[ShardReport]) -> str:
    """Shards that read different env files, or ran in different CI pipeline runs: a stale
    junit.xml of an earlier run (a cache, a glob that caught an old folder) standing in for
    a lost shard would otherwise be taken for its cases, and its pass for theirs."""
    for attribute, what in (("env_digest", "env file's content"), ("ci_run", "CI pipeline run")):
        # a shard that says no run is not of the run the others say (round 24b: a shard
        # made where no run id was set stood in for a pipeline's failing one)
        said = {getattr(s, attribute) for s in shards}
        if len(said) > 1:
            listed = ", ".join(
                f"{s.path}: {getattr(s, attribute) or 'not said'}"
                for s in sorted(shards, key=lambda s: s.group)[:MISSING_SHOWN]  # cut-ok: a list
            )
            return (
                f"the shards disagree on the {what} ({listed}): they are not the shards of one "
                "run; merge the files of one pipeline run"
            )
    return ""


def _accounts_dealt_apart(shards: Sequence[ShardReport]) -> str:
    """Each shard deals the AWS accounts over its own listing; listings that differ (an
    account joined the organization between the jobs) leave an account to no shard, whose
    cases then are missing from every file without a trace (round 14)."""
    if len({s.accounts_dealt for s in shards}) <= 1:
        return ""
    ordered = sorted(shards, key=lambda s: s.group)
    unlisted = [s for s in ordered if (s.accounts_dealt or "").startswith(UNLISTED_ACCOUNTS)]
    if unlisted:
        first = unlisted[0]
        reason = (first.accounts_dealt or "").removeprefix(UNLISTED_ACCOUNTS)
        others = f" (and {len(unlisted) - 1} more shards)" if len(unlisted) > 1 else ""
        return (
            f"shard {first.group}{others} could not list the organization's AWS accounts, so "
            f"its share of them was audited by no shard: {reason}"
        )
    listed = "; ".join(
        f"shard {s.group}: {s.accounts_dealt or 'none'}"
        for s in ordered[:MISSING_SHOWN]  # cut-ok: a count of shards is said
    )
    more = f"; and {len(ordered) - MISSING_SHOWN} more" if len(ordered) > MISSING_SHOWN else ""
    return (
        f"the shards dealt the AWS accounts from different listings ({listed}{more}): an "
        "account that joined or left the organization between the jobs may have been "
        "audited by no shard; run the jobs again"
    )


def _cases_in_no_shard(shards: Sequence[ShardReport]) -> str:
    """Cases the env defines that no shard ran: each shard judged its own part whole, yet
    their parts do not add up (different durations files or pytest-split options in the
    jobs). Judged only when every shard collected the whole run before its split: a shard
    narrowed by `-k` or `-m` is a partial run already, and says so."""
    if narrowed(shards):
        return ""
    announced = {s.split_cases for s in shards}
    if None in announced:
        return ""  # shards of a version that did not say: the other checks still hold
    if len(announced) > 1:
        listed = ", ".join(f"shard {s.group}: {s.split_cases}" for s in shards)
        return f"the shards disagree on how many cases the env defines ({listed})"
    defined = announced.pop() or 0
    # distinct ids of smokegate's own cases: a case repeated, or a testcase that is none
    # of smokegate's (no facts), must not make up for a case that ran nowhere
    ran = len({c.nodeid for s in shards for c in s.cases if c.case and c.case.kind != "iam"})
    if ran < defined:
        return (
            f"{defined - ran} of the env's {defined} cases (outside the IAM audit) ran in no "
            "shard: the jobs split different collections (give every job the same durations "
            "file and the same pytest-split options)"
        )
    return ""


@dataclass
class Merged:
    env: str
    results: RunResults
    gate: GateResult
    stale: list[str]
    shards: list[ShardReport]


def narrowed(shards: Sequence[ShardReport]) -> str:
    """Why the shards together are not the full gate: a shard that collected fewer cases
    than the env defines before the split ('' when none did)."""
    return "; ".join(
        f"shard {s.group} of {s.splits}: {s.coverage}"
        for s in sorted(shards, key=lambda s: s.group)
        if s.coverage != "complete"
    )


def not_the_deploy_gate(shards: Sequence[ShardReport], fail_on: str | None) -> str:
    """Why shards that are whole are still not the deploy gate `--full-gate` asks for ('' when
    they are), as a single run's --full-gate refuses itself: a shard answered by a mocked
    world, or whose --fail-on came from PYTEST_ADDOPTS (or an override of addopts) rather
    than its job's own command line, when the merge takes the shards' threshold. Shard jobs
    run without --full-gate, and `PYTEST_ADDOPTS=--fail-on critical` lowered a sharded gate
    to PASSED; mocked shards merged to PASSED (round 41b F2, F3). A file that does not say
    whether --full-gate would take its run is never read as one it would."""
    reasons = []
    for shard in sorted(shards, key=lambda s: s.group):
        name = f"shard {shard.group} of {shard.splits}"
        # round 43b F1: a whole run's file (no --splits) recorded no refusal, and passed
        unsaid = [
            prop
            for prop, missing in (
                ("mocked", shard.mocked is None),
                ("fail_on_said", fail_on is None and shard.fail_on_said is None),
                (FULL_GATE_PROPERTY, not shard.full_gate_said),
            )
            if missing
        ]
        if unsaid:
            reasons.append(
                f"{name}'s JUnit file does not say how it was run (no suite property "
                f"{', '.join(unsaid)}: an older smokegate's file?)"
            )
        elif shard.mocked:
            reasons.append(f"{name} was answered by a mocked world (mock: in its env file)")
        elif shard.full_gate_refusal:
            # round 42b F3: `-c other.ini` in PYTEST_ADDOPTS, whose --fail-on the shard took
            reasons.append(f"{name} was no gate run: {shard.full_gate_refusal}")
        elif fail_on is None and shard.fail_on_said != shard.fail_on:
            reasons.append(
                f"{name} ran at --fail-on {shard.fail_on} while its job's own command line "
                f"and ini file say {shard.fail_on_said} (PYTEST_ADDOPTS or -o addopts=...)"
            )
    if not reasons:
        return ""
    return "; ".join(reasons) + ": --full-gate asks for the real targets at the job's own --fail-on"


def merge(
    shards: Sequence[ShardReport], fail_on: str | None = None, *, full_gate: bool = False
) -> Merged:
    """Every shard's cases folded into one run, and its gate."""
    results = RunResults()
    unattributed = 0
    for shard in shards:
        unattributed += shard.unattributed
        for case in shard.cases:
            if case.case is None:
                unattributed += case.outcome in ("failed", "error")
                continue
            when = "setup" if case.outcome == "error" else "call"
            outcome = "failed" if case.outcome == "error" else case.outcome
            results.record(
                case.nodeid, when, outcome, case.case, case.message, verified=case.verified
            )
    threshold = Severity(fail_on or (shards[0].fail_on if shards else "low") or "low")
    failures = results.failures
    gate = evaluate_gate(
        (r.case.severity for r in failures if not r.gates_regardless),
        threshold,
        unverified=sum(1 for r in failures if r.gates_regardless) + unattributed,
        incomplete=check_complete(shards)
        or (
            f"a shard was a partial run ({narrowed(shards)}), and --full-gate asks for every "
            "check of the env"
            if full_gate and narrowed(shards)
            else ""
        )
        or (not_the_deploy_gate(shards, fail_on) if full_gate else ""),
        partial=narrowed(shards),
    )
    used = set().union(*(s.waivers_used for s in shards)) if shards else set()
    stale_by_index: dict[int, str] = {}
    for shard in shards:
        stale_by_index.update(shard.stale)
    stale = [text for index, text in sorted(stale_by_index.items()) if index not in used]
    env = shards[0].env if shards else ""
    return Merged(env, results, gate, stale, list(shards))


def _exit_code(gate: GateResult) -> int:
    if gate.incomplete:
        return EXIT_NOT_EVALUATED
    return EXIT_PASSED if gate.passed else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smokegate.merge",
        description="One summary.md and one verdict for the shards of a CI matrix "
        "(exit 0 gate passed, 1 failed, 2 not evaluated: a shard missing or incomplete)",
    )
    parser.add_argument("junit", nargs="*", type=Path, help="every shard's junit.xml")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for summary.md (default: reports/<env>-merged/ beside the shards' "
        "folders: never over a whole run's own reports)",
    )
    parser.add_argument(
        "--full-gate",
        action="store_true",
        help="the merged run is the deploy gate: a shard that was a partial run beyond its "
        "split (-k, --ignore, ...), that a single run's --full-gate would refuse (a mocked "
        "world, -c, --env or --fail-on through PYTEST_ADDOPTS, ...) or whose file does not "
        "say how it was run makes it NOT EVALUATED (exit 2)",
    )
    parser.add_argument(
        "--fail-on",
        type=str.lower,
        choices=Severity.names(),
        default=None,
        help="threshold (default: the one the shards ran with)",
    )
    args = parser.parse_args(argv)
    try:
        shards = [read_shard(path) for path in args.junit]
    except MergeError as exc:
        _say(f"smokegate merge: gate NOT EVALUATED: {exc}", file=sys.stderr)
        return EXIT_NOT_EVALUATED
    merged = merge(shards, args.fail_on, full_gate=args.full_gate)
    splits = shards[0].splits if shards else 0
    notes = [
        f"merged from {len(shards)} JUnit file(s) of a run in {splits} shard(s): "
        + ", ".join(
            f"{s.group}/{s.splits} {s.verdict}" for s in sorted(shards, key=lambda s: s.group)
        ),
        *dict.fromkeys(n for s in shards for n in s.notices),
    ]
    if merged.gate.partial:
        notes.append(f"Partial run: {merged.gate.partial}; not the full gate.")
    if shards and all(s.ci_run is None for s in shards):
        notes.append(
            "No shard names its CI pipeline run (none of "
            f"{', '.join(CI_RUN_VARIABLES)} was set in its job): the merge could not check "
            "that these files are of one run; set SMOKEGATE_RUN_ID to the pipeline's id."
        )
    text = render_summary(
        merged.env or "?",
        merged.results,
        merged.gate,
        stale_waivers=merged.stale,
        reports=[str(p) for p in args.junit],
        notes=notes,
    )
    out = args.out
    if out is None:
        base = args.junit[0].resolve().parent.parent if args.junit else Path("reports")
        out = base / f"{merged.env or 'run'}-merged"
    problems = [write_summary_file(out / "summary.md", text)]
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        problems.append(append_step_summary(step_summary, text))
    cases = len(merged.results.cases)
    _say(f"smokegate merge: {merged.env or '?'}: {cases} cases from {len(shards)} shard(s)")
    _say(merged.gate.describe())
    for stale in merged.stale:
        _say(f"stale waiver: {stale}")
    for problem in filter(None, problems):  # said, and the verdict's exit code kept
        _say(f"smokegate merge: {problem}", file=sys.stderr)
    if problems[0] is None:
        _say(f"summary: {out / 'summary.md'}")
    return _exit_code(merged.gate)


def _say(line: str, file: Any = None) -> None:
    """One console line: the shards' files are text anyone with the artifacts could have
    written, so no control character (a C1 CSI, a newline and a fake verdict) gets out."""
    print(escape_control(line, one_line=True), file=file or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
