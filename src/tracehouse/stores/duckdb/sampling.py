"""SamplingStore (tracehouse.store.sampling_contract) on DuckDB: held spans, decisions and
per-minute counts in three additive tables (sql/sampling/schema.sql), created the first time a
backend samples. Readers of a store that never sampled see empty answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA
from tracehouse.store import trace_id_list
from tracehouse.store.sampling_contract import DecidedTrace, PolicyMinute, PriorDecision
from tracehouse.stores.duckdb.sql_files import sql

_TABLES = ("sampling_held_span", "sampling_decision", "sampling_minute")


def create_tables(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(sql("sampling/schema"))


def has_tables(cur: duckdb.DuckDBPyConnection) -> bool:
    row = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_name IN ('sampling_held_span', 'sampling_decision', 'sampling_minute')").fetchall()
    return bool(row and row[0][0] == len(_TABLES))


def _ids(trace_ids: Sequence[bytes]) -> pa.Table:
    return pa.table({"trace_id": pa.array(list(trace_ids), pa.binary())})


def _with(cur: duckdb.DuckDBPyConnection, name: str, table: pa.Table, statement: str,
          params: dict[str, object] | None = None) -> pa.Table:
    """Run a SELECT with `table` registered as `name`; its result as Arrow."""
    cur.register(name, table)
    try:
        return cur.sql(statement, params=params or None).to_arrow_table()
    finally:
        cur.unregister(name)


def _run_with(cur: duckdb.DuckDBPyConnection, name: str, table: pa.Table, statement: str) -> None:
    """Run a writing statement with `table` registered as `name`."""
    cur.register(name, table)
    try:
        cur.execute(statement)
    finally:
        cur.unregister(name)


def hold_spans(cur: duckdb.DuckDBPyConnection, batch: pa.Table, received: int) -> None:
    cur.register("batch", batch)
    try:
        cur.execute(sql("sampling/hold"), {"received": received})
    finally:
        cur.unregister("batch")


def ready_to_decide(cur: duckdb.DuckDBPyConnection, now: int, after_root: int, max_wait: int, max_spans: int,
                    cache_since: int, limit: int) -> list[tuple[bytes, int]]:
    rows = cur.execute(sql("sampling/ready"), {
        "now": now, "after_root": after_root, "max_wait": max_wait, "max_spans": max_spans,
        "cache_since": cache_since, "limit": limit}).fetchall()
    return [(bytes(r[0]), int(r[1])) for r in rows]


def held_facts(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[bytes], with_attributes: bool) -> pa.Table:
    return _with(cur, "wanted", _ids(trace_ids), sql("sampling/held_facts"), {"with_attributes": with_attributes})


def held_spans(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[bytes]) -> pa.Table:
    table = _with(cur, "wanted", _ids(trace_ids), sql("sampling/held_spans"))
    return table.cast(SPAN_BATCH_SCHEMA)


def prior_decisions(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[bytes],
                    cache_since: int) -> dict[bytes, PriorDecision]:
    table = _with(cur, "wanted", _ids(trace_ids), sql("sampling/prior_decisions"), {"cache_since": cache_since})
    return {bytes(r["trace_id"]): PriorDecision(bool(r["kept"]), float(r["probability"]), str(r["policy"]))
            for r in table.to_pylist()}


def _minute(unix_nano: int) -> datetime:
    return datetime.fromtimestamp(unix_nano // 60_000_000_000 * 60, UTC).replace(tzinfo=None)


def record_decisions(cur: duckdb.DuckDBPyConnection, decided: Sequence[DecidedTrace], now: int) -> None:
    new = [d for d in decided if not d.late]
    decisions = pa.table({
        "trace_id": pa.array([d.trace_id for d in new], pa.binary()),
        "kept": pa.array([d.kept for d in new], pa.bool_()),
        "probability": pa.array([d.probability for d in new], pa.float64()),
        "weight": pa.array([d.weight for d in new], pa.float64()),
        "threshold": pa.array([d.threshold for d in new], pa.string()),
        "policy": pa.array([d.policy for d in new], pa.string()),
        "decided_unix_nano": pa.array([now] * len(new), pa.int64()),
    })
    totals: dict[str, list[float]] = {}
    for d in decided:
        t = totals.setdefault(d.policy, [0, 0, 0, 0, 0, 0, 0.0])
        if d.kept:
            t[0] += 0 if d.late else 1
            t[2] += d.spans
            t[4] += d.approx_bytes
            t[6] += 0.0 if d.late else d.weight
        else:
            t[1] += 0 if d.late else 1
            t[3] += d.spans
            t[5] += d.approx_bytes
    minute = _minute(now)
    minutes = pa.table({
        "minute": pa.array([minute] * len(totals), pa.timestamp("us")),
        "policy": pa.array(list(totals), pa.string()),
        **{name: pa.array([int(t[i]) for t in totals.values()], pa.int64()) for i, name in enumerate(
            ("kept_traces", "dropped_traces", "kept_spans", "dropped_spans", "kept_bytes", "dropped_bytes"))},
        "kept_weight": pa.array([float(t[6]) for t in totals.values()], pa.float64()),
    })
    cur.execute("BEGIN TRANSACTION")
    try:
        if new:
            _run_with(cur, "decided", decisions, sql("sampling/record_decisions"))
        if totals:
            _run_with(cur, "minutes", minutes, sql("sampling/record_minutes"))
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def release_held(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[bytes]) -> None:
    _run_with(cur, "wanted", _ids(trace_ids), sql("sampling/release"))


def held_count(cur: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    if not has_tables(cur):
        return 0, 0
    rows = cur.execute(sql("sampling/held_count")).fetchall()
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def forget_decisions(cur: duckdb.DuckDBPyConnection, before: int, minutes_before: int) -> None:
    cur.execute(sql("sampling/forget_decisions"), {"before": before})
    cur.execute(sql("sampling/forget_minutes"), {"before": minutes_before})


def sampling_minutes(cur: duckdb.DuckDBPyConnection, since: int) -> list[PolicyMinute]:
    if not has_tables(cur):
        return []
    rows = cur.execute(sql("sampling/minutes"), {"since": since}).fetchall()
    return [PolicyMinute(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]),
                         float(r[8])) for r in rows]


def stored_facts(cur: duckdb.DuckDBPyConnection, start: int, end: int, per_chunk: int,
                 with_attributes: bool) -> Iterator[pa.Table]:
    ids = [bytes(r[0]) for r in cur.execute(sql("sampling/stored_trace_ids"), {"start": start, "end": end}).fetchall()]
    for i in range(0, len(ids), per_chunk):
        yield _with(cur, "wanted", _ids(ids[i:i + per_chunk]), sql("sampling/stored_facts"),
                    {"with_attributes": with_attributes})


def trace_weights(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[str]) -> dict[str, float]:
    if not has_tables(cur) or not trace_ids:
        return {}
    table = _with(cur, "wanted", _ids(trace_id_list(trace_ids)), sql("sampling/trace_weights"))
    return {str(r["trace_id"]): float(r["weight"]) for r in table.to_pylist()}


def ever_sampled(cur: duckdb.DuckDBPyConnection) -> bool:
    if not has_tables(cur):
        return False
    row = cur.execute(sql("sampling/ever_sampled")).fetchall()
    return bool(row and row[0][0])


def weighted_span_counts(cur: duckdb.DuckDBPyConnection, start: int, end: int,
                         ever_sampled: bool | None = None) -> pa.Table:
    """`ever_sampled` False (the caller knows no trace weighs above 1): the unweighted counts, which
    are then the same, as on ClickHouse. None or True: weighted when the sampling tables exist (one
    join, cheap here: no need to ask first)."""
    weighted = ever_sampled is not False and has_tables(cur)
    name = "sampling/weighted_spans" if weighted else "sampling/unweighted_spans"
    return cur.sql(sql(name), params={"start": start, "end": end}).to_arrow_table()
