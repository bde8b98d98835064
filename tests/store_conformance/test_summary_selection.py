"""Selection by per-trace summaries (issue 12, ADR 18 amendment): a ClickHouse store counts, times and
samples a window's traces from its per-trace summaries (whole hours) and its search index (the
window's partial hours) instead of grouping the window's spans. Over several hours, with windows that
cut hours, a trace across an hour boundary, filters by service, operation and attribute, and windows
that reach the store's oldest hour (read from the spans), every store gives the embedded store's
answers; past max_traces, every store's sample is a fixed one of about that many whole traces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tracehouse.store import AnalysisFilter, Store
from tracehouse.stores.duckdb import DuckDBStore

from .traces import BASE_NS, MINUTE, MS, Trace, batch, fbaas_trace

HOUR = 60 * MINUTE
FIRST_HOUR_END = (BASE_NS // HOUR + 1) * HOUR     # BASE_NS is 22:13:20: the next hour starts at 23:00


@pytest.fixture
def sent() -> list[Trace]:
    made = [fbaas_trace(BASE_NS + k * 7 * MINUTE, error_in="buzzer" if k % 5 == 2 else None,
                        user="bob" if k % 3 == 0 else "ada") for k in range(40)]
    # Across the boundary of two hours: its first spans in one, its last in the next.
    made.append(fbaas_trace(FIRST_HOUR_END + HOUR - 2 * MS, user="bob"))
    made[7].row("root")["end_time_unix_nano"] += 3 * MINUTE     # a long one
    return made


def compact(*items: Trace | list[Trace]) -> pa.Table:
    """The batch with its attribute maps as compact JSON, as the receiver writes them (orjson): the
    ClickHouse store reads service.version with visitParamExtractString, which needs that form."""
    table = batch(*items)
    for name in ("attributes", "resource_attributes"):
        values = [json.dumps(json.loads(v), separators=(",", ":")) if v else v
                  for v in table.column(name).to_pylist()]
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name),
                                 pa.array(values, table.schema.field(name).type))
    return table


@pytest.fixture
def reference(sent: list[Trace], tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "reference.duckdb")
    store.write_spans(compact(sent))
    yield store
    store.close()


@pytest.fixture
def written(store: Store, sent: list[Trace]) -> Store:
    store.write_spans(compact(sent[:20]))
    store.write_spans(compact(sent[20:]))
    store.write_spans(compact(sent[12]))     # a repeat, stored once
    return store


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = [{k: json.loads(v) if k in ("attributes", "resource_attributes") and v else v for k, v in r.items()}
            for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r["trace_id"], r["start_time_unix_nano"], r["span_id"]))


def _rounded(table: pa.Table) -> list[dict[str, Any]]:   # percentiles may differ in their last bit
    return [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in table.to_pylist()]


WINDOWS = [
    (FIRST_HOUR_END + 17 * MINUTE + 3 * MS, FIRST_HOUR_END + 2 * HOUR + 41 * MINUTE),   # cuts two hours
    (FIRST_HOUR_END + HOUR - 5 * MINUTE, FIRST_HOUR_END + HOUR + 5 * MINUTE),           # the boundary trace
    (FIRST_HOUR_END + HOUR, FIRST_HOUR_END + 3 * HOUR),                                   # whole hours
    (FIRST_HOUR_END + 20 * MINUTE, FIRST_HOUR_END + 30 * MINUTE),                       # within one hour
    (FIRST_HOUR_END + HOUR - MS, None),                                                  # to the end
    (BASE_NS + 10 * MINUTE, FIRST_HOUR_END + 2 * HOUR),                                 # from the oldest hour
    (BASE_NS - 5 * MINUTE, FIRST_HOUR_END + HOUR),                                      # before it: spans read
]
NARROWINGS: list[dict[str, Any]] = [
    {}, {"service": "buzzer"}, {"service": "fizzer", "operation": "POST /fizz"}, {"attributes": {"enduser.id": "bob"}},
]


def test_counts_times_and_samples_give_the_embedded_answers(written: Store, reference: DuckDBStore) -> None:
    for start, end in WINDOWS:
        for narrowing in NARROWINGS:
            flt = AnalysisFilter(start_ns=start, end_ns=end, **narrowing)
            label = f"{(start - BASE_NS) // MINUTE}..{end and (end - BASE_NS) // MINUTE} min {narrowing}"
            assert written.trace_times(flt) == reference.trace_times(flt), label  # type: ignore[attr-defined]
            assert written.count_traces(flt) == reference.count_traces(flt), label  # type: ignore[attr-defined]
            assert _rows(written.trace_sample(flt, 1000)) == _rows(reference.trace_sample(flt, 1000)), label  # type: ignore[attr-defined]
            assert _rows(written.cause_sample(flt, 1000)) == _rows(reference.cause_sample(flt, 1000)), label  # type: ignore[attr-defined]
            assert _rounded(written.error_hotspots(flt)) == _rounded(reference.error_hotspots(flt)), label  # type: ignore[attr-defined]
        flt = AnalysisFilter(start_ns=start, end_ns=end)
        for service in ("hub", "buzzer"):
            assert _rounded(written.origin_stats(flt, service)) == \
                _rounded(reference.origin_stats(flt, service)), (start, service)  # type: ignore[attr-defined]
    assert written.count_traces(AnalysisFilter(start_ns=FIRST_HOUR_END + 20 * HOUR)) == 0  # type: ignore[attr-defined]


def test_after_retention_cuts_an_hour_the_answers_stay_the_embedded_ones(written: Store,
                                                                         reference: DuckDBStore) -> None:
    cutoff = FIRST_HOUR_END + HOUR + 25 * MINUTE     # within an hour: its summaries still count deleted spans
    written.delete_before(cutoff)
    reference.delete_before(cutoff)
    for start in (cutoff - 30 * MINUTE, cutoff - MINUTE, cutoff + 2 * MINUTE, FIRST_HOUR_END + 2 * HOUR + MS):
        flt = AnalysisFilter(start_ns=start, end_ns=FIRST_HOUR_END + 3 * HOUR + 10 * MINUTE)
        assert written.trace_times(flt) == reference.trace_times(flt), start  # type: ignore[attr-defined]
        assert _rows(written.trace_sample(flt, 1000)) == _rows(reference.trace_sample(flt, 1000)), start  # type: ignore[attr-defined]


@pytest.mark.parametrize("max_traces", [4, 20])
def test_a_sample_past_max_traces_is_a_fixed_one_of_whole_traces(written: Store, max_traces: int) -> None:
    flt = AnalysisFilter(start_ns=FIRST_HOUR_END + 10 * MINUTE, end_ns=FIRST_HOUR_END + 3 * HOUR + 20 * MINUTE)
    every = _rows(written.trace_sample(flt, 1000))  # type: ignore[attr-defined]
    assert len({r["trace_id"] for r in every}) == written.count_traces(flt) > max_traces  # type: ignore[attr-defined]
    sample = _rows(written.trace_sample(flt, max_traces))  # type: ignore[attr-defined]
    traces = {r["trace_id"] for r in sample}
    # About max_traces: the traces of short slices spread over the window (a sparse window's slices
    # may hold fewer).
    assert len(traces) <= max_traces and (max_traces < 20 or len(traces) >= 10)
    assert sample == [r for r in every if r["trace_id"] in traces]           # whole traces, as in the window
    assert _rows(written.trace_sample(flt, max_traces)) == sample  # type: ignore[attr-defined]
    causes = _rows(written.cause_sample(flt, max_traces))  # type: ignore[attr-defined]
    assert {r["trace_id"] for r in causes} == traces                          # the same sample
    assert [{k: r[k] for k in every[0]} for r in causes] == sample
