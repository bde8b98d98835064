"""AnalyticsReader on ClickHouse (store/analytics_contract.py). In ClickHouse: the selection, the
joins and the grouping (per-trace durations, the call join of routes, the contrast's threshold and
per-side sample, error hot spots), per shard where the work is per trace. In Python, bounded by the
analyses' sample sizes: each route's percentiles over the traces read, and the contrast's unnesting
of the sampled spans' attribute JSON (18.16 cannot list a JSON object's keys); origins' walk up
each call's parents (origins.py; 18.16 has no recursive queries).

Every statement selects traces with sql/analytics/_selected_traces.sql, over the local table: on a
cluster it runs on each shard, where each trace's spans all are.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from tracehouse.model import SPAN_KINDS, SPAN_ROW_SCHEMA, STATUS_CODES
from tracehouse.store import AnalysisFilter
from tracehouse.store.analytics_contract import MAX_ATTRIBUTE_FILTERS
from tracehouse.stores.clickhouse.results import Result

_NO_START = -(2**63) + 1
# A sample (trace_sample, cause_sample) of a window holding more traces than asked for is drawn as the
# embedded store draws it (stores/duckdb/sql/analytics/sample_slices.sql): from this many short time
# slices spread over the window, sized to hold SLICE_OVERSAMPLE x the traces asked for.
SAMPLE_SLICES = 12
SLICE_OVERSAMPLE = 1.25
_NO_END = 2**63 - 1

TRACE_SAMPLE_SCHEMA = pa.schema([
    ("trace_id", pa.string()), ("span_id", pa.string()), ("parent_span_id", pa.string()),
    ("service_name", pa.string()), ("span_name", pa.string()), ("span_kind", pa.string()),
    ("start_time_unix_nano", pa.int64()), ("duration_ns", pa.int64()), ("error", pa.bool_()),
])
CAUSE_SAMPLE_SCHEMA = pa.schema([*TRACE_SAMPLE_SCHEMA, ("attributes", pa.string()),
                                 ("resource_attributes", pa.string())])


def sample_table(rows: list[list[Any]], schema: pa.Schema, dedupe: bool) -> pa.Table:
    """trace_sample/cause_sample rows as the contract has them (the kind by name, error as a bool),
    column by column (a 10,000-trace sample: 0.2 s instead of 0.4 s row by row). `dedupe`: rows
    read without FINAL, kept once per span key (trace, span, start: first_of_each_key)."""
    if not rows:
        return table_of(Result([], [], []), schema)
    columns = list(zip(*rows, strict=True))
    if dedupe and len(set(zip(columns[0], columns[1], columns[6], strict=True))) < len(rows):
        columns = list(zip(*first_of_each_key(rows, (0, 1, 6)), strict=True))
    kinds = [SPAN_KINDS[k] if k < len(SPAN_KINDS) else "UNSPECIFIED" for k in map(int, columns[5])]
    arrays = [pa.array(kinds, pa.string()) if i == 5 else
              pa.array(values, pa.uint8()).cast(pa.bool_()) if i == 8 else pa.array(values, field.type)
              for i, (values, field) in enumerate(zip(columns, schema, strict=True))]
    return pa.table(arrays, schema=schema)


ERROR_HOTSPOTS_SCHEMA = pa.schema([
    ("service", pa.string()), ("operation", pa.string()), ("version", pa.string()), ("spans", pa.int64()),
    ("error_spans", pa.int64()), ("own_error_spans", pa.int64()), ("example_trace_id", pa.string()),
])


def filter_params(flt: AnalysisFilter, attribute_regex: Any) -> dict[str, object]:
    params: dict[str, object] = {
        "start_ns": flt.start_ns if flt.start_ns is not None else _NO_START,
        "end_ns": flt.end_ns if flt.end_ns is not None else _NO_END,
        "service": flt.service,
        "operation": flt.operation,
    }
    items = sorted(flt.attributes.items())
    for slot in range(MAX_ATTRIBUTE_FILTERS):
        key, value = items[slot] if slot < len(items) else ("", "")
        params[f"re{slot + 1}"] = attribute_regex(key, value) if key else ""
    return params


def first_of_each_key(rows: list[list[Any]], key: tuple[int, ...]) -> list[list[Any]]:
    """The rows in order, each span key (the columns at `key`: trace, span, start) once: what FINAL
    gives a read of the ReplacingMergeTree span table, for reads that skip it."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for row in rows:
        k = tuple(row[i] for i in key)
        if k not in seen:
            seen.add(k)
            kept.append(row)
    return kept


