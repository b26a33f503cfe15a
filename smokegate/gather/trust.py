"""One trust decision for every HTTPS request and every TLS check of a run.

An HTTPS health check and a TLS check of the same server must agree on whether its
certificate is trusted. They used to disagree: `requests` trusted certifi's bundle (or
`$REQUESTS_CA_BUNDLE`), Python's `ssl` OpenSSL's defaults (or `$SSL_CERT_FILE`), so a
private CA made one pass and the other fail. Both gatherers now ask `decide`, and build
their SSL context from it (`Trust.context()` for the probes, `Trust.check_context()`, a
context of its own, for the TLS checks). The order, first match wins:

1. the target's own `ca_bundle:` (an endpoint, an auth entry, a TLS target);
2. the env file's top-level `ca_bundle:`;
3. `$REQUESTS_CA_BUNDLE`, then `$CURL_CA_BUNDLE`: what people set to make HTTP clients
   trust a private CA (requests and curl read them); a file or a folder, and only it is
   trusted, as requests and `curl --capath` do;
4. `$SSL_CERT_FILE` and/or `$SSL_CERT_DIR`: OpenSSL's own variables, read as OpenSSL reads
   them: `$SSL_CERT_DIR` alone keeps OpenSSL's default CA file beside its folders;
5. the operating system's trust store, through `truststore` (pip's choice): the keychain
   on macOS, the certificate store on Windows, the distribution's CA bundle on Linux,
   which is where a company's private CA is installed on its machines.

certifi's bundle is not used: a gate that trusts what the machine it runs on does not is a
gate that disagrees with every other tool on that machine. A file or folder a variable
names that does not exist is an error of every check that needed it (it never silently
falls through to the next source: the user meant that one).
"""

from __future__ import annotations

import functools
import os
import ssl
import stat
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import truststore

from smokegate import linear_re
from smokegate.redact import excerpt

SYSTEM = "the system trust store"
_BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class Trust:
    """What certificates a connection trusts: a CA file and/or folder, or the system store.
    `error` is set when the chosen source does not exist; `verify` False turns verification
    off (only the suite's own tests ask for that)."""

    source: str
    cafile: str | None = None
    capath: str | None = None
    error: str | None = None
    verify: bool = True

    @property
    def system(self) -> bool:
        return self.cafile is None and self.capath is None

    def context(self) -> ssl.SSLContext:
        """The HTTP probes' client context that verifies against this source (shared,
        thread-safe; built once, under a lock: a batch of probes starting together must not
        each load the CA bundle). urllib3 changes the context it is given (ALPN
        `http/1.1`, `verify_mode`): it is urllib3's alone."""
        with _CONTEXT_LOCK:
            return _context(self.cafile, self.capath, self.verify, for_http=True)

    def check_context(self, narrowed_to: str = "") -> ssl.SSLContext:
        """The TLS checks' context: the same trust, in a context nothing else changes
        (round 18c: the one context shared with urllib3 made a certificate's verdict depend
        on whether an HTTPS probe had run before it: a `-m tls` run, an xdist worker without
        endpoints, handshook differently). It offers ALPN `h2` and `http/1.1`, as browsers
        do, so a server that speaks HTTP/2 only still shows its certificate.

        `narrowed_to` a key kind of `KEY_KINDS`: a context of its own offering only that
        kind's TLS 1.2 cipher suites."""
        with _CONTEXT_LOCK:
            return _context(
                self.cafile, self.capath, self.verify, for_http=False, narrowed_to=narrowed_to
            )

    def describe(self) -> str:
        """'ca_bundle certs/ca.pem', '$REQUESTS_CA_BUNDLE (/etc/x.pem)', or SYSTEM; with a
        note on each folder OpenSSL cannot search (round 15: a CA in a folder without
        hash links was "not trusted", and the fix offered was to name it again)."""
        listed = [(folder, _listing(folder)) for folder in folders(self.capath or "")]
        unhashed = [f for f, names in listed if not any(_HASHED_NAME.match(n) for n in names)]
        if unhashed:
            shown = ", ".join(excerpt(f, 200) for f in unhashed[:3])  # cut-ok: three folders
            return (
                f"{self.source}; OpenSSL finds no CA in {shown}: a folder needs its hash "
                "links (run `openssl rehash <folder>`), or name a PEM bundle file instead"
            )
        unlinked = [u for f, names in listed for u in _unlinked_certs(f, names)]
        if not unlinked:
            return self.source
        shown = ", ".join(excerpt(u, 200) for u in unlinked[:3])  # cut-ok: three files
        more = f" and {len(unlinked) - 3} more" if len(unlinked) > 3 else ""
        return (
            f"{self.source}; OpenSSL cannot find {shown}{more} there: no hash link names it "
            "(run `openssl rehash <folder>` after adding a CA)"
        )


