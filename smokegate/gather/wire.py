"""The response head as the probe reads it off the wire: complete, and bounded in size.

http.client reads a response's status line and headers itself, and two of its habits would
let a broken or hostile server pass or cost memory without a bound:

- it reads the end of the stream like the empty line that ends the header section, so
  `HTTP/1.1 200 OK\\r\\n` then EOF (a backend that crashed while writing its headers) is
  a complete, healthy 200;
- it bounds one header line (64 KiB) and the header count (100), not their product: 95
  headers of 63 KB each (6 MB) are accepted, and kept per endpoint for the whole run.

`GuardedResponse` is the response class of the probe's connections (`gather.probe`): it
raises `IncompleteHead` for the first, `HeadTooLarge` past `MAX_HEAD_BYTES` for the second.
Either exception ends the request as a failure, and urllib3 closes the connection instead
of pooling it, so no byte of a broken answer is read as the start of another one. Nor of
a whole one: every answer closes its connection (see `begin`).
"""

from __future__ import annotations

import http.client
import io
from typing import Any

from smokegate import linear_re
from smokegate.redact import excerpt

# What one response's status line and headers may take in all, bytes on the wire (skipped
# `100 Continue` heads included). Real servers send a few KiB, behind a CDN and a proxy well
# under 32 KiB (nginx's largest default header buffer is 4 x 8 KiB, a 431 past it); 256 KiB
# leaves room for long cookies and CSP headers, and bounds what a hostile server makes the
# run keep: 500 endpoints x 256 KiB is 125 MiB, against 3 GB at http.client's own limits.
MAX_HEAD_BYTES = 256 * 1024


class IncompleteHead(http.client.HTTPException):
    """The connection ended inside the header section: the response is incomplete."""


class HeadStalled(TimeoutError):
    """The response's head began (a status line, or an interim 1xx answer), then stopped:
    said as such, not as a server that never answered (round 21c)."""


class HeadTooLarge(http.client.HTTPException):
    """The status line and headers went past `MAX_HEAD_BYTES`; reading stopped there."""


class MalformedStatusLine(http.client.HTTPException):
    """An HTTP/1.x status line that is not one: http.client reads its code with `int()`, so
    `+200`, `2_00`, `0200` or two spaces before `200` would be a healthy 200."""


class MalformedFraming(http.client.HTTPException):
    """A Content-Length or Transfer-Encoding header http.client would ignore (a space before
    its colon, a length that is no number, two lengths that differ): the body would be
    read to some other end than the server meant, and a cut body judged whole."""


# RFC 9112 4: HTTP-version SP 3DIGIT SP [reason]; a missing reason (and its space) is common
# enough to keep. Other versions and junk are http.client's to refuse (and ours to name).
_STATUS_LINE = linear_re.compile(r"^HTTP/1\.[0-9] [0-9]{3}(?: [^\r\n]*)?\r?\n?$")
# RFC 9110 5.1 / 9112 5: a field name is a token, and the colon follows it at once.
_HEADER_LINE = linear_re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:")
# RFC 9112 7.1: chunk-size is 1*HEXDIG, then optional extensions (BWS ";" ...), then CRLF
# (a bare LF is tolerated, 9112 2.2). Python's `int(line, 16)`, which http.client uses,
# also takes `0x7`, `+7`, `0_7`, `-0` and leading blanks (attack round 13).
_CHUNK_SIZE_LINE = linear_re.compile(r"^0*[0-9A-Fa-f]{1,16}[ \t]*(?:;[^\r\n]*)?\r?\n$")
_MAX_CHUNK_LINE = 4096  # a size and its extensions; http.client allows 64 KiB
_BLANK = (b"\r\n", b"\n")  # the line that ends a head


