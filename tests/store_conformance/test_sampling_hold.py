"""Tail sampling's hold (store.SamplingStore) on every store that has one: DuckDB, one ClickHouse
18.16 server, the 2x2 cluster and chDB. The real TailSampler drives each store.

Held spans are invisible to readers until their trace is kept; a trace is decided when its root
has waited (or at the size cap), late spans and a trace split across requests follow one decision,
a replayed batch is stored once, weights and per-minute counts are recorded, and released traces
are gone for readers at once (no OPTIMIZE, no merge: on ClickHouse their held rows are still there).
On ClickHouse also: two instances deciding the same traces at once record and count them once, and
the periodic cleanup deletes released rows only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.sampling.generated import GenTrace, batch_of, gen_trace
from tests.sampling.policies import ERRORS_AND_TEN_PERCENT, KEEP_ALL_AT_ONCE
from tests.store_conformance.conftest import STORE_FACTORIES, StoreFactory

from tracehouse.analytics.errors import analyze_errors
from tracehouse.analytics.latency import analyze_latency
from tracehouse.analytics.report import Report
from tracehouse.model import TraceQuery
from tracehouse.otlp.walk import MAX_TIME_UNIX_NANO
from tracehouse.receiver.sampling.decider import Decider
from tracehouse.receiver.sampling.policy_file import parse_policy_text
from tracehouse.receiver.sampling.tail import TailSampler
from tracehouse.receiver.sampling.traces import facts_of
from tracehouse.store import AnalysisFilter, DecidedTrace, SamplingStore, Store
from tracehouse.stores.clickhouse import ClickHouseStore
from tracehouse.stores.clickhouse.results import select

S = 10**9
POLICY = ERRORS_AND_TEN_PERCENT
# The cluster's DDL and distributed inserts are slow on a loaded machine: it runs the main scenario,
# the replay, two instances and the cleanup; the other scenarios run on the three other stores.
NOT_CLUSTER = [f for f in STORE_FACTORIES if f.name != "clickhouse-cluster"]
CLICKHOUSE = [f for f in STORE_FACTORIES if f.dialect == "clickhouse"]


def sampling(store: Store) -> Any:
    assert isinstance(store, SamplingStore)
    return store


def stored(store: Store, traces: list[GenTrace]) -> dict[bytes, int]:
    """Spans stored per trace, as a reader sees them."""
    table = store.get_spans([t.trace_id.hex() for t in traces])
    counts: dict[bytes, int] = {}
    for tid in table.column("trace_id").to_pylist():
        key = bytes.fromhex(tid.rjust(32, "0"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def physically_held(store: Store) -> int:
    """Held rows on disk, released or not (ClickHouse), without FINAL or any merge."""
    assert isinstance(store, ClickHouseStore)
    table = store.layout.local_or_distributed("sampling_held_span_local").name
    return int(select(store._transport, f"SELECT count() FROM {table}").rows[0][0])  # noqa: S608 (the store's own table name)


def by_operation(counts: Any) -> list[dict[str, Any]]:
    """weighted_span_counts's rows, in one order (the stores give them in none)."""
    return sorted(counts.to_pylist(), key=lambda r: (r["service"], r["operation"]))


def asking_ever_sampled(store: Store, analysis: Callable[[], Report]) -> tuple[Report, int]:
    """The analysis's report, and how many times it asked the store's ever_sampled() (the store's
    own method, counted: each ask is a query on ClickHouse)."""
    real = store.ever_sampled  # type: ignore[attr-defined]
    asks = 0

    def counted() -> bool:
        nonlocal asks
        asks += 1
        return bool(real())

    store.ever_sampled = counted  # type: ignore[attr-defined]
    try:
        return analysis(), asks
    finally:
        del store.ever_sampled  # type: ignore[attr-defined]


def hold(sampler: TailSampler, batch: Any) -> tuple[int, int]:
    """Hold a batch through the sampler's writer; the bounds of its received time."""
    before = time.time_ns()
    sampler.writer().write_spans(batch)
    return before, time.time_ns()


