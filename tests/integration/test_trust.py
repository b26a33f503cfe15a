"""One trust decision for HTTPS requests and TLS checks (issue 10 item 15).

One HTTPS server on 127.0.0.1 with a certificate of a private trustme CA. For each way of
trusting that CA (a target's `ca_bundle`, the env's `ca_bundle`, `$REQUESTS_CA_BUNDLE`,
`$CURL_CA_BUNDLE`, `$SSL_CERT_FILE`, `$SSL_CERT_DIR`), the HTTP prober and the TLS check of
the same server must agree: both verified. With none, both refuse it and both name the
system trust store. The documented order is checked source against source with a wrong CA
on the lower one.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import truststore

from smokegate.config import TlsTarget
from smokegate.gather.probe import Prober, ProbeRequest
from smokegate.gather.tls import inspect
from smokegate.gather.trust import SYSTEM, decide
from tests.support.environment import clear_environment
from tests.support.servers import LocalServer, private_ca_context

TRUST_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, Path, Path]]:
    folder = tmp_path_factory.mktemp("trust")
    ca, other = trustme.CA(), trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    right, wrong = folder / "right-ca.pem", folder / "wrong-ca.pem"
    ca.cert_pem.write_to_path(str(right))
    other.cert_pem.write_to_path(str(wrong))
    with LocalServer(ssl_context=context) as server:
        yield server, right, wrong


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    clear_environment(monkeypatch, tmp_path)
    for var in TRUST_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def hashed_dir(pem: Path, folder: Path) -> Path:
    """A CA folder as OpenSSL reads it: the certificate under its subject hash."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to hash a CA folder (Debian: apt-get install openssl)"
    folder.mkdir()
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shutil.copy(pem, folder / f"{digest}.0")
    return folder


def both(server: LocalServer, *, target_bundle=None, env_bundle=None):
    """(HTTP result, TLS facts) for the same server, trusted as the run would decide."""
    trust = decide(target_bundle, env_bundle)
    prober = Prober(trust=trust)
    try:
        result = prober.probe_all([ProbeRequest(key="k", url=server.url("/ok"), timeout_s=5)])["k"]
    finally:
        prober.close()
    facts = inspect(TlsTarget(host="127.0.0.1", port=server.port), trust=trust)
    return result, facts


@pytest.mark.parametrize("var", TRUST_VARS)
def test_each_variable_makes_both_checks_trust_the_ca(world, clean, tmp_path, var):
    server, right, _ = world
    value = hashed_dir(right, tmp_path / "certs") if var == "SSL_CERT_DIR" else right
    clean.setenv(var, str(value))
    result, facts = both(server)
    assert result.status == 200, result.error
    assert facts.verified and facts.error is None, facts
    assert facts.trusted_by.startswith(f"${var} (")


def test_without_any_source_both_use_the_system_store_and_both_refuse(world, clean):
    server, _, _ = world
    result, facts = both(server)
    assert result.status is None and "certificate verify failed" in (result.error or "")
    assert f"(trusting {SYSTEM})" in (result.error or "")
    assert not facts.verified and facts.trusted_by == SYSTEM
    context = decide().context()
    if sys.platform.startswith("linux"):
        # truststore's choice of bundle, loaded once into a plain context: truststore holds
        # one lock around every handshake, and a run's handshakes went one at a time
        # (round 15: 30 stalled targets took the run past 120 s)
        assert type(context) is ssl.SSLContext and not hasattr(context, "_ctx_lock")
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    else:
        assert isinstance(context, truststore.SSLContext)


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        ("target", "env"),
        ("env", "REQUESTS_CA_BUNDLE"),
        ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        ("CURL_CA_BUNDLE", "SSL_CERT_FILE"),
    ],
)
def test_the_documented_order_holds_for_both_checks(world, clean, higher, lower):
    """The higher source trusts the right CA and the lower a wrong one, then the reverse:
    both checks follow the higher source each time."""
    server, right, wrong = world
    for higher_pem, verified in ((right, True), (wrong, False)):
        lower_pem = wrong if verified else right
        kwargs: dict[str, Path] = {}
        for source, pem in ((higher, higher_pem), (lower, lower_pem)):
            if source == "target":
                kwargs["target_bundle"] = pem
            elif source == "env":
                kwargs["env_bundle"] = pem
            else:
                clean.setenv(source, str(pem))
        result, facts = both(server, **kwargs)
        assert (result.status == 200) is verified, (higher, lower, result.error)
        assert facts.verified is verified, (higher, lower, facts)


