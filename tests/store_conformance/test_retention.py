"""delete_before and enforce_max_size: the oldest spans go, the rest stay whole and readable."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tracehouse.model import TraceQuery
from tracehouse.store import Store

from .traces import BASE_NS, MINUTE, MS, batch, fbaas_trace, traces


def test_delete_before_removes_spans_that_started_before_the_cutoff(open_store: Callable[..., Store]) -> None:
    store = open_store()
    sent = traces(10)                                  # trace k starts at BASE_NS + k minutes
    store.write_spans(batch(sent))
    cutoff = sent[5].start_ns                          # the root of trace 5 starts exactly at the cutoff
    assert store.delete_before(cutoff) == 25
    assert store.span_count() == 25
    assert store.get_spans([t.hex for t in sent[:5]]).num_rows == 0
    assert store.get_spans([t.hex for t in sent[5:]]).num_rows == 25
    assert {t.trace_id for t in store.find_traces(TraceQuery(limit=100))} == {t.hex for t in sent[5:]}
    assert store.delete_before(cutoff) == 0            # nothing left before it
    assert store.delete_before(0) == 0
    store.close()
    reopened = open_store()                            # durable on return
    assert reopened.span_count() == 25
    assert reopened.get_spans([sent[4].hex]).num_rows == 0


def test_delete_before_in_the_middle_of_a_trace(store: Store) -> None:
    trace = fbaas_trace()
    later = fbaas_trace(BASE_NS + MINUTE)
    store.write_spans(batch(trace, later))
    # Cut after the root and the first call started: 2 of the trace's 5 spans go.
    cutoff = trace.row("fizzer")["start_time_unix_nano"]
    assert store.delete_before(cutoff) == 2
    remaining = store.get_spans([trace.hex])
    assert sorted(remaining.column("span_id").to_pylist()) == sorted(
        trace.span_ids[n].hex() for n in ("fizzer", "call-buzzer", "buzzer"))
    found = {t.trace_id: t for t in store.find_traces(TraceQuery(limit=10))}
    assert found[trace.hex].span_count == 3
    assert found[trace.hex].spans_per_service == {"fizzer": 1, "buzzer": 1, "hub": 1}
    assert found[later.hex].span_count == 5
    assert store.services() == ["buzzer", "fizzer", "hub"]
    # The service map loses the call whose parent span went, and keeps the other.
    assert [(d.parent, d.child, d.call_count) for d in store.dependencies(0, 2**62)] == [
        ("hub", "buzzer", 2), ("hub", "fizzer", 1)]
    # Writing the deleted spans again stores them again (they are no longer there to match).
    assert store.write_spans(batch(trace)).stored == 2
    assert {t.trace_id: t.span_count for t in store.find_traces(TraceQuery(limit=10))} == {trace.hex: 5, later.hex: 5}
    assert [(d.parent, d.child, d.call_count) for d in store.dependencies(0, 2**62)] == [
        ("hub", "buzzer", 2), ("hub", "fizzer", 2)]


def test_enforce_max_size_under_the_cap_deletes_nothing(store: Store) -> None:
    store.write_spans(batch(traces(50)))
    assert store.enforce_max_size(store.size_bytes() * 10) == 0
    assert store.span_count() == 250


@pytest.mark.parametrize("reopen", [False, True], ids=["just-written", "reopened"])
def test_enforce_max_size_deletes_the_oldest_until_under_the_cap(open_store: Callable[..., Store],
                                                                 reopen: bool) -> None:
    """Reopened: the write-ahead log is folded into the file, so only deleting can shrink the size."""
    store = open_store()
    sent = []
    for minute in range(20):                           # 20 batches, oldest first: 6,000 traces
        chunk = traces(300, start_ns=BASE_NS + minute * MINUTE, spacing_ns=MS)
        store.write_spans(batch(chunk))
        sent += chunk
    if reopen:
        store.close()
        store = open_store()
    size = store.size_bytes()
    cap = int(size * 0.6)
    deleted = store.enforce_max_size(cap)
    remaining = store.span_count()
    assert deleted > 0
    assert remaining + deleted == 5 * len(sent)
    assert remaining > 0, "everything was deleted to meet the cap"
    assert store.size_bytes() <= cap
    # Oldest first: every trace that lost spans started no later than every trace that kept them all.
    kept = {t.trace_id: t.span_count for t in store.find_traces(TraceQuery(limit=len(sent)))}
    whole = [t.start_ns for t in sent if kept.get(t.hex) == 5]
    cut = [t.start_ns for t in sent if kept.get(t.hex, 0) < 5]
    assert whole and cut and max(cut) <= min(whole)
    assert store.get_spans([sent[-1].hex]).num_rows == 5   # the newest trace is intact


def test_pinned_traces_survive_delete_before_until_their_pin_ends(open_store: Callable[..., Store]) -> None:
    store = open_store()
    sent = traces(4)
    store.write_spans(batch(sent))
    store.pin_traces([sent[0].hex], None)                                   # until deleted
    store.pin_traces([sent[1].hex], time.time_ns() + 3600 * 10**9)          # for an hour
    store.pin_traces([sent[2].hex], time.time_ns() - 1)                     # already over
    cutoff = sent[3].start_ns + MINUTE
    assert store.delete_before(cutoff) == 10                                # traces 2 and 3
    assert sorted(t.trace_id for t in store.find_traces(TraceQuery(limit=10))) == sorted([sent[0].hex, sent[1].hex])
    summary = {t.trace_id: t for t in store.find_traces(TraceQuery(limit=10))}
    assert summary[sent[0].hex].span_count == 5 and summary[sent[0].hex].duration_ns > 0
    store.pin_traces([sent[1].hex], time.time_ns() - 1)                     # a new pin replaces the old one
    assert store.delete_before(cutoff) == 5
    store.close()
    reopened = open_store()                                                 # pins are durable
    assert reopened.delete_before(cutoff) == 0
    assert reopened.get_spans([sent[0].hex]).num_rows == 5


def test_the_size_cap_does_not_spare_pinned_traces(store: Store) -> None:
    sent = traces(40)
    store.write_spans(batch(sent))
    store.pin_traces([t.hex for t in sent], None)
    assert store.enforce_max_size(1) > 0                                    # the disk comes first
    assert store.span_count() < 200
