"""Attack round 45a.

F4: an IAM user name (an AWS endpoint's text) holding a piece of a known secret (40
characters of the session token, 30 of AWS_SECRET_ACCESS_KEY, the piece reversed) was shown
in case ids, the failure header, case lines and every report, and made a fact of the run;
the whole secret was masked. The user is now shown by a placeholder, and still judged.

F5: a notice quoting a CI variable with backticks (AWS_CA_BUNDLE) opened code spans of its
own in summary.md; only smokegate's own code spans keep raw backticks now."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from smokegate.config import EnvConfig, LoadedEnv
from smokegate.facts.iam import AccessKey, CredentialRow, IamAudit, RootFacts
from smokegate.pytest_plugin import iam as iam_plugin
from smokegate.pytest_plugin.guard import aws_trust_notice
from smokegate.rules import iam as rules
from smokegate.targets import AUDIT_TARGETS

# test values of this file's own: a session token and a secret access key (no real ones)
TOKEN = "IQoJb3JpZ2luX2VjE" + "Hq4Tz7Wm2Kp9Lv3Nc8Rx5Bd1Fg6Yj0Sa" * 4
SECRET_KEY = "Zt4uQ8yW1eR5tY9uI3oP7aS2dF6gH0jK4lZ8xC2v"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
NO_KEY = AccessKey(slot=1, active=False, last_rotated=None, last_used=None)


def _row(name: str, *, mfa: bool = False) -> CredentialRow:
    return CredentialRow(
        user=name,
        arn=f"arn:aws:iam::210987654321:user/ops/{name}",
        created=NOW,
        password_enabled=True,
        password_last_used=None,
        password_last_changed=None,
        mfa_active=mfa,
        keys=(NO_KEY, AccessKey(2, False, None, None)),
    )


def _audit(names: list[str], *, listed: list[str] | None = None) -> IamAudit:
    return IamAudit(
        account_id="210987654321",
        caller_arn="arn:aws:iam::210987654321:user/gate",
        gathered_at=NOW,
        report_generated=NOW,
        users=tuple(_row(n) for n in names),
        root=RootFacts(access_keys_present=False, mfa_active=True, source="credential report"),
        password_policy=None,
        summary={"Users": len(names)},
        user_names=tuple(names if listed is None else listed),
    )


# pieces an endpoint could name users by: plain, reversed, and of the secret key
PIECES = {
    "token-piece40": TOKEN[25:65],
    "token-piece-reversed": TOKEN[30:70][::-1],
    "secret-key-piece30": SECRET_KEY[:30],
    "token-piece12": "x." + TOKEN[40:52],  # short, after IAM-valid characters
}


@pytest.fixture
def aws_secrets(empty_registry, monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return empty_registry


def _plugin_with(monkeypatch, audit: IamAudit) -> iam_plugin.IamPlugin:
    monkeypatch.setattr(iam_plugin, "gather", lambda settings: audit)
    env = LoadedEnv(name="x", path=Path("x.yaml"), root=Path("."), config=EnvConfig(iam={}))
    return iam_plugin.IamPlugin(SimpleNamespace(stash={}, workerinput={}), env)


def _shown(audit: IamAudit) -> str:
    """Everything the reports are made of for its users: case ids, locations, messages."""
    texts = []
    for kind in AUDIT_TARGETS:
        targets = kind.entries(audit)
        texts += iam_plugin._shown_ids(kind.case_id(t) for t in targets)
        texts += [kind.location(t) for t in targets]
    texts += [u.user for u in audit.users] + list(audit.user_names or ())
    return "\n".join(texts)


@pytest.mark.parametrize("piece", list(PIECES.values()), ids=list(PIECES))
def test_a_user_named_by_a_piece_of_a_secret_is_shown_masked_and_still_fails(
    aws_secrets, monkeypatch, piece
):
    plugin = _plugin_with(monkeypatch, _audit(["deploy-bot", piece]))
    audit = plugin.audit()
    shown = _shown(audit)
    assert piece not in shown
    assert piece[:8] not in shown and piece[-8:] not in shown
    masked = iam_plugin.MASKED_USER.format(n=1)
    assert [u.user for u in audit.users] == ["deploy-bot", masked]
    assert audit.user_names == ("deploy-bot", masked)  # the same name in both listings
    assert audit.users[1].arn.startswith("arn:aws:iam::210987654321:user/ops/")
    assert audit.users[1].arn.endswith("***")
    # judged as before: no MFA still fails, and the audit still counts every user
    verdict = rules.console_mfa(audit.users[1])
    assert not verdict.passed
    assert rules.audit_available(audit).passed
    # and the piece is no fact of the run (a fact keeps a value from being masked)
    assert piece not in aws_secrets._own_facts
    assert masked in aws_secrets._own_facts and "deploy-bot" in aws_secrets._own_facts


def test_two_users_named_by_pieces_stay_two_and_an_unlisted_one_is_still_said(
    aws_secrets, monkeypatch
):
    first, second, third = TOKEN[20:50], SECRET_KEY[5:35][::-1], TOKEN[60:90]
    # ListUsers names a third user the credential report does not list: still a failure
    plugin = _plugin_with(monkeypatch, _audit([first, second], listed=[second, first, third]))
    audit = plugin.audit()
    names = [u.user for u in audit.users]
    assert len(set(names)) == 2 and all("name masked" in n for n in names)
    assert set(names) <= set(audit.user_names or ())
    verdict = rules.audit_available(audit)
    assert not verdict.passed
    assert "1 user of iam:ListUsers not in the credential report" in verdict.message
    for piece in (first, second, third):
        assert piece[:10] not in verdict.message and piece[:10] not in _shown(audit)


def test_an_ordinary_audit_is_left_as_it_is(aws_secrets, monkeypatch):
    audit = _audit(["deploy-bot", "alice.smith@example.com"])
    assert _plugin_with(monkeypatch, audit).audit() is audit


def test_a_case_id_holding_a_piece_of_a_secret_is_masked(aws_secrets):
    ids = iam_plugin._shown_ids([f"payments/{TOKEN[33:61]}:key1", "payments/alice:key2"])
    assert TOKEN[33:41] not in ids[0] and ids[0].startswith("payments/")
    assert ids[1] == "payments/alice:key2"


# -- F5 --------------------------------------------------------------------------------------


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize(
    "bundle",
    ["/opt/ca/`__PASSED__ <i>y</i>`/b.pem", "/opt/ca/`lone.pem", "/opt/`a`/`b`/ca.pem"],
    ids=["pair", "lone", "two-pairs"],
)
def test_a_notice_quoting_a_variable_with_backticks_opens_no_code_span(empty_registry, bundle):
    from smokegate.gate import evaluate_gate
    from smokegate.report.summary import render_summary
    from smokegate.results import RunResults
    from smokegate.severity import Severity

    # a lone backtick would pair with one of a later notice of the same blockquote
    notes = [
        aws_trust_notice(bundle),
        "Partial run: only `-m iam` was selected; not the full gate.",
    ]
    summary = render_summary("prod", RunResults(), evaluate_gate([], Severity.LOW), notes=notes)
    quoted = "\n".join(line for line in summary.splitlines() if line.startswith("> "))
    assert "`" not in quoted.replace("\\`", "")  # each backtick escaped
    html = _rendered(quoted + "\n")
    assert "<code>" not in html
    assert bundle.replace("<", "&lt;").replace(">", "&gt;") in html
    assert "only `-m iam` was selected" in html  # smokegate's own show as plain backticks
