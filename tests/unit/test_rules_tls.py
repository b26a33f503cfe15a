"""Certificate rule on hand-built facts: expiry boundaries, names, trust; days left measured."""

from datetime import UTC, datetime, timedelta

import pytest

from smokegate.config import TlsTarget
from smokegate.facts.tls import (
    CERT_HAS_EXPIRED,
    DEPTH_ZERO_SELF_SIGNED,
    HOSTNAME_MISMATCH,
    UNABLE_TO_GET_ISSUER_LOCALLY,
    TlsFacts,
)
from smokegate.gather.tls import name_matches
from smokegate.rules.tls import check_certificate, days_left

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TARGET = TlsTarget(host="api.example.com", min_days_left=21)


def facts(days: float, **overrides) -> TlsFacts:
    base = {
        "target": TARGET.name,
        "server_name": "api.example.com",
        "verified": True,
        "not_before": NOW - timedelta(days=60),
        "not_after": NOW + timedelta(days=days),
        "subject": "api.example.com",
        "issuer": "Example CA",
        "names": ("api.example.com",),
    }
    return TlsFacts(**{**base, **overrides})


def test_enough_days_left_passes_with_days_measured():
    verdict = check_certificate(TARGET, facts(90), NOW)
    assert verdict.passed
    assert verdict.measured == "90 days left"


def test_min_days_left_boundary():
    assert check_certificate(TARGET, facts(21), NOW).passed
    verdict = check_certificate(TARGET, facts(20.9), NOW)
    assert verdict.problems == (
        "certificate expires in 20 days (2026-06-22), less than min_days_left 21",
    )
    assert verdict.measured == "20 days left"


def test_expired_says_how_long_ago():
    verdict = check_certificate(
        TARGET, facts(-3, verified=False, verify_code=CERT_HAS_EXPIRED), NOW
    )
    assert verdict.problems == ("certificate expired 3 days ago (2026-05-29)",)
    assert verdict.measured == "-3 days left"


def test_wrong_name_lists_the_names_it_is_valid_for():
    verdict = check_certificate(
        TARGET,
        facts(
            90,
            verified=False,
            verify_code=HOSTNAME_MISMATCH,
            names=("other.example", "*.other.example"),
            name_matches=False,
        ),
        NOW,
    )
    assert verdict.problems == (
        "wrong host name: the certificate is for other.example, *.other.example, "
        "not api.example.com",
    )


def test_self_signed_and_untrusted_issuer_are_told_apart():
    own = check_certificate(
        TARGET, facts(90, verified=False, verify_code=DEPTH_ZERO_SELF_SIGNED, self_signed=True), NOW
    )
    assert own.problems[0].startswith("self-signed certificate ('api.example.com')")
    private = check_certificate(
        TARGET, facts(90, verified=False, verify_code=UNABLE_TO_GET_ISSUER_LOCALLY), NOW
    )
    assert private.problems == (
        "issued by 'Example CA', which is not trusted; for a private CA, point ca_bundle: at its "
        "PEM bundle",
    )


def test_every_problem_is_listed():
    """An untrusted self-signed certificate: OpenSSL reports 18 before the dates."""
    verdict = check_certificate(
        TARGET,
        facts(-1, verified=False, verify_code=18, self_signed=True, name_matches=False),
        NOW,
    )
    assert len(verdict.problems) == 3


def test_a_pinned_self_signed_certificate_is_not_told_to_find_a_ca():
    """Round 15c, F2: pinned in ca_bundle (trusted), it failed for its dates only; it was
    also told "no CA vouches for it; issue it from a CA"."""
    verdict = check_certificate(
        TARGET, facts(-5, verified=False, verify_code=CERT_HAS_EXPIRED, self_signed=True), NOW
    )
    assert verdict.problems == ("certificate expired 5 days ago (2026-05-27)",)


def test_unknown_verification_error_is_not_swallowed():
    verdict = check_certificate(
        TARGET, facts(90, verified=False, verify_code=23, verify_message="certificate revoked"), NOW
    )
    assert verdict.problems == ("certificate verification failed: certificate revoked",)