def test_held_until_decided_then_kept_or_dropped_whole_with_weights_and_counts(
        open_store: Callable[..., Store], factory: StoreFactory) -> None:
    store = open_store()
    s = sampling(store)
    rng = random.Random(5)
    sampler = TailSampler(s, parse_policy_text(POLICY))
    errors = [gen_trace(rng, error=True, spans=4, root_service="checkout") for _ in range(20)]
    rest = [gen_trace(rng, spans=4, root_service="checkout") for _ in range(200)]
    everything = errors + rest
    assert not s.ever_sampled()
    before, after = hold(sampler, batch_of(everything))
    assert not s.ever_sampled(), "held, not yet decided"
    # The caller's answer of ever_sampled() chooses how, never what.
    assert by_operation(s.weighted_span_counts(0, 2**62, ever_sampled=False)) == by_operation(
        s.weighted_span_counts(0, 2**62))
    # Nothing visible to readers while the traces wait.
    assert s.held_count() == (220, 880)
    assert stored(store, everything) == {}
    query = TraceQuery(service="checkout", start_time_min_ns=1_600_000_000 * S, start_time_max_ns=1_800_000_000 * S,
                       limit=1000)
    assert store.find_traces(query) == []
    assert sampler.settle_all(before + 1 * S) == 0            # 1 s after the roots: not yet
    assert sampler.settle_all(after + 2 * S + 1) == 220       # 2 s: every trace decided
    # Released: gone for readers at once. On ClickHouse the held rows are still on disk (no merge,
    # no OPTIMIZE, no mutation ran): the release rows hide them.
    assert s.held_count() == (0, 0)
    assert s.ready_to_decide(2**62, 0, 0, 1, 0, 10_000) == []
    if isinstance(store, ClickHouseStore):
        assert physically_held(store) == 880
    counts = stored(store, everything)
    assert all(counts[t.trace_id] == 4 for t in errors)
    kept_rest = [t for t in rest if t.trace_id in counts]
    assert all(counts[t.trace_id] == 4 for t in kept_rest)
    assert 5 <= len(kept_rest) <= 45
    assert len(store.find_traces(query)) == 20 + len(kept_rest)
    prior = s.prior_decisions([t.trace_id for t in everything], 0)
    assert len(prior) == 220
    assert {(prior[t.trace_id].kept, prior[t.trace_id].policy) for t in errors} == {(True, "errors")}
    assert all(prior[t.trace_id].kept == (t in kept_rest) for t in rest)
    weights = s.trace_weights([t.trace_id.hex() for t in everything])
    assert {weights[t.trace_id.hex()] for t in errors} == {1.0}
    assert {weights[t.trace_id.hex()] for t in kept_rest} == {10.0}
    assert len(weights) == 20 + len(kept_rest)
    by_policy = {m.policy: m for m in s.sampling_minutes(0)}
    assert (by_policy["errors"].kept_traces, by_policy["errors"].dropped_traces) == (20, 0)
    assert by_policy["errors"].kept_spans == 80
    assert (by_policy["base"].kept_traces, by_policy["base"].dropped_traces) == (len(kept_rest), 200 - len(kept_rest))
    assert (by_policy["base"].kept_spans, by_policy["base"].dropped_spans) == (4 * len(kept_rest),
                                                                              4 * (200 - len(kept_rest)))
    assert by_policy["base"].kept_weight == pytest.approx(10.0 * len(kept_rest))
    # What the analyses and adaptive remote sampling read: estimated real counts.
    assert s.ever_sampled()
    counts_table = s.weighted_span_counts(0, 2**62)
    rows = counts_table.to_pylist()
    assert sum(r["spans"] for r in rows) == 4 * (20 + len(kept_rest))
    assert sum(r["root_traces"] for r in rows) == 20 + len(kept_rest)
    assert sum(r["est_root_traces"] for r in rows) == pytest.approx(20 + 10.0 * len(kept_rest))
    assert sum(r["sampled_spans"] for r in rows) == 4 * len(kept_rest)
    assert by_operation(s.weighted_span_counts(0, 2**62, ever_sampled=True)) == by_operation(counts_table)
    # An analysis asks ever_sampled() once, and says the data is sampled (errors: estimates too).
    everywhere = AnalysisFilter(start_ns=0, end_ns=2**62)
    errors_report, asks = asking_ever_sampled(store, lambda: analyze_errors(store, everywhere))
    assert asks == 1 and any(n.startswith("sampled data") for n in errors_report.notes)
    assert sum(r["est_errors"] for r in errors_report.rows) == 20   # the error traces weigh 1
    latency_report, asks = asking_ever_sampled(store, lambda: analyze_latency(store, everywhere))
    assert asks == 1 and latency_report.params["estimated_requests"] == round(20 + 10.0 * len(kept_rest))
    # `tracehouse sampling simulate` reads the stored traces' facts the same way.
    facts = {f.trace_id: f for chunk in s.stored_facts(0, 2**62, 7) for f in facts_of(chunk)}
    assert set(facts) == {t.trace_id for t in errors + kept_rest}
    assert {(f.span_count, f.error_count, f.root_service, f.has_root) for f in facts.values()} >= {
        (4, 1, "checkout", True)}


