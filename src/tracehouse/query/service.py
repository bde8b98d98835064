"""The query service: one entry point for every read, shared by the HTTP API, the UI and the CLI."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tracehouse.analytics.reconstruct.runner import ContinuousReconstruction, Reconstructor, RunReport
from tracehouse.model import (
    DependencyLink,
    Operation,
    SpanMetricsQuery,
    SqlResult,
    TraceQuery,
    TraceSummary,
)
from tracehouse.query.compare import compare_traces
from tracehouse.query.deep_dependencies import ddg_payload
from tracehouse.query.importer import read_trace_file
from tracehouse.query.reconstructed import joined_traces, with_inferred_parents
from tracehouse.query.span_metrics import MetricKind, metric_family
from tracehouse.query.spans import Span, by_trace, spans_from_rows
from tracehouse.query.trace_files import spans_from_file
from tracehouse.query.trace_summaries import v3_summaries
from tracehouse.query.trace_view import full_value as trace_view_full_value
from tracehouse.query.trace_view import trace_view
from tracehouse.settings import Settings
from tracehouse.store import (
    AnalysisFilter,
    AnalyticsReader,
    InferredLinkStore,
    SpanWriter,
    Store,
    StoreError,
    WriteResult,
)

# Traces the Deep Dependency Graph's paths are drawn from: a fixed sample, as the analyses use.
DDG_MAX_TRACES = 2000

# Most traces one search returns with their spans (the Jaeger APIs); summaries are cheap, spans are not.
MAX_SEARCH_LIMIT = 1500


class TraceNotFoundError(LookupError):
    def __init__(self, trace_id: str) -> None:
        super().__init__(f"trace {trace_id} not found")
        self.trace_id = trace_id


# Runs a task on the store's one writer (the ingest pipeline's commit thread) and says when it is done.
RunWrite = Callable[[Callable[[SpanWriter], object]], "Future[None]"]


@dataclass(frozen=True)
class ImportResult:
    received: int          # valid spans in the file
    stored: int            # of those, new to the store (the rest were stored already)
    rejected: int          # invalid spans, not stored
    message: str           # why they were rejected ("" for none)
    traces: int
    keep_until_unix_nano: int | None
    format: str


class QueryService:
    def __init__(self, store: Store, settings: Settings, run_write: RunWrite | None = None) -> None:
        """`run_write`: how writes reach the store while a backend serves it (its commit thread);
        None when this process is the store's only user (the CLI on a store file)."""
        self.store = store
        self.settings = settings
        self._run_write = run_write
        self._reconstruct_lock = threading.Lock()

    def run_sql(self, sql: str, max_rows: int | None = None, timeout_seconds: float | None = None,
                params: Sequence[object] = ()) -> SqlResult:
        """A user's read-only SQL, with the configured row cap and time limit unless given smaller ones.
        `params` are bound to `?` / `$1` placeholders, never spliced into the text."""
        cap = self.settings.sql_max_rows if max_rows is None else min(max_rows, self.settings.sql_max_rows)
        limit = self.settings.sql_timeout_seconds
        if timeout_seconds is not None:
            limit = min(limit, timeout_seconds)
        return self.store.run_sql(sql, max_rows=cap, timeout_seconds=limit, params=params)

    def services(self) -> list[str]:
        return self.store.services()

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        return self.store.operations(service, span_kind)

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        return self.store.find_traces(query)

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        return self.store.get_spans(trace_ids)

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        return self.store.dependencies(start_unix_nano, end_unix_nano)

    # ---- whole traces

    def traces(self, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
        """Spans of each trace found, by normalised (lowercase, 32-digit) id; unknown ids are absent."""
        return by_trace(spans_from_rows(self.store.get_spans(trace_ids)))

    def trace(self, trace_id: str) -> list[Span]:
        """The spans of one trace; TraceNotFoundError when it has none."""
        spans = self.traces([trace_id]).get(trace_id.lower().rjust(32, "0"))
        if not spans:
            raise TraceNotFoundError(trace_id)
        return spans

    def search_traces(self, query: TraceQuery) -> list[list[Span]]:
        """Whole traces matching the query, in the query's order."""
        summaries = self.store.find_traces(query)
        found = self.traces([s.trace_id for s in summaries])
        return [found[s.trace_id] for s in summaries if s.trace_id in found]

    # ---- Jaeger's views beyond traces

    def v3_trace_summaries(self, query: TraceQuery) -> dict[str, Any]:
        """Jaeger's FindTraceSummariesResponse for a search."""
        summaries = self.store.find_traces(query)
        return v3_summaries(summaries, self.store.trace_breakdowns(summaries))

    def metrics(self, kind: MetricKind, query: SpanMetricsQuery) -> dict[str, Any]:
        """A Jaeger MetricFamily of RED metrics computed from the stored spans."""
        points = self.store.span_metrics(query)
        return metric_family(kind, points, query.group_by_operation, query.rate_per_ns, query.quantile)

    def deep_dependencies(self, service: str, operation: str | None, start_ns: int, end_ns: int) -> dict[str, Any]:
        """The Deep Dependency Graph's paths through a service (and operation), from a fixed sample of
        at most DDG_MAX_TRACES traces of the window that involve it."""
        if not isinstance(self.store, AnalyticsReader):
            raise StoreError("this store cannot sample traces (it does not implement AnalyticsReader)")
        flt = AnalysisFilter(start_ns=start_ns, end_ns=end_ns, service=service, operation=operation)
        return ddg_payload(self.store.trace_sample(flt, DDG_MAX_TRACES), service, operation)

    # ---- imports

    def import_file(self, body: bytes, keep_until_unix_nano: int | None) -> ImportResult:
        """Store the spans of a trace file (query.importer formats) and pin their traces against
        retention until `keep_until_unix_nano` (None: until deleted). The pin is written first, so
        a retention pass never sees the new spans unpinned. Durable on return. Raises
        query.importer.ImportFormatError for a file it cannot read."""
        batch = read_trace_file(body)
        if batch.table is None:
            return ImportResult(0, 0, batch.rejected, batch.message, 0, keep_until_unix_nano, batch.format)
        table = batch.table
        trace_ids = sorted({t.hex() for t in table.column("trace_id").to_pylist()})
        written: list[WriteResult] = []

        def task(writer: SpanWriter) -> None:
            writer.pin_traces(trace_ids, keep_until_unix_nano)
            written.append(writer.write_spans(table))

        if self._run_write is None:
            task(self.store)
        else:
            self._run_write(task).result()
        return ImportResult(table.num_rows, written[0].stored, batch.rejected, batch.message, len(trace_ids),
                            keep_until_unix_nano, batch.format)

    # ---- the UI's views

    def trace_view(self, trace_id: str, reconstructed: bool = True) -> dict[str, Any]:
        """The UI's view of a trace. With `reconstructed` (the default), a trace that inferred links
        tie to others is shown whole: the fragments joined, their inferred links marked."""
        if not reconstructed:
            return trace_view(self.trace(trace_id))
        joined = joined_traces(self.store, trace_id.lower().rjust(32, "0"))
        if len(joined.trace_ids) == 1:
            return trace_view(self.trace(trace_id))
        found = self.traces(joined.trace_ids)
        if not found.get(trace_id.lower().rjust(32, "0")):
            raise TraceNotFoundError(trace_id)
        spans = [s for t in joined.trace_ids for s in found.get(t, [])]
        return trace_view(with_inferred_parents(spans, joined), joined.inferred, joined.root_trace_id)

    def reconstruct(self, start_unix_nano: int, end_unix_nano: int) -> RunReport:
        """Infer parent links for the parentless calls that started in the range, replacing the
        range's earlier links (`tracehouse reconstruct`, POST /api/reconstruct)."""
        if not isinstance(self.store, InferredLinkStore):
            raise StoreError("this store does not keep inferred links")
        with self._reconstruct_lock:
            return Reconstructor(self.store).run(start_unix_nano, end_unix_nano)

    def continuous_reconstruction(self) -> ContinuousReconstruction:
        """The backend's `--reconstruct` thread (not started)."""
        if not isinstance(self.store, InferredLinkStore):
            raise StoreError("this store does not keep inferred links")
        return ContinuousReconstruction(self.store, self.settings.reconstruct_interval_seconds,
                                        self.settings.reconstruct_delay_seconds)

    def reconstruction_of(self, trace_ids: Sequence[str]) -> dict[str, str]:
        """For each given trace that inferred links join with others: 'fragment' (its root was given
        an inferred parent) or 'root' (fragments were joined to it). Others are absent."""
        if not isinstance(self.store, InferredLinkStore) or not trace_ids:
            return {}
        roles: dict[str, str] = {}
        wanted = set(trace_ids)
        for row in self.store.inferred_links(list(trace_ids)).to_pylist():
            if row["parent_trace_id"] in wanted:
                roles.setdefault(row["parent_trace_id"], "root")
            if row["child_trace_id"] in wanted:
                roles[row["child_trace_id"]] = "fragment"
        return roles

    def full_value(self, trace_id: str, span_id: str, key: str, where: str) -> Any:
        """The full value of an attribute the trace view cut (see trace_view.full_value)."""
        try:
            return trace_view_full_value(self.trace(trace_id), span_id, key, where)
        except (StopIteration, KeyError) as exc:
            raise TraceNotFoundError(f"{trace_id}: no span {span_id} with attribute {key!r} ({where})") from exc

    def file_view(self, body: bytes) -> dict[str, Any]:
        """The view of an uploaded trace file (OTLP-JSON or Jaeger JSON); its first trace if several.
        Raises query.trace_files.TraceFileError for anything else."""
        traces = by_trace(spans_from_file(body))
        # The file is in the browser already and not stored: nothing to fetch a cut value from.
        return trace_view(next(iter(traces.values())), cut_values=False)

    def compare(self, trace_a: str, trace_b: str) -> dict[str, Any]:
        return compare_traces(self.trace(trace_a), self.trace(trace_b))

    def service_map(self, start_unix_nano: int, end_unix_nano: int) -> dict[str, Any]:
        """Services and the calls between them, with requests, error rate and p95 per edge."""
        links = self.store.dependencies(start_unix_nano, end_unix_nano)
        services = sorted({link.parent for link in links} | {link.child for link in links})
        return {
            "services": services,
            "edges": [{
                "parent": link.parent, "child": link.child, "requests": link.call_count,
                "errors": link.error_count,
                "errorRate": link.error_count / link.call_count if link.call_count else 0.0,
                "p95": link.p95_duration_ns,
            } for link in links],
        }

    def close(self) -> None:
        self.store.close()
