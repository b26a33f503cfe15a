"""Which part of the suite a run selected, in the words of its command line.

A `-k api` or `-m iam` run writes the same reports, to the same `reports/<env>/` folder, as
the full gate; a reader of that report.html must know it is not the full gate. Every report
names the selection (`-k`, `-m`, `--deselect`, `--last-failed`, a file or node id narrower
than the checks folder), and an `-m` naming a marker no check has lists the known ones.
"""

from __future__ import annotations

import shlex

import pytest

from smokegate import linear_re
from smokegate.pytest_plugin.shards import shard_of
from smokegate.redact import process_scrubber
from smokegate.targets import MARKERS

_WORDS = linear_re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = {"and", "or", "not"}


def selection_text(config: pytest.Config) -> str:
    """'-m iam -k alice' for a partial run; '' when the run selected every check."""
    option = config.option
    parts = []
    checks = (config.rootpath / config.getini("smokegate_checks_dir")).resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()  # cut-ok: a path
        if "::" in arg or (path != checks and checks in path.parents):
            parts.append(arg)  # one module or one case: narrower than checks/
    if getattr(option, "markexpr", ""):
        parts.append(f"-m {shlex.quote(option.markexpr)}")
    if getattr(option, "keyword", ""):
        parts.append(f"-k {shlex.quote(option.keyword)}")
    for nodeid in getattr(option, "deselect", None) or ():
        parts.append(f"--deselect {nodeid}")
    if getattr(option, "lf", False):
        parts.append("--last-failed")
    # stepwise runs skip what passed before, as --last-failed does (round 34b F6)
    for name, said in (("stepwise", "--stepwise"), ("stepwise_skip", "--stepwise-skip")):
        if getattr(option, name, False):
            parts.append(said)
    shard = shard_of(config)
    if shard is not None:
        parts.append(
            f"shard {shard.group} of {shard.splits} (--splits {shard.splits} --group {shard.group})"
        )
    return " ".join(parts)


def unknown_markers(markexpr: str) -> list[str]:
    """The names in an `-m` expression that are no check kind (`-m helth`)."""
    names = [w for w in _WORDS.findall(markexpr) if w not in _OPERATORS]
    return [n for n in dict.fromkeys(names) if n not in MARKERS]


def marker_advice(config: pytest.Config) -> str:
    """For an `-m` naming an unknown marker: which markers exist; else ''."""
    markexpr = getattr(config.option, "markexpr", "") or ""
    unknown = unknown_markers(markexpr)
    if not unknown:
        return ""
    # the words of an expression are pieces of what was typed: a CI token given as `-m`
    # comes back cut at its `-`, a piece the whole token's masking misses (round 14)
    scrubber = process_scrubber()
    names = ", ".join(f"'{scrubber.mask_fragments(n)}'" for n in unknown)
    return f"{names} is no marker of the checks; the known markers are {', '.join(MARKERS)}"
