"""Generated traces for the sampling tests: random shapes, services, attributes and ids, as the
decoder's batches (model.SPAN_BATCH_SCHEMA) and as the policies' fact columns."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA

SERVICES = ("checkout", "cart", "payments", "inventory", "search", "auth")


@dataclass
class GenTrace:
    trace_id: bytes
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def span_ids(self) -> list[bytes]:
        return [r["span_id"] for r in self.rows]


def gen_trace(rng: random.Random, *, spans: int = 5, error: bool = False, duration_ms: float = 50.0,
              root_service: str | None = None, root_operation: str | None = None, root: bool = True,
              attributes: dict[str, Any] | None = None, start_ns: int | None = None) -> GenTrace:
    """One trace: a root (unless root=False: its parent was never seen) and `spans - 1` descendants
    across random services, 10-15 attributes per span and per resource."""
    tid = os.urandom(16)
    t = GenTrace(tid)
    start = start_ns if start_ns is not None else 1_700_000_000_000_000_000 + rng.randrange(10**12)
    total = int(duration_ms * 1e6)
    ids: list[bytes] = []
    for i in range(spans):
        sid = os.urandom(8)
        service = (root_service or rng.choice(SERVICES)) if i == 0 else rng.choice(SERVICES)
        parent = (None if root else os.urandom(8)) if i == 0 else rng.choice(ids)
        s0 = start if i == 0 else start + rng.randrange(max(1, total // 2))
        end = start + total if i == 0 else min(start + total, s0 + rng.randrange(1, max(2, total // 2)))
        attrs = {f"attr.{k}": rng.choice(["x", 1, 2.5, True, "long" * rng.randrange(1, 20)]) for k in range(10)}
        attrs["http.route"] = rng.choice(["/cart", "/pay", "/health", "/search"])
        if i == 0 and attributes:
            attrs.update(attributes)
        resource = {"service.name": service, "host.name": f"h{rng.randrange(4)}",
                    **{f"res.{k}": k for k in range(10)}}
        t.rows.append({
            "trace_id": tid, "span_id": sid, "parent_span_id": parent, "trace_state": None,
            "service_name": service,
            "span_name": (root_operation or f"GET /{service}") if i == 0 else f"op-{rng.randrange(5)}",
            "span_kind": 2, "start_time_unix_nano": s0, "end_time_unix_nano": end,
            "status_code": 2 if (error and i == spans - 1) else 0, "status_message": None,
            "attributes": orjson.dumps(attrs).decode(), "resource_attributes": orjson.dumps(resource).decode(),
            "events": None, "links": None, "scope_name": "gen", "scope_version": "1",
        })
        ids.append(sid)
    return t


def batch_of(traces: list[GenTrace], rows: list[dict[str, Any]] | None = None) -> pa.Table:
    """The decoder's batch of these traces' spans (or of the given rows)."""
    chosen = rows if rows is not None else [r for t in traces for r in t.rows]
    return pa.Table.from_pylist(chosen, schema=SPAN_BATCH_SCHEMA)


def facts_table(traces: list[GenTrace]) -> pa.Table:
    """The per-trace facts (TRACE_COLUMNS) a store computes, computed here in Python for the policy
    tests (the store's SQL is tested against the same traces in test_tail_store.py)."""
    rows = []
    for t in traces:
        roots = [r for r in t.rows if r["parent_span_id"] is None]
        root = min(roots or t.rows, key=lambda r: r["start_time_unix_nano"])
        rows.append({
            "trace_id": t.trace_id, "has_root": bool(roots), "root_service": root["service_name"],
            "root_operation": root["span_name"],
            "start_unix_nano": min(r["start_time_unix_nano"] for r in t.rows),
            "end_unix_nano": max(max(r["end_time_unix_nano"], r["start_time_unix_nano"]) for r in t.rows),
            "span_count": len(t.rows), "error_count": sum(r["status_code"] == 2 for r in t.rows),
            "approx_bytes": 100 * len(t.rows),
            "attributes": [r["attributes"] for r in t.rows],
            "resource_attributes": sorted({r["resource_attributes"] for r in t.rows}),
        })
    schema = pa.schema([("trace_id", pa.binary()), ("has_root", pa.bool_()), ("root_service", pa.string()),
                        ("root_operation", pa.string()), ("start_unix_nano", pa.int64()),
                        ("end_unix_nano", pa.int64()), ("span_count", pa.int64()), ("error_count", pa.int64()),
                        ("approx_bytes", pa.int64()), ("attributes", pa.list_(pa.string())),
                        ("resource_attributes", pa.list_(pa.string()))])
    return pa.Table.from_pylist(rows, schema=schema)
