"""`summary.md`: what a reviewer reads in a merge request or `$GITHUB_STEP_SUMMARY`.

Plain Markdown built from the folded run results; pure, so it is tested without pytest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from smokegate import linear_re
from smokegate.gate import GateResult
from smokegate.redact import MASK, escape_control, process_scrubber
from smokegate.results import CaseResult, RunResults
from smokegate.severity import Severity

_OUTCOMES = ("passed", "failed", "error", "skipped", "not run")


def gate_mark(result: CaseResult, gate: GateResult) -> str:
    """' (below gate)' for a finding under --fail-on; ' (verified nothing)' for a failure
    that gates whatever the threshold."""
    if result.gates_regardless:
        return " (verified nothing)"
    return "" if result.case.severity.at_least(gate.threshold) else " (below gate)"


# Markdown and HTML that text from a server, an env file or the command line could use to
# pass for smokegate's own: raw HTML (an image that loads when GitHub shows the summary, a
# heading) starts with `<`; a link or an image is `[text](url)`, broken by escaping the `(`
# that follows a `]`; bold and code spans; a pipe opens a table cell. Other characters
# (`[0]` in a case id, `>` in "expected > 3", `_` in names) stay as they are. `$` opens
# GitHub's math, drawn after Markdown's escapes (`\\color` becomes `\color`): a server's
# text drew a green "gate PASSED" of its own (round 24a).
_MD_ESCAPES = {ord(c): f"\\{c}" for c in "\\`*|~$"} | {ord("<"): "&lt;", ord("&"): "&amp;"}
# Round 14: `__bold__`, `~~strike~~`, `:white_check_mark:` and `&#9989;` in a server's text
# drew a "✅ gate PASSED" of their own in the failing-cases table: `~` and `&` are escaped
# above, a doubled `_` and the colon that closes a shortcode here (one `_` in a name stays).
# GitHub draws `:name:` as an emoji only where no letter or digit touches its first colon:
# `arn:aws:iam::` stays as it is.
_SHORTCODE = linear_re.compile(r"(^|[^A-Za-z0-9])(:[A-Za-z+][A-Za-z0-9_+-]{0,59}):")
# Round 24a: summary.md puts text it does not control at the start of a block (a list item
# of report paths as `--html` gave them, a note, a stale waiver). There `[pix]: url` is a
# link reference definition, and every `[pix]` or `![pix]` in the document (smokegate's own
# `waivers[0]`, a server's header value) became a link or an image; `# …` a heading, `> `
# a quote, `1. ` a list. The first character of such text is escaped, so no block but
# smokegate's own starts; with no definition in the document, no `[x]` is a reference.
_BLOCK_START = linear_re.compile(r"^([#>+=\[-]|[0-9]{1,9}[.)])")
# Round 46a F3: an IAM user or a server's text `@octocat` (or `@org/team`) is a GitHub
# mention where summary.md is posted as a comment: everyone named is notified by a target's
# words; `#42` links (and backlinks) an issue. A backslash does not help (the mention is
# read from the drawn text); a zero-width space after the sign does, as Renovate writes it.
_REFERENCE = linear_re.compile(r"([@#])([A-Za-z0-9])")


def md_text(text: str) -> str:
    """Text as summary.md may show it: scrubbed first (an escape inside a secret would hide
    it from the scrubber), then Markdown's and HTML's active characters escaped, on one
    line. Backticks too, smokegate's own as well: notes quote a CI variable or a selection
    among its words, and a backtick of theirs opened a code span (round 45a F5), so an
    option shows between literal backticks rather than as code."""
    clean = escape_control(process_scrubber().scrub(text), one_line=True).lstrip()
    escaped = clean.translate(_MD_ESCAPES).replace("](", "]\\(").replace("__", "\\_\\_")
    if "@" in escaped or "#" in escaped:
        escaped = _REFERENCE.sub(lambda m: f"{m.group(1)}&#8203;{m.group(2)}", escaped)
    start = _BLOCK_START.search(escaped)
    if start:
        end = start.end() - 1  # the block marker is the match's last character
        escaped = f"{escaped[:end]}\\{escaped[end:]}"  # cut-ok: around one character
    if ":" not in escaped:
        return escaped
    return _SHORTCODE.sub(lambda m: f"{m.group(1)}{m.group(2)}\\:", escaped)


def scrubbed_lines(document: str) -> str:
    """summary.md as it is written: every line scrubbed again, and alone. Each line's text
    from a server, an env file or a variable was scrubbed on one line already (`md_text`);
    this pass is the last net for what was not. Alone: the scrubber reads a text with its
    blanks, line breaks too, dropped, and a CI variable `UTC❌**gateFAILED` matched the
    title line's end and the verdict line as one, and masked the verdict (round 39a F1); a
    private key's armour with no END line is masked to the end of its text, and a server's
    header quoting one blanked the document after it (round 39a F2). A table row's cells
    alike, each alone: `|high|endpoint|` in a CI variable masked the severity and check of
    every failing row, `|high|2|yes|` a whole row of the severity table (round 41a F2).
    And the pieces of a secret learnt after the cases' texts were cut (round 54a F1)."""
    scrubber = process_scrubber()
    # the pieces of late secrets in one pass over the whole (no piece spans a cell's `|`):
    # a pass per cell of twenty accounts' 15 100 rows took seconds (review 55)
    document = scrubber.mask_late_pieces(document)
    with scrubber.frozen():
        return "\n".join(
            escape_control("|".join(_masks_escaped(scrubber.scrub(c)) for c in _cells(line)))
            for line in document.split("\n")
        )


