"""What a failed TLS handshake that is no certificate problem means, in words.

OpenSSL names the alert a server sent (`TLSV13_ALERT_CERTIFICATE_REQUIRED`,
`SSLV3_ALERT_HANDSHAKE_FAILURE`, `TLSV1_ALERT_PROTOCOL_VERSION`) and the HTTP and TLS checks
quoted those names as they were, with the hint for a certificate that does not verify,
though the certificate was never at issue (round 14). Both checks word them from here.
"""

from __future__ import annotations

import ssl

_OLD_TLS = "the server speaks only a TLS version older than 1.2, which smokegate refuses"

_CLIENT_CERTIFICATE_REFUSED = (
    "the server refused the client's certificate, and smokegate sends none: it demands a "
    "client certificate (mutual TLS); the server's own certificate is not what this alert "
    "is about"
)

_CLOSED_IN_HANDSHAKE = (
    "the server closed the connection during or right after the handshake (nothing "
    "healthy behind a TLS pass-through, or, in TLS 1.3, a demand for a client certificate "
    "smokegate does not send)"
)


def through_proxy(said: str, proxy: str, target: str) -> str:
    """A TLS failure after a proxy's tunnel opened, naming the proxy: a tunnel that closed
    in the handshake is the proxy's as much as the target's (round 27c: a proxy answering
    200 then closing read "connection reset by <target>", with its crash logs as the hint)."""
    if _CLOSED_IN_HANDSHAKE in said or said.startswith("connection reset by"):
        return (
            f"the tunnel through the proxy {proxy} to {target} closed during the TLS "
            "handshake: the proxy, or the target behind it, ended it"
        )
    return f"{said} (through the proxy {proxy})"


# OpenSSL reason -> what it means for the one reading the report
_MEANINGS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        "the server demands a client certificate (mutual TLS), which smokegate does not send"
    ),
    # round 24c: servers offering only AES128-SHA, SHA-1 signatures, CCM_8, PSK or
    # anonymous DH send this alert at once; the cipher side is said first, the likelier
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "the server refused the handshake: it shares no cipher suite, signature algorithm "
        "or key-exchange group with smokegate's client (one that offers only old or unusual "
        "ones), or it demands a client certificate (mutual TLS), which smokegate does not send"
    ),
    # The server's verdict on the client's certificate, and smokegate sends none: Go's
    # crypto/tls and Java send bad_certificate for a missing one over TLS 1.2 (round 17c:
    # quoted raw, "BAD_CERTIFICATE" read as the server's own certificate being bad).
    "SSLV3_ALERT_BAD_CERTIFICATE": _CLIENT_CERTIFICATE_REFUSED,
    "TLSV1_ALERT_UNKNOWN_CA": _CLIENT_CERTIFICATE_REFUSED,
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": _CLIENT_CERTIFICATE_REFUSED,
    "TLSV1_ALERT_ACCESS_DENIED": (
        "the server refused access during the handshake (access_denied): it admits only "
        "some clients, by client certificate or address"
    ),
    "TLSV1_ALERT_PROTOCOL_VERSION": _OLD_TLS,
    "UNSUPPORTED_PROTOCOL": _OLD_TLS,
    "NO_PROTOCOLS_AVAILABLE": _OLD_TLS,
    # a TLS pass-through with no healthy backend, a crashed terminator behind a forward
    "UNEXPECTED_EOF_WHILE_READING": _CLOSED_IN_HANDSHAKE,
    "TLSV1_UNRECOGNIZED_NAME": (
        "the server has no certificate for the host name asked (SNI): it routes by name and "
        "serves no site of that name (asked by IP address, no name is sent: give the "
        "target's DNS name, or server_name:)"
    ),
    # ALPN: a listener told to speak HTTP/2 only (Go, Envoy, `openssl s_server -alpn h2`)
    # refuses a client that offers only http/1.1, as the HTTP checks do (round 18c)
    "TLSV1_ALERT_NO_APPLICATION_PROTOCOL": (
        "the server accepts none of the application protocols offered (ALPN alert "
        "no_application_protocol): it speaks HTTP/2 only, or another protocol, and "
        "smokegate's HTTP checks speak HTTP/1.1"
    ),
    "TLSV1_ALERT_INTERNAL_ERROR": (
        "the server failed inside its own handshake (an internal error): check its TLS "
        "configuration and logs"
    ),
}

# Reasons OpenSSL gives when what came back was no TLS at all (an HTTP answer's
# "HTTP/1.1 400" read as a record header, an SSH or SMTP banner).
NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG")


def alert_meaning(reason: str | None) -> str:
    """The words for an OpenSSL reason that is no certificate problem, or ''."""
    return _MEANINGS.get(reason or "", "")


def ssl_error_text(exc: ssl.SSLError) -> str:
    """OpenSSL's words for an error without its source location (`(_ssl.c:1006)`), which
    says nothing to whoever reads a report."""
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    where = text.rfind(" (_ssl.c:")
    if where >= 0 and text.endswith(")"):
        text = text[:where]  # cut-ok: OpenSSL's source location, quoted by excerpt later
    return text.strip() or exc.reason or type(exc).__name__


def reason_of(exc: ssl.SSLError) -> str | None:
    """OpenSSL's reason name, also where Python's table lacks it and leaves `reason` None
    (`[SSL] tlsv1 alert no application protocol` is TLSV1_ALERT_NO_APPLICATION_PROTOCOL)."""
    if exc.reason:
        return str(exc.reason)
    text = ssl_error_text(exc)
    if text.startswith("[") and "] " in text:
        text = text.partition("] ")[2]  # cut-ok: a reason name, never shown
    return text.upper().replace(" ", "_") or None


def not_tls(where: str) -> str:
    """What came back was no TLS: plain HTTP, or a banner of SSH, SMTP, Redis..., which
    OpenSSL cannot tell apart (round 14: an SSH port was said to speak plain HTTP)."""
    return (
        f"{where} did not answer in TLS (it speaks plain HTTP, or another protocol such as "
        "SSH or SMTP)"
    )