class _HeadReader:
    """Stands in for the response's socket file while `begin` reads the head: it counts the
    bytes, stops past the bound, and remembers whether the last line read was the end of
    the stream (an empty read) rather than a line."""

    def __init__(self, fp: Any, limit: int) -> None:
        self._fp = fp
        self._limit = limit
        self.size = 0
        self.ended_at_eof = False
        self._status_next = True  # the first line, and the one after a 1xx head's blank line
        self.header_lines = 0  # field lines of the head being read (continuations not)
        self._in_head = False  # between a status line and the blank line that ends its head

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        self.size += len(line)
        self.ended_at_eof = line == b""
        content = line[:-1] if line.endswith(b"\n") else line  # cut-ok: bytes, its LF
        if b"\r" in (content[:-1] if content.endswith(b"\r") else content):  # cut-ok: bytes
            # RFC 9112 2.2: a bare CR is no line end. http.client's email parser took it
            # for one, began the body at the text after it, and dropped every header past
            # it: Content-Length unseen, a body cut at 37 of 1000 bytes passed (round 15)
            text = content.decode("latin-1").removesuffix("\r")
            shown = excerpt(text, 80, spacing=True)
            raise MalformedFraming(
                f"the response line '{shown}' holds a bare CR, which HTTP does not allow "
                "(parsers split the headers there differently), so the server's answer "
                "was refused"
            )
        # an `HTTP/1.` or `HTTP/0.` line where a status is due: http.client reads `HTTP/0.9`
        # as 1.0, its code with int() (round 16: `HTTP/0.9 +200 OK` was a 200)
        if self._status_next and line.startswith((b"HTTP/1.", b"HTTP/0.")):
            text = line.decode("latin-1")
            if not _STATUS_LINE.match(text):
                shown = excerpt(text.rstrip("\r\n"), 80, spacing=True)  # two spaces stay two
                raise MalformedStatusLine(
                    f"the status line '{shown}' is not HTTP's (HTTP/1.x, one space, "
                    "a three-digit code), so the server's answer was refused"
                )
            self.header_lines = 0  # a new head (after a 1xx): its own fields are counted
        elif self._in_head and line[:1] not in b" \t":  # cut-ok: a byte (a continuation)
            if (
                line.endswith(b"\n")  # a line cut by the end of the stream is incomplete
                and line not in _BLANK
                and not _HEADER_LINE.match(line.decode("latin-1"))
            ):
                shown = excerpt(line.decode("latin-1").rstrip("\r\n"), 80, spacing=True)
                raise MalformedFraming(
                    f"the header line '{shown}' is not HTTP's (a name, then ':' with no space "
                    "before it), so the headers after it and the body's end cannot be known "
                    "and the server's answer was refused"
                )
            if line.strip():
                self.header_lines += 1
        elif self._in_head and not self.header_lines and line.strip():
            # a continuation of no field: http.client's parser drops the line, and with it a
            # Content-Length or Transfer-Encoding (` Content-Length: 1000`): a body cut at
            # 16 of 1000 bytes was judged whole and passed `json:` (round 22c)
            shown = excerpt(line.decode("latin-1").rstrip("\r\n"), 80, spacing=True)
            raise MalformedFraming(
                f"the first header line '{shown}' begins with a blank (the continuation of no "
                "field), which parsers drop, so the body's end cannot be known and the "
                "server's answer was refused"
            )
        self._in_head = self._status_next or (self._in_head and line not in _BLANK)
        self._status_next = line in _BLANK
        if self.size > self._limit:
            raise HeadTooLarge(
                f"the response's status line and headers go past {self._limit // 1024} KiB "
                "(smokegate's limit for one response; real servers send a few KiB), so "
                "the server's answer was refused"
            )
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class _CountingSocketFile(io.RawIOBase):
    """The socket's raw file, counting the bytes received: a head that stalled inside its
    first line (`HTTP/1.1 20`) was said as silence, since only whole lines are counted by
    `_HeadReader` (round 22c)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.received = 0

    def readinto(self, buffer: Any) -> int | None:
        count = self._raw.readinto(buffer)
        self.received += count or 0
        return count

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def close(self) -> None:
        self._raw.close()
        super().close()


class GuardedResponse(http.client.HTTPResponse):
    """http.client's response, its head read through `_HeadReader` (see the module doc)."""

    head_limit = MAX_HEAD_BYTES

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._counted: _CountingSocketFile | None = None
        if hasattr(sock, "makefile"):
            self.fp.close()  # http.client's own buffered file: read through a counted one
            self._counted = _CountingSocketFile(sock.makefile("rb", buffering=0))
            self.fp = io.BufferedReader(self._counted)

    def begin(self) -> None:
        if self.headers is not None:  # already begun (http.client's own guard)
            return
        raw = self.fp
        reader = _HeadReader(raw, self.head_limit)
        self.fp = reader  # type: ignore[assignment]
        self._interim = 0
        try:
            super().begin()
        except TimeoutError as exc:
            said = self._stall(reader)
            if said:
                raise HeadStalled(said) from exc
            raise
        finally:
            if self.fp is reader:
                self.fp = raw
        if reader.ended_at_eof:
            raise IncompleteHead(
                "the connection closed inside the response headers (no empty line ended "
                "them): the response is incomplete"
            )
        if len(self.headers.items()) != reader.header_lines:
            # the parser read other fields than the lines sent: whatever split them, the
            # framing headers may be among those lost (round 15)
            raise MalformedFraming(
                f"the response's {reader.header_lines} header lines parsed as "
                f"{len(self.headers.items())} fields, so the body's end cannot be known and "
                "the server's answer was refused"
            )
        _check_framing(self.headers.items())
        # One connection, one answer: a pooled connection is read by the next request to
        # that host, and a server that sent bytes after its answer (a 204, then an unasked
        # `200 {"status":"ok"}` 0.3 s later; a body past its Content-Length) had them read
        # as the next endpoint's answer, and two endpoints answering 503 passed (round 25c).
        # http.client hands a closing response its connection and closes the connection's
        # own end, so urllib3's pool opens a new one for the next request.
        self.will_close = True

    def _stall(self, reader: _HeadReader) -> str:
        """What came before the head stalled, in words; '' when nothing did."""
        if self._interim:
            return f"an interim {self._interim} answer came, then no final answer"
        if reader.size:
            fields = f" and {reader.header_lines} header line(s)" if reader.header_lines else ""
            return f"the status line{fields} came ({reader.size} bytes), then the head stalled"
        received = self._counted.received if self._counted is not None else 0
        if received:
            return f"the response began ({received} bytes), then stalled inside its status line"
        return ""

    def _read_status(self) -> tuple[str, int, str]:
        """The status of the final answer: the heads of informational answers before it
        (`102 Processing`, `103 Early Hints`, RFC 9110 15.2) are read and skipped, as
        http.client skips only a `100 Continue` (round 14: a 103 then a healthy 200 failed
        as "no final response"). A `101` ends the exchange, and stays the answer."""
        while True:
            try:
                version, status, reason = super()._read_status()
            except http.client.RemoteDisconnected:
                if not self._interim:
                    raise
                # round 24c: gunicorn's 199 with its headers, then a close, read "closed the
                # connection without sending any response"
                raise IncompleteHead(
                    f"an interim {self._interim} answer came, then the connection closed "
                    "without a final answer"
                ) from None
            # http.client skips a 100 itself, then reads on; a final status clears it (round
            # 22c: a 100, then a 200 whose head stalled, read "no final answer")
            self._interim = status if 100 <= status < 200 and status != 101 else 0
            if not 101 < status < 200:
                return version, status, reason
            for _ in range(http.client._MAXHEADERS + 1):
                line = self.fp.readline(http.client._MAXLINE + 1)
                if line in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException(
                    f"got more than {http.client._MAXHEADERS} headers in a {status} answer"
                )

    def _read_next_chunk_size(self) -> int:
        """The next chunk's size, from a line that is one (`_CHUNK_SIZE_LINE`). The end of
        the stream where a size was due is a ValueError, as in http.client, which turns it
        into an IncompleteRead: the body is incomplete."""
        line: bytes = self.fp.readline(_MAX_CHUNK_LINE + 1)
        if not line:
            self._close_conn()
            raise ValueError("the stream ended where a chunk size was due")
        text = line.decode("latin-1")
        if not _CHUNK_SIZE_LINE.match(text):
            self._close_conn()
            shown = excerpt(text.rstrip("\r\n"), 80, spacing=True)
            raise MalformedFraming(
                f"broken chunked framing: a chunk size line was '{shown}', not a hex size "
                "(RFC 9112 7.1), so the body's end cannot be known and the server's answer "
                "was refused"
            )
        return int(text.partition(";")[0], 16)  # cut-ok: the size before its extensions

    def _get_chunk_left(self) -> int | None:
        """http.client's, with the CRLF that ends a chunk's data checked rather than two
        bytes thrown away: data longer than its size said would be read as the next size
        line, or its first two bytes dropped, and the body's end misjudged."""
        if self.chunk_left == 0:
            end = self._safe_read(2)
            if end != b"\r\n":
                self._close_conn()
                raise MalformedFraming(
                    "broken chunked framing: a chunk's data did not end (CRLF) where its "
                    "size said, so the body's end cannot be known and the server's answer "
                    "was refused"
                )
            self.chunk_left = None
        return super()._get_chunk_left()  # type: ignore[misc, no-any-return]