@pytest.mark.parametrize("factory", NOT_CLUSTER, ids=str)
def test_traces_without_a_root_wait_until_max_wait(open_store: Callable[..., Store]) -> None:
    s = sampling(open_store())
    rng = random.Random(6)
    sampler = TailSampler(s, parse_policy_text(POLICY))
    orphans = [gen_trace(rng, error=True, root=False, spans=3) for _ in range(5)]
    before, after = hold(sampler, batch_of(orphans))
    assert sampler.settle_all(before + 10 * S) == 0
    assert sampler.settle_all(after + 30 * S) == 5
    assert all(n == 3 for n in stored(s, orphans).values()) and len(stored(s, orphans)) == 5


@pytest.mark.parametrize("factory", NOT_CLUSTER, ids=str)
def test_late_spans_follow_the_decision_and_a_split_trace_is_decided_once(open_store: Callable[..., Store]) -> None:
    s = sampling(open_store())
    rng = random.Random(7)
    sampler = TailSampler(s, parse_policy_text(POLICY))
    traces = [gen_trace(rng, spans=6) for _ in range(150)]
    # Each trace split across two requests: the children first, the rest (with the root) later.
    hold(sampler, batch_of([], [r for t in traces for r in t.rows[3:]]))
    _, after = hold(sampler, batch_of([], [r for t in traces for r in t.rows[:3]]))
    now = after + 3 * S
    assert sampler.settle_all(now) == 150
    counts = stored(s, traces)
    kept = set(counts)
    assert set(counts.values()) == {6} and 3 <= len(kept) <= 40
    # Late spans (a retry, a slow async child) after the decision: they follow it, even errors.
    late = [dict(t.rows[-1], span_id=rng.randbytes(8), status_code=2) for t in traces]
    hold(sampler, batch_of([], late))
    assert sampler.settle_all(now + 1) == 150                  # at once: their traces have a decision
    assert stored(s, traces) == dict.fromkeys(kept, 7)
    minutes = s.sampling_minutes(0)
    assert sum(m.kept_traces + m.dropped_traces for m in minutes) == 150      # decided once
    assert sum(m.kept_spans + m.dropped_spans for m in minutes) == 150 * 7
    assert len(s.prior_decisions([t.trace_id for t in traces], 0)) == 150


@pytest.mark.parametrize("factory", NOT_CLUSTER, ids=str)
def test_a_huge_trace_is_decided_at_the_size_cap_and_does_not_hold_up_others(
        open_store: Callable[..., Store]) -> None:
    s = sampling(open_store())
    rng = random.Random(8)
    sampler = TailSampler(s, parse_policy_text(POLICY))
    huge = gen_trace(rng, spans=1_200, error=True)
    small = [gen_trace(rng, spans=3, error=True) for _ in range(20)]
    hold(sampler, batch_of([], huge.rows[400:]))              # the root has not arrived; the error has
    _, after = hold(sampler, batch_of(small))
    assert sampler.settle_all(after + 2 * S + 1) == 21        # cap 500 reached: decided on what arrived
    assert stored(s, [huge]) == {huge.trace_id: 800}
    assert stored(s, small) == {t.trace_id: 3 for t in small}
    _, after = hold(sampler, batch_of([], huge.rows[:400]))
    sampler.settle_all(after + 3 * S)
    assert stored(s, [huge]) == {huge.trace_id: 1_200}