def window_params(start_ns: int, end_ns: int, bucket_ns: int) -> dict[str, int]:
    """Where the per-trace summaries' hours and the window meet (sql/analytics/_window_trace_parts.sql):
    the buckets strictly between first_bucket and last_bucket lie wholly inside [start_ns, end_ns);
    the partial first hour is [start_ns, edge_end) and the partial last hour [edge_start, end_ns),
    read from the search index (one range when the window lies within one hour). The summaries'
    buckets are intDiv(start, bucket_ns), which rounds toward zero: bucket 0 is twice as long, so
    the whole hours begin at bucket 1 at the earliest (earlier spans are read from the index)."""
    first, last = max(start_ns // bucket_ns, 0), (end_ns - 1) // bucket_ns
    edge_end = min((first + 1) * bucket_ns, end_ns)
    return {"first_bucket": first, "last_bucket": last, "edge_end": edge_end,
            "edge_start": max(last * bucket_ns, edge_end)}


def unclean_range(start_ns: int, end_ns: int, partitions: list[tuple[int, int, bool]]) -> tuple[int, int] | None:
    """[start_ns, end_ns) without the start-time ranges of the clean partitions (no copy of a span:
    sql/analytics/span_partitions.sql) at either end, as one range; None when nothing is left. A
    span whose start lies in a clean partition's range is in that partition (the same day in the
    same time zone); spans at the edges of time are outside every range, and are kept, unless every
    partition is clean (then no span has a copy)."""
    if all(ok for _, _, ok in partitions):
        return None
    clean = [(a, b) for a, b, ok in partitions if ok and a < b]
    moved = True
    while moved and start_ns < end_ns:
        moved = False
        for a, b in clean:
            if a <= start_ns < b:
                start_ns, moved = b, True
            if a < end_ns <= b:
                end_ns, moved = a, True
    return (start_ns, end_ns) if start_ns < end_ns else None


def narrowing_name(flt: AnalysisFilter) -> str | None:
    """Which SQL narrows the window's traces to the filter's (the `{narrowing}` of every analysis):
    none when the filter names nothing (every trace with a span in the window), the search index for
    a service or an operation, the span table for attributes."""
    if flt.attributes:
        return "analytics/_narrow_attributes"
    if flt.service is not None or flt.operation is not None:
        return "analytics/_narrow_service"
    return None


def slice_ranges(count: int, low: int, high: int, max_traces: int) -> tuple[list[tuple[int, int]], float]:
    """The sample's time slices, as the embedded store's sample_slices.sql places them: the window
    of first starts [low, high) cut into SAMPLE_SLICES equal intervals, and in the middle of each a
    slice of `share` of its length, sized to hold SLICE_OVERSAMPLE x max_traces traces at the average
    rate. Returns the slices as [start, end) ranges (a trace whose first start lies in one is a
    candidate) and the share."""
    share = min(1.0, SLICE_OVERSAMPLE * max_traces / count)
    width = (high - low) / SAMPLE_SLICES
    ranges = []
    for i in range(SAMPLE_SLICES):
        middle = low + (i + 0.5) * width
        ranges.append((int(middle - share / 2 * width) - 1, int(middle + share / 2 * width) + 2))
    return ranges, share


def table_of(result: Result, schema: pa.Schema) -> pa.Table:
    columns = list(zip(*result.rows, strict=True)) if result.rows else [() for _ in schema]
    return pa.table([pa.array(list(values), field.type) for values, field in zip(columns, schema, strict=True)],
                    schema=schema)


def span_rows(rows: list[list[Any]]) -> pa.Table:
    names = SPAN_ROW_SCHEMA.names
    columns: dict[str, list[Any]] = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    columns["span_kind"] = [SPAN_KINDS[int(k)] if int(k) < len(SPAN_KINDS) else "UNSPECIFIED"
                            for k in columns["span_kind"]]
    columns["status_code"] = [STATUS_CODES[int(c)] if int(c) < len(STATUS_CODES) else "UNSET"
                              for c in columns["status_code"]]
    return pa.table({name: pa.array(columns[name], SPAN_ROW_SCHEMA.field(name).type) for name in names},
                    schema=SPAN_ROW_SCHEMA)


ROUTE_STATS_SCHEMA = pa.schema([
    ("route_key", pa.string()), ("traces", pa.int64()), ("error_traces", pa.int64()), ("p50_ns", pa.float64()),
    ("p95_ns", pa.float64()), ("p99_ns", pa.float64()), ("slow_traces", pa.int64()),
    ("slow_threshold_ns", pa.int64()), ("example_trace_id", pa.string()), ("selected_traces", pa.int64()),
])
HASH_SPACE = 2**64


def quantile_cont(ordered: list[int], q: float) -> float:
    """Linear interpolation between closest ranks of sorted values (DuckDB's quantile_cont)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def quantile_disc(ordered: list[int], q: float) -> int:
    """The value at rank floor((n - 1) * q) of sorted values (DuckDB's quantile_disc)."""
    return ordered[int((len(ordered) - 1) * q)]


def route_table(result: Result, slowest_fraction: float | None, selected: int | None) -> pa.Table:
    """The routes statement's rows (route_key, traces, error_traces, durations, example) finished:
    percentiles per route, the slow threshold over every trace read, and the slow count per route."""
    routes = [(str(key), int(n), int(errors), sorted(int(d) for d in durations), str(example))
              for key, n, errors, durations, example in result.rows]
    threshold = None
    if slowest_fraction is not None and routes:
        everything = sorted(d for route in routes for d in route[3])
        threshold = quantile_disc(everything, 1 - slowest_fraction)
    total = selected if selected is not None else sum(r[1] for r in routes)
    rows = [[key, n, errors, quantile_cont(ds, 0.5), quantile_cont(ds, 0.95), quantile_cont(ds, 0.99),
             sum(1 for d in ds if d >= threshold) if threshold is not None else 0, threshold, example, total]
            for key, n, errors, ds, example in sorted(routes, key=lambda r: (-r[1], r[0]))]
    return table_of(Result([], [], rows), ROUTE_STATS_SCHEMA)


CONTRAST_SCHEMA = pa.schema([
    ("scope", pa.string()), ("key", pa.string()), ("value", pa.string()), ("selected", pa.int64()),
    ("baseline", pa.int64()), ("selected_total", pa.int64()), ("baseline_total", pa.int64()),
    ("threshold_ns", pa.int64()),
])


def json_text(value: object) -> str | None:
    """An attribute value as text, as DuckDB's `->> '$'` gives it: strings as they are, null as
    NULL, anything else as compact JSON ('500', 'true', '["a","b"]')."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def contrast_table(sides: dict[str, bool], attribute_rows: list[list[Any]], threshold: int | None) -> pa.Table:
    """Count, per (scope, key, value), the sampled traces of each side that carry it."""
    pairs: set[tuple[str, str, str, str | None]] = set()
    for trace, span_json, resource_json in attribute_rows:
        for scope, text in (("span", span_json), ("resource", resource_json)):
            try:
                document = json.loads(text) if text else {}
            except ValueError:
                continue
            if isinstance(document, dict):
                pairs.update((str(trace), scope, str(k), json_text(v)) for k, v in document.items())
    counts: dict[tuple[str, str, str | None], list[int]] = {}
    for trace, scope, key, value in pairs:
        counts.setdefault((scope, key, value), [0, 0])[0 if sides[trace] else 1] += 1
    selected_total = sum(1 for s in sides.values() if s)
    baseline_total = len(sides) - selected_total
    rows = [[scope, key, value, n[0], n[1], selected_total, baseline_total, threshold]
            for (scope, key, value), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ""))]
    return table_of(Result([], [], rows), CONTRAST_SCHEMA)

