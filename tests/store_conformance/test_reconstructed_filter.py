"""AnalysisFilter.reconstructed (store contract): what another store must do with traces that
inferred links join. Two requests: one whose propagation broke (a parent trace and a fragment
joined by one inferred link), one intact."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from tracehouse.model import SPAN_BATCH_SCHEMA, SPAN_KINDS
from tracehouse.store import (
    INFERRED_LINK_SCHEMA,
    AnalysisFilter,
    AnalyticsReader,
    InferredLinkStore,
    Store,
)

MS = 10**6
T0 = 1_700_000_000 * 10**9
BROKEN, FRAGMENT, INTACT = "a1" * 16, "b2" * 16, "c3" * 16


def _span(trace: str, span: str, parent: str | None, service: str, name: str, kind: str, a: int, b: int
          ) -> dict[str, object]:
    return {"trace_id": bytes.fromhex(trace), "span_id": bytes.fromhex(span),
            "parent_span_id": bytes.fromhex(parent) if parent else None, "trace_state": None,
            "service_name": service, "span_name": name, "span_kind": SPAN_KINDS.index(kind),
            "start_time_unix_nano": T0 + a * MS, "end_time_unix_nano": T0 + b * MS, "status_code": 0,
            "status_message": None, "attributes": "{}", "resource_attributes": json.dumps({"service.name": service}),
            "events": None, "links": None, "scope_name": "t", "scope_version": None, "flags": 0x101,
            "scope_attributes": None, "scope_schema_url": None, "resource_schema_url": None}


def test_reconstructed_traces_received_included_excluded_or_alone(store: Store) -> None:
    if not isinstance(store, AnalyticsReader) or not isinstance(store, InferredLinkStore):
        pytest.fail("the store must implement AnalyticsReader and InferredLinkStore")
    rows = [
        _span(BROKEN, "01" * 8, None, "web", "GET /", "SERVER", 0, 50),
        _span(BROKEN, "02" * 8, "01" * 8, "web", "GET", "CLIENT", 5, 45),
        _span(FRAGMENT, "03" * 8, None, "api", "GET /x", "SERVER", 10, 40),   # traceparent was dropped
        _span(INTACT, "04" * 8, None, "web", "GET /", "SERVER", 100, 150),
        _span(INTACT, "05" * 8, "04" * 8, "web", "GET", "CLIENT", 105, 145),
        _span(INTACT, "06" * 8, "05" * 8, "api", "GET /x", "SERVER", 110, 140),
    ]
    store.write_spans(pa.Table.from_pylist(rows, schema=SPAN_BATCH_SCHEMA))
    everything = AnalysisFilter()
    assert store.count_traces(everything) == 3   # received: the fragment is a trace of its own
    link = {"child_trace_id": FRAGMENT, "child_span_id": "03" * 8, "child_start_time_unix_nano": T0 + 10 * MS,
            "parent_trace_id": BROKEN, "parent_span_id": "02" * 8, "confidence": 0.97, "method": "test",
            "child_service": "api", "parent_service": "web"}
    store.replace_inferred_links(T0, T0 + 60 * MS, pa.Table.from_pylist([link], schema=INFERRED_LINK_SCHEMA))
    counts = {mode: store.count_traces(AnalysisFilter(reconstructed=mode))
              for mode in ("received", "include", "exclude", "only")}
    assert counts == {"received": 3, "include": 2, "exclude": 1, "only": 1}
    # Included, the broken request has the intact one's route (the same calls) and its duration.
    routes = store.route_stats(AnalysisFilter(reconstructed="include"))
    assert routes.column("traces").to_pylist() == [2]
    assert store.route_stats(everything).num_rows == 3   # received: broken, fragment, intact
    sample = store.trace_sample(AnalysisFilter(reconstructed="only"), 10).to_pylist()
    assert {r["trace_id"] for r in sample} == {BROKEN}
    assert {r["span_id"]: r["parent_span_id"] for r in sample}["03" * 8] == "02" * 8
    # Exports select by the mode but hand back the spans as received.
    exported = store.export_spans(AnalysisFilter(reconstructed="only")).to_pylist()
    assert {(r["trace_id"], r["span_id"], r["parent_span_id"]) for r in exported} == {
        (BROKEN, "01" * 8, None), (BROKEN, "02" * 8, "01" * 8), (FRAGMENT, "03" * 8, None)}
    assert {r["trace_id"] for r in store.export_spans(AnalysisFilter(reconstructed="exclude")).to_pylist()} == {INTACT}