def test_a_variable_naming_a_missing_file_fails_both_checks_clearly(world, clean, tmp_path):
    server, _, _ = world
    clean.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    result, facts = both(server)
    for error in (result.error, facts.error):
        assert error is not None and "$REQUESTS_CA_BUNDLE" in error and "missing.pem" in error
    assert result.sent is False  # nothing was verified


@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_file_that_is_no_ca_bundle_verifies_nothing_in_both_checks(world, clean, tmp_path, var):
    """A CI variable naming a file that exists but holds no certificate (attack round 5:
    /etc/hostname) made every HTTPS and TLS case a checked failure, which a waiver or a
    --fail-on above its severity turned into a PASSED gate. Nothing was verified: both say
    so, naming the variable, not the server."""
    from smokegate.config import TlsTarget as Target
    from smokegate.rules.tls import check_certificate

    server, _, _ = world
    not_pem = tmp_path / "hostname"
    not_pem.write_text("build-runner-7\n")
    clean.setenv(var, str(not_pem))
    result, facts = both(server)
    for error in (result.error, facts.error):
        assert error is not None and f"${var}" in error
        assert "is no CA bundle OpenSSL can load" in error and "handshake" not in error
    assert result.sent is False
    verdict = check_certificate(Target(host="127.0.0.1", port=1), facts)
    assert not verdict.passed and not verdict.verified


@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_bundle_too_large_to_be_one_is_refused_before_it_is_read(clean, tmp_path, var):
    """Round 25c F2: `$SSL_CERT_FILE` had no cap (a 1 GiB unterminated PEM block took 2 GB)."""
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)  # sparse: no disk used
    clean.setenv(var, str(huge))
    trust = decide()
    assert trust.error is not None and "17 MiB: no CA bundle is that large" in trust.error
    assert f"${var}" in trust.error


def test_ssl_cert_dir_as_a_list_is_read_folder_by_folder_by_both_checks(world, clean, tmp_path):
    """OpenSSL reads `$SSL_CERT_DIR` as a list (`a:b`), and CI images set one: both checks
    look in each folder (attack round 8b, F10: it was "names no readable CA folder")."""
    server, right, _ = world
    empty = tmp_path / "empty"
    empty.mkdir()
    hashed = hashed_dir(right, tmp_path / "certs")
    clean.setenv("SSL_CERT_DIR", os.pathsep.join((str(empty), str(hashed), "")))
    result, facts = both(server)
    assert result.status == 200, result.error
    assert facts.verified and facts.error is None, facts


def test_a_missing_folder_in_the_ssl_cert_dir_list_is_named(world, clean, tmp_path):
    server, right, _ = world
    hashed = hashed_dir(right, tmp_path / "certs")
    missing = tmp_path / "missing"
    clean.setenv("SSL_CERT_DIR", os.pathsep.join((str(hashed), str(missing))))
    result, facts = both(server)
    for error in (result.error, facts.error):
        assert error is not None and f"({missing} is no folder)" in error, error
    assert result.sent is False  # nothing was verified


def folder_holding(content: str, world_pems: tuple[Path, Path], tmp_path: Path) -> Path:
    """A CA folder holding the server's CA ("right"), another CA ("wrong") or nothing."""
    right, wrong = world_pems
    if content == "empty":
        folder = tmp_path / "empty-ca-dir"
        folder.mkdir()
        return folder
    return hashed_dir(right if content == "right" else wrong, tmp_path / f"{content}-ca-dir")


