"""Resources stored once: each span row holds its resource's id, resource_data the attributes (ADR 9)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

_EMPTY = "{}"   # a span without resource attributes has the empty resource


def resource_id(text: str) -> int:
    """The id of a resource given as JSON text: the first 8 bytes of its MD5, big-endian. The v1 to v2
    migration computes the same in SQL, `('0x' || md5(text)[1:16])::UBIGINT`. Not a security use:
    any well-spread 64-bit hash would do (with a million resources, the chance of a collision is
    about 3e-8)."""
    return int.from_bytes(hashlib.md5(text.encode(), usedforsecurity=False).digest()[:8], "big")


def split_resources(batch: pa.Table) -> tuple[pa.Table, pa.Table]:
    """`batch` (model.SPAN_BATCH_SCHEMA) with resource_attributes replaced by resource_id (UBIGINT),
    and its distinct resources as a table of (resource_id, attributes JSON text).

    The decoder sends resource_attributes dictionary-encoded, one entry per resource of a request, so
    the hashing runs once per resource rather than once per span; other columns are encoded first."""
    column = batch.column("resource_attributes")
    resources: dict[int, str] = {}
    chunks: list[pa.Array] = []
    for chunk in column.chunks:
        if chunk.null_count:
            chunk = pc.fill_null(chunk.cast(pa.string()), _EMPTY)
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        ids = []
        for text in chunk.dictionary.to_pylist():
            text = text if text is not None else _EMPTY
            rid = resource_id(text)
            resources.setdefault(rid, text)
            ids.append(rid)
        chunks.append(pa.array(ids, pa.uint64()).take(chunk.indices))
    index = batch.schema.get_field_index("resource_attributes")
    ids_column = pa.chunked_array(chunks, pa.uint64())
    spans = batch.set_column(index, pa.field("resource_id", pa.uint64(), nullable=False), ids_column)
    table = pa.table({"resource_id": pa.array(list(resources), pa.uint64()),
                      "attributes": pa.array(list(resources.values()), pa.string())})
    return spans, table
