"""The tail sampler on a real DuckDB store: spans wait in the store, are decided when their root has
arrived plus the wait (or at the cap), late spans follow the decision, a trace split across
requests is decided once, a huge trace is decided at the size cap, and weights and per-minute
counts are recorded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracehouse.receiver.sampling.policy_file import parse_policy_text
from tracehouse.receiver.sampling.tail import TailSampler
from tracehouse.stores.duckdb import DuckDBStore

from .generated import GenTrace, batch_of, gen_trace
from .policies import ERRORS_AND_TEN_PERCENT, KEEP_ALL_AT_ONCE

S = 10**9
POLICY = ERRORS_AND_TEN_PERCENT


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "t.duckdb")
    yield s
    s.close()


def stored_spans(store: DuckDBStore, trace: GenTrace) -> int:
    result = store.run_sql("SELECT count(*) FROM span_data WHERE trace_id = from_hex(?)", 1, 10,
                           params=[trace.trace_id.hex()])
    return int(result.rows[0][0])


def stored_per_trace(store: DuckDBStore) -> dict[bytes, int]:
    result = store.run_sql("SELECT trace_id, count(*) FROM span_data GROUP BY trace_id", 100_000, 10)
    return {bytes(tid): int(n) for tid, n in result.rows}


def decision_rows(store: DuckDBStore, trace: GenTrace) -> list[tuple[bool, float, str, str]]:
    result = store.run_sql(
        "SELECT kept, weight, threshold, policy FROM sampling_decision WHERE trace_id = from_hex(?)",
        max_rows=10, timeout_seconds=10, params=[trace.trace_id.hex()])
    return [tuple(r) for r in result.rows]  # type: ignore[misc]


def test_spans_wait_until_the_root_plus_the_wait_then_kept_or_dropped_whole(store: DuckDBStore) -> None:
    rng = random.Random(5)
    sampler = TailSampler(store, parse_policy_text(POLICY))
    writer = sampler.writer()
    errors = [gen_trace(rng, error=True, spans=8) for _ in range(30)]
    rest = [gen_trace(rng, spans=8) for _ in range(300)]
    t0 = 1_000 * S
    writer.write_spans(batch_of(errors + rest))
    held_at = store.run_sql("SELECT min(received_unix_nano) FROM sampling_held_span", 1, 10).rows[0][0]
    # Nothing visible to readers while the traces wait.
    assert store.span_count() == 0
    assert store.held_count() == (330, 330 * 8)
    assert sampler.settle_all(held_at + 1 * S) == 0          # 1 s after the roots: not yet
    assert sampler.settle_all(held_at + 2 * S + 1) == 330    # 2 s: every trace decided
    assert store.held_count() == (0, 0)
    for t in errors:
        assert stored_spans(store, t) == 8
        assert decision_rows(store, t) == [(True, 1.0, "0", "errors")]
    counts = stored_per_trace(store)
    kept_rest = [t for t in rest if t.trace_id in counts]
    assert all(counts[t.trace_id] == 8 for t in kept_rest)
    assert all(decision_rows(store, t) == [(True, 10.0, "e6666666666666", "base")] for t in kept_rest)
    assert 10 <= len(kept_rest) <= 55
    minutes = store.sampling_minutes(0)
    by_policy = {m.policy: m for m in minutes}
    assert by_policy["errors"].kept_traces == 30
    assert by_policy["base"].kept_traces == len(kept_rest)
    assert by_policy["base"].dropped_traces == 300 - len(kept_rest)
    assert abs(by_policy["base"].kept_weight - 10 * len(kept_rest)) < 1e-6
    del t0


def test_traces_without_a_root_wait_until_max_wait(store: DuckDBStore) -> None:
    rng = random.Random(6)
    sampler = TailSampler(store, parse_policy_text(POLICY))
    orphans = [gen_trace(rng, error=True, root=False, spans=3) for _ in range(5)]
    sampler.writer().write_spans(batch_of(orphans))
    held_at = store.run_sql("SELECT min(received_unix_nano) FROM sampling_held_span", 1, 10).rows[0][0]
    assert sampler.settle_all(held_at + 10 * S) == 0
    assert sampler.settle_all(held_at + 30 * S) == 5
    assert all(stored_spans(store, t) == 3 for t in orphans)


def test_late_spans_follow_the_decision_and_a_split_trace_is_decided_once(store: DuckDBStore) -> None:
    rng = random.Random(7)
    sampler = TailSampler(store, parse_policy_text(POLICY))
    writer = sampler.writer()
    traces = [gen_trace(rng, spans=10) for _ in range(400)]
    # Each trace split across two requests: the first half, then the rest (with the root) later.
    writer.write_spans(batch_of([], [r for t in traces for r in t.rows[5:]]))
    writer.write_spans(batch_of([], [r for t in traces for r in t.rows[:5]]))
    now = store.run_sql("SELECT max(received_unix_nano) FROM sampling_held_span", 1, 10).rows[0][0] + 3 * S
    assert sampler.settle_all(now) == 400
    counts = stored_per_trace(store)
    kept = {tid for tid, n in counts.items() if n == 10}
    assert set(counts.values()) == {10} and 10 < len(kept) < 80
    # Late spans (a retry, a slow async child) after the decision: they follow it.
    late_rows = []
    for t in traces:
        extra = dict(t.rows[-1], span_id=rng.randbytes(8), status_code=2)   # even an error
        late_rows.append(extra)
    writer.write_spans(batch_of([], late_rows))
    assert sampler.settle_all(now + 1) == 400          # at once: their traces have a decision
    assert stored_per_trace(store) == dict.fromkeys(kept, 11)
    total = store.run_sql("SELECT count(*), count(DISTINCT trace_id) FROM sampling_decision", 1, 10).rows[0]
    assert tuple(total) == (400, 400)


def test_a_huge_trace_is_decided_at_the_size_cap_and_does_not_hold_up_others(store: DuckDBStore) -> None:
    rng = random.Random(8)
    sampler = TailSampler(store, parse_policy_text(POLICY))
    writer = sampler.writer()
    huge = gen_trace(rng, spans=2_000, error=True)
    small = [gen_trace(rng, spans=3, error=True) for _ in range(50)]
    writer.write_spans(batch_of([], huge.rows[800:]))        # the root has not arrived; the error has
    writer.write_spans(batch_of(small))
    now = store.run_sql("SELECT max(received_unix_nano) FROM sampling_held_span", 1, 10).rows[0][0]
    assert sampler.settle_all(now + 2 * S + 1) == 51          # cap 500 reached: decided on what arrived
    assert stored_spans(store, huge) == 1200
    assert all(stored_spans(store, t) == 3 for t in small)
    writer.write_spans(batch_of([], huge.rows[:800]))
    sampler.settle_all(now + 3 * S)
    assert stored_spans(store, huge) == 2_000


def test_a_replayed_batch_is_stored_once(store: DuckDBStore) -> None:
    rng = random.Random(9)
    sampler = TailSampler(store, parse_policy_text(KEEP_ALL_AT_ONCE))
    traces = [gen_trace(rng, spans=4) for _ in range(20)]
    sampler.writer().write_spans(batch_of(traces))
    sampler.writer().write_spans(batch_of(traces))      # the spool replays after a crash
    sampler.settle_all(2**62)
    assert store.span_count() == 80