def _masks_escaped(cell: str) -> str:
    """A cell's masks made text, and what follows each escaped as `md_text` escaped it.
    The last pass writes `***` bare (emphasis), and a CI variable ending in a backslash,
    with a server's text after it, masked the `\\` of `\\|`, `\\$`, `\\~` or a backtick's
    escape: the row grew cells the server wrote (round 42a F3), or the server drew GitHub
    math, strikethrough or a code span again (round 43a F1). Every `*` of a cell `md_text`
    wrote is escaped and smokegate's own bold (`**14**`) never holds three, so a bare
    `***` is a mask of this pass."""
    if MASK not in cell:
        return cell
    out: list[str] = []
    trailing = 0  # backslashes just written: an odd count escapes what comes next
    index = 0
    while index < len(cell):
        if cell.startswith(MASK, index):
            if trailing % 2:
                # `md_text` never writes `\\*` before `**`: the mask took what a backslash
                # escaped, and that backslash would escape the mask's first star
                out.append("\\")
            out.append(_ESCAPED_MASK)
            index += len(MASK)
            if cell[index : index + 1] in _ESCAPED_AFTER:  # cut-ok: one character, looked at
                out.append("\\")  # its escape was the mask's last character
            trailing = 0
            continue
        char = cell[index]
        out.append(char)
        trailing = trailing + 1 if char == "\\" else 0
        index += 1
    return "".join(out)


# What `md_text` escapes with a backslash, escaped again after a mask (a backslash there
# is the start of an escape left whole); a backslash before ASCII punctuation always
# shows the character alone, so one too many changes nothing on the page
_ESCAPED_AFTER = tuple("`*|~$:(")
_ESCAPED_MASK = "".join(f"\\{c}" for c in MASK)


def _cells(line: str) -> list[str]:
    """A table row split at its own pipes (a cell's are escaped, `\\|`); any other line
    whole."""
    if not line.startswith("|"):
        return [line]
    cells: list[str] = []
    start = 0
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(line[start:index])  # cut-ok: a cell, scrubbed whole after
            start = index + 1
    cells.append(line[start:])  # cut-ok: the rest after the last pipe
    return cells


def _cell(text: str) -> str:
    """A table cell: no pipe, no newline, no Markdown or HTML of its own."""
    return md_text(text.strip())


def _accounts(results: RunResults) -> list[str]:
    """The AWS accounts of a multi-account audit, in order of their label."""
    return sorted({r.case.account for r in results.cases.values() if r.case.account})


def _accounts_table(results: RunResults, accounts: list[str]) -> list[str]:
    lines = [
        "## AWS accounts",
        "",
        "| account | cases | failed | verified nothing |",
        "|---|---:|---:|---:|",
    ]
    for account in accounts:
        own = [r for r in results.cases.values() if r.case.account == account]
        failed = [r for r in own if r.is_failure]
        unverified = sum(1 for r in failed if r.gates_regardless)
        lines.append(f"| {_cell(account)} | {len(own)} | {len(failed)} | {unverified} |")
    return [*lines, ""]


