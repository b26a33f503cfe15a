"""Round 46 and stop 25's new-user trial: account labels holding a piece of a secret, the
CA bundles that are no setting, and summary.md's notices each a paragraph."""

from __future__ import annotations

import pytest

from smokegate.gate import evaluate_gate
from smokegate.gather.aws_own import custom_ca_bundle
from smokegate.pytest_plugin.iam import shown_label
from smokegate.redact import register_secret
from smokegate.report.summary import render_summary
from smokegate.results import RunResults
from smokegate.severity import Severity

# a session token of this file's own (no real one)
TOKEN = "FQoGZXIvYXdzE" + "Lk3Pq8Zr2Wm7Ty4Nb9Vc1Xd6Hg5Js0Qa" * 3


def test_an_account_label_holding_a_piece_of_a_secret_is_shown_masked(empty_registry):
    """Round 46a F1: Organizations named an account after 40 characters of the session
    token it was sent; case ids were masked, summary.md's accounts and junit's `account`
    were not."""
    register_secret(TOKEN)
    piece = TOKEN[20:60]
    shown = shown_label(f"prod-{piece}")
    assert piece[:8] not in shown and shown.startswith("prod-")
    assert shown_label("payments-eu") == "payments-eu"


def test_the_bundles_trusted_with_no_setting_are_no_custom_bundle(tmp_path):
    import ssl

    from botocore.httpsession import get_cert_path

    assert custom_ca_bundle(get_cert_path(True)) == ""
    system = ssl.get_default_verify_paths().cafile
    if system:
        assert custom_ca_bundle(system) == ""
    own = tmp_path / "ca.pem"
    own.write_text("")
    assert custom_ca_bundle(str(own)) == str(own)
    assert custom_ca_bundle("") == ""


def test_each_notice_is_a_paragraph_of_its_own(empty_registry):
    """Consecutive `>` lines are one paragraph: the notices ran together."""
    pytest.importorskip("markdown_it")
    from markdown_it import MarkdownIt

    notes = ["Mocked: no real target was contacted", "Partial run: only -m iam was selected"]
    summary = render_summary("prod", RunResults(), evaluate_gate([], Severity.LOW), notes=notes)
    quote = "\n".join(line for line in summary.splitlines() if line.startswith(">"))
    html = MarkdownIt("commonmark").render(quote + "\n")
    assert html.count("<p>") == 2, html
