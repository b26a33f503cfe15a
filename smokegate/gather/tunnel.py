"""A TLS check's connection through the environment's proxy, as the HTTPS checks go.

The HTTPS checks go through `HTTPS_PROXY` (requests reads it); the TLS checks used to
connect directly, so with a proxy the two judged different servers: a target reachable only
through the proxy passed its health check and failed its TLS check "connection refused",
and a proxy reaching an expired certificate failed one and passed the other (round 18c).
Now a TLS check asks the same proxy, honouring `NO_PROXY` the same way, for a CONNECT
tunnel to its target, and handshakes inside it. An `http://` proxy is what tunnels are
opened through here; any other kind (`https://`, `socks5://`) is said, never bypassed.
"""

from __future__ import annotations

import base64
import socket
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import idna
from requests.utils import get_environ_proxies
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from smokegate.gather.connect import connect_within, failure_reason, resolve_within
from smokegate.redact import excerpt, shown_endpoint

# A line of a proxy's answer to CONNECT, its line end included: http.client's limit. The
# number of lines is bounded by the deadline only, as in http.client's own tunnel.
MAX_LINE_BYTES = 64 * 1024


class TunnelError(OSError):
    """The proxy did not open the tunnel; the message says why, naming the proxy."""


def proxy_for(host: str, port: int) -> str | None:
    """The proxy an HTTPS request to host:port goes through (`HTTPS_PROXY`, `ALL_PROXY`,
    minus `NO_PROXY`), as requests decides it for the URL an endpoint would be written
    as: port 443 not written out (requests matches a `host:443` NO_PROXY entry only against
    a URL that says its port; round 19c: the two checks took different paths)."""
    authority = f"[{host}]" if ":" in host else host
    url = f"https://{authority}/" if port == 443 else f"https://{authority}:{port}/"
    proxies = get_environ_proxies(url)
    return proxies.get("https") or proxies.get("all") or None


# What a proxy's host may be written as, so that requests (urllib3) and the TLS check's own
# parse read the same host: a name, an IPv4 address, or an IPv6 one in brackets.
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


def with_scheme(proxy: str) -> str:
    """A proxy setting as requests reads it: `host:port` is `http://host:port`."""
    return proxy if "://" in proxy else f"http://{proxy}"


def proxy_url_problem(value: str) -> str | None:
    """Why a proxy variable's value would be read two ways, or None. urllib3 (the HTTPS
    checks) and the TLS check's CONNECT parsed `http://127.0.0.1:0`, a `%31` in the host
    and `svc:pw@proxy:3128` (no scheme: requests reads `svc` as one) differently: one check
    passed through the proxy, the other failed or went elsewhere (round 19c). Such a value
    is refused at start, naming what to change."""
    if value != value.strip() or any(ch.isspace() or not ch.isprintable() for ch in value):
        return "holds blanks or control characters"
    if "://" not in value and "@" in value:
        return (
            "has credentials but no scheme (requests would read the user name as one): "
            "write it as http://user:password@host:port"
        )
    try:
        parts = urlsplit(with_scheme(value))
        port = parts.port
    except ValueError:
        return "has no valid port, or an unencoded [ ] / # ? in its password"
    authority_on = with_scheme(value).partition("://")[2]  # cut-ok: parsed, never shown
    if "@" in authority_on and "@" not in parts.netloc:
        return "has an unencoded / # ? in its password (percent-encode it)"
    if port == 0:
        return "has port 0"
    if "\\" in value:  # urllib3 ends the authority there, urlsplit does not (round 22c)
        return "holds a backslash, which the two checks read two ways (percent-encode it)"
    host = parts.hostname or ""
    if not host:
        return "names no host"
    if ":" not in host and not set(host) <= _HOST_CHARS and not _is_a_label(host):
        return "has a host name that is not one (percent-encoded or with symbols)"
    try:  # whatever else: both parses must name one host and port (round 22c)
        read = parse_url(with_scheme(value))
    except LocationParseError:
        return "cannot be read by requests (percent-encode its password's symbols)"
    same_host = (read.host or "").lower().strip("[]") == a_label(host).lower()
    if not same_host or (read.port or None) != (port or None):
        return "is read two ways by the HTTPS checks and the TLS checks (its host or port)"
    return None


def _is_a_label(host: str) -> bool:
    """An internationalised name written in Unicode: its A-label is a host name."""
    label = a_label(host)
    return label != host and set(label.lower()) <= _HOST_CHARS


