"""ClickHouseStore: the store contract on a ClickHouse server or cluster, over its HTTP interface.

Writes: a batch goes in as one Native block (built from the Arrow batch without per-span Python),
after dropping the spans it repeats and the spans already stored (looked up by trace id, within
the batch's start-time range). ReplacingMergeTree on the span's identity and FINAL on every read
are the backstop: if two instances store the same span at once, readers still see it once.

On a cluster the block goes to the Distributed table with insert_distributed_sync=1: write_spans
returns only once every shard holding part of the batch has it, so an unreachable shard is an
error and the batch stays in the tracehouse instance's spool, to be retried.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.model import (
    SPAN_KINDS,
    SPAN_ROW_SCHEMA,
    DependencyLink,
    DurationScope,
    Operation,
    SortOrder,
    SpanMetricsPoint,
    SpanMetricsQuery,
    SqlResult,
    TraceBreakdown,
    TraceQuery,
    TraceSummary,
)
from tracehouse.store import (
    INFERRED_LINK_SCHEMA,
    AnalysisFilter,
    CatalogColumn,
    CatalogTable,
    ExampleQuery,
    Selection,
    StoreError,
    WriteResult,
    trace_id_bytes,
)
from tracehouse.stores.clickhouse import links as inferred
from tracehouse.stores.clickhouse import native, reconstructed
from tracehouse.stores.clickhouse.analytics import (
    CAUSE_SAMPLE_SCHEMA,
    ERROR_HOTSPOTS_SCHEMA,
    HASH_SPACE,
    SAMPLE_SLICES,
    TRACE_SAMPLE_SCHEMA,
    contrast_table,
    filter_params,
    first_of_each_key,
    narrowing_name,
    route_table,
    sample_table,
    slice_ranges,
    span_rows,
    table_of,
    unclean_range,
    window_params,
)
from tracehouse.stores.clickhouse.location import ClickHouseLocation
from tracehouse.stores.clickhouse.origins import Groups, add_calls, origin_table
from tracehouse.stores.clickhouse.quoting import Array, Raw, literal, render, sql, statement
from tracehouse.stores.clickhouse.results import Result, select
from tracehouse.stores.clickhouse.sampling import ClickHouseSampling
from tracehouse.stores.clickhouse.sandbox import run_user_sql
from tracehouse.stores.clickhouse.schema import SUMMARY_BUCKET_NS, Layout, statements
from tracehouse.stores.clickhouse.span_columns import span_detail_columns, span_key_columns
from tracehouse.stores.clickhouse.transport import ClickHouseError, HttpTransport, Transport

MAX_ATTRIBUTE_FILTERS = 8
# What each user-facing view is for (docs/clickhouse.md lists the columns).
VIEW_DESCRIPTIONS = {
    "spans": "One row per span: ids as hex, times in ns, attributes as JSON text "
             "(visitParamExtractString(attributes, 'key')).",
    "traces": "One row per trace: root service/operation, start, duration, span and error counts.",
    "edges": "One row per call: parent service/operation -> child service/operation.",
    "inferred_links": "One row per live inferred link (reconstruction): child span -> proposed parent span.",
    "reconstructed_traces": "One row per trace reconstruction joined: a fragment and the trace it now belongs "
                            "to, or a root.",
}
_NS_MIN = -(2**63) + 1
_NS_MAX = 2**63 - 1
_IDS_PER_STATEMENT = 2500          # ~110 KB of id literals, well within the server's 256 KiB max_query_size
_MUTATION_TIMEOUT_S = 120.0
_TRACE_TIMES_KEPT = 16   # filters whose trace_times the store keeps while the tables are unchanged
_TIMEOUT_EXCEEDED = 159
# How long an ON CLUSTER statement waits for every host to report (the server's default is 180 s).
_DDL_SETTINGS: dict[str, str | int | float] = {"distributed_ddl_task_timeout": 30}
# Spans per slice of an export (as the embedded store: ~16 MB of FBaaS-shaped rows at a time).
EXPORT_SLICE_ROWS = 20_000
_ALL_AFTER = _NS_MAX   # the end of the last export slice: after every storable start time
_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")
# The service map reads hour summaries (sql/schema/dependency_hours.sql) for windows of at least
# this many whole hours; shorter windows read their calls directly (a few hours' FINAL is cheap).
_MIN_SUMMARISED_HOURS = 3
_NO_HOUR_VERSION = (_NS_MIN, 0)   # no summary has version 0: `IN` needs a non-empty list


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def _json_forms(text: str) -> list[str]:
    """The ways a JSON encoder writes `text` as a string: with non-ASCII as is, or escaped."""
    return list(dict.fromkeys([json.dumps(text, ensure_ascii=False), json.dumps(text)]))


_JSON_SCALAR = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false")


def attribute_regex(key: str, value: str) -> str:
    """An RE2 expression that finds `"key": value` in attribute JSON, the value written as a JSON
    string or, when it reads as one, as a JSON number or boolean (attributes keep their OTLP types:
    status code 500 is stored as 500, and a search for "500" finds it)."""
    keys = "|".join(_regex_escape(k) for k in _json_forms(key))
    values = [_regex_escape(v) for v in _json_forms(value)]
    if _JSON_SCALAR.fullmatch(value):
        values.append(_regex_escape(value))
    return f"(?:{keys})\\s*:\\s*(?:{'|'.join(values)})\\s*[,}}\\]]"


class ClickHouseStore(ClickHouseSampling):
    """A tracehouse store in one ClickHouse database, on one server or a cluster. Tail sampling's
    hold (SamplingStore) is the ClickHouseSampling mixin (sampling.py)."""

    # One INSERT per batch; ClickHouse prefers large blocks (one part each, merged in background).
    preferred_batch_spans = 50_000

    def __init__(self, location: ClickHouseLocation, read_only: bool = False,
                 transport: Transport | None = None, owns_transport: bool = True,
                 sql_memory_bytes: int = 128 * 10**6) -> None:
        self.location = location
        self.sql_memory_bytes = sql_memory_bytes   # the memory cap of one user query (tracehouse sql)
        self.read_only = read_only
        self.layout = Layout(location.database, location.cluster)
        self._transport: Transport = transport or HttpTransport(
            location.http_url, location.user, location.password)
        self._owns_transport = owns_transport if transport is not None else True
        self._closed = False
        self._versions = inferred.LinkVersions()
        self._params = self.layout.params()
        self._trace_times_kept: dict[str, tuple[tuple[Any, ...], tuple[int, int | None, int | None]]] = {}
        self._trace_times_lock = threading.Lock()
        self._earliest_kept: tuple[tuple[Any, ...], int | None] | None = None
        # A synchronous insert into the Distributed table waits for every shard. Bounded, because an
        # insert caught mid-way by a replica's death can otherwise hang for the server's 300 s
        # receive_timeout; a timed-out insert fails, and is retried (writes are idempotent).
        self._insert_settings: dict[str, str | int | float] = (
            {"insert_distributed_sync": 1, "insert_distributed_timeout": 30} if location.cluster else {})
        # Calls are derived again for every batch of their traces, and replicated tables drop a block
        # identical to an earlier one: a call deleted by retention and derived again from re-sent
        # spans would stay lost. Their duplicates are the ReplacingMergeTree's to drop (FINAL).
        self._calls_settings: dict[str, str | int | float] = (
            self._insert_settings | {"insert_deduplicate": 0} if location.cluster else {})
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ---- opening
    def _open(self) -> None:
        if self.read_only:
            if not self._tables_exist():
                raise StoreError(f"no tracehouse store in {self.location}: start `tracehouse up --store "
                                 f"{self.location}` once to create it")
            return
        replicated = False
        if self.layout.cluster:
            rows = self._select(statement("admin/replicas", cluster_name=self.layout.cluster)).rows
            if not rows or rows[0][0] is None:
                raise StoreError(f"the ClickHouse server has no cluster named {self.layout.cluster!r} "
                                 "in its remote_servers configuration")
            replicated = bool(rows[0][0])
        self._params = self.layout.params(replicated)
        if self._tables_exist() and self.sampling_tables_exist():
            return   # created before (by this or another instance); ON CLUSTER DDL costs ~0.1 s a statement
        rows = self._select(self._statement("admin/calls_table_exists")).rows
        had_calls = bool(rows and rows[0][0])
        if self.layout.cluster and int(self._select(self._statement("admin/old_links_distributed")).rows[0][0]):
            self._create(self._statement("admin/drop_old_links_distributed"))
        for ddl in statements(self.layout, replicated):
            self._create(ddl)
        if not had_calls:
            self.derive_all_calls()   # a store made before the table of calls: its spans' calls, once

    def _create(self, ddl: str) -> None:
        """Run one CREATE ... IF NOT EXISTS; on a cluster, again after a failure (up to three tries):
        18.16's distributed DDL can time out or fail on a host under load, and the statement is
        idempotent."""
        for attempt in range(3):
            try:
                self._transport.query(ddl)
                return
            except ClickHouseError:
                if not self.layout.cluster or attempt == 2:
                    raise
                time.sleep(1.0 + attempt)

    def _tables_exist(self) -> bool:
        rows = self._select(self._statement("admin/store_exists")).rows
        return bool(rows and rows[0][0])

    def _select(self, sql: str) -> Result:
        return select(self._transport, sql)

    def _statement(self, name: str, **params: object) -> str:
        return statement(name, **(self._params | params))

    # ---- SpanWriter
    def write_spans(self, batch: pa.Table) -> WriteResult:
        if batch.num_rows == 0:
            return WriteResult(received=0, stored=0)
        if self.read_only:
            raise StoreError("the store was opened read-only")
        received = batch.num_rows
        try:
            columns = _columns(batch)   # validates before anything is sent: a bad batch stores nothing
        except (ValueError, pa.ArrowException) as exc:
            raise StoreError(f"the batch cannot be stored: {exc}") from exc
        keep = _first_of_each_span(batch)
        existing = self._existing_spans(batch if keep is None else batch.take(keep))
        if existing:
            keys = _span_keys(batch)
            base = range(batch.num_rows) if keep is None else keep.to_pylist()
            keep = pa.array([i for i in base if keys[i] not in existing], pa.int64())
        rows = received if keep is None else len(keep)
        if rows:
            if keep is not None:
                columns = _columns(batch.take(keep))
            self._transport.insert(self.layout.span_data.name, native.block(columns, rows), self._insert_settings)
        # Even when every span was stored already: a write that failed after its insert (and is
        # retried now) may not have derived its calls yet.
        self._derive_calls(pc.unique(batch.column("trace_id").combine_chunks()).to_pylist())
        return WriteResult(received=received, stored=rows)

    def _derive_calls(self, trace_ids: Sequence[bytes]) -> None:
        """Write the calls (sql/schema/service_calls.sql) of these traces, from their stored spans."""
        # The id list appears twice in the statement: 2 x ~110 KB, within the 256 KiB max_query_size.
        for at in range(0, len(trace_ids), _IDS_PER_STATEMENT):
            hex_ids = Array(tuple(t.hex() for t in trace_ids[at:at + _IDS_PER_STATEMENT]))
            traces = Raw(statement("write/_traces_in", hex_ids=hex_ids).strip())
            self._transport.query(self._statement("write/service_calls", traces=traces, derived_at=time.time_ns()),
                                  settings=self._calls_settings or None)

    def derive_all_calls(self, traces_per_slice: int = 1_000_000) -> None:
        """Derive the calls of every stored trace, in slices of trace-id hash (each slice's join holds
        about `traces_per_slice` traces' spans): for a store created before the table of calls, and
        for spans loaded into the span table by other means (the benchmark's generator)."""
        rows = self._select(self._statement("read/span_count")).rows
        slices = max(1, -(-(int(rows[0][0]) if rows else 0) // (5 * traces_per_slice)))
        for part in range(slices):
            traces = Raw(statement("write/_traces_of_slice", slices=slices, part=part).strip())
            self._transport.query(self._statement("write/service_calls", traces=traces, derived_at=time.time_ns()),
                                  settings=self._calls_settings or None)

    def _existing_spans(self, batch: pa.Table) -> set[tuple[str, str, int]]:
        starts = pc.min_max(batch.column("start_time_unix_nano"))
        ids = pc.unique(batch.column("trace_id").combine_chunks()).to_pylist()
        found: set[tuple[str, str, int]] = set()
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            rows = self._select(self._statement(
                "read/existing_spans", hex_ids=Array(tuple(t.hex() for t in ids[at:at + _IDS_PER_STATEMENT])),
                min_start=starts["min"].as_py(), max_start=starts["max"].as_py())).rows
            found.update((str(t), str(s), int(start)) for t, s, start in rows)
        return found

    def pin_traces(self, trace_ids: Sequence[str], keep_until_unix_nano: int | None) -> None:
        if self.read_only:
            raise StoreError("the store was opened read-only")
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None))
        if not ids:
            return
        until = _NS_MAX if keep_until_unix_nano is None else int(keep_until_unix_nano)
        pinned_at = self._versions.next()
        columns = [
            native.fixed_string_column("trace_id", pa.array(ids, pa.binary(16)), 16, nullable=False),
            native.number_column("keep_until_unix_nano", pa.array([until] * len(ids), pa.int64()), "Int64"),
            native.number_column("pinned_at", pa.array([pinned_at] * len(ids), pa.uint64()), "UInt64"),
        ]
        self._transport.insert(self.layout.local_or_distributed("retention_pins_local").name,
                               native.block(columns, len(ids)), self._insert_settings)

    def delete_before(self, cutoff_unix_nano: int) -> int:
        return self._delete_before(cutoff_unix_nano, honour_pins=True)

    def _delete_before(self, cutoff_unix_nano: int, honour_pins: bool) -> int:
        if self.read_only:
            raise StoreError("the store was opened read-only")
        spare = Raw(self._statement("admin/spare_pins", now=time.time_ns()).strip() if honour_pins else "")
        rows = self._select(self._statement("admin/count_before", cutoff=cutoff_unix_nano, spare=spare)).rows
        count = int(rows[0][0]) if rows else 0
        self._delete_links_before(cutoff_unix_nano)
        if count:
            for ddl in self._statement("admin/delete_derived_before", cutoff=cutoff_unix_nano).split(";"):
                try:
                    self._transport.query(ddl.strip(), settings=_DDL_SETTINGS if self.layout.cluster else None)
                except ClickHouseError as exc:
                    if not self.layout.cluster or exc.code != _TIMEOUT_EXCEEDED:   # as for spans, below
                        raise
        if count:
            try:
                self._transport.query(self._statement("admin/delete_calls_before", cutoff=cutoff_unix_nano,
                                                      spare=spare),
                                      settings=_DDL_SETTINGS if self.layout.cluster else None)
            except ClickHouseError as exc:
                if not self.layout.cluster or exc.code != _TIMEOUT_EXCEEDED:   # as for spans, below
                    raise
            try:
                self._transport.query(self._statement("admin/delete_before", cutoff=cutoff_unix_nano, spare=spare),
                                      settings=_DDL_SETTINGS if self.layout.cluster else None)
            except ClickHouseError as exc:
                # ClickHouse 18.16's DDLWorker can fail an ALTER ... ON CLUSTER on a replicated table
                # on one host after another replica of its shard already ran it ("Node exists:
                # .../shards/.../executed"); that host never reports, and the statement waits out
                # distributed_ddl_task_timeout. The mutation did reach the shard, so time-outs are
                # judged by their outcome: below, every span before the cutoff must be gone.
                if not self.layout.cluster or exc.code != _TIMEOUT_EXCEEDED:
                    raise
            self._wait_for_mutations()
            if self.layout.cluster:
                left = self._select(self._statement("admin/count_before", cutoff=cutoff_unix_nano,
                                                    spare=spare)).rows
                if left and int(left[0][0]):
                    raise StoreError(f"ClickHouse has not deleted {int(left[0][0]):,} span(s) before the cutoff "
                                     "yet (a shard's distributed DDL is late); the next retention pass retries")
        return count

    def _delete_links_before(self, cutoff_unix_nano: int) -> None:
        rows = self._select(self._statement("admin/count_links_before", cutoff=cutoff_unix_nano)).rows
        if rows and int(rows[0][0]):
            try:
                self._transport.query(self._statement("admin/delete_links_before", cutoff=cutoff_unix_nano),
                                      settings=_DDL_SETTINGS if self.layout.cluster else None)
            except ClickHouseError as exc:
                if not self.layout.cluster or exc.code != _TIMEOUT_EXCEEDED:   # as for spans, below
                    raise

    def _wait_for_mutations(self) -> None:
        deadline = time.monotonic() + _MUTATION_TIMEOUT_S
        delay = 0.02
        while True:
            rows = self._select(self._statement("admin/pending_mutations")).rows
            if not rows or not rows[0][0]:
                return
            if time.monotonic() > deadline:
                raise StoreError(f"ClickHouse did not finish deleting within {_MUTATION_TIMEOUT_S:g} s; "
                                 "the delete goes on in the background")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def size_bytes(self) -> int:
        rows = self._select(self._statement("admin/size_bytes")).rows
        return int(rows[0][0] or 0) if rows else 0

    def enforce_max_size(self, max_bytes: int) -> int:
        """Delete the oldest spans so the data fits in 90% of the cap. Sizes are of compressed parts,
        so the share to delete is re-estimated up to three times."""
        if max_bytes <= 0:
            return 0
        deleted = 0
        for _ in range(3):
            size = self.size_bytes()
            if size <= max_bytes:
                break
            fraction = min(1.0, 1 - (max_bytes * 0.9) / size)
            rows = self._select(self._statement("admin/start_time_quantile", fraction=fraction)).rows
            if not rows or rows[0][0] is None:
                break
            deleted += self._delete_before(int(rows[0][0]) + 1, honour_pins=False)
        return deleted

    # ---- SpanReader
    def services(self) -> list[str]:
        return [str(r[0]) for r in self._select(self._statement("read/services")).rows]

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        if span_kind is not None and span_kind not in SPAN_KINDS:
            return []
        kind = SPAN_KINDS.index(span_kind) if span_kind is not None else None
        rows = self._select(self._statement("read/operations", service=service, span_kind=kind)).rows
        return [Operation(name=str(name), span_kind=SPAN_KINDS[int(k)]) for name, k in rows]

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        if query.limit <= 0:
            return []
        if len(query.attributes) > MAX_ATTRIBUTE_FILTERS or "" in query.attributes:
            raise StoreError(f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters, each with a non-empty key")
        if query.span_kind is not None and query.span_kind not in SPAN_KINDS:
            return []
        params = _search_params(query)
        rows = self._summary_search(query, params)
        if rows is None:
            rows = self._select(self._statement("read/find_traces", **params)).rows
        if not rows:
            return []
        per_service: dict[str, dict[str, int]] = {}
        ids = [bytes.fromhex(str(r[0])) for r in rows]
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            for trace_id, service, count in self._select(self._statement(
                    "read/spans_per_service", trace_ids=ids[at:at + _IDS_PER_STATEMENT])).rows:
                per_service.setdefault(str(trace_id), {})[str(service)] = int(count)
        return [
            TraceSummary(trace_id=str(trace_id), root_service=root_service, root_span_name=root_name,
                         start_time_unix_nano=int(start), duration_ns=int(duration), span_count=int(spans),
                         error_count=int(errors), spans_per_service=per_service.get(str(trace_id), {}))
            for trace_id, root_service, root_name, start, duration, spans, errors in rows
        ]

    def _summary_search(self, query: TraceQuery, params: dict[str, object]) -> list[list[Any]] | None:
        """The search from the per-trace summaries and the search index (sql/read/find_traces_fast.sql),
        its rows checked against the spans; None when it cannot answer exactly (attribute filters, no
        window start, a window from the oldest summary hour, or summaries that disagree with the spans)
        and read/find_traces.sql must."""
        if query.attributes or query.start_time_min_ns is None:
            return None
        oldest = self._select(self._statement("read/oldest_bucket")).rows
        bucket_min = _trunc_div(query.start_time_min_ns, SUMMARY_BUCKET_NS)
        if not oldest or oldest[0][0] is None or bucket_min <= int(oldest[0][0]):
            return None
        span_filter = bool(query.service or query.operation or query.span_kind
                           or query.duration_scope is DurationScope.SPAN)
        # The service is left out rather than compared with NULL: 18.16 cannot compare the index's
        # leading key column with NULL.
        service_clause = Raw(statement("read/_service_clause", service=query.service).strip()
                             if query.service is not None else "")
        # Most recent first: the traces that start in the window's last sixteenth (then quarter, then
        # all of it) outrank every earlier one, so once that part holds `limit` traces they are the
        # answer, read from a sixteenth of the summaries and the index.
        start_max = int(params["start_max"])   # type: ignore[call-overload]
        narrow = query.sort is SortOrder.RECENT and start_max < _NS_MAX
        part = (start_max - query.start_time_min_ns) // 16 if narrow else 0
        while True:
            lower = max(query.start_time_min_ns, start_max - part) if narrow else query.start_time_min_ns
            window = params | {"start_min": lower}
            candidates = Raw(self._statement("read/_index_candidates", service_clause=service_clause,
                                             **window).strip() if span_filter else "")
            fast = self._select(self._statement(
                "read/find_traces_fast", bucket_min=_trunc_div(lower, SUMMARY_BUCKET_NS), candidates=candidates,
                **window)).rows
            if lower == query.start_time_min_ns or len(fast) >= query.limit:
                break
            part *= 4
        if not fast:
            return []
        facts = {str(r[0]): r for r in self._select(self._statement(
            "read/trace_facts", trace_ids=[bytes.fromhex(str(r[0])) for r in fast])).rows}
        rows = []
        for trace_hex, start, duration, spans, errors in fast:
            exact = facts.get(str(trace_hex))
            if exact is None or [int(v) for v in exact[3:]] != [int(start), int(duration), int(spans), int(errors)]:
                return None    # a span re-sent before a merge, or a summary behind a delete: ask the spans
            rows.append(list(exact))
        return rows

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None))
        if not ids:
            return SPAN_ROW_SCHEMA.empty_table()
        rows: list[list[Any]] = []
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            rows += self._select(self._statement("read/spans_of_traces",
                                                 trace_ids=ids[at:at + _IDS_PER_STATEMENT])).rows
        if len(ids) > _IDS_PER_STATEMENT:
            rows.sort(key=lambda r: (r[0], r[7], r[1]))
        return span_rows(first_of_each_key(rows, (0, 1, 7)))   # read without FINAL: one row per span key

    def trace_breakdowns(self, summaries: Sequence[TraceSummary]) -> list[TraceBreakdown]:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(s.trace_id) for s in summaries) if b is not None))
        services: dict[str, dict[str, tuple[int, int]]] = {}
        orphans: dict[str, int] = {}
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            for trace, service, spans, errors, orphan in self._select(self._statement(
                    "read/trace_breakdowns", trace_ids=ids[at:at + _IDS_PER_STATEMENT])).rows:
                services.setdefault(str(trace), {})[str(service)] = (int(spans), int(errors))
                orphans[str(trace)] = orphans.get(str(trace), 0) + int(orphan)
        return [TraceBreakdown(trace_id=s.trace_id.lower().rjust(32, "0"),
                               services=services[s.trace_id.lower().rjust(32, "0")],
                               orphan_span_count=orphans[s.trace_id.lower().rjust(32, "0")])
                for s in summaries if s.trace_id.lower().rjust(32, "0") in services]

    def span_metrics(self, query: SpanMetricsQuery) -> list[SpanMetricsPoint]:
        kinds = [SPAN_KINDS.index(k) for k in query.span_kinds if k in SPAN_KINDS]
        if not query.services or not kinds or query.step_ns <= 0:
            return []
        points = query.lookback_ns // query.step_ns + 1
        first = query.end_ns - (points - 1) * query.step_ns
        params: dict[str, object] = {
            "services": list(query.services), "kinds": kinds, "by_operation": query.group_by_operation,
            "first": first, "last": first + (points - 1) * query.step_ns, "step": query.step_ns,
            "points": points, "rate_per": query.rate_per_ns,
            # Makes every numerator of sql/read/span_metrics.sql positive (a multiple of the step).
            "shift": (query.rate_per_ns // query.step_ns + 2) * query.step_ns,
            "quantile": query.quantile if query.quantile is not None else -1.0,
        }
        grouped = self._select(self._statement("read/span_metrics", **params)).rows
        operation = (lambda op: str(op)) if query.group_by_operation else (lambda op: None)
        if query.quantile is not None:   # points without spans are left out, as on DuckDB
            return [SpanMetricsPoint(service=str(svc), operation=operation(op), timestamp_ns=int(t), calls=int(n),
                                     errors=int(e), latency_ns=float(lat))
                    for svc, op, t, n, e, lat in grouped]
        counts = {(str(svc), str(op), int(t)): (int(n), int(e)) for svc, op, t, n, e, _ in grouped}
        series = self._select(self._statement("read/span_metrics_series", **params)).rows
        return [SpanMetricsPoint(service=str(svc), operation=operation(op), timestamp_ns=t,
                                 calls=counts.get((str(svc), str(op), t), (0, 0))[0],
                                 errors=counts.get((str(svc), str(op), t), (0, 0))[1], latency_ns=None)
                for svc, op in series for t in range(first, first + points * query.step_ns, query.step_ns)]

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        """From the calls kept at write time: the window's whole hours from their summaries (made
        here when missing or out of date), the rest from the calls themselves."""
        if end_unix_nano <= start_unix_nano:
            return []
        first_hour = -(-start_unix_nano // SUMMARY_BUCKET_NS)      # the whole hours inside the window
        end_hour = end_unix_nano // SUMMARY_BUCKET_NS
        direct: list[tuple[int, int]] = []
        versions: list[tuple[int, int]] = []
        if end_hour - first_hour >= _MIN_SUMMARISED_HOURS:
            versions, stale = self._hour_summaries(first_hour, end_hour)
            direct += [(h * SUMMARY_BUCKET_NS, (h + 1) * SUMMARY_BUCKET_NS) for h in stale]
            direct += [(start_unix_nano, first_hour * SUMMARY_BUCKET_NS), (end_hour * SUMMARY_BUCKET_NS, end_unix_nano)]
        else:
            direct.append((start_unix_nano, end_unix_nano))
        ranges = [statement("read/_calls_between", start=a, end=b, bucket_ns=SUMMARY_BUCKET_NS).strip()
                  for a, b in direct if a < b]
        rows = self._select(self._statement(
            "read/dependencies", versions=versions or [_NO_HOUR_VERSION],
            direct=Raw(" OR ".join(ranges) if ranges else "0"))).rows
        return [DependencyLink(parent=str(p), child=str(c), call_count=int(n), error_count=int(e),
                               p95_duration_ns=int(p95 or 0)) for p, c, n, e, p95 in rows]

    def _hour_summaries(self, first_hour: int, end_hour: int) -> tuple[list[tuple[int, int]], list[int]]:
        """The (hour, version) of a valid summary of each hour with calls in [first_hour, end_hour),
        summarising again the hours whose calls changed; and the hours left without one (a
        read-only store cannot write summaries: those hours are read from the calls)."""
        hours = {"first_hour": first_hour, "end_hour": end_hour}
        signatures = {int(h): (int(n), int(d)) for h, n, d in self._select(
            self._statement("read/call_signatures", **hours)).rows}
        cached: dict[int, tuple[int, int, int]] = {}
        for h, version, n, d in self._select(self._statement("read/dependency_hours_cached", **hours)).rows:
            if int(h) not in cached or int(version) > cached[int(h)][0]:
                cached[int(h)] = (int(version), int(n), int(d))
        valid = [(h, cached[h][0]) for h, sig in signatures.items() if h in cached and cached[h][1:] == sig]
        stale = sorted(h for h in signatures if h not in dict(valid))
        if not stale or self.read_only:
            return valid, stale
        version = self._versions.next()
        self._transport.query(self._statement(
            "write/dependency_hours", version=version, hours_list=stale,
            signatures=Raw("[" + ", ".join(f"({h}, {signatures[h][0]}, {signatures[h][1]})" for h in stale) + "]")),
            settings=self._insert_settings or None)
        return valid + [(h, version) for h in stale], []

    def span_count(self) -> int:
        rows = self._select(self._statement("read/span_count")).rows
        return int(rows[0][0]) if rows else 0

    # ---- SqlRunner
    def run_sql(self, sql_text: str, max_rows: int, timeout_seconds: float,
                params: Sequence[object] = ()) -> SqlResult:
        return run_user_sql(self._transport, self.layout.database, sql_text, max_rows, timeout_seconds, params,
                            self.sql_memory_bytes)

    def sql_dialect(self) -> str:
        return "clickhouse"

    # ---- AnalyticsReader (tracehouse.store.analytics_contract; see analytics.py for what runs here)
    def _analysis_params(self, flt: AnalysisFilter, key: str = "cityHash64(trace_id)",
                         slices: Raw | None = None, as_stored: bool = False) -> dict[str, object]:
        """Every placeholder an analysis statement may use: the filter's, where the window meets the
        summaries' hours, {narrowing} (the filter's service, operation and attributes) and {parts}
        (the selected traces' per-trace figures, keyed by `key`: sql/analytics/_window_trace_parts.sql,
        or, for a window that reaches the summaries' oldest hour, _window_trace_parts_spans.sql)."""
        params = self._params | filter_params(flt, attribute_regex)
        start, end = int(str(params["start_ns"])), int(str(params["end_ns"]))
        params |= window_params(start, end, SUMMARY_BUCKET_NS)
        live_links = self.inferred_link_stats()[0] if flt.reconstructed != "received" else 0
        joined = reconstructed.joins(flt, live_links, as_stored)
        if joined:   # reconstructed.py: the joined spans wherever the span table or the index is read
            only = render(sql("analytics/_reconstructed_only_stored"), params) if flt.reconstructed == "only" else ""
            params["joined_spans"] = Raw(render(sql("analytics/_reconstructed_spans"),
                                                params | {"only_traces": Raw(only.strip())}))
            params |= dict.fromkeys(("span_data", "span_data_local", "index", "index_local"), Raw(reconstructed.JOINED))
        clauses = [f"AND {column} = {literal(value)}" for column, value in
                   (("service_name", flt.service), ("span_name", flt.operation)) if value is not None]
        params["service_clause"] = Raw(" ".join(clauses))
        narrowing = narrowing_name(flt)
        narrowed = [render(sql(narrowing), params).strip()] if narrowing else []
        chosen = reconstructed.narrowing_sql(flt, live_links, as_stored)   # a trace-id filter, if any
        narrowed += [render(sql(chosen), params).strip()] if chosen else []
        if slices is not None:   # a sample's candidates: traces with a span in one of its slices
            narrowed.append(render(sql("analytics/_narrow_slices"), params | {"slices": slices}).strip())
        params["narrowing"] = Raw("\n".join(narrowed))
        params["key"] = Raw(key)
        parts = "analytics/_window_trace_parts_spans" if joined else self._parts_name(start)
        params["parts"] = Raw(render(sql(parts), params))
        return params

    def _rendered(self, name: str, params: dict[str, object]) -> str:
        """An analysis statement, with the joined spans in place when the filter joins them."""
        text = render(sql(f"analytics/{name}"), params)
        joined = params.get("joined_spans")
        return reconstructed.substituted(text, joined.text) if isinstance(joined, Raw) else text

    def _parts_name(self, start_ns: int) -> str:
        """The summaries and the index hold every span of a window that starts at or after the
        index's earliest span in the summaries' oldest hour (sql/analytics/oldest_window_start.sql:
        retention cuts only that hour, and spares pinned traces' spans before it in the span table
        only); the window's first, partial hour is always read from the index."""
        earliest = self._earliest_summarised()
        if earliest is not None and start_ns >= earliest:
            return "analytics/_window_trace_parts"
        return "analytics/_window_trace_parts_spans"

    def _earliest_summarised(self) -> int | None:
        """_parts_name's bound, kept while the tables' parts are unchanged (one statement instead of
        two for each analysis statement)."""
        signature = self._tables_signature()
        with self._trace_times_lock:
            kept = self._earliest_kept
        if kept is not None and kept[0] == signature:
            return kept[1]
        earliest: int | None = None
        oldest = self._select(self._statement("read/oldest_bucket")).rows
        if oldest and oldest[0][0] is not None:
            rows = self._select(self._statement("analytics/oldest_window_start",
                                                before=(int(oldest[0][0]) + 1) * SUMMARY_BUCKET_NS)).rows
            earliest = int(rows[0][0]) if rows and rows[0][0] is not None else None
        with self._trace_times_lock:
            self._earliest_kept = (signature, earliest)
        return earliest

    def _tables_signature(self) -> tuple[Any, ...]:
        return tuple(self._select(self._statement("read/tables_signature")).rows[0])

    def _analysis(self, name: str, flt: AnalysisFilter, **extra: object) -> Result:
        params = self._analysis_params(flt, as_stored=name.startswith("export_"))   # exports: spans as stored
        return self._select(self._rendered(name, params | extra))

    def route_stats(self, flt: AnalysisFilter, slowest_fraction: float | None = None,
                    max_traces: int | None = None) -> pa.Table:
        sample_below = HASH_SPACE - 1
        selected = None
        if max_traces is not None:
            # cityHash64(trace_id) is uniform over UInt64: the traces below this bound are about
            # max_traces of them, the same ones every time.
            selected = self.count_traces(flt)
            if selected > max_traces:
                sample_below = min(HASH_SPACE * max_traces // selected, HASH_SPACE - 1)
        result = self._analysis("route_traces", flt, sample_below=sample_below)
        return route_table(result, slowest_fraction, selected)

    def origin_stats(self, flt: AnalysisFilter, service: str, operation: str | None = None,
                     max_traces: int | None = None) -> pa.Table:
        target = {"target_service": service, "target_operation": operation}
        sample_below = HASH_SPACE - 1
        if max_traces is not None:
            # As route_stats and the embedded store: the traces whose cityHash64 is below this bound
            # are about max_traces of the selected ones, the same every time.
            selected = self.count_traces(flt)
            if selected > max_traces:
                sample_below = min(HASH_SPACE * max(1, max_traces) // selected, HASH_SPACE - 1)
        groups: Groups = {}
        rows = first_of_each_key(self._analysis("origin_spans", flt, sample_below=sample_below, **target).rows,
                                 (0, 1, 7))   # read without FINAL: one row per span key
        add_calls(groups, [row[:7] for row in rows], service, operation)
        return origin_table(groups, service)

    def attribute_contrast(self, flt: AnalysisFilter, selection: Selection, max_traces: int) -> pa.Table:
        if selection.traces is not None:   # the sides given (by the one trace duration): read whole
            wanted = max(0, int(max_traces))
            given = {**{t.lower().rjust(32, "0"): False for t in selection.others[:wanted]},
                     **{t.lower().rjust(32, "0"): True for t in selection.traces[:wanted]}}
            return self._contrast_of(flt, given, None)
        sample = self._analysis(
            "contrast_sample", flt, errors=selection.errors, max_traces=max(0, int(max_traces)),
            min_duration_ns=selection.min_duration_ns if selection.min_duration_ns is not None else -1,
            slowest_fraction=selection.slowest_fraction if selection.slowest_fraction is not None else 0.05).rows
        sides = {str(trace): bool(in_selection) for trace, in_selection, _ in sample}
        threshold = None if selection.errors or not sample else int(sample[0][2])
        return self._contrast_of(flt, sides, threshold)

    def _contrast_of(self, flt: AnalysisFilter, sides: dict[str, bool], threshold: int | None) -> pa.Table:
        try:
            for t in sides:
                bytes.fromhex(t.rjust(32, "0"))
        except ValueError as exc:
            raise StoreError(f"not a trace id among {', '.join(list(sides)[:3])}...") from exc
        ids = [t for t in (t.lower().rjust(32, "0") for t in sides) if len(t) == 32]   # longer ones match nothing
        attribute_rows: list[list[Any]] = []
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            attribute_rows += self._analysis("contrast_attributes", flt,
                                             hex_ids=Array(tuple(ids[at:at + _IDS_PER_STATEMENT]))).rows
        return contrast_table(sides, attribute_rows, threshold)

    def error_hotspots(self, flt: AnalysisFilter) -> pa.Table:
        final = Raw("FINAL" if self._window_has_copies(flt) else "")
        return table_of(self._analysis("error_hotspots", flt, final=final), ERROR_HOTSPOTS_SCHEMA)

    def _window_has_copies(self, flt: AnalysisFilter) -> bool:
        """Whether the window may hold copies of a span (sql/analytics/window_copies.sql), counted
        only over the part of the window outside the partitions system.parts shows clean
        (sql/analytics/span_partitions.sql): the count reads every span of the window's days with
        FINAL, 0.6 s at 1M traces, and a partition merged into one part has none."""
        params = filter_params(flt, attribute_regex)
        partitions = [(int(a), int(b), bool(int(c))) for a, b, c in
                      self._select(self._statement("analytics/span_partitions")).rows]
        probed = unclean_range(int(str(params["start_ns"])), int(str(params["end_ns"])), partitions)
        if probed is None:
            return False
        copies = self._select(self._statement("analytics/window_copies", start_ns=probed[0], end_ns=probed[1])).rows
        return bool(copies and int(copies[0][0]))

    def trace_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._sample("trace_sample", flt, max_traces, TRACE_SAMPLE_SCHEMA)

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._sample("cause_sample", flt, max_traces, CAUSE_SAMPLE_SCHEMA)

    def _sample(self, name: str, flt: AnalysisFilter, max_traces: int, schema: pa.Schema) -> pa.Table:
        """Every selected trace's window spans when there are no more than max_traces, else a sample
        drawn as the embedded store draws it: of the traces whose first start lies in one of
        SAMPLE_SLICES short slices spread over the window (candidates found through the search
        index), the max_traces with the lowest cityHash64 (sql/analytics/_sample_ids.sql); their
        spans read by trace id, a primary-key read (sql/analytics/trace_sample_of.sql), in one
        statement: the ids never leave the server."""
        wanted = max(0, int(max_traces))
        count, low, high = self.trace_times(flt)
        if count == 0 or wanted == 0:
            return table_of(Result([], [], []), schema)
        if count <= wanted:
            return sample_table(self._analysis(name, flt).rows, schema, dedupe=False)
        assert low is not None and high is not None
        high += 1
        ranges, share = slice_ranges(count, low, high, wanted)
        slices = Raw(" OR ".join(f"(start_time_unix_nano >= {a} AND start_time_unix_nano < {b})"
                                 for a, b in ranges))
        params = self._analysis_params(flt, key="trace_id", slices=slices)
        rows = self._select(self._rendered(f"{name}_of", params | {
            "low": low, "high": high, "slice_count": SAMPLE_SLICES, "half_share": share / 2,
            "max_traces": wanted})).rows
        return sample_table(rows, schema, dedupe=True)   # read without FINAL: one row per span key

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        """Kept for the filter while the tables' parts are unchanged (sql/read/tables_signature.sql):
        an analysis asks for the same window's figures several times (doctor: the window's and the
        baseline's count, and each sample's placement), each a grouping of up to a million traces."""
        if flt.reconstructed != "received":   # the links change without the span tables' parts
            return self._trace_times_of(flt)
        signature = self._tables_signature()
        key = repr(flt)
        with self._trace_times_lock:
            kept = self._trace_times_kept.get(key)
        if kept is not None and kept[0] == signature:
            return kept[1]
        times = self._trace_times_of(flt)
        with self._trace_times_lock:
            if len(self._trace_times_kept) >= _TRACE_TIMES_KEPT:
                self._trace_times_kept.pop(next(iter(self._trace_times_kept)))
            self._trace_times_kept[key] = (signature, times)
        return times

    def _trace_times_of(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        rows = self._analysis("trace_times", flt).rows
        return (0, None, None) if not rows or not rows[0][0] else (int(rows[0][0]), int(rows[0][1]), int(rows[0][2]))

    def export_spans(self, flt: AnalysisFilter) -> pa.Table:
        return pa.Table.from_batches(list(self.export_span_batches(flt)), SPAN_ROW_SCHEMA)

    def export_span_batches(self, flt: AnalysisFilter) -> Iterator[pa.RecordBatch]:
        """The export one slice of EXPORT_SLICE_ROWS spans (by start time) at a time, so neither this
        process nor the server holds every selected span with its attributes at once."""
        starts = [int(r[0]) for r in self._analysis("export_slices", flt, slice_rows=EXPORT_SLICE_ROWS).rows]
        for low, high in pairwise([*starts, _ALL_AFTER]):
            if low == high:
                continue   # many spans with one start time: the next slice holds them
            rows = self._analysis("export_spans", flt, from_ns=low, to_ns=high).rows
            yield from span_rows(rows).to_batches()

    def count_traces(self, flt: AnalysisFilter) -> int:
        return self.trace_times(flt)[0]   # kept per filter: callers count what they sampled

    # ---- InferredLinkStore (tracehouse.store.links_contract; links.py)
    def call_spans(self, start_unix_nano: int, end_unix_nano: int) -> pa.Table:
        return inferred.call_span_table(self._select(self._statement(
            "links/call_spans", start=start_unix_nano, end=end_unix_nano)))

    def replace_inferred_links(self, start_unix_nano: int, end_unix_nano: int, links: pa.Table) -> int:
        if self.read_only:
            raise StoreError("the store was opened read-only")
        links = inferred.checked_links(start_unix_nano, end_unix_nano, links)
        live = self._select(self._statement("links/live_in_range", start=start_unix_nano, end=end_unix_nano)).rows
        new = {(str(r["child_trace_id"]).rjust(32, "0"), str(r["child_span_id"]).rjust(16, "0"),
                int(r["child_start_time_unix_nano"])) for r in links.select(
                    ["child_trace_id", "child_span_id", "child_start_time_unix_nano"]).to_pylist()}
        tombstones = [(str(t), str(s), int(st)) for t, s, st in live if (str(t), str(s), int(st)) not in new]
        if links.num_rows or tombstones:
            block, _ = inferred.link_block(links, tombstones, self._versions.next())
            self._transport.insert(self.layout.links.name, block, self._insert_settings)
        return int(links.num_rows)

    def inferred_links(self, trace_ids: Sequence[str]) -> pa.Table:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None))
        if not ids:
            return INFERRED_LINK_SCHEMA.empty_table()
        rows: list[list[Any]] = []
        for at in range(0, len(ids), _IDS_PER_STATEMENT):
            rows += self._select(self._statement("links/of_traces", trace_ids=ids[at:at + _IDS_PER_STATEMENT])).rows
        return inferred.link_table(Result([], [], rows))

    def inferred_link_stats(self) -> tuple[int, float | None]:
        rows = self._select(self._statement("links/stats")).rows
        count = int(rows[0][0]) if rows else 0
        return count, (float(rows[0][1]) if count else None)

    # ---- SqlCatalog (the console's schema browser)
    def sql_catalog(self) -> list[CatalogTable]:
        columns: dict[str, list[CatalogColumn]] = {}
        for table, name, ch_type in self._select(self._statement("console/catalog")).rows:
            columns.setdefault(str(table), []).append(CatalogColumn(str(name), str(ch_type)))
        return [CatalogTable(name, "view", VIEW_DESCRIPTIONS.get(name, ""), tuple(cols))
                for name, cols in sorted(columns.items())]

    def sql_examples(self) -> list[ExampleQuery]:
        return ExampleQuery.parse(sql("console/examples"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            self._transport.close()



# ---- batches to columns
def _columns(batch: pa.Table) -> list[native.NativeColumn]:
    col = batch.column
    starts = col("start_time_unix_nano")
    ends = col("end_time_unix_nano")
    if starts.null_count or ends.null_count:
        raise ValueError("every span needs a start and an end time")
    duration = pc.max_element_wise(pc.subtract(ends, starts), 0)
    return [
        *span_key_columns(batch),
        native.number_column("start_time_unix_nano", starts, "Int64"),
        native.number_column("duration_ns", duration, "Int64"),
        native.number_column("status_code", col("status_code"), "UInt8"),
        *span_detail_columns(
            batch,
            native.string_column("attributes", pc.fill_null(_decoded(col("attributes")), "{}"), nullable=False),
            native.string_column("resource_attributes", pc.fill_null(_decoded(col("resource_attributes")), "{}"),
                                 nullable=False)),
    ]


def _trunc_div(a: int, b: int) -> int:
    """ClickHouse's intDiv: the quotient rounded toward zero."""
    return a // b if (a >= 0) == (b > 0) else -(-a // b)


def _decoded(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _key_column(batch: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        batch.column("trace_id").combine_chunks().cast(pa.binary()),
        batch.column("span_id").combine_chunks().cast(pa.binary()),
        batch.column("start_time_unix_nano").combine_chunks().cast(pa.string()).cast(pa.binary()),
        pa.scalar(b"", pa.binary()))


def _first_of_each_span(batch: pa.Table) -> pa.Array | None:
    """Row numbers of the first occurrence of each (trace_id, span_id, start), in row order; None
    when nothing repeats (the usual case)."""
    keys = _key_column(batch)
    if pc.count_distinct(keys, mode="all").as_py() == batch.num_rows:
        return None
    first = pc.index_in(pc.unique(keys), value_set=keys).cast(pa.int64())
    return pc.take(first, pc.sort_indices(first))


def _span_keys(batch: pa.Table) -> list[tuple[str, str, int]]:
    trace_ids = batch.column("trace_id").to_pylist()
    span_ids = batch.column("span_id").to_pylist()
    starts = batch.column("start_time_unix_nano").to_pylist()
    return [(t.hex(), s.hex(), int(st)) for t, s, st in zip(trace_ids, span_ids, starts, strict=True)]


def _search_params(query: TraceQuery) -> dict[str, object]:
    by_span = query.duration_scope is DurationScope.SPAN
    dur_min = query.duration_min_ns if query.duration_min_ns is not None else _NS_MIN
    dur_max = query.duration_max_ns if query.duration_max_ns is not None else _NS_MAX
    start_min = query.start_time_min_ns if query.start_time_min_ns is not None else _NS_MIN
    start_max = query.start_time_max_ns if query.start_time_max_ns is not None else _NS_MAX
    # Without a span filter any span of the trace makes it a candidate, the first one included,
    # which starts in the window; with one, the matching span may start after the window's end.
    span_filter = bool(query.service or query.operation or query.span_kind or query.attributes or by_span)
    params: dict[str, object] = {
        "start_min": start_min,
        "start_max": start_max,
        "candidate_start_max": _NS_MAX if span_filter else start_max,
        "trace_dur_min": _NS_MIN if by_span else dur_min,
        "trace_dur_max": _NS_MAX if by_span else dur_max,
        "service": query.service,
        "operation": query.operation,
        "span_kind": SPAN_KINDS.index(query.span_kind) if query.span_kind is not None else None,
        "span_dur_min": dur_min if by_span else _NS_MIN,
        "span_dur_max": dur_max if by_span else _NS_MAX,
        "sort": query.sort.value,
        "limit": query.limit,
    }
    items = list(query.attributes.items())
    for slot in range(MAX_ATTRIBUTE_FILTERS):
        key, value = items[slot] if slot < len(items) else ("", "")
        params[f"re{slot + 1}"] = attribute_regex(key, value) if key else ""
        params[f"err{slot + 1}"] = key == "error" and value == "true"
    return params


__all__ = ["ClickHouseError", "ClickHouseStore"]