_CONTEXT_LOCK = threading.Lock()
_HASHED_NAME = linear_re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")


# The key types a server may hold a certificate of, each with the TLS 1.2 cipher family
# that makes the server show that one. OpenSSL keeps one certificate per key type (nginx
# with two `ssl_certificate` lines, certbot's `--key-type` pairs, Caddy, most CDNs) and
# hands the RSA one to clients offering only RSA (older Java and Android, embedded and
# corporate clients): round 36c, an expired RSA certificate beside a good ECDSA one passed.
# TLS 1.3 picks by signature algorithms, which Python's `ssl` cannot narrow: the narrowed
# handshakes speak TLS 1.2 (docs/auth-tls.md).
KEY_KINDS = {"RSA": "aRSA", "ECDSA": "aECDSA"}


@functools.lru_cache(maxsize=64)
def _context(
    cafile: str | None,
    capath: str | None,
    verify: bool,
    *,
    for_http: bool,
    narrowed_to: str = "",
) -> ssl.SSLContext:
    context = _verifying_context(cafile, capath) if verify else _unverifying_context()
    if not for_http:
        context.set_alpn_protocols(["h2", "http/1.1"])
    if narrowed_to:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(KEY_KINDS[narrowed_to])
    return context


def _unverifying_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verifying_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    if cafile is None and capath is None:
        context = (
            _linux_system_context()
            if sys.platform.startswith("linux")
            else truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
    else:
        context = _trusting_only(cafile, folders(capath or ""))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # the subjectAltName only, as urllib3 2 and browsers: OpenSSL's CN fallback passed a
    # certificate whose SAN lists only an IP on the HTTP side and failed it on the TLS side
    context.hostname_checks_common_name = False
    return context


# Where truststore looks for the distribution's bundle on Linux when OpenSSL's own default
# paths hold none (its `_openssl._CA_FILE_CANDIDATES`, 0.10).
_LINUX_CA_FILES = (
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)


def _linux_system_context() -> ssl.SSLContext:
    """The system store on Linux as truststore chooses it, loaded once into a plain context.

    On Linux, truststore verifies with OpenSSL itself, trusting OpenSSL's default paths or
    the first distribution bundle it finds; but it re-loads them and holds one lock around
    every handshake of a context (`_ctx_lock`), so a run's handshakes went one at a time:
    30 TLS targets that stall took the whole run past 120 s, and quick servers queued
    behind them timed out (round 15). The same choice, made once, and no lock."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    defaults = ssl.get_default_verify_paths()
    if defaults.cafile or (defaults.capath and _holds_hashed_certs(defaults.capath)):
        context.set_default_verify_paths()
        return context
    for cafile in _LINUX_CA_FILES:
        if os.path.isfile(cafile):
            context.load_verify_locations(cafile=cafile)
            break
    return context


_CERT_SUFFIXES = (".pem", ".crt", ".cer")


def _unlinked_certs(folder: str, names: list[str]) -> list[str]:
    """Certificate files of a hashed folder (its entries `names`) that no hash link names:
    OpenSSL looks a CA up by its hash only (round 16: a private root copied into
    /etc/ssl/certs without a rehash was "not trusted", and the advice was to name it
    again)."""
    linked = {os.path.realpath(os.path.join(folder, n)) for n in names if _HASHED_NAME.match(n)}
    return sorted(
        os.path.join(folder, n)
        for n in names
        if n.lower().endswith(_CERT_SUFFIXES)
        and not _HASHED_NAME.match(n)
        and os.path.realpath(os.path.join(folder, n)) not in linked
    )


def _holds_hashed_certs(capath: str) -> bool:
    return any(_HASHED_NAME.match(name) for name in _listing(capath))


def _listing(folder: str) -> list[str]:
    """A folder's entries; none when it cannot be read."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _trusting_only(cafile: str | None, capaths: list[str]) -> ssl.SSLContext:
    """A verifying client context that trusts `cafile` and the folders `capaths`, and nothing
    else. `ssl.create_default_context` given neither a cafile nor a capath calls
    `load_default_certs()`, which adds OpenSSL's default CA file (every public CA, or
    whatever `$SSL_CERT_FILE` names) to a folder the user chose on its own (attack round 9,
    F3: an empty `$REQUESTS_CA_BUNDLE` folder trusted 144 CAs; requests and `curl --capath`
    trust only the folder). So it always gets a location: the file, else the first folder,
    and keeps the default context's verification on every Python (certificate required,
    host name checked, 3.13's strict flags). With no location at all (a list of empty
    entries), the bare client context, which requires a certificate and trusts none."""
    first = capaths[0] if cafile is None and capaths else None
    if cafile is None and first is None:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl.create_default_context(cafile=cafile, capath=first)
    for folder in capaths[1:] if first else capaths:  # cut-ok: a list of folders, not text
        context.load_verify_locations(capath=folder)
    return context


def folders(capath: str) -> list[str]:
    """The CA folders of a `capath`: `$SSL_CERT_DIR` is a list, as OpenSSL reads it (and as
    `PATH` is), separated by `os.pathsep` (`/etc/ssl/certs:/usr/local/share/ca-certificates`
    on the CI images that set one). Empty entries (a trailing `:`) name nothing. Each
    folder is loaded on its own, so the HTTP prober and the TLS check, which share this
    context, both look in every one."""
    return [folder for folder in capath.split(os.pathsep) if folder.strip()]


# A CA bundle is a few hundred KB (every public CA); a path from the environment that names
# a far larger file (a disk image, /proc/kcore) is refused before OpenSSL reads it whole.
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
# One entry of a hashed CA folder (`<hash>.0`) holds one certificate, which OpenSSL reads
# inside each handshake that looks its hash up: a 256 MiB unterminated PEM block there took
# ~900 MB and blamed every server for a missing issuer (round 25c).
MAX_HASH_ENTRY_BYTES = 1024 * 1024


def _too_large(path: str, source: str) -> str | None:
    """Why the CA file at `path` is refused unread (it is larger than any bundle), or None."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return None  # said by the caller's own checks
    if size > MAX_BUNDLE_BYTES:
        return f"{source} is {size // (1024 * 1024)} MiB: no CA bundle is that large"
    return None


def _path_source(path: str, source: str) -> Trust:
    if os.path.isdir(path):
        return Trust(source=source, capath=path, error=_irregular_entry((path,), source))
    if os.path.isfile(path):
        error = _too_large(path, source) or _unloadable(path, None, source)
        return Trust(source=source, cafile=path, error=error)
    return Trust(
        source=source,
        cafile=path,
        error=f"{source} names no readable CA file or folder: trust cannot be decided",
    )


def _unloadable(cafile: str | None, capath: str | None, source: str) -> str | None:
    """Why OpenSSL cannot load the bundle (not PEM, no certificate in it), or None. Asked
    once, now: a file that does not load would otherwise surface at every handshake as
    "TLS handshake failed", blaming the server for a bad CI variable."""
    try:
        with _CONTEXT_LOCK:
            context = _context(cafile, capath, True, for_http=True)
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return f"{source} is no CA bundle OpenSSL can load ({reason}): trust cannot be decided"
    if cafile is not None and capath is None and not context.cert_store_stats().get("x509"):
        # OpenSSL loads a file of CRLs alone without a word (round 17c): no CA is trusted,
        # and every failure would blame the server's chain
        return f"{source} holds no certificate (only revocation lists): trust cannot be decided"
    return None


def bundle(path: Path | str, what: str = "ca_bundle") -> Trust:
    """A `ca_bundle:` of the env file (or a test's own bundle)."""
    return _path_source(str(path), f"{what} {path}")


def decide(
    target_bundle: Path | str | None = None,
    env_bundle: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Trust:
    """The trust of one target, in the documented order (see the module doc)."""
    if target_bundle:
        return bundle(target_bundle)
    if env_bundle:
        return bundle(env_bundle)
    env = os.environ if environ is None else environ
    for var in _BUNDLE_VARS:
        value = env.get(var, "").strip()
        if value:
            return _path_source(value, f"${var} ({value})")
    cert_file = env.get("SSL_CERT_FILE", "").strip()
    cert_dir = env.get("SSL_CERT_DIR", "").strip()
    if cert_file or cert_dir:
        return _openssl_variables(cert_file, cert_dir)
    return Trust(source=SYSTEM)


def _openssl_variables(cert_file: str, cert_dir: str) -> Trust:
    """`$SSL_CERT_FILE` and/or `$SSL_CERT_DIR`, read as OpenSSL reads them: these are its own
    default locations, so `$SSL_CERT_DIR` alone keeps OpenSSL's default CA file beside the
    folders (what `openssl s_client` and every other OpenSSL program trust then). Unlike a
    folder in `$REQUESTS_CA_BUNDLE`, which is the only thing trusted. The default file is
    named in the source, so a diagnosis says everything that was trusted."""
    default_file = None if cert_file else _openssl_default_file()
    names = " and ".join(
        f"${var} ({value})"
        for var, value in (("SSL_CERT_FILE", cert_file), ("SSL_CERT_DIR", cert_dir))
        if value
    )
    if default_file:
        names += f" with OpenSSL's default CA file ({default_file})"
    cafile = cert_file or default_file
    return Trust(
        source=names,
        cafile=cafile,
        capath=cert_dir or None,
        error=_missing(cert_file, cert_dir, names)
        # round 25c: a 1 GiB $SSL_CERT_FILE took 2 GB, where the other variables were capped
        or (_too_large(cafile, names) if cafile else None)
        or _irregular_entry(tuple(folders(cert_dir)), names)
        or _unloadable(cafile, cert_dir or None, names),
    )


_HASH_ENTRY = linear_re.compile(r"^[0-9a-fA-F]{8}\.r?[0-9]+$")  # certificates, and CRLs


@functools.lru_cache(maxsize=64)
def _irregular_entry(capaths: tuple[str, ...], source: str) -> str | None:
    """A hash entry (`<hash>.0`) of a CA folder that is no regular file: OpenSSL opens it
    inside a handshake, with a blocking open(2) that no timeout interrupts (round 17c: a
    FIFO hung the run for good). Asked once per run and folder (each TLS target decides
    its trust); `stat` does not open what it looks at."""
    for folder in capaths:
        for name in sorted(_listing(folder)):
            if not _HASH_ENTRY.match(name):
                continue
            entry = os.path.join(folder, name)
            try:
                info = os.stat(entry)
            except OSError:
                continue  # a dangling link: OpenSSL skips it as it would
            if not stat.S_ISREG(info.st_mode):
                return (
                    f"{source}: {entry} is no regular file (a FIFO, device or socket), which "
                    "OpenSSL would block on reading: trust cannot be decided"
                )
            if info.st_size > MAX_HASH_ENTRY_BYTES:  # read whole at every handshake
                return (
                    f"{source}: {entry} is {info.st_size // 1024} KiB, past the "
                    f"{MAX_HASH_ENTRY_BYTES // 1024} KiB a CA folder's certificate entry may "
                    "be (one certificate is a few KiB): trust cannot be decided"
                )
    return None


def _openssl_default_file() -> str | None:
    """The CA file OpenSSL reads when `$SSL_CERT_FILE` is unset: its built-in default
    (`/usr/lib/ssl/cert.pem` on Debian, a link to the distribution's bundle), or None when
    there is none (OpenSSL skips a missing one too)."""
    path = ssl.get_default_verify_paths().openssl_cafile
    return path if path and os.path.isfile(path) else None


def _missing(cert_file: str, cert_dir: str, names: str) -> str | None:
    """Why `$SSL_CERT_FILE`/`$SSL_CERT_DIR` cannot be used as given: the file is none, or a
    folder of the list is none (named: the user meant every one of them), or the list
    names no folder at all."""
    if cert_file and not os.path.isfile(cert_file):
        return f"{names} names no readable CA file or folder: trust cannot be decided"
    if not cert_dir:
        return None
    listed = folders(cert_dir)
    absent = [folder for folder in listed if not os.path.isdir(folder)]
    if not listed or absent:
        what = f" ({absent[0]} is no folder)" if absent and len(listed) > 1 else ""
        return f"{names} names no readable CA file or folder{what}: trust cannot be decided"
    return None