def open_connection(host: str, port: int, timeout_s: float, address: str = "") -> socket.socket:
    """A TCP connection to host:port, through the environment's proxy when it has one;
    `address`: to that one of the host's addresses (no proxy: `other_addresses`)."""
    proxy = proxy_for(host, port)
    if proxy is None:  # by its A-label: the socket module would encode it as IDNA 2003
        return connect_within(address or a_label(host), port, timeout_s)
    return _tunnel(proxy, host, port, timeout_s)


def other_addresses(host: str, port: int, connected: str, timeout_s: float | None) -> list[str]:
    """The host's addresses other than `connected` (the one a handshake reached), of both
    families: a name that resolves to several is a pool whose nodes each serve a
    certificate of their own, and one node's expired certificate passed, never read (round
    48b F1). None through a proxy (it resolves the name) nor for an address literal; a
    lookup that fails now raises OSError (the nodes are unknown then, not none). A
    link-local IPv6 address keeps its scope (`fe80::1%eth0`)."""
    if proxy_for(host, port) is not None:
        return []
    try:
        found = resolve_within(a_label(host), port, 0, timeout_s)
    except UnicodeError as exc:
        raise OSError(str(exc)) from exc
    addresses = dict.fromkeys(_address_of(info[4]) for info in found)
    # cut-ok: an address's scope dropped to compare it, never shown
    return [a for a in addresses if a.partition("%")[0] != connected]


def _address_of(sockaddr: tuple[Any, ...]) -> str:
    scope = sockaddr[3] if len(sockaddr) > 3 else 0
    if not scope:
        return str(sockaddr[0])
    try:
        return f"{sockaddr[0]}%{socket.if_indextoname(scope)}"
    except OSError:
        return f"{sockaddr[0]}%{scope}"


def shown_proxy_for(host: str, port: int) -> str:
    """The proxy a TLS check to host:port goes through, as messages name it; '' if none."""
    proxy = proxy_for(host, port)
    return shown_endpoint(proxy) if proxy else ""


def a_label(name: str) -> str:
    """An internationalised name as DNS, proxies, the handshake and certificates write it
    (`bücher.test` is `xn--bcher-kva.test`; round 14: compared as typed, a valid
    certificate failed as "wrong host name"; round 19c: the CONNECT sent it raw in UTF-8).

    Encoded as requests encodes an endpoint's host (IDNA 2008 with UTS 46, as browsers):
    Python's own codec is IDNA 2003, which writes `straße.test` as `strasse.test`, another
    name, and the TLS check judged another host than the HTTPS check (round 21c)."""
    if name.isascii():
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return name


def _tunnel(proxy: str, host: str, port: int, timeout_s: float) -> socket.socket:
    shown = shown_endpoint(proxy)
    named = a_label(host)
    target = f"[{named}]:{port}" if ":" in named else f"{named}:{port}"
    try:
        parts = urlsplit(with_scheme(proxy))
    except ValueError:  # `Invalid IPv6 URL`: a `[` or `]` in its password, not encoded
        raise TunnelError(
            f"the proxy URL {shown} cannot be read (encode `[ ] / # ?` in its password): "
            f"{target} was not checked"
        ) from None
    if parts.scheme.lower() != "http":
        raise TunnelError(
            f"the proxy {shown} is {excerpt(parts.scheme, 20)}://, and TLS checks open their "
            f"tunnel through an http:// proxy only: {target} was not checked (name it in "
            "NO_PROXY to check it directly, or use an http:// proxy)"
        )
    try:
        proxy_port = parts.port or 80
    except ValueError:
        raise TunnelError(
            f"the proxy {shown} has no valid port: {target} was not checked"
        ) from None
    where = f"the proxy {shown}"
    try:
        sock = connect_within(a_label(parts.hostname or ""), proxy_port, timeout_s)
    except ConnectionRefusedError:
        raise TunnelError(f"connection refused by {where}: {target} was never reached") from None
    except socket.gaierror:
        raise TunnelError(f"DNS lookup failed for {where}: {target} was never reached") from None
    except TimeoutError:
        raise TunnelError(
            f"timed out after {timeout_s:g} s while connecting to {where}: {target} was never "
            "reached"
        ) from None
    except OSError as exc:  # no route to the proxy, ...: the proxy's, not the target's
        reason = failure_reason(exc, "failed")
        raise TunnelError(
            f"could not connect to {where} ({reason}): {target} was never reached"
        ) from None
    try:
        sock.sendall(_connect_request(target, parts.username, parts.password, where))
        status = read_connect_answer(sock, where, target, time.monotonic() + timeout_s)
    except BaseException:
        sock.close()
        raise
    if not _accepted(status):
        sock.close()
        said = ""
        if " 407" in status:
            said = (
                " (it refused the credentials of the proxy URL)"
                if parts.username
                else " (it wants credentials: put them in the proxy URL)"
            )
        raise TunnelError(
            f"{where} refused the tunnel to {target}: it answered CONNECT with "
            f"'{excerpt(status, 80)}'{said}"
        )
    return sock


