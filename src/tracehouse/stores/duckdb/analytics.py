"""AnalyticsReader and SqlCatalog on DuckDB. Each analysis is a head that defines the per-trace
summaries (sql/analytics/_summaries_stored.sql, or _summaries_live.sql when trace_summary_data does
not cover every span), then sql/analytics/_selection.sql (the window and filters, shared), then
selected_spans (_spans_all.sql, or _spans_filtered.sql when the filter names a service, operation or
attribute), then the analysis' own file; run with bound parameters only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import pairwise
from typing import Any

import duckdb
import pyarrow as pa

from tracehouse.model import SPAN_ROW_SCHEMA
from tracehouse.store import (
    AnalysisFilter,
    CatalogColumn,
    CatalogTable,
    ExampleQuery,
    Selection,
    StoreError,
)
from tracehouse.store.analytics_contract import MAX_ATTRIBUTE_FILTERS
from tracehouse.stores.duckdb import links
from tracehouse.stores.duckdb.sql_files import sql

_NO_END = 2**62  # year 2116: make_timestamp_ns refuses the largest int64
_HASH_SPACE = 2**64  # DuckDB's hash() is a UBIGINT
_ALL_AFTER = 2**63 - 1   # the end of the last export slice: after every storable start time
# Spans per slice of an export (~16 MB of FBaaS-shaped rows to sort within the store's memory).
EXPORT_SLICE_ROWS = 20_000
# Route keys of up to this many sampled traces (~1.2M FBaaS-shaped spans) are joined in one pass
# within the store's default 128 MB; more take the two-half path (sql/analytics/_route_keys_*.sql).
_ONE_JOIN_MAX_TRACES = 250_000
# trace_sample and cause_sample over a window of more traces than asked for draw them from this many
# short time slices (the fixed OR-ed ranges of sql/analytics/_sliced_spans.sql), each sized to hold
# SLICE_OVERSAMPLE x their share at the window's average rate, so that a quieter stretch still fills
# it; and fetch the sample's spans SAMPLE_CHUNK traces at a time (~22k spans of ~10+12 attributes
# as JSON: a sort that fits the store's 128 MB).
SAMPLE_SLICES = 12
SLICE_OVERSAMPLE = 1.25
SAMPLE_CHUNK = 2_000
# trace_sample's rows carry no attributes (~150 bytes a span): ten times as many traces per fetch
# (routes read 10,000 traces' spans through it, compare 8,000).
TRACE_SAMPLE_CHUNK = 20_000

# What each user-facing relation is for; columns are documented in docs/schema.md.
VIEW_DESCRIPTIONS = {
    "spans": "One row per span: ids as hex, times, status, attributes (VARIANT: attributes['key']).",
    "traces": "One row per trace: root service/operation, start, duration, span and error counts.",
    "edges": "One row per call: parent service/operation -> child service/operation.",
}


def _analysis(name: str, flt: AnalysisFilter, summary_is_complete: bool, middle: str | None = None,
              reconstruction: str | None = None) -> str:
    """The analysis' SQL. `reconstruction` ('include', 'exclude', 'only' or 'none': see
    _reconstruction) prepends the head that shadows span_data with the spans as reconstruction
    joins them; the per-trace summaries are then grouped from those spans."""
    stored = summary_is_complete and reconstruction is None
    head = "analytics/_summaries_stored" if stored else "analytics/_summaries_live"
    narrowed = flt.service is not None or flt.operation is not None or bool(flt.attributes)
    spans = "analytics/_spans_filtered" if narrowed else "analytics/_spans_all"
    between = sql(f"analytics/{middle}") if middle else ""
    summaries = sql(head)
    if reconstruction is not None:
        # The shadowing head opens the WITH clause; the summaries head continues it. Its per-trace
        # figures are grouped once and held (one row per trace): grouped again at each of the two
        # reads in _selection.sql, the joined spans' aggregates ran out of 128 MB on 200k spans.
        summaries = sql(f"analytics/_reconstructed_{reconstruction}") + summaries.replace(
            "WITH RECURSIVE", "", 1).replace("summary_source AS NOT MATERIALIZED", "summary_source AS MATERIALIZED")
    return summaries + sql("analytics/_selection") + sql(spans) + between + sql(f"analytics/{name}")


def filter_params(flt: AnalysisFilter) -> dict[str, Any]:
    """The bound parameters of _selection.sql. Unused attribute slots get the key '' and the value
    NULL: their scans then match nothing and cost nothing."""
    params: dict[str, Any] = {
        "start_ns": flt.start_ns if flt.start_ns is not None else 0,
        "end_ns": flt.end_ns if flt.end_ns is not None else _NO_END,
        "service": flt.service,
        "operation": flt.operation,
    }
    items = sorted(flt.attributes.items())
    for slot in range(MAX_ATTRIBUTE_FILTERS):
        key, value = items[slot] if slot < len(items) else ("", None)
        params[f"key_{slot + 1}"] = key
        params[f"value_{slot + 1}"] = value
    return params


class DuckDBAnalytics:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def _summary_is_complete(self) -> bool:
        """Whether trace_summary_data accounts for every stored span (~5 ms on 1M traces)."""
        rows = self._cursor.execute(sql("read/summary_covers_spans")).fetchall()
        return bool(rows and rows[0][0])

    def _reconstruction(self, flt: AnalysisFilter, as_stored: bool = False) -> str | None:
        """Which reconstruction head the filter needs: None when the spans are read as stored (traces
        included and no inferred links, or left out and none to leave out). `as_stored` (exports):
        select by flt.reconstructed, but never join fragments."""
        if flt.reconstructed == "received" or not links.link_stats(self._cursor)[0]:
            return "none" if flt.reconstructed == "only" else None
        if as_stored:
            return {"include": None, "exclude": "exclude", "only": "only_stored"}[flt.reconstructed]
        return flt.reconstructed

    def _table(self, name: str, flt: AnalysisFilter, middle: str | None = None, **extra: Any) -> pa.Table:
        params = filter_params(flt) | extra
        try:
            text = _analysis(name, flt, self._summary_is_complete(), middle,
                             self._reconstruction(flt, as_stored=name.startswith("export_")))
            return self._cursor.sql(text, params=params).to_arrow_table()
        except duckdb.OutOfMemoryException as exc:
            joined = " (joining reconstructed traces costs memory: reconstructed=received does not join them)" \
                if flt.reconstructed in ("include", "only") else ""
            raise StoreError(f"the {name.replace('_', ' ')} analysis needs more memory than the store may use; "
                             f"narrow the time window or raise --store-memory{joined}") from exc

    def route_stats(self, flt: AnalysisFilter, slowest_fraction: float | None = None,
                    max_traces: int | None = None) -> pa.Table:
        sample_below = selected = None
        keys = "_route_keys_halves"
        if max_traces is not None:
            # hash(trace_id) is uniform over UBIGINT, so the traces below this bound are about
            # max_traces of them, chosen by a filter rather than a join against a list of ids.
            selected = self.count_traces(flt)
            if selected > max_traces:
                sample_below = min(_HASH_SPACE * max_traces // selected, _HASH_SPACE - 1)
                if max_traces <= _ONE_JOIN_MAX_TRACES:
                    keys = "_route_keys_sample"
        table = self._table("routes", flt, keys, slowest_fraction=slowest_fraction, sample_below=sample_below)
        if selected is None:  # not sampled: the routes hold every selected trace
            selected = sum(table.column("traces").to_pylist())
        return table.append_column("selected_traces", pa.array([selected] * table.num_rows, pa.int64()))

    def origin_stats(self, flt: AnalysisFilter, service: str, operation: str | None = None,
                     max_traces: int | None = None) -> pa.Table:
        sample_below = None
        if max_traces is not None:
            selected = self.count_traces(flt)
            if selected > max_traces:   # as in route_stats: a hash bound, not a list of ids
                sample_below = min(_HASH_SPACE * max_traces // selected, _HASH_SPACE - 1)
        nodes = "_origin_nodes_all" if sample_below is None else "_origin_nodes_sample"
        return self._table("origins", flt, nodes, target_service=service, target_operation=operation,
                           sample_below=sample_below)

    def attribute_contrast(self, flt: AnalysisFilter, selection: Selection, max_traces: int) -> pa.Table:
        params = filter_params(flt)
        whole: dict[str, Any] = {f"{bound}_{slot + 1}": params[f"{name}_ns"] if slot == 0 else 0
                 for slot in range(SAMPLE_SLICES) for bound, name in (("lo", "start"), ("hi", "end"))}
        if selection.traces is None:
            return self._table("attribute_contrast", flt, errors=selection.errors,
                               min_duration_ns=selection.min_duration_ns,
                               slowest_fraction=selection.slowest_fraction, max_traces=max_traces, **whole)
        chosen = [_trace_bytes(t) for t in selection.traces[:max(0, max_traces)]]
        others = [_trace_bytes(t) for t in selection.others[:max(0, max_traces)]]
        ranges = whole
        if self._reconstruction(flt) is None and self._summary_is_complete():
            # The chosen traces' spans lie where their summaries say: read only those row groups
            # (the whole hour's spans at 1M traces cost 0.35 s of a 2 s budget).
            bounds = self._cursor.execute(sql("analytics/trace_bounds"), {"ids": chosen + others}).fetchall()
            ranges = dict[str, Any]()
            for slot, (low, high) in enumerate(_covering(bounds, SAMPLE_SLICES)):
                ranges[f"lo_{slot + 1}"], ranges[f"hi_{slot + 1}"] = low, high
            for slot in range(len(ranges) // 2, SAMPLE_SLICES):
                ranges[f"lo_{slot + 1}"], ranges[f"hi_{slot + 1}"] = 0, 0
        return self._table("attribute_contrast_given", flt, selected=chosen, others=others, **ranges)

    def error_hotspots(self, flt: AnalysisFilter) -> pa.Table:
        return self._table("error_hotspots", flt)

    def trace_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._sample("trace_sample", flt, max_traces)

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._sample("cause_sample", flt, max_traces)

    def _sample(self, name: str, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        """The spans of up to max_traces selected traces (sql/analytics/sample_slices.sql picks
        them: every one when there are no more, else ~max_traces from SAMPLE_SLICES short time
        slices spread over the window), fetched SAMPLE_CHUNK traces at a time, each fetch reading
        only the row groups of its time ranges. One sort of every span of a 30,000-trace window with
        its attributes as JSON ran out of the default 128 MB; a scan of every span of the window to
        find a 2,000-trace sample's cost 0.62 s of CPU on the last hour of 1M traces, 0.23 s now."""
        if self._reconstruction(flt) is not None:
            # Fragments joined (or selected) by inferred links: span_data is shadowed by the joined
            # spans (_analysis), which the sliced fetch does not read; one query over the window.
            return self._table(name, flt, max_traces=max_traces)
        params = filter_params(flt)
        traces = self._table("sample_slices", flt, slices=SAMPLE_SLICES, oversample=SLICE_OVERSAMPLE,
                             max_traces=max_traces)
        columns = traces.select(["slice", "start_ns", "end_ns", "t"]).to_pydict()
        rows = sorted(zip(*columns.values(), strict=True))
        tables = []
        for ranges, sample in _fetches(rows, TRACE_SAMPLE_CHUNK if name == "trace_sample" else SAMPLE_CHUNK):
            fetch: dict[str, Any] = {"start_ns": params["start_ns"], "end_ns": params["end_ns"], "sample": sample}
            for slot in range(SAMPLE_SLICES):
                low, high = ranges[slot] if slot < len(ranges) else (0, 0)
                fetch[f"lo_{slot + 1}"], fetch[f"hi_{slot + 1}"] = low, high
            try:
                tables.append(self._cursor.sql(sql(f"analytics/{name}_sliced"), params=fetch).to_arrow_table())
            except duckdb.OutOfMemoryException as exc:
                raise StoreError(f"the {name.replace('_', ' ')} needs more memory than the store may use; "
                                 "ask for fewer traces or raise --store-memory") from exc
        if not tables:
            return self._cursor.sql(sql(f"analytics/{name}_sliced"), params={
                "start_ns": 0, "end_ns": 0, "sample": [],
                **{f"{b}_{i + 1}": 0 for i in range(SAMPLE_SLICES) for b in ("lo", "hi")}}).to_arrow_table()
        if len(tables) == 1:
            return tables[0]
        return pa.concat_tables(tables).sort_by([("trace_id", "ascending"), ("start_time_unix_nano", "ascending"),
                                                 ("span_id", "ascending")])

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        text = _analysis("trace_times", flt, self._summary_is_complete(), reconstruction=self._reconstruction(flt))
        rows = self._cursor.execute(text, filter_params(flt)).fetchall()
        if not rows or not rows[0][0]:
            return 0, None, None
        count, first, last = rows[0]
        return int(count), int(first), int(last)

    def export_spans(self, flt: AnalysisFilter) -> pa.Table:
        batches = list(self.export_span_batches(flt))
        if not batches:
            return SPAN_ROW_SCHEMA.empty_table()
        return pa.Table.from_batches(batches, SPAN_ROW_SCHEMA)

    def export_span_batches(self, flt: AnalysisFilter) -> Iterator[pa.RecordBatch]:
        """The export one slice of EXPORT_SLICE_ROWS spans (by start time) at a time: a sort of
        every span with its attributes at once ran out of the default 128 MB at 200k spans."""
        starts = self._table("export_slices", flt, slice_rows=EXPORT_SLICE_ROWS).column("s").to_pylist()
        bounds = [*starts, _ALL_AFTER]
        narrowed = flt.service is not None or flt.operation is not None or bool(flt.attributes)
        for low, high in pairwise(bounds):
            # Without filters every span of the window is exported, so a slice's own window selects
            # exactly its spans, and the store reads only its row groups; with filters, traces are
            # still selected over the whole window.
            window = flt if narrowed else replace(flt, start_ns=low, end_ns=min(high, flt.end_ns or _NO_END))
            table = self._table("export_spans", window, from_ns=low, to_ns=high).cast(SPAN_ROW_SCHEMA)
            yield from table.to_batches()

    def count_traces(self, flt: AnalysisFilter) -> int:
        text = _analysis("count_traces", flt, self._summary_is_complete(), reconstruction=self._reconstruction(flt))
        rows = self._cursor.execute(text, filter_params(flt)).fetchall()
        return int(rows[0][0]) if rows else 0

    # ---- SqlCatalog
    def sql_catalog(self) -> list[CatalogTable]:
        rows = self._cursor.execute(sql("analytics/catalog")).fetchall()
        by_view: dict[str, list[CatalogColumn]] = {}
        for name, column, data_type, _ in rows:
            by_view.setdefault(name, []).append(CatalogColumn(column, data_type))
        return [CatalogTable(name, "view", VIEW_DESCRIPTIONS.get(name, ""), tuple(cols))
                for name, cols in by_view.items()]

    def sql_examples(self) -> list[ExampleQuery]:
        return ExampleQuery.parse(sql("analytics/console_examples"))


