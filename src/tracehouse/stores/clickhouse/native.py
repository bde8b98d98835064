"""Arrow columns to ClickHouse's Native format, the columnar block `INSERT ... FORMAT Native` reads.

Built with pyarrow alone (the backend process loads no numpy, ADR 8): fixed-width columns are their Arrow
buffers as they are; a String column is each value preceded by its length as a LEB128 varint, which
pyarrow's element-wise binary join assembles from a lookup table of one-byte prefixes.

Block layout (no block info in the HTTP/Native input format): varuint number of columns, varuint
number of rows, then per column: name and type as length-prefixed strings, then the data.
Nullable(T): one UInt8 per row (1 = NULL), then T's data for every row (any value under a NULL).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# Index b: the byte b; index 256: nothing (a varint shorter than the widest one).
_BYTES = pa.array([bytes([b]) for b in range(256)] + [b""], pa.large_binary())
_NOTHING = 256
_MAX_VARINT_BYTES = 5   # lengths below 2**35; one Arrow large_binary value is far below that


def varuint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string_bytes(text: str) -> bytes:
    raw = text.encode()
    return varuint(len(raw)) + raw


@dataclass(frozen=True)
class NativeColumn:
    name: str
    type: str          # the ClickHouse type: String, Nullable(String), FixedString(16), UInt8, Int64
    data: bytes


def _fixed_width(array: pa.Array, width: int) -> bytes:
    """The values buffer of a fixed-width array (primitive or fixed_size_binary), this slice only."""
    buffer = array.buffers()[1]
    if buffer is None:
        return b"\0" * (width * len(array))
    start = array.offset * width
    return memoryview(buffer)[start:start + width * len(array)].tobytes()


def _values_of_binary(joined: pa.Array) -> bytes:
    """The concatenated bytes of every value of a large_binary array."""
    if len(joined) == 0:
        return b""
    offsets = memoryview(joined.buffers()[1]).cast("q")
    first, last = offsets[joined.offset], offsets[joined.offset + len(joined)]
    data = joined.buffers()[2]
    return memoryview(data)[first:last].tobytes() if data is not None else b""


def _prefixed(values: pa.Array) -> bytes:
    """Each value preceded by its byte length as a varint: ClickHouse's String column data."""
    lengths = pc.binary_length(values).cast(pa.int64())
    parts: list[pa.Array] = []
    longest = pc.max(lengths).as_py() or 0
    for i in range(_MAX_VARINT_BYTES):
        shifted = pc.shift_right(lengths, 7 * i) if i else lengths
        digit = pc.bit_wise_and(shifted, 0x7F)
        more = pc.greater(pc.shift_right(lengths, 7 * (i + 1)), 0)
        byte = pc.if_else(more, pc.bit_wise_or(digit, 0x80), digit)
        if i:
            byte = pc.if_else(pc.greater(shifted, 0), byte, _NOTHING)
        parts.append(_BYTES.take(byte))
        if longest < 1 << (7 * (i + 1)):
            break
    return _values_of_binary(pc.binary_join_element_wise(*parts, values, pa.scalar(b"", pa.large_binary())))


def _plain(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def string_column(name: str, column: pa.Array | pa.ChunkedArray, nullable: bool) -> NativeColumn:
    array = _plain(column)
    values = pc.fill_null(array.cast(pa.large_binary()), b"") if array.null_count else array.cast(pa.large_binary())
    data = _prefixed(values)
    if not nullable:
        if array.null_count:
            raise ValueError(f"{name}: {array.null_count} null value(s) in a column that needs a value")
        return NativeColumn(name, "String", data)
    return NativeColumn(name, "Nullable(String)", _null_map(array) + data)


def _null_map(array: pa.Array) -> bytes:
    if not array.null_count:
        return b"\0" * len(array)
    return _fixed_width(pc.is_null(array).cast(pa.uint8()), 1)


def fixed_string_column(name: str, column: pa.Array | pa.ChunkedArray, width: int, nullable: bool) -> NativeColumn:
    array = _plain(column)
    if not pa.types.is_fixed_size_binary(array.type) or array.type.byte_width != width:
        array = array.cast(pa.binary(width))
    data = _fixed_width(array, width)
    if not nullable:
        if array.null_count:
            raise ValueError(f"{name}: {array.null_count} null value(s) in a column that needs a value")
        return NativeColumn(name, f"FixedString({width})", data)
    return NativeColumn(name, f"Nullable(FixedString({width}))", _null_map(array) + data)


_NUMBER_TYPES = {"UInt8": (pa.uint8(), 1), "Int64": (pa.int64(), 8), "UInt64": (pa.uint64(), 8),
                 "Float64": (pa.float64(), 8)}


def nullable_number_column(name: str, column: pa.Array | pa.ChunkedArray, ch_type: str) -> NativeColumn:
    arrow_type, width = _NUMBER_TYPES[ch_type]
    array = _plain(column).cast(arrow_type)
    values = pc.fill_null(array, 0) if array.null_count else array
    return NativeColumn(name, f"Nullable({ch_type})", _null_map(array) + _fixed_width(values, width))


def number_column(name: str, column: pa.Array | pa.ChunkedArray, ch_type: str) -> NativeColumn:
    arrow_type, width = _NUMBER_TYPES[ch_type]
    array = _plain(column).cast(arrow_type)
    if array.null_count:
        raise ValueError(f"{name}: {array.null_count} null value(s) in a column that needs a value")
    return NativeColumn(name, ch_type, _fixed_width(array, width))


def block(columns: list[NativeColumn], rows: int) -> bytes:
    out = [varuint(len(columns)), varuint(rows)]
    for column in columns:
        out += [_string_bytes(column.name), _string_bytes(column.type), column.data]
    return b"".join(out)
