"""Whether a compressed body's stream reached its end, or was cut.

urllib3 decodes `Content-Encoding` as the bytes arrive and stops when the connection's body
ends; it never asks whether the compressed stream ended too. A gzip or deflate stream cut
in half, inside framing that is complete (a Content-Length that matches, a chunked body with
its last chunk), decodes to a prefix of the body without an error, and `body_contains` and
`body_regex` passed on it (attack round 14). zlib and brotli know: a stream that ended has
seen its end marker (and gzip its CRC and length). zstd's decoder in urllib3 raises itself.

The decoders' state is urllib3's own (its version is pinned); a decoder this module does
not know is reported as not ended, so an upgrade that changes them fails loudly in the tests
and in the run instead of letting a cut body pass.
"""

from __future__ import annotations

from typing import Any

from urllib3.response import DeflateDecoder, GzipDecoder, GzipDecoderState, MultiDecoder


class _DeflateEndWatch:
    """urllib3's deflate decoder, remembering bytes that came after its stream's end.

    urllib3 drops them ("Data received after EOF cannot produce more output"): a second
    zlib stream (`{"status":"down"}`) or junk after the first read as a complete body
    (attack round 17b). zlib keeps the rest of the call that ended the stream in
    `unused_data`; what a later read brings is seen here, before urllib3 drops it.
    """

    def __init__(self, inner: DeflateDecoder) -> None:
        self.inner = inner
        self.after_end = False

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data and self.inner._obj.eof:
            self.after_end = True
        return self.inner.decompress(data, max_length=max_length)

    @property
    def has_unconsumed_tail(self) -> bool:
        return self.inner.has_unconsumed_tail

    def flush(self) -> bytes:
        return self.inner.flush()

    def ended(self) -> bool:
        stream = self.inner._obj
        return bool(stream.eof) and not self.after_end and not stream.unused_data


def watch_stream_end(raw: Any) -> None:
    """Before the body is read: let `compressed_stream_ended` see bytes past a deflate
    stream's end. Nothing to do for a body without a coding urllib3 decodes."""
    init = getattr(raw, "_init_decoder", None)
    if init is None:
        return
    init()
    decoder = getattr(raw, "_decoder", None)
    if isinstance(decoder, DeflateDecoder):
        raw._decoder = _DeflateEndWatch(decoder)
    elif isinstance(decoder, MultiDecoder):
        decoder._decoders = [
            _DeflateEndWatch(d) if isinstance(d, DeflateDecoder) else d for d in decoder._decoders
        ]


def compressed_stream_ended(raw: Any) -> bool:
    """True when the body was not compressed, was empty, or every coding's stream ended."""
    decoder = getattr(raw, "_decoder", None)
    if decoder is None or not raw.tell():  # no coding urllib3 decodes, or no byte at all
        return True
    return _ended(decoder)


def _ended(decoder: Any) -> bool:
    if isinstance(decoder, MultiDecoder):
        return all(_ended(inner) for inner in decoder._decoders)
    if isinstance(decoder, GzipDecoder):
        # urllib3 swallows what follows a complete member when it is no gzip: a second
        # member cut and followed by junk read as a whole body (round 16), which Python's
        # gzip refuses. Real servers send no junk after their gzip: not ended.
        return decoder._state != GzipDecoderState.SWALLOW_DATA and bool(decoder._obj.eof)
    if isinstance(decoder, _DeflateEndWatch):
        return decoder.ended()
    brotli = getattr(decoder, "_obj", None)
    if type(decoder).__name__ == "BrotliDecoder" and hasattr(brotli, "is_finished"):
        return bool(brotli.is_finished())
    # urllib3's zstd decoder raises "Zstandard data is incomplete" itself; any other is not
    # known here, and not trusted
    return type(decoder).__name__ == "ZstdDecoder"