@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
@pytest.mark.parametrize("content", ["right", "wrong", "empty"])
def test_a_folder_in_a_bundle_variable_is_all_that_is_trusted(world, clean, tmp_path, var, content):
    """Attack round 9, F3: a folder in `$REQUESTS_CA_BUNDLE` was loaded on top of OpenSSL's
    defaults, so `$SSL_CERT_FILE` (and the system's CAs) were trusted too: a folder holding
    only another CA, or nothing, passed a server of the CA `$SSL_CERT_FILE` names. Both
    lower sources here trust the server's CA; only the folder may count, in both checks."""
    server, right, wrong = world
    clean.setenv("SSL_CERT_FILE", str(right))
    clean.setenv("SSL_CERT_DIR", str(hashed_dir(right, tmp_path / "lower-dir")))
    folder = folder_holding(content, (right, wrong), tmp_path)
    clean.setenv(var, str(folder))
    result, facts = both(server)
    verified = content == "right"
    assert (result.status == 200) is verified, result.error
    assert facts.verified is verified, facts
    assert facts.trusted_by.startswith(f"${var} ({folder})")
    if not verified:
        assert "certificate verify failed" in (result.error or "")
        assert f"(trusting ${var} ({folder})" in (result.error or "")
    # a folder OpenSSL cannot search says so (round 15c, F9): the empty one here
    assert ("OpenSSL finds no CA in" in facts.trusted_by) is (content == "empty")


@pytest.mark.parametrize("hashed", [False, True])
def test_a_ca_openssl_cannot_find_in_its_folder_says_so(world, clean, tmp_path, hashed):
    """Round 15c, F9: the CA sat in a folder without hash links; round 16c: in a folder with
    some, copied in without a rehash. Each read "not trusted", with the advice to point
    ca_bundle: at it, never that OpenSSL finds a CA in a folder by its hash only."""
    server, right, wrong = world
    if hashed:
        folder = hashed_dir(wrong, tmp_path / "hashed")
        said = f"OpenSSL cannot find {folder / 'company-ca.pem'} there: no hash link names it"
    else:
        folder = tmp_path / "unhashed"
        folder.mkdir()
        said = f"OpenSSL finds no CA in {folder}: a folder needs its hash links (run `openssl"
        said += " rehash"
    shutil.copy(right, folder / "company-ca.pem")
    clean.setenv("SSL_CERT_DIR", str(folder))
    result, facts = both(server)
    assert not facts.verified and result.status is None
    assert said in facts.trusted_by
    assert said in (result.error or "")


