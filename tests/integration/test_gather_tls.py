"""The TLS gatherer against real HTTPS servers on 127.0.0.1 with minted certificates."""

import socket

import pytest

from smokegate.config import TlsTarget
from smokegate.gather.tls import TlsGatherer, inspect
from smokegate.rules.tls import check_certificate
from tests.support.processes import openssl_s_server
from tests.support.tls_servers import X400_SAN, self_signed, tls_server, tls_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with tls_world(tmp_path_factory.mktemp("tls")) as running:
        yield running


def target(world, kind: str, **extra) -> TlsTarget:
    return TlsTarget(host="127.0.0.1", port=world.ports[kind], server_name="localhost", **extra)


@pytest.mark.parametrize(
    ("kind", "days", "problem"),
    [
        ("valid", 90, None),
        ("expiring", 5, "certificate expires in 5 days ("),
        ("expired", -3, "certificate expired 3 days ago ("),
        (
            "wrong-name",
            90,
            "wrong host name: the certificate is for other.example, www.other.example, "
            "not localhost",
        ),
        ("self-signed", 90, "self-signed certificate ('self-signed.test'): no CA vouches for it"),
    ],
)
def test_each_certificate_has_its_message_and_days_left(world, kind, days, problem):
    facts = inspect(target(world, kind), world.ca_bundle)
    verdict = check_certificate(target(world, kind), facts)
    assert verdict.measured == f"{days} days left"
    if problem is None:
        assert verdict.passed, verdict.message
        assert facts.verified
    else:
        assert len(verdict.problems) == 1, verdict.problems
        assert verdict.problems[0].startswith(problem)
        assert f"{world.certs[kind].not_after:%Y-%m-%d}" in verdict.message + verdict.detail


def test_without_the_ca_bundle_the_private_ca_is_not_trusted(world):
    verdict = check_certificate(target(world, "valid"), inspect(target(world, "valid")))
    assert len(verdict.problems) == 1
    assert verdict.problems[0].startswith("issued by 'OU=Testing CA")
    # the server sends its certificate alone: a missing intermediate and an untrusted root
    # look alike from here, and both are said (round 14)
    assert (
        "smokegate test CA', and the server sends no certificate for it, nor is it trusted by "
        in verdict.problems[0]
    )
    assert verdict.problems[0].endswith(
        "if it is a private root CA, point ca_bundle: at its PEM bundle"
    )
    assert verdict.measured == "90 days left"


def test_ip_address_names_are_matched_against_ip_entries(world):
    by_ip = TlsTarget(host="127.0.0.1", port=world.ports["valid"])
    assert check_certificate(by_ip, inspect(by_ip, world.ca_bundle)).passed


def test_min_days_left_is_per_target(world):
    relaxed = target(world, "expiring", min_days_left=5)
    assert check_certificate(relaxed, inspect(relaxed, world.ca_bundle)).passed


def test_no_tls_server_is_a_readable_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        refused = TlsTarget(host="127.0.0.1", port=port)
        verdict = check_certificate(refused, inspect(refused, timeout_s=2))
    assert verdict.problems == (f"connection refused by 127.0.0.1:{port}",)
    assert verdict.measured == "no certificate"


def test_all_pending_targets_are_inspected_in_one_batch(world):
    targets = [target(world, kind) for kind in world.ports]
    gatherer = TlsGatherer(lambda: targets, ca_bundle=world.ca_bundle)
    first = gatherer.certificate(targets[0])
    rest = [gatherer.certificate(t) for t in targets[1:]]
    assert gatherer.batches == [5]
    assert first.verified
    assert [f.target for f in rest] == [t.name for t in targets[1:]]