def _trace_bytes(trace_id: str) -> bytes:
    try:
        return bytes.fromhex(trace_id.rjust(32, "0"))
    except ValueError as exc:
        raise StoreError(f"not a trace id: {trace_id!r}") from exc


def _covering(bounds: list[tuple[int, int]], most: int) -> list[tuple[int, int]]:
    """At most `most` time ranges [low, high) that hold every (start, end) of `bounds` (sorted by
    start), as short in all as can be: split at the widest gaps between consecutive traces."""
    if not bounds:
        return []
    merged: list[list[int]] = []
    for start, end in bounds:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    gaps = sorted(range(1, len(merged)), key=lambda i: merged[i - 1][1] - merged[i][0])[:most - 1]
    cuts = sorted(gaps)
    ranges, first = [], 0
    for cut in [*cuts, len(merged)]:
        ranges.append((merged[first][0], max(m[1] for m in merged[first:cut]) + 1))
        first = cut
    return ranges


def _fetches(rows: list[tuple[int, int, int, int]],
             chunk: int = SAMPLE_CHUNK) -> Iterator[tuple[list[tuple[int, int]], list[int]]]:
    """The fetches of a sample's spans: (time ranges, trace hashes) with at most SAMPLE_SLICES
    ranges and `chunk` traces each. `rows` are (slice, start, end, hash), sorted; a range is
    [first start, last end] of consecutive traces of one slice (spans start within their trace)."""
    ranges: list[tuple[int, int]] = []
    sample: list[int] = []
    current: list[int] | None = None     # [slice, low, high] of the range being grown
    for slice_, start, end, t in rows:
        if len(sample) >= chunk or (current is not None and current[0] != slice_
                                           and len(ranges) + 1 >= SAMPLE_SLICES):
            if current is not None:
                ranges.append((current[1], current[2] + 1))
            yield ranges, sample
            ranges, sample, current = [], [], None
        if current is None or current[0] != slice_:
            if current is not None:
                ranges.append((current[1], current[2] + 1))
            current = [slice_, start, end]
        current[1], current[2] = min(current[1], start), max(current[2], end)
        sample.append(t)
    if current is not None:
        ranges.append((current[1], current[2] + 1))
        yield ranges, sample