def test_a_replayed_batch_is_stored_once(open_store: Callable[..., Store]) -> None:
    s = sampling(open_store())
    rng = random.Random(9)
    sampler = TailSampler(s, parse_policy_text(KEEP_ALL_AT_ONCE))
    traces = [gen_trace(rng, spans=4) for _ in range(20)]
    hold(sampler, batch_of(traces))
    hold(sampler, batch_of(traces))                           # the spool replays after a crash
    assert s.held_count() == (20, 160)
    facts = facts_of(s.held_facts([t.trace_id for t in traces]))
    assert sorted(f.span_count for f in facts) == [4] * 20, "a span held twice counted twice"
    sampler.settle_all(2**62)
    assert s.held_count() == (0, 0)
    assert stored(s, traces) == {t.trace_id: 4 for t in traces}
    minutes = s.sampling_minutes(0)                           # the spans the readers see, each once
    assert (sum(m.kept_traces for m in minutes), sum(m.kept_spans for m in minutes)) == (20, 80)


def test_a_replayed_batch_does_not_bring_a_trace_to_the_size_cap(open_store: Callable[..., Store]) -> None:
    """The size cap counts spans (trace, span id, start: what write_spans stores once), not held
    rows: 6 spans held twice (the spool replays after a crash) are 6 spans under a cap of 8, and the
    trace is due at its 8th span. A span id sent again with another start is another span."""
    s = sampling(open_store())
    rng = random.Random(14)
    sampler = TailSampler(s, parse_policy_text(
        "policies: [{always: true}]\ndecision: {wait_after_root: 0s, max_wait: 1h, max_trace_spans: 8}"))
    trace = gen_trace(rng, spans=8, root=False)               # no root: only the cap (or an hour) makes it due
    first, moved = trace.rows[0], dict(trace.rows[0], start_time_unix_nano=trace.rows[0]["start_time_unix_nano"] + 1)

    def due() -> list[tuple[bytes, int]]:
        return list(s.ready_to_decide(2**62, 0, 2**62, 8, 0, 100))

    hold(sampler, batch_of([], trace.rows[:6]))
    hold(sampler, batch_of([], trace.rows[:6]))               # the replay: 12 rows, 6 spans
    hold(sampler, batch_of([], [first]))                      # and once more: 13 rows
    assert due() == [], "held copies counted as spans towards the cap"
    assert sampler.settle_all() == 0
    hold(sampler, batch_of([], [trace.rows[6]]))
    assert due() == []                                        # 7 spans
    hold(sampler, batch_of([], [moved]))                      # the same span id, another start: 8
    # Due with its held rows (what the pass reads, its budget: held_spans loads every copy); the
    # policies and the per-minute counts see its 8 spans.
    assert due() == [(trace.trace_id, 15)] and s.held_count() == (1, 15)
    assert [f.span_count for f in facts_of(s.held_facts([trace.trace_id]))] == [8]
    assert sampler.settle_all() == 1
    assert stored(s, [trace]) == {trace.trace_id: 8}
    assert sum(m.kept_spans for m in s.sampling_minutes(0)) == 8


