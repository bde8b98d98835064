"""The contract's later additions, on every store: what doctor reads (cause_sample, trace_times, the
span kind in trace_sample), the Monitor tab's span metrics, and inferred links. Each store's answers
are compared with the embedded DuckDB store's on the same spans, written to a reference store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tracehouse.model import DurationScope, SortOrder, SpanMetricsQuery, TraceQuery
from tracehouse.query.analyses import Analyses
from tracehouse.store import INFERRED_LINK_SCHEMA, AnalysisFilter, InferredLinkStore, Selection, Store, StoreError
from tracehouse.stores.duckdb import DuckDBStore

from .traces import BASE_NS, MINUTE, MS, Trace, batch, fbaas_trace

SECOND = 10**9


@pytest.fixture
def sent() -> list[Trace]:
    made = [fbaas_trace(BASE_NS + k * 20 * SECOND, error_in="buzzer" if k % 3 == 1 else None) for k in range(9)]
    made[4].row("root")["end_time_unix_nano"] += 90 * MS
    return made


@pytest.fixture
def reference(sent: list[Trace], tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "reference.duckdb")
    store.write_spans(batch(sent))
    yield store
    store.close()


@pytest.fixture
def written(store: Store, sent: list[Trace]) -> Store:
    store.write_spans(batch(sent))
    store.write_spans(batch(sent[2]))     # a repeat, stored once
    return store


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = [{k: json.loads(v) if k in ("attributes", "resource_attributes") and v else v for k, v in r.items()}
            for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r["trace_id"], r["start_time_unix_nano"], r["span_id"]))


FILTERS = [
    AnalysisFilter(),
    AnalysisFilter(start_ns=BASE_NS + 30 * SECOND, end_ns=BASE_NS + 2 * MINUTE),
    AnalysisFilter(service="buzzer"),
    AnalysisFilter(attributes={"enduser.id": "ada"}),
    AnalysisFilter(service="nobody"),
]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_doctor_reads_give_the_embedded_answers(written: Store, reference: DuckDBStore, flt: AnalysisFilter) -> None:
    assert written.trace_times(flt) == reference.trace_times(flt)  # type: ignore[attr-defined]
    got = written.cause_sample(flt, 100)  # type: ignore[attr-defined]
    expected = reference.cause_sample(flt, 100)
    assert got.schema.names == expected.schema.names
    assert _rows(got) == _rows(expected)
    sample = written.trace_sample(flt, 100)  # type: ignore[attr-defined]
    assert "span_kind" in sample.schema.names
    assert _rows(sample) == _rows(reference.trace_sample(flt, 100))


def test_trace_times_of_nothing(written: Store) -> None:
    assert written.trace_times(AnalysisFilter(service="nobody")) == (0, None, None)  # type: ignore[attr-defined]


def test_doctor_on_fixed_samples_gives_the_embedded_report(store: Store, tmp_path: Path) -> None:
    """75 traces a side, samples of 30 (more than doctor's minimum support), so both sides take the
    sampled reads; the report is the embedded store's on the same spans."""
    sent = batch([fbaas_trace(BASE_NS + k * SECOND, error_in="buzzer" if k % 7 == 3 else None) for k in range(150)])
    store.write_spans(sent)
    flt = AnalysisFilter(start_ns=BASE_NS + 75 * SECOND, end_ns=BASE_NS + 150 * SECOND)
    report = Analyses(store).doctor(flt, None, sample=30).to_json()
    reference = DuckDBStore(tmp_path / "doctor-reference.duckdb")
    try:
        reference.write_spans(sent)
        expected = Analyses(reference).doctor(flt, None, sample=30).to_json()
    finally:
        reference.close()
    notes = " ".join(report["notes"])
    assert "sample of 30 of the window's 75 traces and 30 of the baseline's 75" in notes
    assert "hypotheses" in notes and "Too few" not in report["findings"][0]
    assert report == expected


def _metrics(store: Store, **kwargs: Any) -> list[tuple[Any, ...]]:
    query = SpanMetricsQuery(services=("hub", "fizzer", "buzzer"), span_kinds=("SERVER", "CLIENT"),
                             end_ns=BASE_NS + 3 * MINUTE, lookback_ns=3 * MINUTE, step_ns=15 * SECOND,
                             rate_per_ns=45 * SECOND, **kwargs)
    return [(p.service, p.operation, p.timestamp_ns, p.calls, p.errors,
             None if p.latency_ns is None else round(p.latency_ns, 3)) for p in store.span_metrics(query)]


@pytest.mark.parametrize("kwargs", [
    {"group_by_operation": False},
    {"group_by_operation": True},
    {"group_by_operation": False, "quantile": 0.95},
    {"group_by_operation": True, "quantile": 0.5},
], ids=["calls", "calls-by-operation", "p95", "p50-by-operation"])
def test_span_metrics_give_the_embedded_answers(written: Store, reference: DuckDBStore, kwargs: Any) -> None:
    got = _metrics(written, **kwargs)
    assert got == _metrics(reference, **kwargs)
    assert any(point[3] for point in got) and (kwargs.get("quantile") is not None or any(not p[3] for p in got))


def _link(child: Trace, parent: Trace, confidence: float = 0.9) -> dict[str, Any]:
    return {"child_trace_id": child.hex, "child_span_id": child.span_ids["root"].hex(),
            "child_start_time_unix_nano": child.start_ns, "parent_trace_id": parent.hex,
            "parent_span_id": parent.span_ids["root"].hex(), "confidence": confidence, "method": "test",
            "child_service": "hub", "parent_service": "hub"}


def _links(store: InferredLinkStore, sent: list[Trace]) -> set[tuple[str, str, float]]:
    return {(r["child_trace_id"], r["parent_trace_id"], r["confidence"])
            for r in store.inferred_links([t.hex for t in sent]).to_pylist()}


def test_inferred_links_replace_their_range_and_stay_beside_the_spans(written: Store, sent: list[Trace]) -> None:
    assert isinstance(written, InferredLinkStore)
    assert written.inferred_link_stats() == (0, None)
    assert written.inferred_links([t.hex for t in sent]).num_rows == 0
    calls = written.call_spans(BASE_NS, BASE_NS + 10 * MINUTE)
    assert calls.schema.equals(pa.schema(calls.schema))
    assert set(calls.column("span_kind").to_pylist()) <= {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
    assert calls.num_rows and calls.column("start_time_unix_nano").to_pylist() == sorted(
        calls.column("start_time_unix_nano").to_pylist())
    spans_before = written.span_count()
    first = pa.Table.from_pylist([_link(sent[1], sent[0]), _link(sent[2], sent[0], 0.5)], schema=INFERRED_LINK_SCHEMA)
    assert written.replace_inferred_links(BASE_NS, BASE_NS + MINUTE, first) == 2
    assert _links(written, sent) == {(sent[1].hex, sent[0].hex, 0.9), (sent[2].hex, sent[0].hex, 0.5)}
    count, mean = written.inferred_link_stats()
    assert count == 2 and mean == pytest.approx(0.7)
    # A link is found from either end.
    from_parent = written.inferred_links([sent[0].hex]).to_pylist()
    assert {r["child_trace_id"] for r in from_parent} == {sent[1].hex, sent[2].hex}
    # A rerun over the range replaces its links: one kept with a new parent, one no longer linked.
    rerun = pa.Table.from_pylist([_link(sent[1], sent[2], 0.6)], schema=INFERRED_LINK_SCHEMA)
    assert written.replace_inferred_links(BASE_NS, BASE_NS + MINUTE, rerun) == 1
    assert _links(written, sent) == {(sent[1].hex, sent[2].hex, 0.6)}
    assert written.inferred_links([sent[0].hex]).num_rows == 0
    assert written.replace_inferred_links(BASE_NS, BASE_NS + MINUTE, rerun) == 1       # idempotent
    assert written.inferred_link_stats()[0] == 1
    # Another range is left alone; an empty rerun clears only its own range.
    later = pa.Table.from_pylist([_link(sent[5], sent[4])], schema=INFERRED_LINK_SCHEMA)
    written.replace_inferred_links(BASE_NS + MINUTE, BASE_NS + 2 * MINUTE, later)
    written.replace_inferred_links(BASE_NS, BASE_NS + MINUTE, INFERRED_LINK_SCHEMA.empty_table())
    assert _links(written, sent) == {(sent[5].hex, sent[4].hex, 0.9)}
    with pytest.raises(StoreError, match="inside the range"):
        written.replace_inferred_links(BASE_NS, BASE_NS + MINUTE, later)
    assert written.span_count() == spans_before                                        # spans untouched
    # Retention takes the links of the spans it deletes.
    written.delete_before(BASE_NS + 2 * MINUTE)
    assert written.inferred_link_stats()[0] == 0


def test_links_survive_a_reopen(open_store: Any, sent: list[Trace]) -> None:
    store = open_store()
    store.write_spans(batch(sent))
    store.replace_inferred_links(BASE_NS, BASE_NS + MINUTE,
                                 pa.Table.from_pylist([_link(sent[1], sent[0])], schema=INFERRED_LINK_SCHEMA))
    store.close()
    assert open_store(read_only=True).inferred_link_stats()[0] == 1


@pytest.mark.parametrize("flt", FILTERS[:3], ids=range(3))
def test_origins_give_the_embedded_answers(written: Store, reference: DuckDBStore, flt: AnalysisFilter) -> None:
    for service in ("hub", "fizzer", "buzzer"):
        got = written.origin_stats(flt, service)  # type: ignore[attr-defined]
        expected = reference.origin_stats(flt, service)
        assert got.schema.equals(expected.schema)
        def rounded(table: pa.Table) -> list[dict[str, Any]]:   # percentiles may differ in their last bit
            return [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in table.to_pylist()]
        assert rounded(got) == rounded(expected), service
    assert written.origin_stats(AnalysisFilter(), "buzzer").num_rows  # type: ignore[attr-defined]


def test_origins_sample_about_max_traces_the_same_every_time(written: Store) -> None:
    # Issue 11: past a size, origins groups the calls of a fixed sample of about max_traces traces.
    # The sample keeps each trace whose id hashes below max_traces / traces of the hash space, and
    # trace ids are random: with 60 traces and 20 asked for, the count is Binomial(60, 1/3) (mean
    # 20, sd 3.7), so the bounds below hold but for odds of about 1e-5 (with the fixture's 9 traces
    # and 3 asked for, an empty sample had odds of (2/3)^9, 2.6%, and happened).
    written.write_spans(batch([fbaas_trace(BASE_NS + (9 + k) * 20 * SECOND) for k in range(51)]))

    def calls(table: pa.Table) -> int:
        return sum(table.column("calls").to_pylist())
    full = calls(written.origin_stats(AnalysisFilter(), "hub"))  # type: ignore[attr-defined]
    assert full == 60                                    # one root call of hub per trace
    sampled = written.origin_stats(AnalysisFilter(), "hub", max_traces=20)  # type: ignore[attr-defined]
    assert 5 <= calls(sampled) <= 40
    assert written.origin_stats(AnalysisFilter(), "hub", max_traces=20).equals(sampled)  # type: ignore[attr-defined]
    assert calls(written.origin_stats(AnalysisFilter(), "hub", max_traces=100)) == full  # type: ignore[attr-defined]


HOUR = 60 * MINUTE


@pytest.mark.parametrize("query", [
    TraceQuery(start_time_min_ns=BASE_NS + 2 * HOUR, start_time_max_ns=BASE_NS + 5 * HOUR, limit=50),
    TraceQuery(start_time_min_ns=BASE_NS + 2 * HOUR + 7 * MINUTE, start_time_max_ns=BASE_NS + 4 * HOUR, limit=3),
    TraceQuery(service="buzzer", start_time_min_ns=BASE_NS + HOUR + 1, start_time_max_ns=BASE_NS + 5 * HOUR,
               duration_min_ns=20 * MS, limit=50),
    TraceQuery(service="fizzer", operation="POST /", start_time_min_ns=BASE_NS + 3 * HOUR, limit=50,
               sort=SortOrder.LONGEST),
    TraceQuery(span_kind="CLIENT", start_time_min_ns=BASE_NS + 2 * HOUR, start_time_max_ns=BASE_NS + 5 * HOUR,
               duration_min_ns=3 * MS, duration_max_ns=30 * MS, duration_scope=DurationScope.SPAN, limit=50,
               sort=SortOrder.MOST_ERRORS),
    TraceQuery(start_time_min_ns=BASE_NS + 2 * HOUR, limit=5, sort=SortOrder.MOST_SPANS),
    TraceQuery(service="hub", start_time_min_ns=BASE_NS + 2 * HOUR, start_time_max_ns=BASE_NS + 5 * HOUR, limit=4),
    TraceQuery(start_time_min_ns=BASE_NS + HOUR + 1, start_time_max_ns=BASE_NS + 5 * HOUR, limit=1),
], ids=range(8))
def test_searches_over_later_hours_give_the_embedded_answers(open_store: Any, tmp_path: Path,
                                                             query: TraceQuery) -> None:
    """Searches whose window starts after the first hour of data (the ClickHouse store answers them
    from its per-trace summaries and search index): the embedded store's traces, in its order, also
    for a trace whose spans straddle an hour and one whose late span arrives in a later batch."""
    store = open_store()
    made = [fbaas_trace(BASE_NS + k * 13 * MINUTE, error_in="buzzer" if k % 4 == 1 else None) for k in range(25)]
    made[9].row("fizzer")["end_time_unix_nano"] += 40 * MS
    late = made[14].row("buzzer")
    made[14].rows.remove(late)
    late["start_time_unix_nano"] += 70 * MINUTE                     # starts an hour later than its trace
    late["end_time_unix_nano"] += 70 * MINUTE
    reference = DuckDBStore(tmp_path / "searches.duckdb")
    try:
        for target in (store, reference):
            target.write_spans(batch(made[:12]))
            target.write_spans(batch(made[12:]))
            target.write_spans(batch(late))
        expected = reference.find_traces(query)
        assert expected or query.limit == 3
        assert store.find_traces(query) == expected
    finally:
        reference.close()
    store.delete_before(BASE_NS + 3 * HOUR + 1)                     # retention: the next search agrees with
    assert [t.trace_id for t in store.find_traces(query)] == [       # the spans left
        t.trace_id for t in store.find_traces(query) if t.start_time_unix_nano > BASE_NS + 3 * HOUR]


def _contrast_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted((r["scope"], r["key"], r["value"], r["selected"], r["baseline"], r["selected_total"],
                   r["baseline_total"], r["threshold_ns"]) for r in table.to_pylist())


@pytest.mark.parametrize("flt", FILTERS[:3], ids=range(3))
def test_attribute_contrast_over_given_sides_gives_the_embedded_answers(
        written: Store, reference: DuckDBStore, sent: list[Trace], flt: AnalysisFilter) -> None:
    """Selection.traces (issue 11: compare chooses its sides by the one trace duration, in Python):
    each side read whole up to max_traces, the first ids first, counted as the store's own sides."""
    ids = [t.trace_id.hex() for t in sent]
    chosen = Selection(traces=tuple(ids[:3]), others=tuple(ids[3:]))
    got = written.attribute_contrast(flt, chosen, 100)  # type: ignore[attr-defined]
    expected = reference.attribute_contrast(flt, chosen, 100)
    assert _contrast_rows(got) == _contrast_rows(expected)
    if flt == AnalysisFilter():
        rows = {(r["scope"], r["key"], r["value"]): r for r in got.to_pylist()}
        ada = rows[("span", "enduser.id", "ada")]
        assert (ada["selected"], ada["baseline"], ada["selected_total"], ada["baseline_total"]) == (3, 6, 3, 6)
        assert ada["threshold_ns"] is None
    capped = written.attribute_contrast(flt, chosen, 2).to_pylist()  # type: ignore[attr-defined]
    if capped:
        assert (capped[0]["selected_total"], capped[0]["baseline_total"]) == (2, 2)
