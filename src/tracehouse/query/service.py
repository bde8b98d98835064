"""The query service: one entry point for every read, shared by the HTTP API, the UI and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from tracehouse.model import DependencyLink, Operation, SqlResult, TraceQuery, TraceSummary
from tracehouse.settings import Settings
from tracehouse.store import Store


class QueryService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def run_sql(self, sql: str, max_rows: int | None = None, timeout_seconds: float | None = None) -> SqlResult:
        """A user's read-only SQL, with the configured row cap and time limit unless given smaller ones."""
        cap = self.settings.sql_max_rows if max_rows is None else min(max_rows, self.settings.sql_max_rows)
        limit = self.settings.sql_timeout_seconds
        if timeout_seconds is not None:
            limit = min(limit, timeout_seconds)
        return self.store.run_sql(sql, max_rows=cap, timeout_seconds=limit)

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

    def close(self) -> None:
        self.store.close()