def test_an_empty_folder_trusts_no_certificate_at_all(clean, tmp_path):
    """Not one CA of the system store or of `$SSL_CERT_FILE` is loaded for a folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    clean.setenv("SSL_CERT_FILE", ssl.get_default_verify_paths().openssl_cafile)
    clean.setenv("REQUESTS_CA_BUNDLE", str(empty))
    context = decide().context()
    assert context.cert_store_stats()["x509"] == 0
    assert context.get_ca_certs() == []


def test_a_folder_source_verifies_as_strictly_as_a_file_source(world, clean, tmp_path):
    """A folder's context, which must not load OpenSSL's defaults, still requires a
    certificate, checks the host name, refuses TLS below 1.2 and has the default context's
    X.509 flags, as a file's does; a certificate of the trusted CA for another name fails
    both checks."""
    _, right, _ = world
    folder_trust = decide(environ={"REQUESTS_CA_BUNDLE": str(hashed_dir(right, tmp_path / "d"))})
    file_trust = decide(environ={"REQUESTS_CA_BUNDLE": str(right)})
    default_flags = ssl.create_default_context(cafile=str(right)).verify_flags
    for trust in (folder_trust, file_trust):
        context = trust.context()
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        assert context.verify_flags == default_flags  # 3.13 adds strict X.509 checks

    server_context, pem = private_ca_context(tmp_path, "other.example", "other-ca.pem")
    clean.setenv("REQUESTS_CA_BUNDLE", str(hashed_dir(pem, tmp_path / "other-dir")))
    with LocalServer(ssl_context=server_context) as other_name:
        result, facts = both(other_name)
    assert result.status is None and "certificate verify failed" in (result.error or "")
    assert "IP address mismatch" in (result.error or ""), result.error
    assert not facts.verified and not facts.name_matches, facts


def test_ssl_cert_dir_alone_keeps_openssl_default_file_and_says_so(clean, tmp_path):
    """`$SSL_CERT_DIR` is OpenSSL's own default-location variable: OpenSSL then reads its
    default CA file too, and so does smokegate, naming it as part of the source (the folder
    of a bundle variable, above, is all that is trusted)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    clean.delenv("SSL_CERT_FILE", raising=False)
    clean.setenv("SSL_CERT_DIR", str(empty))
    trust = decide()
    default = ssl.get_default_verify_paths().openssl_cafile
    if not os.path.isfile(default):
        assert trust.cafile is None and trust.source == f"$SSL_CERT_DIR ({empty})"
        return
    assert trust.error is None
    assert trust.cafile == default
    assert trust.source == f"$SSL_CERT_DIR ({empty}) with OpenSSL's default CA file ({default})"
    assert trust.context().cert_store_stats()["x509_ca"] > 0


@pytest.mark.parametrize("var", ["SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"])
def test_a_fifo_under_a_hash_name_in_a_ca_folder_is_refused_not_waited_on(
    world, clean, tmp_path, var
):
    """Round 17c, F3: OpenSSL opens `<hash>.0` inside the handshake with a blocking open(2);
    a FIFO there hung the TLS check for good and the HTTP check's thread past the run's
    end. The trust is refused when decided, naming the entry; both checks verify nothing."""
    server, right, _ = world
    folder = hashed_dir(right, tmp_path / "cas")
    (entry,) = folder.iterdir()
    entry.unlink()
    os.mkfifo(entry)
    clean.setenv(var, str(folder))
    result, facts = both(server)
    for error in (result.error, facts.error):
        assert error is not None and f"${var}" in error
        assert f"{entry} is no regular file (a FIFO, device or socket)" in error
    assert result.sent is False and facts.attempted is False


@pytest.mark.parametrize("var", ["SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"])
def test_a_huge_entry_under_a_hash_name_in_a_ca_folder_is_refused(world, clean, tmp_path, var):
    """Round 25c F3: a 256 MiB unterminated PEM block as `<hash>.0` was read in every
    handshake (~900 MB) and every server was blamed for a missing issuer."""
    server, right, _ = world
    folder = hashed_dir(right, tmp_path / "cas")
    (entry,) = folder.iterdir()
    entry.unlink()
    with entry.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)  # sparse: no disk used
    clean.setenv(var, str(folder))
    result, facts = both(server)
    for error in (result.error, facts.error):
        assert error is not None and f"${var}" in error
        assert f"{entry} is 2048 KiB, past the 1024 KiB" in error
    assert result.sent is False and facts.attempted is False


def test_a_bundle_of_revocation_lists_only_trusts_nothing_and_says_so(world, clean, tmp_path):
    """Round 17c, F8: OpenSSL loads a file holding only a CRL; every failure then blamed
    the server's chain ("serve the full chain")."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    server, _, _ = world
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some CA")]))
        .last_update(now)
        .next_update(now + timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    only_crl = tmp_path / "crl-only.pem"
    only_crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    result, facts = both(server, env_bundle=only_crl)
    for error in (result.error, facts.error):
        assert error is not None and "holds no certificate (only revocation lists)" in error
    assert result.sent is False
