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
    convert = [converter(t) for t in types]
    plain = all(_base(t) == "String" for t in types)
    rows = document.get("data", [])
    if not plain:
        rows = [[c(v) for c, v in zip(convert, row, strict=True)] for row in rows]
    return Result(columns, types, rows)


def select(transport: Transport, sql: str, settings: Settings | None = None) -> Result:
    return parse(transport.query(sql, "JSONCompact", settings))
