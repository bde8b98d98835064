"""SpanReader: services, operations, trace search and dependencies over a known set of FBaaS traces."""

from __future__ import annotations

import pytest

from tracehouse.model import DurationScope, Operation, SortOrder, TraceQuery
from tracehouse.store import Store

from .traces import BASE_NS, MINUTE, MS, Trace, batch, fbaas_trace


@pytest.fixture
def world(store: Store) -> dict[str, Trace]:
    """Six traces a minute apart: plain ones, one slow, one with an error in buzzer, one by grace."""
    made = {
        "a": fbaas_trace(BASE_NS),
        "slow": fbaas_trace(BASE_NS + 1 * MINUTE),
        "error": fbaas_trace(BASE_NS + 2 * MINUTE, error_in="buzzer"),
        "grace": fbaas_trace(BASE_NS + 3 * MINUTE, user="grace", number=5),
        "b": fbaas_trace(BASE_NS + 4 * MINUTE),
        "c": fbaas_trace(BASE_NS + 5 * MINUTE),
    }
    made["slow"].row("root")["end_time_unix_nano"] += 90 * MS       # a 100 ms trace
    made["slow"].row("fizzer")["end_time_unix_nano"] += 40 * MS     # with one 42 ms fizzer span
    store.write_spans(batch(*made.values()))
    return made


def ids(found: list[object]) -> list[str]:
    return [t.trace_id for t in found]  # type: ignore[attr-defined]


def test_services_and_operations(store: Store, world: dict[str, Trace]) -> None:
    assert store.services() == ["buzzer", "fizzer", "hub"]
    assert store.operations(None) == [
        Operation("GET /fizzbuzz/3", "SERVER"), Operation("GET /fizzbuzz/5", "SERVER"),
        Operation("POST", "CLIENT"), Operation("POST /", "SERVER"),
    ]
    assert store.operations("hub", "CLIENT") == [Operation("POST", "CLIENT")]
    assert store.operations("fizzer") == [Operation("POST /", "SERVER")]
    assert store.operations("nobody") == []
    assert store.operations("hub", "PRODUCER") == []


def test_find_traces_summaries(store: Store, world: dict[str, Trace]) -> None:
    found = store.find_traces(TraceQuery())
    order = ["c", "b", "grace", "error", "slow", "a"]                 # most recent first
    assert ids(found) == [world[k].hex for k in order]
    by_id = {t.trace_id: t for t in found}
    error = by_id[world["error"].hex]
    assert (error.root_service, error.root_span_name) == ("hub", "GET /fizzbuzz/3")
    assert error.start_time_unix_nano == world["error"].start_ns
    assert (error.span_count, error.error_count) == (5, 1)
    assert error.duration_ns == 10 * MS
    assert error.spans_per_service == {"hub": 3, "fizzer": 1, "buzzer": 1}
    assert by_id[world["slow"].hex].duration_ns == 100 * MS
    assert ids(store.find_traces(TraceQuery(limit=2))) == [world["c"].hex, world["b"].hex]
    assert store.find_traces(TraceQuery(limit=0)) == []


@pytest.mark.parametrize(("query", "expected"), [
    (TraceQuery(service="fizzer"), ["c", "b", "grace", "error", "slow", "a"]),
    (TraceQuery(service="nobody"), []),
    (TraceQuery(service="buzzer", operation="POST /"), ["c", "b", "grace", "error", "slow", "a"]),
    (TraceQuery(service="buzzer", operation="GET /fizzbuzz/3"), []),
    (TraceQuery(operation="GET /fizzbuzz/5"), ["grace"]),
    (TraceQuery(attributes={"enduser.id": "grace"}), ["grace"]),
    (TraceQuery(attributes={"http.response.status_code": "500"}), ["error"]),
    (TraceQuery(attributes={"error": "true"}), ["error"]),
    (TraceQuery(attributes={"service.version": "1.2.3", "enduser.id": "ada"}), ["c", "b", "error", "slow", "a"]),
    (TraceQuery(attributes={"enduser.id": "nobody"}), []),
    (TraceQuery(duration_min_ns=50 * MS), ["slow"]),
    (TraceQuery(duration_max_ns=50 * MS), ["c", "b", "grace", "error", "a"]),
    (TraceQuery(service="fizzer", duration_min_ns=30 * MS, duration_scope=DurationScope.SPAN), ["slow"]),
    (TraceQuery(service="hub", duration_min_ns=30 * MS, duration_scope=DurationScope.SPAN), ["slow"]),
    (TraceQuery(start_time_min_ns=BASE_NS + 2 * MINUTE, start_time_max_ns=BASE_NS + 3 * MINUTE),
     ["grace", "error"]),
    (TraceQuery(sort=SortOrder.LONGEST, limit=1), ["slow"]),
    (TraceQuery(sort=SortOrder.MOST_ERRORS, limit=1), ["error"]),
], ids=lambda v: "" if isinstance(v, list) else None)
def test_find_traces_filters(store: Store, world: dict[str, Trace], query: TraceQuery, expected: list[str]) -> None:
    assert ids(store.find_traces(query)) == [world[k].hex for k in expected]


def test_dependencies(store: Store, world: dict[str, Trace]) -> None:
    links = store.dependencies(0, 2**62)
    assert [(d.parent, d.child, d.call_count, d.error_count) for d in links] == [
        ("hub", "buzzer", 6, 1), ("hub", "fizzer", 6, 0)]
    assert links[1].p95_duration_ns > 2 * MS                      # the slow fizzer span pulls p95 up
    window = store.dependencies(BASE_NS + 2 * MINUTE, BASE_NS + 4 * MINUTE)
    assert [(d.parent, d.child, d.call_count, d.error_count) for d in window] == [
        ("hub", "buzzer", 2, 1), ("hub", "fizzer", 2, 0)]
    assert store.dependencies(0, BASE_NS) == []


def calls(store: Store) -> list[tuple[str, str, int, int]]:
    return [(d.parent, d.child, d.call_count, d.error_count) for d in store.dependencies(0, 2**62)]


def test_dependencies_count_each_call_once_whichever_span_arrives_first(store: Store) -> None:
    late_parents = fbaas_trace(BASE_NS)
    late_children = fbaas_trace(BASE_NS + MINUTE, error_in="buzzer")
    servers = [r for r in late_parents.rows if r["service_name"] != "hub"]
    callers = [r for r in late_parents.rows if r["service_name"] == "hub"]
    store.write_spans(batch(*servers))                     # the callees first: no call yet
    assert calls(store) == []
    store.write_spans(batch(*callers))                     # their parents in a later batch
    assert calls(store) == [("hub", "buzzer", 1, 0), ("hub", "fizzer", 1, 0)]
    store.write_spans(batch(*[r for r in late_children.rows if r["service_name"] == "hub"]))
    store.write_spans(batch(*[r for r in late_children.rows if r["service_name"] != "hub"]))
    assert calls(store) == [("hub", "buzzer", 2, 1), ("hub", "fizzer", 2, 0)]
    # Re-sent batches and a replay of everything (whole or split differently) count nothing twice.
    store.write_spans(batch(late_parents, late_children))
    store.write_spans(batch(late_children))
    store.write_spans(batch(*servers))
    assert calls(store) == [("hub", "buzzer", 2, 1), ("hub", "fizzer", 2, 0)]
    assert store.span_count() == 10
