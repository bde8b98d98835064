"""Request decompression with a cap on the decompressed size, so a gzip bomb stops early.

gzip is decoded as RFC 1952 defines it: a body is a series of members, each a complete gzip stream,
and the content is all of them one after another (what `cat a.gz b.gz` makes, and what some
clients and proxies send when they compress a body in pieces). Stopping after the first member, as
a single `zlib.decompressobj` does, would acknowledge the request and silently drop the rest.
The size cap applies to the total of all members.
"""

from __future__ import annotations

import zlib

from tracehouse.otlp.errors import BodyTooLargeError, DecodeError

_CHUNK = 1 << 20
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo Content-Encoding (none, identity, gzip or deflate); raise BodyTooLargeError past `max_bytes`."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity", "none"):
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"request body is {len(body)} bytes; the limit is {max_bytes}")
        return body
    if name in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP_WBITS, name, max_bytes, multi_member=True)
    if name == "deflate":
        # HTTP's "deflate" is the zlib format; the OTel exporters offer it beside gzip.
        return _inflate(body, zlib.MAX_WBITS, name, max_bytes, multi_member=False)
    raise DecodeError(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")


def _inflate(body: bytes, wbits: int, name: str, max_bytes: int, multi_member: bool) -> bytes:
    out = bytearray()
    data = body
    members = 0
    try:
        while True:
            inflater = zlib.decompressobj(wbits=wbits)
            members += 1
            while data:
                # max_length bounds each step, so a few KiB of bomb never becomes GiBs in memory.
                out += inflater.decompress(data, _CHUNK)
                if len(out) > max_bytes:
                    raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after {name} decompression")
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
            if not inflater.eof:
                out += inflater.flush()
            if len(out) > max_bytes:
                raise BodyTooLargeError(f"request body exceeds {max_bytes} bytes after {name} decompression")
            if not inflater.eof:
                raise DecodeError(f"{name} body is truncated" + (f" (in member {members})" if members > 1 else ""))
            rest = inflater.unused_data
            # gzip(1) accepts zero bytes after the last member (padding from tape-era tools); so do we.
            if not rest or (multi_member and not rest.strip(b"\0")):
                return bytes(out)
            if not multi_member:
                raise DecodeError(f"{len(rest)} bytes follow the end of the {name} stream")
            data = rest
    except zlib.error as exc:
        where = f" (member {members})" if members > 1 else ""
        raise DecodeError(f"body is not valid {name}{where}: {exc}") from exc
