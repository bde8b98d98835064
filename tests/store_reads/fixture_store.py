"""Stores filled from the JSON trace fixtures (tests/fixtures/traces, OTLP-JSON), through the real
OTLP/JSON decoder and DuckDBStore.write_spans, with times moved to "just now" so lookbacks match.

`write(store, batch)` stores through DuckDBStore.write_spans, which keeps the trace summary
(the readers' fast path); `summary=False` empties the summary afterwards, so the readers must fall
back to the spans and answer just as well.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from tracehouse.otlp.json import decode_json
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.resources import resource_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
FIXTURE_BASE_NS = 1_700_000_000_000_000_000
OK = "0af7651916cd43dd8448eb211c80319c"
SLOW = "4bf92f3577b34da6a3ce929d0e0e4736"
ERROR_XSS = "5b8efff798038103d269b633813fc60c"
ALL = ("fbaas_ok.json", "fbaas_slow.json", "fbaas_error_xss.json")
XSS = "<img src=x onerror=alert(1)>"


def _shift(node: Any, delta: int) -> Any:
    if isinstance(node, dict):
        return {k: (str(int(v) + delta) if k in ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano")
                    else _shift(v, delta)) for k, v in node.items()}
    if isinstance(node, list):
        return [_shift(v, delta) for v in node]
    return node


def fixture_body(name: str, start_ns: int | None = None) -> bytes:
    """The fixture's OTLP-JSON, its times moved so that its base instant becomes `start_ns`."""
    doc = orjson.loads((FIXTURES / name).read_bytes())
    if start_ns is not None:
        doc = _shift(doc, start_ns - FIXTURE_BASE_NS)
    return orjson.dumps(doc)


def batch_of(*names: str, start_ns: int) -> pa.Table:
    return pa.concat_tables([decode_json(fixture_body(n, start_ns)).table for n in names])


def write(store: DuckDBStore, batch: pa.Table, summary: bool = True) -> None:
    store.write_spans(batch)
    if not summary:
        store._write_cursor.execute("DELETE FROM trace_summary_data")


def fixture_store(path: Path, summary: bool = True, start_ns: int | None = None) -> DuckDBStore:
    """A store holding the three fixture traces, the first starting 30 s ago."""
    store = DuckDBStore(path)
    write(store, batch_of(*ALL, start_ns=start_ns or time.time_ns() - 30 * 10**9), summary)
    return store


def wide_trace_batch(spans: int, start_ns: int, trace_id: str = "ab" * 16) -> pa.Table:
    """One trace of `spans` spans: a 4-ary tree calling down edge -> router -> worker -> db, each
    child inside its parent, one span in ~1000 failing."""
    from tracehouse.model import SPAN_BATCH_SCHEMA

    tid = bytes.fromhex(trace_id)
    ids = [i.to_bytes(8, "big") for i in range(1, spans + 1)]
    parent_of = [-1] + [(i - 1) // 4 for i in range(1, spans)]
    depth = [0] * spans
    for i in range(1, spans):
        depth[i] = depth[parent_of[i]] + 1
    parents = [None if p < 0 else ids[p] for p in parent_of]
    starts = [start_ns + i * 100 for i in range(spans)]
    ends = [start_ns + i * 100 + 5_000 + (spans * 100) // (depth[i] + 1) ** 2 for i in range(spans)]
    services = [("edge", "router", "worker", "db")[min(d, 3)] for d in depth]
    return pa.table({
        "trace_id": [tid] * spans,
        "span_id": ids,
        "parent_span_id": parents,
        "trace_state": [None] * spans,
        "service_name": services,
        "span_name": [f"op-{i % 17}" for i in range(spans)],
        "span_kind": [2 if i == 0 else 1 for i in range(spans)],
        "start_time_unix_nano": starts,
        "end_time_unix_nano": ends,
        "status_code": [2 if i % 997 == 5 else 0 for i in range(spans)],
        "status_message": [None] * spans,
        "attributes": [orjson.dumps({"i": i, "note": "x" * 20}).decode() for i in range(spans)],
        "resource_attributes": [orjson.dumps({"service.name": s}).decode() for s in services],
        "events": [None] * spans,
        "links": [None] * spans,
        "scope_name": ["bench"] * spans,
        "scope_version": ["1"] * spans,
        "flags": [0x101] * spans,
        "scope_attributes": [None] * spans,
        "scope_schema_url": [None] * spans,
        "resource_schema_url": [None] * spans,
    }, schema=SPAN_BATCH_SCHEMA)


SCHEMA_V1 = FIXTURES.parent / "store_schema_v1.sql"


def version_1_store(path: Path, resources: list[str | None]) -> list[str]:
    """A store as schema version 1 wrote it (resource attributes in every span row): span i has the
    resource `resources[i]` (JSON text, or None for none) and the attributes {"n": i}, four spans to
    a trace. Returns the spans' ids (hex), in order."""
    span_ids = [f"{i + 1:016x}" for i in range(len(resources))]
    now = time.time_ns()
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA_V1.read_text())
        con.execute("INSERT INTO tracehouse_meta VALUES ('schema_version', '1')")
        con.executemany(
            "INSERT INTO span_data VALUES (unhex(md5((? // 4)::VARCHAR)), unhex(?), NULL, NULL, 'svc', 'op', "
            "'SERVER', make_timestamp_ns(?), 1000, 'OK', NULL, json_object('n', ?)::VARIANT, ?::JSON::VARIANT, "
            "NULL, NULL, 'scope', '1')",
            [[i, span_ids[i], now - 10**9 + i, i, resource] for i, resource in enumerate(resources)])
    finally:
        con.close()
    return span_ids


SCHEMA_V2 = FIXTURES.parent / "store_schema_v2.sql"


def version_2_store(path: Path, traces: int) -> list[str]:
    """A store as schema version 2 wrote it (no flags, scope attributes or schema URLs): `traces`
    traces of one hub server span each, started in the last minute, with the resource
    {"service.name": "hub"} stored once. Returns the traces' ids (hex), in order."""
    now = time.time_ns()
    text = '{"service.name":"hub"}'
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA_V2.read_text())
        con.execute("INSERT INTO tracehouse_meta VALUES ('schema_version', '2')")
        con.execute("INSERT INTO resource_data VALUES (?, ?::JSON::VARIANT)", [resource_id(text), text])
        con.executemany(
            "INSERT INTO span_data VALUES (unhex(?), unhex(?), NULL, NULL, 'hub', 'GET /', 'SERVER', "
            "make_timestamp_ns(?), 1000, 'OK', NULL, json_object('n', ?)::VARIANT, ?, NULL, NULL, 'scope', '1')",
            [[f"{i + 1:032x}", f"{i + 1:016x}", now - 10**9 + i, i, resource_id(text)] for i in range(traces)])
        con.execute(
            "INSERT INTO trace_summary_data SELECT trace_id, start_time, epoch_ns(start_time) + duration_ns, "
            "duration_ns, 1, 0, false, epoch_ns(start_time), service_name, span_name, MAP {'hub': 1} FROM span_data")
    finally:
        con.close()
    return [f"{i + 1:032x}" for i in range(traces)]
