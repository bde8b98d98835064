"""Request decompression with a cap on the decompressed size, so a gzip bomb stops early."""

from __future__ import annotations

import zlib

from tracehouse.otlp.errors import BodyTooLargeError, DecodeError

_CHUNK = 1 << 20


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo Content-Encoding (none, identity or gzip); raise BodyTooLargeError past `max_bytes`."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity", "none"):
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"request body is {len(body)} bytes; the limit is {max_bytes}")
        return body
    if name not in ("gzip", "x-gzip"):
        raise DecodeError(f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    data = body
    try:
        while data:
            # max_length bounds each step, so a few KiB of bomb never becomes GiBs in memory.
            out += inflater.decompress(data, _CHUNK)
            if len(out) > max_bytes:
                raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after gzip decompression")
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise DecodeError(f"body is not valid gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after gzip decompression")
    if not inflater.eof:
        raise DecodeError("gzip body is truncated")
    return bytes(out)
