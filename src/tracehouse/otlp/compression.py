"""Request decompression with a cap on the decompressed size, so a gzip bomb stops early."""

from __future__ import annotations

import zlib

from tracehouse.otlp.errors import BodyTooLargeError, DecodeError

_CHUNK = 1 << 20


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo Content-Encoding (none, identity, gzip or deflate); raise BodyTooLargeError past `max_bytes`."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity", "none"):
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"request body is {len(body)} bytes; the limit is {max_bytes}")
        return body
    if name in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif name == "deflate":
        # HTTP's "deflate" is the zlib format; the OTel exporters offer it beside gzip.
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS)
    else:
        raise DecodeError(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")
    out = bytearray()
    data = body
    try:
        while data:
            # max_length bounds each step, so a few KiB of bomb never becomes GiBs in memory.
            out += inflater.decompress(data, _CHUNK)
            if len(out) > max_bytes:
                raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after {name} decompression")
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {name}: {exc}") from exc
    if len(out) > max_bytes:
        raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after {name} decompression")
    if not inflater.eof:
        raise DecodeError(f"{name} body is truncated")
    return bytes(out)
