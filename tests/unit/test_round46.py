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


def test_a_bundle_named_by_ssl_cert_file_too_is_still_a_custom_bundle(tmp_path, monkeypatch):
    """Round 47b F1: Python reads SSL_CERT_FILE into its default `cafile`, botocore does
    not read it at all; the same file in AWS_CA_BUNDLE and SSL_CERT_FILE counted as the
    system's, and a proxy holding a key of it answered the whole audit unnamed."""
    import ssl

    chosen = tmp_path / "corp-ca.pem"
    chosen.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(chosen))
    assert ssl.get_default_verify_paths().cafile == str(chosen)  # what the fix must not trust
    assert custom_ca_bundle(str(chosen)) == str(chosen)


def test_each_notice_is_a_paragraph_of_its_own(empty_registry):
    """Consecutive `>` lines are one paragraph: the notices ran together."""
    pytest.importorskip("markdown_it")
    from markdown_it import MarkdownIt

    notes = ["Mocked: no real target was contacted", "Partial run: only -m iam was selected"]
    summary = render_summary("prod", RunResults(), evaluate_gate([], Severity.LOW), notes=notes)
    quote = "\n".join(line for line in summary.splitlines() if line.startswith(">"))
    html = MarkdownIt("commonmark").render(quote + "\n")
    assert html.count("<p>") == 2, html


def test_no_mention_or_issue_reference_is_written_for_a_target_s_words(empty_registry):
    """46a F3: summary.md is posted as a PR comment, where `@octocat` notifies a person
    and `#42` links an issue: a target's words must do neither. GitHub reads mentions from
    the drawn text, so the sign keeps a zero-width space after it, as Renovate writes it."""
    import re

    notes = ["IAM user @octocat and team @acme/ops own it; see #42; mail ops@example.com"]
    summary = render_summary("prod", RunResults(), evaluate_gate([], Severity.LOW), notes=notes)
    assert not re.search(r"(?<!&)[@#][A-Za-z0-9]", summary), summary
    assert "@&#8203;octocat" in summary and "@&#8203;acme/ops" in summary
    assert "#&#8203;42" in summary and "ops@&#8203;example.com" in summary


@pytest.mark.parametrize(
    ("url", "service", "own"),
    [
        ("https://iam.amazonaws.com/", "iam", True),
        ("https://sts.eu-central-1.amazonaws.com", "sts", True),
        ("https://sts-fips.us-west-2.amazonaws.com", "sts", True),
        ("https://iam.us-gov.amazonaws.com", "iam", True),
        ("https://organizations.cn-northwest-1.amazonaws.com.cn", "organizations", True),
        # round 46b F2: any customer's API Gateway is on AWS's suffix
        ("https://k2x9q1.execute-api.eu-west-1.amazonaws.com", "iam", False),
        ("https://sts.eu-central-1.amazonaws.com", "iam", False),  # another service's host
        ("http://iam.amazonaws.com", "iam", False),
        # round 46b F1: urlsplit read iam.amazonaws.com, urllib3 connects to the first host
        ("https://collector.example:8443\\@iam.amazonaws.com/", "iam", False),
        ("https://user@iam.amazonaws.com/", "iam", False),
    ],
)
def test_aws_s_own_endpoints_are_its_services_hosts(url, service, own):
    from smokegate.gather.aws_own import aws_own

    assert aws_own(url, service) is own


def test_a_route_s_origin_is_the_host_urllib3_connects_to():
    from smokegate.gather.aws_own import origin

    assert origin("https://collector.example:8443\\@iam.amazonaws.com/") == (
        "https://collector.example:8443"
    )
    assert origin("https://sts.us-east-1.amazonaws.com/") == "https://sts.us-east-1.amazonaws.com"


# ---------------------------------------------------------------- round 46c: refusal bodies


def _records() -> bytes:
    import json

    people = [
        ("Maren Solberg", "Bergen", "maren@fjord.example"),
        ("Oskar Lind", "Umeå", "oskar@vik.example"),
    ]
    return json.dumps([{"name": n, "city": c, "mail": m} for n, c, m in people]).encode()


def test_a_refusal_declared_in_a_charset_its_bytes_are_not_in_is_read_as_utf8_too():
    """F1: the 401 said `charset=utf-16` over UTF-8 bytes holding the data: no word shown."""
    from smokegate.rules.leaked_body import held_data

    body = _records()
    held = held_data(body, body + b" ", "application/json", "application/json; charset=utf-16")
    assert held.leaked, held


def test_a_map_of_short_values_beside_nulls_is_keyed_by_the_data():
    """F2: a map keyed by user names whose values are short strings, some null."""
    import json

    from smokegate.rules.leaked_body import data_words

    roles = {"hpetrov": "ro", "akaur": None, "jlindqvist": "rw", "mfischer": "ro", "tsato": None}
    assert "jlindqvist" in data_words(json.dumps({"roles": roles}).encode())


def test_a_lone_surrogate_escape_is_no_error():
    """F5: `"\\ud83d"` alone (a JavaScript string cut in an emoji) raised UnicodeEncodeError
    in the body rule and in `json:` matching, on an honest answer."""
    from smokegate.facts.http import ProbeResult
    from smokegate.rules.leaked_body import held_data

    body = b'{"owner": "Ravi \\ud83d", "team": "payments platform squad"}'
    assert held_data(body, b'{"error": "unauthorized"}').leaked is False
    probe = ProbeResult(key="k", url="http://127.0.0.1/", status=200, body=body)
    assert probe.json()["owner"] == "Ravi \ufffd"


def test_utf16_with_a_byte_order_mark_is_read_as_text():
    """F6: UTF-16 with its mark and no charset was read as single letters, and an honest
    error shared them all with the data."""
    from smokegate.rules.leaked_body import held_data

    real = "\ufeff" + _records().decode()
    refused = '\ufeff{"error": "authentication required", "docs": "see the manual"}'
    assert not held_data(real.encode("utf-16-le"), refused.encode("utf-16-le")).leaked
    assert held_data(real.encode("utf-16-le"), (real + " ").encode("utf-16-le")).leaked


def test_a_punycode_charset_is_no_charset():
    """F9: a body declared `charset=punycode` decoded in quadratic time (218 s a MiB)."""
    from smokegate.facts.http import declared_charset

    assert declared_charset("text/html; charset=punycode") is None
    assert declared_charset("text/html; charset=unicode_escape") is None
    assert declared_charset("text/html; charset=windows-1252") == "cp1252"


def test_an_envelope_of_flags_and_nulls_is_no_map_keyed_by_the_data():
    """An ABP-style envelope (`"success": true, "error": null, ...`) to a ping: its keys are
    field names, and its 401 envelope repeats them; counted as a map's, it failed falsely."""
    import json

    from smokegate.rules.leaked_body import held_data

    real = {"result": None, "targetUrl": None, "success": True, "error": None,
            "unAuthorizedRequest": False, "__abp": True}  # fmt: skip
    error = {"code": 0, "message": "Current user did not log in", "details": None}
    refused = {**real, "success": False, "unAuthorizedRequest": True, "error": error}
    assert not held_data(json.dumps(real).encode(), json.dumps(refused).encode()).leaked