@pytest.mark.parametrize("factory", CLICKHOUSE, ids=str)
def test_two_instances_deciding_the_same_traces_record_and_count_them_once(
        open_store: Callable[..., Store]) -> None:
    """Two tracehouse instances on one store, both passing over the same held traces at once (no
    routing by trace id in front): they agree (the randomness is the trace id), and the
    deduplicated decisions and per-minute rows count each trace once."""
    a, b = sampling(open_store()), sampling(open_store())
    policy = parse_policy_text(POLICY)
    rng = random.Random(10)
    traces = [gen_trace(rng, spans=3, error=i % 10 == 0) for i in range(100)]
    a.hold_spans(batch_of(traces), 1_000)
    passes = []
    for store in (a, b):                                     # both read before either releases
        ids = [tid for tid, _ in store.ready_to_decide(10 * S, 0, S, 500, 0, 1_000)]
        passes.append((store, ids, facts_of(store.held_facts(ids))))
    assert sorted(passes[0][1]) == sorted(passes[1][1]) == sorted(t.trace_id for t in traces)
    decided_by: list[dict[bytes, bool]] = []
    for store, ids, facts in passes:
        decider = Decider(policy)
        decided = [DecidedTrace(d.trace_id, d.kept, d.probability, d.threshold, d.policy, d.spans, d.approx_bytes)
                   for d in (decider.decide(f, 10 * S) for f in facts)]
        decided_by.append({d.trace_id: d.kept for d in decided})
        store.record_decisions(decided, 10 * S)
        store.write_spans(store.held_spans([d.trace_id for d in decided if d.kept]))
        store.release_held(ids)
    assert decided_by[0] == decided_by[1]
    kept = {t for t, k in decided_by[0].items() if k}
    assert a.held_count() == b.held_count() == (0, 0)
    assert stored(a, traces) == dict.fromkeys(kept, 3)
    minutes = a.sampling_minutes(0)
    assert sum(m.kept_traces for m in minutes) == len(kept)
    assert sum(m.kept_traces + m.dropped_traces for m in minutes) == 100
    assert sum(m.kept_spans + m.dropped_spans for m in minutes) == 300
    assert len(a.prior_decisions([t.trace_id for t in traces], 0)) == 100


@pytest.mark.parametrize("factory", CLICKHOUSE, ids=str)
def test_the_cleanup_deletes_released_rows_only(open_store: Callable[..., Store]) -> None:
    store = open_store()
    assert isinstance(store, ClickHouseStore)
    rng = random.Random(11)
    sampler = TailSampler(store, parse_policy_text(KEEP_ALL_AT_ONCE))
    done = [gen_trace(rng, spans=2) for _ in range(10)]
    waiting = [gen_trace(rng, spans=2, root=False) for _ in range(3)]
    store.hold_spans(batch_of(done), 1_000)
    sampler.settle_all(2_000)
    store.hold_spans(batch_of(waiting), 5_000)               # no root, max_wait not reached: waits
    minutes_before = store.sampling_minutes(0)
    assert store.held_count() == (3, 6) and physically_held(store) == 26
    store.cleanup_sampling(0, 0, 2**62)                      # watermark: the oldest row still waiting
    deadline = time.monotonic() + 60
    while physically_held(store) != 6:
        assert time.monotonic() < deadline, "the cleanup's mutation did not finish"
        time.sleep(0.2)
    store.cleanup_sampling(0, 0, 2**62)                      # now the releases of the deleted rows
    assert store.held_count() == (3, 6)
    assert store.sampling_minutes(0) == minutes_before
    assert stored(store, done) == {t.trace_id: 2 for t in done}
    assert sampler.settle_all(2**62) == 3                    # the waiting ones are still there
    assert stored(store, waiting) == {t.trace_id: 2 for t in waiting}


@pytest.mark.parametrize("factory", NOT_CLUSTER, ids=str)
def test_trace_weights_take_ids_in_any_case_and_without_leading_zeros_and_skip_malformed_ones(
        open_store: Callable[..., Store]) -> None:
    """One parser for every store (store.trace_id_list): a trace id is 1 to 32 hex digits; anything
    else names no trace, so it has no weight (absent means 1) and an analysis never raises on it."""
    s = sampling(open_store())
    rng = random.Random(12)
    sampler = TailSampler(s, parse_policy_text("policies: [{probabilistic: {percent: 100}}]\n"
                                               "decision: {wait_after_root: 0s}"))
    traces = [gen_trace(rng, spans=2) for _ in range(2)]
    short = b"\0\0\0" + traces[1].trace_id[3:]                # shown without leading zeros by Jaeger
    traces[1] = GenTrace(short, [dict(r, trace_id=short) for r in traces[1].rows])
    hold(sampler, batch_of(traces))
    sampler.settle_all(2**62)
    full, zeros = traces[0].trace_id.hex(), short.hex()
    assert s.trace_weights([full, zeros]) == {full: 1.0, zeros: 1.0}
    assert s.trace_weights([full.upper(), zeros.lstrip("0"), zeros]) == {full: 1.0, zeros: 1.0}
    malformed = ["", "xyz", "00" + full, full + "0", full[:16] + " " + full[16:], full[:31] + "g", " " + zeros]
    assert s.trace_weights(malformed) == {}
    assert s.trace_weights([*malformed, full]) == {full: 1.0}
    # Kept at weight 1 (and one trace stored unsampled): never sampled, and the caller saying so
    # changes nothing in the counts.
    s.write_spans(batch_of([gen_trace(rng, spans=3, error=True)]))
    assert not s.ever_sampled()
    unweighted = by_operation(s.weighted_span_counts(0, 2**62, ever_sampled=False))
    assert unweighted == by_operation(s.weighted_span_counts(0, 2**62))
    assert sum(r["spans"] for r in unweighted) == 7 and sum(r["est_error_spans"] for r in unweighted) == 1


