"""Hex trace ids, as callers name traces, to the 16 bytes every store keeps.

One parser for every store, so a malformed id means the same thing everywhere: it names no trace.
Reads skip it (an analysis or a Jaeger lookup never raises on one); a caller that must refuse bad
input (the API's parameters) checks before it reaches a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# 1 to 32 hex digits, any case, leading zeros optional (Jaeger shortens ids that way). Stricter
# than bytes.fromhex, which also accepts spaces between digits. Longer ids cannot be a stored
# 16-byte id, even when the extra digits are zeros.
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def trace_id_bytes(hex_id: str) -> bytes | None:
    """The 16 stored bytes of a hex trace id; None when it is not 1 to 32 hex digits."""
    if not isinstance(hex_id, str) or not _HEX_ID.fullmatch(hex_id):
        return None
    return bytes.fromhex(hex_id.rjust(32, "0"))


def trace_id_list(hex_ids: Iterable[str]) -> list[bytes]:
    """The stored bytes of each well-formed id, once each, in the order first given; malformed ids
    are left out."""
    return list(dict.fromkeys(b for b in map(trace_id_bytes, hex_ids) if b is not None))