def test_ca_bundle_wins_over_requests_ca_bundle_for_https_probes(world, monkeypatch, tmp_path):
    """requests lets $REQUESTS_CA_BUNDLE override a session's verify; the env file must win."""
    from smokegate.gather.probe import Prober, ProbeRequest

    other = tmp_path / "other-ca.pem"
    other.write_bytes(world.certs["self-signed"].chain_pem.read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    url = f"https://localhost:{world.ports['valid']}/"
    trusting, default = Prober(verify=world.ca_bundle), Prober()
    try:
        assert trusting.probe(ProbeRequest(key="a", url=url)).status == 200
        untrusted = default.probe(ProbeRequest(key="b", url=url))
    finally:
        trusting.close()
        default.close()
    assert untrusted.status is None
    assert untrusted.error is not None and untrusted.error.startswith("TLS error")


def test_a_certificate_s_verdict_does_not_depend_on_an_https_probe_before_it(world):
    """Round 18c, F7: the TLS checks shared urllib3's SSL context, which urllib3 changes
    (ALPN `http/1.1`): after any HTTPS probe, an HTTP/2-only listener (`openssl s_server
    -alpn h2`) refused the TLS check's handshake, alone it passed: `-m tls`, `-k` or an
    xdist worker without endpoints changed a certificate's verdict. The TLS check offers
    `h2` and `http/1.1` whatever ran before it."""
    from smokegate.gather.probe import Prober, ProbeRequest

    cert = world.certs["valid"]
    with openssl_s_server(cert.chain_pem, cert.key_pem, "-alpn", "h2") as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        alone = inspect(target, world.ca_bundle)
        prober = Prober(verify=world.ca_bundle)
        try:
            url = f"https://localhost:{world.ports['valid']}/"
            assert prober.probe(ProbeRequest(key="a", url=url)).status == 200
        finally:
            prober.close()
        after_a_probe = inspect(target, world.ca_bundle)
    assert alone.error is None and alone.verified, alone.error
    assert after_a_probe.error is None and after_a_probe.verified, after_a_probe.error
    assert after_a_probe.not_after == alone.not_after
    assert check_certificate(target, after_a_probe).passed


def test_an_http2_only_listener_is_said_so_by_the_health_check(world):
    """Round 18c, F6: the ALPN refusal (alert 120) an HTTP/2-only listener sends an HTTP/1.1
    client was quoted raw, with OpenSSL's source location."""
    from smokegate.gather.probe import Prober, ProbeRequest

    cert = world.certs["valid"]
    with openssl_s_server(cert.chain_pem, cert.key_pem, "-alpn", "h2") as port:
        prober = Prober(verify=world.ca_bundle)
        try:
            result = prober.probe(ProbeRequest(key="h2", url=f"https://localhost:{port}/"))
        finally:
            prober.close()
    assert result.status is None
    assert "ALPN alert no_application_protocol): it speaks HTTP/2 only" in (result.error or "")
    assert "_ssl.c" not in (result.error or "")


def test_a_certificate_cryptography_cannot_read_fails_alone(tmp_path):
    """An x400Address in the SAN: cryptography raises a plain Exception, which ended the
    whole TLS batch, and an unrelated target failed with the first one's traceback (attack
    round 11, F6). Now that target says its certificate could not be parsed, and the other
    gets its own verdict."""
    odd = self_signed(tmp_path, "x400", raw_san=X400_SAN)
    plain = self_signed(tmp_path, "plain")
    with tls_server(odd) as odd_port, tls_server(plain) as plain_port:
        targets = [
            TlsTarget(host="127.0.0.1", port=odd_port, server_name="localhost"),
            TlsTarget(host="127.0.0.1", port=plain_port, server_name="localhost"),
        ]
        gatherer = TlsGatherer(lambda: targets)
        odd_facts, plain_facts = (gatherer.certificate(t) for t in targets)
    assert (odd_facts.error or "").startswith("the certificate could not be parsed: ")
    assert plain_facts.error is None and plain_facts.self_signed
    verdict = check_certificate(targets[0], odd_facts)
    assert not verdict.passed and "could not be parsed" in verdict.message
    assert not verdict.verified  # its dates were never read: verified nothing (round 15)


def test_a_verified_certificate_cryptography_cannot_read_is_read_from_ssl(tmp_path):
    """Round 15c, F3: OpenSSL verified it (pinned here), the HTTPS check passed, and the TLS
    check failed "could not be parsed" as an ordinary finding, its days left never read."""
    odd = self_signed(tmp_path, "x400", raw_san=X400_SAN)
    with tls_server(odd) as port:
        target = TlsTarget(host="127.0.0.1", port=port, server_name="localhost")
        facts = inspect(target, odd.chain_pem, timeout_s=5)
    assert facts.verified and facts.error is None, facts
    assert facts.not_after is not None and abs((facts.not_after - odd.not_after).days) <= 1
    assert "localhost" in facts.names
    assert check_certificate(target, facts).passed