def test_no_certificate():
    verdict = check_certificate(
        TARGET, TlsFacts(target=TARGET.name, server_name="x", error="connection refused"), NOW
    )
    assert verdict.problems == ("connection refused",)
    assert verdict.measured == "no certificate"


@pytest.mark.parametrize("whole", [0, 1, 3, 10, 400])
@pytest.mark.parametrize("hours", [1, 5, 23])
def test_days_left_counts_whole_days_the_same_way_on_both_sides_of_expiry(whole, hours):
    """10 days and a few hours left is 10; expired 10 days and a few hours ago is -10 and says
    "10 days ago", never 11 (issue 10 item 16)."""
    offset = whole + hours / 24
    assert days_left(facts(offset), NOW) == whole
    assert days_left(facts(-offset), NOW) == -whole
    expired = check_certificate(TARGET, facts(-offset, verified=False, verify_code=10), NOW)
    if whole:
        plural = "s" if whole != 1 else ""
        assert expired.problems[0].startswith(f"certificate expired {whole} day{plural} ago (")
        assert expired.measured == f"-{whole} days left"
    else:
        assert expired.problems[0].startswith("certificate expired less than a day ago (")
        assert expired.measured == "expired today"


@pytest.mark.parametrize("hours", [1, 3, 23])
def test_hours_left_read_less_than_a_day_as_hours_past_do(hours):
    """Round 18c, L1: 3 hours left said "expires in 0 days", where 3 hours past said
    "expired less than a day ago"."""
    verdict = check_certificate(TARGET, facts(hours / 24), NOW)
    assert verdict.problems[0].startswith("certificate expires in less than a day (")
    assert "0 days" not in verdict.problems[0]


def test_expiry_at_the_exact_second_is_expired():
    verdict = check_certificate(TARGET, facts(0), NOW)
    assert verdict.problems[0].startswith("certificate expired less than a day ago")


