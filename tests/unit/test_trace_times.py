"""`trace_times` (many traces at once, as Arrow column work) against `place` (one trace, in plain
Python): the one trace duration has two implementations for speed, and this holds them together
(ADR 13; ADR 8, second amendment). On random forests with what real data has: clocks skewed both
ways, async children after their producer, re-sent spans, parents missing from the table, a span
that names itself as parent, cycles, no parentless span, negative durations, null kinds."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest

from tracehouse.analytics.routes import route_rows
from tracehouse.analytics.trace_time import place, placed_duration, slow_threshold, trace_times

SCHEMA = pa.schema([("trace_id", pa.string()), ("span_id", pa.string()), ("parent_span_id", pa.string()),
                    ("service_name", pa.string()), ("span_name", pa.string()), ("span_kind", pa.string()),
                    ("start_time_unix_nano", pa.int64()), ("duration_ns", pa.int64()), ("error", pa.bool_())])
KINDS = ["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER", None]


def _forest(rng: random.Random, traces: int, max_spans: int) -> pa.Table:
    rows = []
    for _ in range(traces):
        trace = f"{rng.getrandbits(128):032x}"
        ids = [f"{rng.getrandbits(16):016x}" for _ in range(rng.randint(1, max_spans))]   # clashes: re-sent
        base = rng.randrange(10**15)
        for i, span in enumerate(ids):
            roll = rng.random()
            parent = (None if i == 0 and roll < 0.8 else "f" * 16 if roll < 0.05 else span if roll < 0.08
                      else rng.choice(ids))
            start = base + rng.randrange(-10**7, 10**7)                   # skew both ways
            row = {"trace_id": trace, "span_id": span, "parent_span_id": parent,
                   "service_name": rng.choice("abc"), "span_name": rng.choice("xyz"), "span_kind": rng.choice(KINDS),
                   "start_time_unix_nano": start, "duration_ns": rng.randrange(-100, 10**7),
                   "error": rng.choice([True, False, False, None])}
            rows.append(row)
            if rng.random() < 0.05:
                rows.append({**row, "start_time_unix_nano": start + 7})   # re-sent: the first row counts
    rng.shuffle(rows)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _by_place(spans: pa.Table) -> dict[str, tuple[bool, int, int, list[tuple[str, str | None]]]]:
    """Per trace, by `place` on its spans: failed, start, duration, and (span, parent) pairs."""
    rows = spans.to_pylist()
    out = {}
    for trace in dict.fromkeys(r["trace_id"] for r in rows):
        mine = [r for r in rows if r["trace_id"] == trace]
        first: dict[str, dict[str, Any]] = {}
        for r in mine:
            first.setdefault(r["span_id"], r)       # a re-sent span: its first row, in that row's place
        kept = list(first.values())
        index = {r["span_id"]: i for i, r in enumerate(kept)}
        parent = [index.get(r["parent_span_id"], -1) if r["parent_span_id"] != r["span_id"] else -1 for r in kept]
        start = [r["start_time_unix_nano"] for r in kept]
        end = [r["start_time_unix_nano"] + max(r["duration_ns"], 0) for r in kept]
        root, shift, order = place(parent, [r["service_name"] for r in kept], [r["span_kind"] or "" for r in kept],
                                   start, end)
        pairs = [(r["span_id"], kept[p]["span_id"] if p >= 0 else None) for r, p in zip(kept, parent, strict=True)]
        out[trace] = (any(r["error"] for r in mine), start[root] + shift[root],
                      placed_duration(root, shift, order, start, end), pairs)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_trace_times_is_place_for_every_trace(seed: int) -> None:
    rng = random.Random(seed)
    spans = _forest(rng, rng.randint(1, 40), rng.randint(1, 16))
    times = trace_times(spans)
    expected = _by_place(spans)
    assert times.trace_ids == list(expected)            # in order of first appearance
    span_ids = spans.column("span_id").to_pylist()
    for t, trace in enumerate(times.trace_ids):
        failed, start, duration, pairs = expected[trace]
        assert (times.failed[t], times.start_ns[t], times.duration_ns[t]) == (failed, start, duration), trace
        counted = [i for i, u in enumerate(times.span_trace) if u == t]
        got = [(span_ids[times.span_rows[i]],
                span_ids[times.span_rows[times.span_parent[i]]] if times.span_parent[i] >= 0 else None)
               for i in counted]
        assert got == pairs, trace
    assert times.span_rows == sorted(times.span_rows)


def test_a_deep_chain_and_a_cycle() -> None:
    """A chain of 300 calls, each into another service whose clock is 1 ms ahead (each shifted
    back by its parent's shift and its own), and a trace whose spans form a cycle under its root."""
    rows = [{"trace_id": "a", "span_id": f"{i:04d}", "parent_span_id": f"{i - 1:04d}" if i else None,
             "service_name": f"s{i}", "span_name": "op", "span_kind": "SERVER",
             "start_time_unix_nano": 10**12 + i * 10**6 + i * 1000, "duration_ns": 10**9 - i * 2000,
             "error": False} for i in range(300)]
    rows += [{"trace_id": "b", "span_id": s, "parent_span_id": p, "service_name": "x", "span_name": "op",
              "span_kind": None, "start_time_unix_nano": 10**12 + k, "duration_ns": 50 + 1000 * k, "error": k == 2}
             for k, (s, p) in enumerate([("r", None), ("u", "v"), ("v", "u")])]
    spans = pa.Table.from_pylist(rows, schema=SCHEMA)
    times = trace_times(spans)
    expected = _by_place(spans)
    assert [(times.failed[t], times.start_ns[t], times.duration_ns[t]) for t in range(2)] == \
        [expected[t][:3] for t in ("a", "b")]
    assert times.duration_ns[1] == 50          # the cycle is not part of the request


def _hash(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


def _mix(parent: int, child: int) -> int:
    mask = 2**64 - 1
    h = ((parent * 0x9E3779B97F4A7C15) & mask) ^ child
    h ^= h >> 31
    h = (h * 0xBF58476D1CE4E5B9) & mask
    return h ^ (h >> 29)


@pytest.mark.parametrize("seed", range(10))
def test_route_rows_group_traces_by_their_calls(seed: int) -> None:
    """Each trace's route key from its (parent label, label) calls, and each route's counts,
    quantiles (DuckDB's quantile_cont) and slowest trace, from the per-trace figures."""
    rng = random.Random(seed)
    spans = _forest(rng, rng.randint(5, 60), rng.randint(1, 4))
    times = trace_times(spans)
    table = spans.to_pylist()
    label = [f"{table[r]['service_name']}:{table[r]['span_name']}" for r in times.span_rows]
    key = [0] * len(times.trace_ids)
    for i, (t, p) in enumerate(zip(times.span_trace, times.span_parent, strict=True)):
        key[t] = (key[t] + _mix(_hash(label[p]) if p >= 0 else 0, _hash(label[i]))) % 2**64
    rows, threshold = route_rows(spans, 0.1)
    assert threshold == slow_threshold(times.duration_ns, 0.1)
    assert Counter({int(r["route_key"]): r["traces"] for r in rows}) == Counter(key)
    for r in rows:
        members = [t for t, k in enumerate(key) if k == int(r["route_key"])]
        ordered = sorted(times.duration_ns[t] for t in members)
        rank = (len(ordered) - 1) * 0.5
        low, high = ordered[int(rank)], ordered[min(int(rank) + 1, len(ordered) - 1)]
        assert r["p50_ns"] == pytest.approx(low + (high - low) * (rank - int(rank)))
        assert r["error_traces"] == sum(times.failed[t] for t in members)
        assert r["slow_traces"] == sum(times.duration_ns[t] >= threshold for t in members)
        slowest = max(members, key=lambda t: (times.duration_ns[t], t))
        assert r["example_trace_id"] == times.trace_ids[slowest]
    assert [r["traces"] for r in rows] == sorted((r["traces"] for r in rows), reverse=True)