def _hostile_trace(rng: random.Random, start_ns: int, tenant: str, big: int, *, spans: int = 4,
                   root: bool = True) -> GenTrace:
    """`spans` spans with 18 span and 15 resource attributes each, values from a few bytes to `big`
    bytes (any Unicode, quotes, backslashes, control characters, JSON-looking text), an event and
    a link with long values too, starting at `start_ns`; the first span is the root, or (`root`
    False) the child of a span never seen, the others its children."""
    tid = rng.randbytes(16)
    ids = [rng.randbytes(8) for _ in range(spans)]
    first_parent = None if root else rng.randbytes(8)
    text = "é€😀\"\\\n\t\x01{\"k\": [1]}</script>" * 64      # ~2.3 KB of hostile text
    rows = []
    for i, sid in enumerate(ids):
        attrs: dict[str, Any] = {f"attr.{k}": text[: 1 + 97 * k] for k in range(12)}
        attrs |= {"int.max": 2**63 - 1, "int.min": -(2**63), "float": 1e-308, "bool": False,
                  "list": [text, 1, 2.5, None, True], "map": {"nested": {"deeper": text}}}
        if i == 1:
            attrs["attr.big"] = ("x" + text) * (big // (len(text.encode()) + 1))
        resource = {"service.name": f"svc-{i % 2}", "tenant.id": tenant,
                    **{f"res.{k}": text[: 500 * k] for k in range(12)}, "res.long": text * 40}
        rows.append({
            "trace_id": tid, "span_id": sid, "parent_span_id": first_parent if i == 0 else ids[0],
            "trace_state": "vendor=" + "v" * 500, "service_name": f"svc-{i % 2}",
            "span_name": "GET /" + "ü" * 200 if i == 0 else f"op-{i}",
            "span_kind": 2, "start_time_unix_nano": start_ns + i, "end_time_unix_nano": start_ns + 10 + i,
            "status_code": 2 if i == 3 else 0, "status_message": text if i == 3 else None,
            "attributes": orjson.dumps(attrs).decode(), "resource_attributes": orjson.dumps(resource).decode(),
            "events": orjson.dumps([{"time_unix_nano": start_ns + i, "name": "exception",
                                     "attributes": {"exception.stacktrace": text * 30}}]).decode(),
            "links": orjson.dumps([{"trace_id": rng.randbytes(16).hex(), "span_id": rng.randbytes(8).hex(),
                                    "attributes": {"why": text}}]).decode(),
            "scope_name": "hostile", "scope_version": "9" * 300,
        })
    return GenTrace(tid, rows)


def _read_back(store: Store, trace: GenTrace) -> list[dict[str, Any]]:
    return sorted(store.get_spans([trace.trace_id.hex()]).to_pylist(), key=lambda r: str(r["span_id"]))


def test_held_spans_with_many_huge_attributes_at_the_time_edges_read_back_as_if_never_held(
        open_store: Callable[..., Store], factory: StoreFactory, service: Any, tmp_path: Path) -> None:
    """Hostile data through the hold: 18 span and 15 resource attributes a span, values up to ~1 MB
    (the receiver truncates longer ones, docs/receiving.md: the store has no limit of its own, so the
    hold must keep whatever write_spans keeps), traces starting in 1970 and ending in 2262 (the
    latest time the receiver accepts). A policy that reads the held attributes keeps two and drops
    one; the kept traces read back exactly as from a store that never sampled."""
    s = sampling(open_store())
    rng = random.Random(13)
    traces = [_hostile_trace(rng, 0, "acme", 1_000_000),                          # 1970-01-01T00:00:00Z
              _hostile_trace(rng, MAX_TIME_UNIX_NANO - 13, "acme", 200_000),     # ends 2262-01-01
              _hostile_trace(rng, 1_700_000_000 * S, "other", 300_000)]
    policy = ("decision: {wait_after_root: 0s}\n"
              "policies: [{name: acme, attribute: {key: tenant.id, equals: acme}}]")
    sampler = TailSampler(s, parse_policy_text(policy))
    hold(sampler, batch_of(traces))
    assert s.held_count() == (3, 12)
    assert sampler.settle_all(2**62) == 3
    assert s.held_count() == (0, 0)
    reference = factory.open(tmp_path / "never-sampled", False, service)
    try:
        reference.write_spans(batch_of(traces))
        for kept in traces[:2]:
            expected = _read_back(reference, kept)
            assert len(expected) == 4 and any(len(r["attributes"]) > 1_000_000 for r in expected) == (
                kept is traces[0])
            assert _read_back(s, kept) == expected
        assert _read_back(s, traces[2]) == []
    finally:
        reference.close()
    minutes = s.sampling_minutes(0)
    counted: dict[str, list[int]] = {}
    for m in minutes:
        c = counted.setdefault(m.policy, [0, 0, 0, 0])
        for i, n in enumerate((m.kept_traces, m.dropped_traces, m.kept_spans, m.dropped_spans)):
            c[i] += n
    assert counted == {"acme": [2, 0, 8, 0], "(no policy)": [0, 1, 0, 4]}


def test_a_replayed_hostile_batch_does_not_bring_a_trace_to_the_size_cap(open_store: Callable[..., Store]) -> None:
    """The replay and the size cap with the hostile spans of the test above: 18 span and 15 resource
    attributes, a value of ~1 MB, times in 1970 and up to 2262. Two traces one span under a cap of 8,
    both held twice (the spool replays after a crash): 14 rows each, 7 spans, not due. The eighth
    span of one brings it to the cap: it alone is decided, with its 8 spans stored once."""
    s = sampling(open_store())
    rng = random.Random(15)
    sampler = TailSampler(s, parse_policy_text(
        "policies: [{always: true}]\ndecision: {wait_after_root: 0s, max_wait: 1h, max_trace_spans: 8}"))
    # No roots: only the cap (or an hour) makes them due. The 1970 starts are a trace's start time,
    # not its arrival: max_wait counts from the arrival.
    under = _hostile_trace(rng, 0, "acme", 1_000_000, spans=7, root=False)              # 1970-01-01T00:00:00Z
    at = _hostile_trace(rng, MAX_TIME_UNIX_NANO - 17, "acme", 200_000, spans=8, root=False)  # ends 2262-01-01
    replayed = batch_of([], under.rows + at.rows[:7])

    def due() -> list[tuple[bytes, int]]:
        return list(s.ready_to_decide(2**62, 0, 2**62, 8, 0, 100))

    hold(sampler, replayed)
    hold(sampler, replayed)                                   # the replay: 28 rows, 14 spans
    assert s.held_count() == (2, 28)
    assert due() == [], "held copies of hostile spans counted as spans towards the cap"
    assert sampler.settle_all() == 0
    hold(sampler, batch_of([], [at.rows[7]]))                 # its 8th span: at the cap
    assert due() == [(at.trace_id, 15)]
    assert sorted(f.span_count for f in facts_of(s.held_facts([under.trace_id, at.trace_id]))) == [7, 8]
    assert sampler.settle_all() == 1
    assert s.held_count() == (1, 14)
    assert stored(s, [under, at]) == {at.trace_id: 8}
    assert sum(m.kept_spans for m in s.sampling_minutes(0)) == 8
