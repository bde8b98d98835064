"""Walked spans as an Arrow table in model.SPAN_BATCH_SCHEMA (the walk itself is tracehouse.otlp.walk).

The walk's buffers already have Arrow's layout, so each column is built around them with
`Array.from_buffers`: no value is copied or converted here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA
from tracehouse.otlp.walk import BUFFERS_PER_KIND, LAYOUT, PackedSpans, SpanColumns, packed_payloads

if [name for name, _ in LAYOUT] != SPAN_BATCH_SCHEMA.names:
    raise ImportError("tracehouse.otlp.walk.LAYOUT does not list model.SPAN_BATCH_SCHEMA's columns in order")


@dataclass(frozen=True)
class DecodedBatch:
    """Accepted spans as an Arrow table, and how many were rejected and why (for partial success)."""

    table: pa.Table
    rejected: int
    error_message: str


def _split(packed: PackedSpans) -> Iterator[pa.Buffer]:
    data = pa.py_buffer(packed.data)
    offset = 0
    for length in packed.lengths:
        yield data.slice(offset, length)
        offset += length + (-length % 8)


def to_table(packed: PackedSpans) -> pa.Table:
    """The spans of `packed` as a table whose arrays point into packed.data (kept alive by them)."""
    n = packed.rows
    buffers = _split(packed)
    arrays: list[pa.Array] = []
    for (_, kind), field in zip(LAYOUT, SPAN_BATCH_SCHEMA, strict=True):
        parts = [next(buffers) for _ in range(BUFFERS_PER_KIND[kind])]
        if kind in ("fixed", "text", "uint8", "int64"):
            arrays.append(pa.Array.from_buffers(field.type, n, [None, *parts], null_count=0))
        elif kind in ("fixed_nullable", "text_nullable"):
            validity = parts[0] if parts[0].size else None
            arrays.append(pa.Array.from_buffers(field.type, n, [validity, *parts[1:]],
                                                null_count=-1 if validity else 0))
        else:  # dictionary_text: int32 indices into one string per resource
            indices = pa.Array.from_buffers(pa.int32(), n, [None, parts[0]], null_count=0)
            dictionary = pa.Array.from_buffers(pa.string(), parts[1].size // 4 - 1, [None, *parts[1:]],
                                               null_count=0)
            arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary))
    table = pa.Table.from_arrays(arrays, names=SPAN_BATCH_SCHEMA.names)
    # Buffer sizes against the row count (not every offset: that costs a pass over the data). The
    # buffers come from another process; a wrong size must fail here, not as a bad read in the store.
    table.validate()
    return table


def to_columns(request: Any, prior_rejections: dict[str, int] | None = None) -> DecodedBatch:
    """Validate and flatten a parsed ExportTraceServiceRequest. Invalid spans are counted, not kept.

    `prior_rejections` are spans a decoder already dropped before building the message (reason -> count).
    """
    columns = SpanColumns(prior_rejections)
    columns.add(request)
    packed = columns.pack()
    return DecodedBatch(table=to_table(packed), rejected=packed.rejected, error_message=packed.error_message)


def decode_payloads(payloads: list[bytes]) -> tuple[pa.Table | None, int, str]:
    """Decode spooled requests into one table: (table or None, spans rejected, why)."""
    packed = packed_payloads(payloads)
    return (to_table(packed) if packed.rows else None), packed.rejected, packed.error_message