def _check_framing(headers: list[tuple[str, str]]) -> None:
    """RFC 9112 6.3: one Content-Length, a number (round 12: `-1` was read as no length,
    the body to the close). A header line with a space before its colon is refused as it
    is read (`_HeadReader`): http.client took it for the body's start, ignored the length,
    and 16 of 500 bytes were judged whole."""
    codings = [
        value.strip().lower() for name, value in headers if name.lower() == "transfer-encoding"
    ]
    if codings and codings != ["chunked"]:
        # http.client reads a body as chunked only when the header is exactly `chunked`:
        # `gzip, chunked` or `identity, chunked` was read to the close, and a body cut
        # before its last chunk passed (attack round 13)
        shown = excerpt(", ".join(codings), 60)
        raise MalformedFraming(
            f"Transfer-Encoding '{shown}' is not one this client reads (only 'chunked'), so "
            "the body's end cannot be known and the server's answer was refused"
        )
    lengths = {value.strip() for name, value in headers if name.lower() == "content-length"}
    # ASCII digits: `str.isdigit` is true of `²³` too, which `int()` refuses (round 14)
    if lengths and (len(lengths) > 1 or not all(v.isascii() and v.isdigit() for v in lengths)):
        shown = ", ".join(excerpt(v, 30) for v in sorted(lengths)[:3])  # cut-ok: listed
        raise MalformedFraming(
            f"Content-Length is not one number ({shown}), so the body's end cannot be known "
            "and the server's answer was refused"
        )
