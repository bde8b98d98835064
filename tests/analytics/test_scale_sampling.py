"""Analyses past the size they read whole (issue 11): they sample, say so in a note, and never run out
of the store's memory. Speed at 1M traces is `make bench` (bench/scale_bench.py), not a test here.

One store of 8,000 planted-cause shop traces (~88,000 spans, ~10 span and 12 resource attributes
each), opened with a 48 MB memory limit: small enough that one sort of every span with its
attributes runs out of memory (checked below, so the test keeps meaning something). compare reads at
most 5,000 traces a side whatever the window; it needs more than 48 MB for that, and runs within
the default 128 MB at 1M traces (bench/scale_bench.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tracehouse.analytics import incidents
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.analytics import SAMPLE_SLICES

TRACES = 8_000
MEMORY = "48MB"
DEPLOY = incidents.Incident("deploy", "catalog 1.9.0 is 30 ms slower",
                            incidents.Plant(slow_service="catalog", slow_ms=30.0, new_version="1.9.0"),
                            (incidents.Expected("catalog"),))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    path = tmp_path_factory.mktemp("scale") / "tracehouse.duckdb"
    writer = DuckDBStore(path)
    for batch in incidents.generate(DEPLOY, TRACES // 2, TRACES // 2, seed=3):
        writer.write_spans(batch)
    writer.checkpoint()
    writer.close()
    reader = DuckDBStore(path, memory_limit=MEMORY, read_only=True)
    yield reader
    reader.close()


def test_the_store_exceeds_its_memory_when_read_whole(store: DuckDBStore) -> None:
    """The premise: every span with its attributes, sorted by trace in one query, does not fit."""
    cursor = store._new_cursor()
    with pytest.raises(duckdb.OutOfMemoryException):
        cursor.sql("SELECT lower(hex(s.trace_id)) AS trace_id, lower(hex(s.span_id)) AS span_id, "
                   "lower(hex(s.parent_span_id)) AS parent_span_id, s.service_name, s.span_name, "
                   "s.span_kind::VARCHAR AS kind, epoch_ns(s.start_time) AS start_ns, s.duration_ns, "
                   "s.attributes::JSON::VARCHAR AS attributes, r.attributes::JSON::VARCHAR AS resource_attributes "
                   "FROM span_data s LEFT JOIN resource_data r USING (resource_id) "
                   "ORDER BY trace_id, start_ns, span_id").to_arrow_table()
    cursor.close()


def test_every_trace_is_read_in_chunks_within_the_memory(store: DuckDBStore) -> None:
    table = store.cause_sample(AnalysisFilter(), TRACES)
    assert len(set(table.column("trace_id").to_pylist())) == TRACES
    assert table.num_rows == store.span_count()
    ids = table.column("trace_id").to_pylist()
    assert ids == sorted(ids)   # grouped by trace, as the contract says


def test_a_sample_is_a_subset_spread_over_the_window(store: DuckDBStore) -> None:
    every = store.cause_sample(AnalysisFilter(), TRACES)
    sample = store.cause_sample(AnalysisFilter(), 600)
    ids = set(sample.column("trace_id").to_pylist())
    assert 400 <= len(ids) <= 600
    by_trace = {}
    for row in every.to_pylist():
        by_trace.setdefault(row["trace_id"], []).append(row)
    assert [r for t in sorted(ids) for r in by_trace[t]] == sample.to_pylist()   # whole traces, same rows
    starts = [r["start_time_unix_nano"] for r in every.to_pylist()]
    first, last = min(starts), max(starts)
    width = (last - first + 1) / SAMPLE_SLICES
    slices = {int((min(r["start_time_unix_nano"] for r in by_trace[t]) - first) // width) for t in ids}
    assert len(slices) == SAMPLE_SLICES   # drawn from every part of the window
    again = store.cause_sample(AnalysisFilter(), 600)
    assert again.equals(sample)   # the same sample every time


def test_doctor_reads_every_trace_within_the_memory_and_finds_the_cause(store: DuckDBStore) -> None:
    report = Analyses(store).run("doctor", {"sample": str(TRACES)})
    diagnosis = report.params["diagnosis"]
    assert diagnosis["causes"], diagnosis["verdict"]
    assert diagnosis["causes"][0]["location"]["service"] == "catalog"
    assert not any("fixed sample" in n for n in report.notes)


@pytest.mark.parametrize(("name", "params", "says"), [
    ("doctor", {"sample": "500"}, "a fixed sample of 500 of the window's"),
    ("paths", {"sample": "1000", "baseline": "30m"}, "routes of a fixed sample of"),
    ("origins", {"service": "catalog", "sample": "1000", "baseline": "30m"}, "calls of a fixed sample of about 1,000"),
    ("latency", {"sample": "500", "baseline": "30m"}, "a fixed sample of at most 500"),
])
def test_a_sampled_analysis_says_so(store: DuckDBStore, name: str, params: dict[str, str], says: str) -> None:
    _, _, last = store.trace_times(AnalysisFilter())
    assert last is not None
    window = {"start": str((last + 1 - 30 * 60 * 10**9) / 1e9), "end": str((last + 1) / 1e9)}
    report = Analyses(store).run(name, {**window, **params} if name != "doctor" else params)
    assert any(says in note for note in report.notes), report.notes
    assert report.rows


@pytest.mark.parametrize(("name", "params"), [
    ("paths", {"sample": str(TRACES)}),
    ("paths", {"sample": str(TRACES), "slowest": "5%"}),
    ("origins", {"service": "catalog", "sample": str(TRACES)}),
    ("origins", {"service": "frontend", "sample": str(TRACES)}),
    ("latency", {"sample": str(TRACES)}),
    ("errors", {}),
])
def test_every_analysis_with_a_baseline_runs_whole_within_the_memory(store: DuckDBStore, name: str,
                                                                      params: dict[str, str]) -> None:
    report = Analyses(store).run(name, {**params, "baseline": "1h"})
    assert report.rows
    assert not any("fixed sample" in n for n in report.notes if name != "latency")
