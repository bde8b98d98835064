"""Trace fixtures for the store conformance suite: FBaaS-shaped traces as `SPAN_BATCH_SCHEMA` tables.

A trace is five spans: hub SERVER `GET /fizzbuzz/{n}` (root) -> two hub CLIENT `POST` calls -> one
fizzer SERVER `POST /` and one buzzer SERVER `POST /`. Timings are fixed offsets from the trace's
start, so tests can compute every expected value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA

MS = 1_000_000
MINUTE = 60 * 1000 * MS
BASE_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z

SERVER, CLIENT, INTERNAL = 2, 3, 1
UNSET, OK, ERROR = 0, 1, 2

# (name in the trace, service, span name, kind, parent name, start offset, duration) in ns
SHAPE = (
    ("root", "hub", "GET /fizzbuzz/{n}", SERVER, None, 0, 10 * MS),
    ("call-fizzer", "hub", "POST", CLIENT, "root", 1 * MS, 4 * MS),
    ("fizzer", "fizzer", "POST /", SERVER, "call-fizzer", 2 * MS, 2 * MS),
    ("call-buzzer", "hub", "POST", CLIENT, "root", 5 * MS, 4 * MS),
    ("buzzer", "buzzer", "POST /", SERVER, "call-buzzer", 6 * MS, 2 * MS),
)


def new_id(size: int) -> bytes:
    while True:
        value = os.urandom(size)
        if any(value):
            return value


@dataclass
class Trace:
    """One FBaaS trace: its id, its rows (dicts in SPAN_BATCH_SCHEMA), and span ids by name."""

    trace_id: bytes
    start_ns: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    span_ids: dict[str, bytes] = field(default_factory=dict)

    @property
    def hex(self) -> str:
        return self.trace_id.hex()

    @property
    def duration_ns(self) -> int:
        return max(r["end_time_unix_nano"] for r in self.rows) - min(r["start_time_unix_nano"] for r in self.rows)

    def row(self, name: str) -> dict[str, Any]:
        sid = self.span_ids[name]
        return next(r for r in self.rows if r["span_id"] == sid)


def fbaas_trace(start_ns: int = BASE_NS, number: int = 3, error_in: str | None = None,
                user: str = "ada") -> Trace:
    """One trace starting at `start_ns`. `error_in` names the span (e.g. "buzzer") whose status is ERROR."""
    trace = Trace(new_id(16), start_ns)
    for name, service, span_name, kind, parent, offset, duration in SHAPE:
        sid = new_id(8)
        trace.span_ids[name] = sid
        error = name == error_in
        attrs: dict[str, Any] = {
            "http.request.method": "GET" if name == "root" else "POST",
            "http.response.status_code": 500 if error else 200,
            "fizzbuzz.number": number,
            "fbaas.ratio": 0.5,
            "fbaas.cached": False,
            "fbaas.tags": ["x", "y"],
        }
        if name == "root":
            attrs["enduser.id"] = user
        start = start_ns + offset
        trace.rows.append({
            "trace_id": trace.trace_id,
            "span_id": sid,
            "parent_span_id": trace.span_ids[parent] if parent else None,
            "trace_state": "vendor=1" if name == "root" else None,
            "service_name": service,
            "span_name": span_name.replace("{n}", str(number)),
            "span_kind": kind,
            "start_time_unix_nano": start,
            "end_time_unix_nano": start + duration,
            "status_code": ERROR if error else UNSET,
            "status_message": "it broke" if error else None,
            "attributes": json.dumps(attrs),
            "resource_attributes": json.dumps({"service.name": service, "service.version": "1.2.3"}),
            "events": json.dumps([{"time_unix_nano": start + 1, "name": "exception",
                                   "attributes": {"exception.type": "ValueError"}}]) if error else None,
            "links": None,
            "scope_name": "fbaas",
            "scope_version": "0.1",
        })
    return trace


def traces(count: int, start_ns: int = BASE_NS, spacing_ns: int = MINUTE, **kwargs: Any) -> list[Trace]:
    """`count` traces, the k-th starting at start_ns + k * spacing_ns."""
    return [fbaas_trace(start_ns + k * spacing_ns, **kwargs) for k in range(count)]


def batch(*items: Trace | list[Trace] | dict[str, Any]) -> pa.Table:
    """A SPAN_BATCH_SCHEMA table of the rows of the given traces (and loose rows), in order."""
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            rows.append(item)
        elif isinstance(item, Trace):
            rows.extend(item.rows)
        else:
            for trace in item:
                rows.extend(trace.rows)
    return pa.Table.from_pylist(rows, schema=SPAN_BATCH_SCHEMA)
