"""Results in ClickHouse's JSONCompact format, with values converted by their ClickHouse type
(64-bit integers arrive as quoted strings from 18.16, as numbers from newer servers)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracehouse.stores.clickhouse.transport import ClickHouseError, Settings, Transport

_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]


def _base(ch_type: str) -> str:
    while match := _WRAPPER.match(ch_type):
        ch_type = match.group(1)
    return ch_type


def converter(ch_type: str) -> Callable[[Any], Any]:
    base = _base(ch_type)
    if base.startswith(("Int", "UInt")):
        return lambda v: None if v is None else int(v)
    if base.startswith("Float"):
        return lambda v: None if v is None else float(v)
    return lambda v: v


def parse(body: bytes) -> Result:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ClickHouseError(f"ClickHouse sent an unreadable result: {body[:200]!r}") from exc
    meta = document.get("meta", [])
    columns = [m["name"] for m in meta]
    types = [m["type"] for m in meta]
    rows = document.get("data", [])
    # Only the columns that may arrive as text: 64-bit and wider integers (quoted by 18.16), and
    # floats (nan and inf quoted). Narrower integers are JSON numbers on every version: converting
    # every value of a 10,000-span sample cost more than parsing it.
    convert = [(i, converter(t)) for i, t in enumerate(types) if _quoted(t)]
    for row in rows if convert else ():
        for i, c in convert:
            row[i] = c(row[i])
    return Result(columns, types, rows)


_NARROW_INTS = ("Int8", "Int16", "Int32", "UInt8", "UInt16", "UInt32")


def _quoted(ch_type: str) -> bool:
    base = _base(ch_type)
    return base.startswith(("Int", "UInt", "Float")) and base not in _NARROW_INTS


def select(transport: Transport, sql: str, settings: Settings | None = None) -> Result:
    return parse(transport.query(sql, "JSONCompact", settings))