def _failure_table(failures: Sequence[CaseResult], gate: GateResult) -> list[str]:
    lines = ["| severity | check | target | measured | why |", "|---|---|---|---|---|"]
    for r in failures:
        below = gate_mark(r, gate)
        target = r.case.target + (
            f" ({r.case.location})" if r.case.location and r.case.location != r.case.target else ""
        )
        # the hint too: the console, the HTML and JUnit gave it, the PR comment did not
        # (new-user trial 47 L8)
        why = f"{r.message}; hint: {r.case.hint}" if r.case.hint else r.message
        lines.append(
            f"| {r.case.severity.value}{below} | {_cell(r.case.check)} | {_cell(target)} | "
            f"{_cell(r.case.measured)} | {_cell(why)} |"
        )
    return [*lines, ""]


def render_summary(
    env: str,
    results: RunResults,
    gate: GateResult,
    *,
    stale_waivers: Sequence[str] = (),
    reports: Sequence[str] = (),
    generated: datetime | None = None,
    notes: Sequence[str] = (),
) -> str:
    stamp = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    # U+26A0 alone: with the emoji selector U+FE0F, which escape_control escapes (it hides
    # in text), summary.md read `⚠\ufe0f` (round 12)
    icon = "✅" if gate.passed else ("⚠" if gate.incomplete else "❌")
    lines = [
        f"# smokegate · {md_text(env)} · {stamp}",
        "",
        f"{icon} **{md_text(gate.describe())}**",
    ]
    lines.append("")
    # each its own paragraph of the quote: consecutive `>` lines run into one
    for n, note in enumerate(notes):
        lines += [">"] * bool(n) + [f"> {md_text(note)}"]
    if notes:
        lines.append("")

    lines += [
        "## Totals",
        "",
        "| check kind | " + " | ".join(_OUTCOMES) + " |",
        "|---|" + "---:|" * len(_OUTCOMES),
    ]
    table = results.table_by_kind()
    for kind in sorted(table):
        counts = table[kind]
        lines.append(f"| {kind} | " + " | ".join(str(counts.get(o, 0)) for o in _OUTCOMES) + " |")
    total = results.by_outcome()
    lines.append("| **all** | " + " | ".join(f"**{total.get(o, 0)}**" for o in _OUTCOMES) + " |")
    lines.append("")

    by_severity = gate.failures_by_severity  # findings only: "verified nothing" has its own row
    lines += [
        "## Failures by severity",
        "",
        "| severity | failures | gates the run |",
        "|---|---:|---|",
    ]
    # a case of this severity that verified nothing is said in its row too: "critical 0"
    # above a failing row badged critical read as nothing critical (new-user trial 47);
    # where it is counted is said with it, or the rows seemed to count it twice (trial 55)
    unverified = Counter(r.case.severity for r in results.failures if r.gates_regardless)
    for severity in Severity:
        gating = "yes" if severity.at_least(gate.threshold) else "no (below --fail-on)"
        count = f"{by_severity.get(severity, 0)}"
        if unverified[severity]:
            count += f" (+{unverified[severity]} in the verified nothing row)"
        lines.append(f"| {severity.value} | {count} | {gating} |")
    if gate.unverified:
        lines.append(f"| verified nothing | {gate.unverified} | yes (at any --fail-on) |")
    lines.append("")

    failures = sorted(results.failures, key=lambda r: (-r.case.severity.rank, r.nodeid))
    accounts = _accounts(results)
    if accounts:
        lines += _accounts_table(results, accounts)
    lines += ["## Failing cases", ""]
    if not failures:
        lines += ["None.", ""]
    elif not accounts:
        lines += _failure_table(failures, gate)
    else:
        # an audit of several AWS accounts: one table per account, then the other checks
        for account in [*accounts, ""]:
            group = [r for r in failures if r.case.account == account]
            if group:
                lines += [f"### {_cell(account) if account else 'other checks'}", ""]
                lines += _failure_table(group, gate)

    waived = sorted((r for r in results.cases.values() if r.waived), key=lambda r: r.nodeid)
    if waived:
        lines += ["## Waived", "", "| check | target | waiver |", "|---|---|---|"]
        lines += [
            f"| {_cell(r.case.check)} | {_cell(r.case.target)} | {_cell(r.message)} |"
            for r in waived
        ]
        lines.append("")
    if stale_waivers:
        lines += ["## Waivers to clean up", ""]
        lines += [f"- {md_text(w)}" for w in stale_waivers]
        lines.append("")
    if reports:
        lines += ["## Reports", ""] + [f"- {md_text(path)}" for path in reports] + [""]
    return "\n".join(lines)
