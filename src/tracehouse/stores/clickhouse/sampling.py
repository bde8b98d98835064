"""SamplingStore (tracehouse.store.sampling_contract) on ClickHouse: tail sampling's hold, decisions
and per-minute counts in four tables created with the rest of the schema (sql/schema/sampling_*.sql;
ADR 20). ClickHouseStore inherits this mixin.

No mutation per decision. Held spans are append-only rows; a pass releases what it read by writing
(trace_id, hold_id) rows to sampling_released_local, which every reader of held spans anti-joins:
released traces vanish for readers as soon as that INSERT returns, before any merge. A periodic
cleanup deletes, in one mutation each, the held rows below a watermark (the oldest row still
waiting) and their releases. Decisions and per-minute rows are ReplacingMergeTree rows keyed by
trace (and, for minutes, by what was settled), read grouped or with FINAL, so an instance deciding
a trace another one decided too (they agree: the randomness is the trace id) records it once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA
from tracehouse.store import AnalysisFilter, DecidedTrace, PolicyMinute, PriorDecision, StoreError, trace_id_list
from tracehouse.stores.clickhouse import native
from tracehouse.stores.clickhouse.quoting import Raw, statement
from tracehouse.stores.clickhouse.results import Result, select
from tracehouse.stores.clickhouse.schema import Layout
from tracehouse.stores.clickhouse.span_columns import span_detail_columns, span_key_columns
from tracehouse.stores.clickhouse.transport import ClickHouseError, Transport

log = logging.getLogger(__name__)

_IDS_PER_STATEMENT = 2_000   # the id list appears twice in some statements: ~2 x 90 KB
# How far below now the cleanup's watermark stays at least: a hold_spans INSERT in flight carries a
# received time from before it reached the server, and instances' clocks differ a little.
CLEANUP_MARGIN_NS = 10 * 60 * 10**9
CLEANUP_EVERY_NS = 10 * 60 * 10**9
# held_facts.sql reads one row per span first, its attribute maps as h_attributes and h_resource.
_WITH_ATTRIBUTES = Raw("groupArray(h_attributes) AS attribute_texts, groupUniqArray(h_resource) AS resources")
_WITHOUT_ATTRIBUTES = Raw("emptyArrayString() AS attribute_texts, emptyArrayString() AS resources")
_STORED_WITH_ATTRIBUTES = Raw("groupArray(attributes) AS attribute_texts, "
                              "groupUniqArray(resource_attributes) AS resources")
_TRACE_FACTS_SCHEMA = pa.schema([
    ("trace_id", pa.binary()), ("has_root", pa.bool_()), ("root_service", pa.string()),
    ("root_operation", pa.string()), ("start_unix_nano", pa.int64()), ("end_unix_nano", pa.int64()),
    ("span_count", pa.int64()), ("error_count", pa.int64()), ("approx_bytes", pa.int64()),
    ("attributes", pa.list_(pa.string())), ("resource_attributes", pa.list_(pa.string()))])
WEIGHTED_SPANS_SCHEMA = pa.schema([
    ("service", pa.string()), ("operation", pa.string()), ("spans", pa.int64()), ("error_spans", pa.int64()),
    ("est_spans", pa.float64()), ("est_error_spans", pa.float64()), ("root_traces", pa.int64()),
    ("est_root_traces", pa.float64()), ("sampled_spans", pa.int64())])


def _chunks(ids: Sequence[bytes]) -> Iterator[list[bytes]]:
    unique = list(dict.fromkeys(ids))
    for at in range(0, len(unique), _IDS_PER_STATEMENT):
        yield unique[at:at + _IDS_PER_STATEMENT]


def _hex_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes.fromhex(str(value))


class ClickHouseSampling:
    """The SamplingStore methods of ClickHouseStore (which provides these attributes)."""

    layout: Layout
    read_only: bool
    _transport: Transport
    _insert_settings: dict[str, str | int | float]
    _params: dict[str, object]

    def _window_has_copies(self, flt: AnalysisFilter) -> bool:
        raise NotImplementedError

    # ---- helpers
    def _sampling_state(self) -> dict[str, Any]:
        """Per-store state, made on first use (the mixin has no __init__ of its own)."""
        state: dict[str, Any] | None = self.__dict__.get("_sampling")
        if state is None:
            state = {"holds": {}, "lock": threading.Lock(), "last_cleanup": 0, "pending_watermark": None,
                     "tables": False}
            self.__dict__["_sampling"] = state
        return state

    def _sampling_select(self, name: str, **params: object) -> Result:
        return select(self._transport, statement(f"sampling/{name}", **(self._params | params)))

    def _sampling_run(self, name: str, **params: object) -> None:
        """An ALTER of the cleanup. On a cluster ON CLUSTER, bounded as the store's other DDL."""
        settings = {"distributed_ddl_task_timeout": 30} if self.layout.cluster else None
        self._transport.query(statement(f"sampling/{name}", **(self._params | params)), settings=settings)

    def sampling_tables_exist(self) -> bool:
        state = self._sampling_state()
        if not state["tables"]:
            rows = self._sampling_select("tables_exist").rows
            state["tables"] = bool(rows and rows[0][0])
        return bool(state["tables"])

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError("the store was opened read-only")

    def _insert(self, local_name: str, columns: list[native.NativeColumn], rows: int) -> None:
        self._transport.insert(self.layout.local_or_distributed(local_name).name, native.block(columns, rows),
                               self._insert_settings)

    # ---- SamplingStore
    def hold_spans(self, batch: pa.Table, received_unix_nano: int) -> None:
        """One INSERT (synchronous on a cluster, as write_spans): durable as ClickHouse makes it when
        this returns; the spool is the durability point (18.16 does not fsync). A replayed batch is
        held again under a new hold_id; write_spans stores its spans once."""
        self._writable()
        if batch.num_rows == 0:
            return
        n = batch.num_rows
        col = batch.column
        hold_id = int.from_bytes(os.urandom(8), "little")
        try:
            columns = [
                *span_key_columns(batch),
                native.number_column("start_time_unix_nano", col("start_time_unix_nano"), "Int64"),
                native.number_column("end_time_unix_nano", col("end_time_unix_nano"), "Int64"),
                native.number_column("status_code", col("status_code"), "UInt8"),
                *span_detail_columns(
                    batch,
                    native.string_column("attributes", col("attributes"), nullable=True),
                    native.string_column("resource_attributes", col("resource_attributes"), nullable=True)),
                native.number_column("received_unix_nano", pa.array([received_unix_nano] * n, pa.int64()), "Int64"),
                native.number_column("hold_id", pa.array([hold_id] * n, pa.uint64()), "UInt64"),
            ]
        except (ValueError, KeyError, pa.ArrowException) as exc:
            raise StoreError(f"the batch cannot be held: {exc}") from exc
        self._insert("sampling_held_span_local", columns, n)

    def ready_to_decide(self, now_unix_nano: int, wait_after_root_ns: int, max_wait_ns: int,
                        max_trace_spans: int, cache_since_unix_nano: int, limit: int) -> list[tuple[bytes, int]]:
        """A trace in ready.sql's answer only because its held rows reach the cap is due if its
        spans, each counted once, do too (capped_spans.sql). One that does not leaves its place in
        `limit` empty for this pass: only a replayed trace near the cap, until it is due anyway."""
        if not self.sampling_tables_exist():
            return []
        rows = self._sampling_select("ready", now=now_unix_nano, after_root=wait_after_root_ns,
                                     max_wait=max_wait_ns, max_spans=max_trace_spans,
                                     cache_since=cache_since_unix_nano, limit=max(0, limit)).rows
        ready = [(bytes.fromhex(str(tid)), int(held), bool(int(anyway))) for tid, held, anyway in rows]
        capped: set[bytes] = set()
        for chunk in _chunks([tid for tid, _, anyway in ready if not anyway]):
            capped.update(bytes.fromhex(str(r[0])) for r in self._sampling_select(
                "capped_spans", trace_ids=chunk, max_spans=max_trace_spans).rows)
        return [(tid, held) for tid, held, anyway in ready if anyway or tid in capped]

    def held_facts(self, trace_ids: Sequence[bytes], with_attributes: bool = False) -> pa.Table:
        """Also notes which (hold_id, received) pairs it read per trace: release_held releases
        those, so a span held by another instance after this read is not released unseen."""
        state = self._sampling_state()
        holds: dict[bytes, list[tuple[int, int]]] = {}
        out: list[dict[str, Any]] = []
        lists = _WITH_ATTRIBUTES if with_attributes else _WITHOUT_ATTRIBUTES
        for chunk in _chunks(trace_ids):
            for row in self._sampling_select("held_facts", trace_ids=chunk, attribute_lists=lists).rows:
                tid = bytes.fromhex(str(row[0]))
                out.append({
                    "trace_id": tid, "has_root": bool(int(row[1])), "root_service": row[2], "root_operation": row[3],
                    "start_unix_nano": int(row[4]), "end_unix_nano": int(row[5]), "span_count": int(row[6]),
                    "error_count": int(row[7]), "approx_bytes": int(row[8]),
                    "attributes": list(row[9]) if with_attributes else None,
                    "resource_attributes": sorted(row[10]) if with_attributes else None})
                holds[tid] = sorted((int(a), int(b)) for a, b in (str(h).split(":") for h in row[11]))
        with state["lock"]:
            state["holds"] = holds
        return pa.Table.from_pylist(out, schema=_TRACE_FACTS_SCHEMA)

    def held_spans(self, trace_ids: Sequence[bytes]) -> pa.Table:
        rows: list[list[Any]] = []
        for chunk in _chunks(trace_ids):
            rows += self._sampling_select("held_spans", trace_ids=chunk).rows
        columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in
                                                                                           SPAN_BATCH_SCHEMA]
        for i in (0, 1, 2):
            columns[i] = [_hex_bytes(v) for v in columns[i]]
        for i in (6, 7, 8, 9, 17):
            columns[i] = [None if v is None else int(v) for v in columns[i]]
        return pa.table([pa.array(values, f.type) for values, f in zip(columns, SPAN_BATCH_SCHEMA, strict=True)],
                        schema=SPAN_BATCH_SCHEMA)

    def prior_decisions(self, trace_ids: Sequence[bytes], cache_since_unix_nano: int) -> dict[bytes, PriorDecision]:
        found: dict[bytes, PriorDecision] = {}
        for chunk in _chunks(trace_ids):
            for tid, kept, probability, policy in self._sampling_select(
                    "prior_decisions", trace_ids=chunk, cache_since=cache_since_unix_nano).rows:
                found[bytes.fromhex(str(tid))] = PriorDecision(bool(int(kept)), float(probability), str(policy))
        return found

    def record_decisions(self, decided: Sequence[DecidedTrace], now_unix_nano: int) -> None:
        """Decisions first, then the per-minute rows. ClickHouse has no transaction across tables:
        a crash between the two leaves the trace decided and held, and the next pass settles it as
        late spans (counted as spans only)."""
        self._writable()
        new = [d for d in decided if not d.late]
        if new:
            n = len(new)
            self._insert("sampling_decision_local", [
                native.fixed_string_column("trace_id", pa.array([d.trace_id for d in new], pa.binary(16)), 16,
                                           nullable=False),
                native.number_column("kept", pa.array([int(d.kept) for d in new], pa.uint8()), "UInt8"),
                native.number_column("probability", pa.array([d.probability for d in new], pa.float64()),
                                     "Float64"),
                native.number_column("weight", pa.array([d.weight for d in new], pa.float64()), "Float64"),
                native.string_column("threshold", pa.array([d.threshold for d in new], pa.string()), False),
                native.string_column("policy", pa.array([d.policy for d in new], pa.string()), False),
                native.number_column("decided_unix_nano", pa.array([now_unix_nano] * n, pa.int64()), "Int64"),
            ], n)
        if not decided:
            return
        with self._sampling_state()["lock"]:
            holds = dict(self._sampling_state()["holds"])
        minute = now_unix_nano // 60_000_000_000 * 60_000_000_000
        n = len(decided)
        self._insert("sampling_minute_local", [
            native.number_column("minute_unix_nano", pa.array([minute] * n, pa.int64()), "Int64"),
            native.string_column("policy", pa.array([d.policy for d in decided], pa.string()), False),
            native.fixed_string_column("trace_id", pa.array([d.trace_id for d in decided], pa.binary(16)), 16,
                                       nullable=False),
            native.number_column("first_hold", pa.array([holds[d.trace_id][0][0] if holds.get(d.trace_id) else 0
                                                         for d in decided], pa.uint64()), "UInt64"),
            native.number_column("late", pa.array([int(d.late) for d in decided], pa.uint8()), "UInt8"),
            native.number_column("kept", pa.array([int(d.kept) for d in decided], pa.uint8()), "UInt8"),
            native.number_column("spans", pa.array([d.spans for d in decided], pa.int64()), "Int64"),
            native.number_column("approx_bytes", pa.array([d.approx_bytes for d in decided], pa.int64()), "Int64"),
            native.number_column("weight", pa.array([0.0 if d.late else d.weight for d in decided], pa.float64()),
                                 "Float64"),
        ], n)

    def release_held(self, trace_ids: Sequence[bytes]) -> None:
        """Release the held rows of these traces that held_facts read (all their rows now, for a
        trace it did not read): one INSERT of release rows, which readers anti-join at once."""
        self._writable()
        state = self._sampling_state()
        with state["lock"]:
            holds: dict[bytes, list[tuple[int, int]]] = state["holds"]
            pairs = [(t, h, r) for t in dict.fromkeys(trace_ids) for h, r in holds.pop(t, [])]
            unread = [t for t in dict.fromkeys(trace_ids) if t not in {p[0] for p in pairs}]
        if unread:
            self.held_facts(unread)
            with state["lock"]:
                pairs += [(t, h, r) for t in unread for h, r in state["holds"].pop(t, [])]
        if not pairs:
            return
        n = len(pairs)
        self._insert("sampling_released_local", [
            native.fixed_string_column("trace_id", pa.array([p[0] for p in pairs], pa.binary(16)), 16, nullable=False),
            native.number_column("hold_id", pa.array([p[1] for p in pairs], pa.uint64()), "UInt64"),
            native.number_column("received_unix_nano", pa.array([p[2] for p in pairs], pa.int64()), "Int64"),
            native.number_column("released_unix_nano", pa.array([time.time_ns()] * n, pa.int64()), "Int64"),
        ], n)

    def held_count(self) -> tuple[int, int]:
        if not self.sampling_tables_exist():
            return 0, 0
        rows = self._sampling_select("held_count").rows
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def forget_decisions(self, before_unix_nano: int, minutes_before_unix_nano: int) -> None:
        """The periodic cleanup (at most every CLEANUP_EVERY_NS; the sampler calls this every
        minute): see cleanup_sampling."""
        state = self._sampling_state()
        now = time.time_ns()
        if now - state["last_cleanup"] < CLEANUP_EVERY_NS:
            return
        state["last_cleanup"] = now
        try:
            self.cleanup_sampling(before_unix_nano, minutes_before_unix_nano, now - CLEANUP_MARGIN_NS)
        except ClickHouseError:
            log.warning("tail sampling's cleanup failed; it is tried again later", exc_info=True)

    def cleanup_sampling(self, before_unix_nano: int, minutes_before_unix_nano: int, watermark_at_most: int) -> None:
        """Delete, one mutation per table and only when there is something to delete: held rows
        received before the watermark (the oldest held row still waiting, and at most
        `watermark_at_most`: every row below it is released); their releases, once an earlier
        delete of held rows has finished (a release deleted before its rows would bring them
        back); dropped decisions older than `before_unix_nano`; minutes older than
        `minutes_before_unix_nano`. Readers are correct whether or not this has run."""
        self._writable()
        state = self._sampling_state()
        status = self._sampling_select("cleanup_status", before=before_unix_nano,
                                       minutes_before=minutes_before_unix_nano).rows[0]
        waiting, oldest_waiting, old_decisions, old_minutes, deleting = (int(v or 0) for v in status)
        if state["pending_watermark"] is not None and not deleting:
            self._sampling_run("delete_released", watermark=state["pending_watermark"])
            state["pending_watermark"] = None
        watermark = min(oldest_waiting, watermark_at_most) if waiting else watermark_at_most
        below = self._sampling_select("count_held_below", watermark=watermark).rows
        if below and int(below[0][0]):
            self._sampling_run("delete_held", watermark=watermark)
            state["pending_watermark"] = watermark
        if old_decisions:
            self._sampling_run("forget_decisions", before=before_unix_nano)
        if old_minutes:
            self._sampling_run("forget_minutes", minutes_before=minutes_before_unix_nano)

    def sampling_minutes(self, since_unix_nano: int) -> list[PolicyMinute]:
        if not self.sampling_tables_exist():
            return []
        return [PolicyMinute(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]),
                             float(r[8]))
                for r in self._sampling_select("minutes", since=since_unix_nano).rows]

    def stored_facts(self, start_unix_nano: int, end_unix_nano: int, traces_per_chunk: int,
                     with_attributes: bool = False) -> Iterator[pa.Table]:
        ids = [bytes.fromhex(str(r[0])) for r in self._sampling_select(
            "stored_trace_ids", start=start_unix_nano, end=end_unix_nano).rows]
        lists = _STORED_WITH_ATTRIBUTES if with_attributes else _WITHOUT_ATTRIBUTES
        per_chunk = max(1, min(traces_per_chunk, _IDS_PER_STATEMENT))
        for at in range(0, len(ids), per_chunk):
            chunk = ids[at:at + per_chunk]
            rows = {bytes.fromhex(str(r[0])): r for r in self._sampling_select(
                "stored_facts", trace_ids=chunk, attribute_lists=lists).rows}
            out = [{"trace_id": t, "has_root": bool(int(r[1])), "root_service": r[2], "root_operation": r[3],
                    "start_unix_nano": int(r[4]), "end_unix_nano": int(r[5]), "span_count": int(r[6]),
                    "error_count": int(r[7]), "approx_bytes": int(r[8]),
                    "attributes": list(r[9]) if with_attributes else None,
                    "resource_attributes": sorted(r[10]) if with_attributes else None}
                   for t in chunk if (r := rows.get(t)) is not None]
            yield pa.Table.from_pylist(out, schema=_TRACE_FACTS_SCHEMA)

    def trace_weights(self, trace_ids: Sequence[str]) -> dict[str, float]:
        if not trace_ids or not self.sampling_tables_exist():
            return {}
        weights: dict[str, float] = {}
        for chunk in _chunks(trace_id_list(trace_ids)):
            weights.update({str(t): float(w) for t, w in self._sampling_select("trace_weights", trace_ids=chunk).rows})
        return weights

    def ever_sampled(self) -> bool:
        if not self.sampling_tables_exist():
            return False
        rows = self._sampling_select("ever_sampled").rows
        return bool(rows and int(rows[0][0]))

    def weighted_span_counts(self, start_unix_nano: int, end_unix_nano: int,
                             ever_sampled: bool | None = None) -> pa.Table:
        final = Raw("FINAL" if self._window_has_copies(AnalysisFilter(start_ns=start_unix_nano,
                                                                       end_ns=end_unix_nano)) else "")
        sampled = self.ever_sampled() if ever_sampled is None else ever_sampled
        name = "weighted_spans" if sampled else "unweighted_spans"
        result = self._sampling_select(name, start=start_unix_nano, end=end_unix_nano, final=final)
        columns = [list(c) for c in zip(*result.rows, strict=True)] if result.rows else [[] for _ in
                                                                                          WEIGHTED_SPANS_SCHEMA]
        return pa.table([pa.array(values, f.type) for values, f in zip(columns, WEIGHTED_SPANS_SCHEMA, strict=True)],
                        schema=WEIGHTED_SPANS_SCHEMA)