@pytest.mark.parametrize(
    ("server_name", "names", "matches"),
    [
        ("api.example.com", ["API.example.com."], True),
        ("api.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], False),
        ("example.com", ["*.example.com"], False),
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.1", ["localhost"], False),
        ("localhost", ["127.0.0.1"], False),
    ],
)
def test_name_matching(server_name, names, matches):
    assert name_matches(server_name, names) is matches


def _der(cn: str, sans: list[str]) -> bytes:
    """A self-signed certificate for `cn` with `sans` (none: no subjectAltName at all)."""
    from cryptography import x509

    from tests.support.tls_servers import self_signed_der

    return self_signed_der(cn, [x509.DNSName(s) for s in sans] if sans else None)


@pytest.mark.parametrize(
    ("server_name", "sans", "matches"),
    [
        ("bücher.test", ["xn--bcher-kva.test"], True),  # round 14: an IDN, as the handshake sent it
        ("www.münchen.test", ["*.xn--mnchen-3ya.test"], True),
        # round 21c: IDNA 2008 as requests and browsers write it, not IDNA 2003's strasse
        ("straße.test", ["xn--strae-oqa.test"], True),
        ("straße.test", ["strasse.test"], False),
        ("localhost", [], False),  # CN only: no client of today takes the CN (round 14)
        ("localhost", ["localhost"], True),
    ],
)
def test_names_are_matched_as_the_handshake_and_todays_clients_match_them(
    server_name, sans, matches
) -> None:
    from smokegate.gather.tls import _with_certificate

    facts = _with_certificate(
        TlsFacts(target="t", server_name=server_name), _der("localhost", sans)
    )
    assert facts.name_matches is matches
    if not sans:
        assert facts.names == ("localhost (CN only: no subjectAltName, which clients require)",)


@pytest.mark.parametrize(
    ("wanted", "names", "matches"),
    [
        ("a.test", ["*.test"], False),  # round 15c, F8: a wildcard left of one label only
        ("a.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
    ],
)
def test_a_wildcard_covers_one_label_left_of_at_least_two(wanted, names, matches) -> None:
    assert name_matches(wanted, names) is matches


def test_a_wildcard_that_covers_nothing_says_why():
    """Round 17c, F6: `*.localhost` for `a.localhost` failed with no word on why."""
    target = TlsTarget(host="a.localhost")
    found = facts(90, names=("*.localhost",), name_matches=False, server_name="a.localhost")
    (problem,) = check_certificate(target, found, now=NOW).problems
    assert problem.startswith("wrong host name: the certificate is for *.localhost, not a.loc")
    assert "a wildcard covers exactly one label, left of at least two others" in problem


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_an_ip_address_checked_against_dns_names_says_the_ip_rule(address):
    """Round 22c, L4: `*.0.0.1` checked for `127.0.0.1` got the wildcard rule; an IP address
    is matched by an IP entry only."""
    target = TlsTarget(host=address)
    found = facts(90, names=("*.0.0.1",), name_matches=False, server_name=address)
    (problem,) = check_certificate(target, found, now=NOW).problems
    assert "an IP address is matched by an IP entry of the certificate's subjectAltName only" in (
        problem
    )
    assert "wildcard covers exactly one label" not in problem


@pytest.mark.parametrize(
    "reason",
    ["SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN"],
)
def test_alerts_about_the_clients_certificate_say_mutual_tls(reason):
    """Round 17c, F5: Go and Java refuse a missing client certificate with bad_certificate;
    quoted raw, it read as the server's own certificate being bad."""
    from smokegate.gather.tls_alerts import alert_meaning

    meaning = alert_meaning(reason)
    assert "client certificate (mutual TLS)" in meaning
    assert "the server's own certificate is not what this alert is about" in meaning


@pytest.mark.parametrize(
    ("code", "openssl_words", "said"),
    [
        (26, "unsuitable certificate purpose", "is not made for a TLS server"),
        (24, "invalid CA certificate", "signs others without being a CA"),
        (25, "path length constraint exceeded", "pathLenConstraint"),
        (47, "permitted subtree violation", "name-constrained"),
        (34, "unhandled critical extension", "an extension marked critical"),
        (28, "certificate rejected", "the trust file marks the CA as rejected"),
        (2, "unable to get issuer certificate", "an intermediate alone is no trust anchor"),
    ],
)
def test_a_certificate_s_own_property_is_said_with_what_fixes_it(code, openssl_words, said):
    """Round 28c-4: these read as OpenSSL's bare words, and the HTTPS check's hint said to
    set ca_bundle, which fixes none of them. Both checks now say what each means."""
    from smokegate.facts.http import ProbeResult
    from smokegate.rules.hints import health_hint

    verdict = check_certificate(
        TARGET, facts(90, verified=False, verify_code=code, verify_message=openssl_words), NOW
    )
    (problem,) = verdict.problems
    assert said in problem and f"(the TLS verification: {openssl_words})" in problem
    error = f"TLS error: certificate verify failed: {openssl_words} (_ssl.c:1006)"
    hint = health_hint(ProbeResult(key="k", url="https://a.test/", error=error), [error])
    assert said in hint and "ca_bundle" not in hint


def test_another_certificate_that_could_not_be_read_verifies_nothing():
    """A narrowed handshake stopped by the runner's own limits (attempted False) read no
    certificate: the case fails as verified nothing even though the first one was good."""
    unread = TlsFacts(
        target=TARGET.name,
        server_name="api.example.com",
        narrowed_to="RSA",
        error="the runner ran out of file descriptors",
        attempted=False,
    )
    verdict = check_certificate(TARGET, facts(90, key_kind="ECDSA", also_served=(unread,)), NOW)
    assert verdict.problems == (
        "the handshake offering only RSA (TLS 1.2): the runner ran out of file descriptors",
    )
    assert not verdict.verified
    assert verdict.measured == "90 days left"  # the days of the certificate that was read


def test_good_certificates_of_two_kinds_pass_with_the_fewest_days_measured():
    rsa = facts(30, narrowed_to="RSA", key_kind="RSA")
    verdict = check_certificate(TARGET, facts(90, key_kind="ECDSA", also_served=(rsa,)), NOW)
    assert verdict.passed and verdict.verified
    assert verdict.measured == "30 days left"
    assert verdict.detail == ""