def _accepted(status: str) -> bool:
    """A status line http.client (the HTTPS check's tunnel) takes as a 200: split on blanks,
    `HTTP/` first, then a code `int()` reads as 200 (round 19c: `2000` and `200x` were
    taken; round 20: a tab or two spaces between, or `HTTP/2 200`, were refused; round 21c:
    `+200`, `0200` and `2_00`, which int() reads, were refused)."""
    return connect_status_code(status) == 200


def connect_status_code(status: str) -> int | None:
    """The code of a status line as http.client's `_read_status` reads it; None where it
    raises BadStatusLine."""
    words = status.split(None, 2)
    if len(words) < 2 or not words[0].startswith("HTTP/"):
        return None
    try:
        code = int(words[1])
    except ValueError:
        return None
    return code if 100 <= code <= 999 else None


def _connect_request(target: str, user: str | None, password: str | None, where: str) -> bytes:
    """CONNECT with the proxy URL's credentials as requests sends them: only with a `:`
    (a user without one is sent no credentials), Latin-1 bytes in base64 (round 19c: the
    two checks sent different bytes, so a proxy let one through and refused the other)."""
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if user is not None and password is not None:
        try:
            pair = f"{unquote(user)}:{unquote(password)}".encode("latin-1")
        except UnicodeEncodeError:
            raise TunnelError(
                f"the credentials of {where} hold a character outside Latin-1, which HTTP "
                f"clients cannot send in Proxy-Authorization: {target} was not checked"
            ) from None
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(pair).decode('ascii')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def read_connect_answer(sock: socket.socket, where: str, target: str, deadline: float) -> str:
    """The status line of the proxy's answer to CONNECT, its head read whole and nothing
    past it (what follows is the target's, inside the tunnel), by `deadline` (a proxy that
    drips its answer resets the socket's timeout with every byte). Read as the HTTPS check's
    http.client reads it (round 21c): a line of up to 64 KiB with its line end, any number
    of them (only the first is kept), the heads of 102-199 answers before it skipped."""
    first = b""
    code: int | None = None
    line = bytearray()
    status_due = True
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            byte = sock.recv(1)  # byte by byte: the tunnel's first bytes are not the proxy's
            if not byte:
                raise TunnelError(
                    f"{where} closed the connection before it answered CONNECT to {target}"
                )
            line += byte
            if len(line) > MAX_LINE_BYTES:  # http.client's own limit, its line end counted
                raise TunnelError(
                    f"{where} answered CONNECT to {target} with a line longer than "
                    f"{MAX_LINE_BYTES // 1024} KiB: no proxy's answer"
                )
            if byte != b"\n":
                continue
            if status_due:
                status_due = False
                first = bytes(line)
                code = connect_status_code(first.decode("latin-1"))
                if code is None or (code != 200 and not 101 < code < 200):
                    break  # no 200 coming: http.client reads no further either
            elif line in (b"\r\n", b"\n"):
                if code is None or not 101 < code < 200:
                    break
                status_due = True  # an interim head (103 Early Hints): the answer follows
            line.clear()
    except TimeoutError:
        raise TunnelError(
            f"timed out waiting for {where} to answer CONNECT to {target} (its answer dripped, "
            "stalled or did not end)"
        ) from None
    except ConnectionResetError:
        raise TunnelError(
            f"connection reset by {where} before it opened a tunnel to {target}"
        ) from None
    status = first.rstrip(b"\r\n").decode("latin-1")
    if not status.startswith("HTTP/"):
        raise TunnelError(
            f"{where} did not answer CONNECT to {target} in HTTP: its first line was "
            f"'{excerpt(status, 80)}'"
        )
    return status
