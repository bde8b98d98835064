"""The backend's tail sampler. Spans wait for their trace's decision in the store, not in memory.

    ingest commit thread ──write_spans──▶ HoldingWriter ──▶ store.hold_spans (sampling_held_span)
    sampler thread, every `check_every` ──ingest.run_task──▶ TailSampler.settle_once (commit thread):
        ready_to_decide → held_facts → decide (or follow the trace's earlier decision)
        → record_decisions (durable) → write_spans(kept traces' spans) → release_held

Why this order: the decision is durable before any span moves, so a crash at any point leaves the
trace held with its decision recorded, and the next pass finishes the move with the same decision
(writes are idempotent). Every step runs on the commit thread, the store's single writer, so no
span is held while its trace is being settled. Memory is bounded by one pass (at most
MAX_TRACES_PER_PASS traces and about MAX_SPANS_PER_PASS spans), the p99 windows and the rate-limit
counters, whatever the number of open traces: those are rows of the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa

from tracehouse.receiver.ingest import Ingest, IngestClosedError
from tracehouse.receiver.sampling.decider import Decider, threshold_hex
from tracehouse.receiver.sampling.policy_file import PolicyFile
from tracehouse.receiver.sampling.traces import facts_of
from tracehouse.store import DecidedTrace, SamplingStore, SpanWriter, WriteResult

log = logging.getLogger(__name__)

MAX_TRACES_PER_PASS = 20_000
# Counted in held rows (ready_to_decide's): what a pass loads, a replayed span's copies included.
MAX_SPANS_PER_PASS = 60_000
# Per-minute counts are kept this long; dropped decisions as long as the policy file's decision_cache.
MINUTES_KEPT_NS = 7 * 86400 * 10**9
FORGET_EVERY_NS = 60 * 10**9


class SamplingBackend(SpanWriter, SamplingStore, Protocol):
    """A store that can both write spans and hold them for sampling."""


class HoldingWriter:
    """The SpanWriter the ingest pipeline writes to while tail sampling is on: batches are held in
    the store until their traces are decided. Retention passes through to the store."""

    def __init__(self, store: SamplingBackend) -> None:
        self._store = store
        self.preferred_batch_spans = store.preferred_batch_spans

    def write_spans(self, batch: pa.Table) -> WriteResult:
        self._store.hold_spans(batch, time.time_ns())
        return WriteResult(received=batch.num_rows, stored=0)

    def delete_before(self, cutoff_unix_nano: int) -> int:
        return self._store.delete_before(cutoff_unix_nano)

    def enforce_max_size(self, max_bytes: int) -> int:
        return self._store.enforce_max_size(max_bytes)

    def pin_traces(self, trace_ids: Sequence[str], keep_until_unix_nano: int | None) -> None:
        self._store.pin_traces(trace_ids, keep_until_unix_nano)


class TailSampler:
    def __init__(self, store: SamplingBackend, policy_file: PolicyFile) -> None:
        self._store = store
        self.policy_file = policy_file
        self._decider = Decider(policy_file)
        self._last_forget = 0
        self.decided_traces = 0
        self.kept_traces = 0
        # How long after a trace's last span ended it was decided (the last 10,000): for `make bench`.
        self.lags_ns: deque[int] = deque(maxlen=10_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ingest: Ingest | None = None
        self._last_pass = 0

    def writer(self) -> HoldingWriter:
        return HoldingWriter(self._store)

    # ---- one pass (on the store's writer thread)
    def settle_once(self, _writer: object = None, now_unix_nano: int | None = None) -> int:
        """Decide every trace that is due (up to one pass' worth); returns how many were settled."""
        timing = self.policy_file.timing
        now = time.time_ns() if now_unix_nano is None else now_unix_nano
        cache_since = now - timing.decision_cache_ns
        ready = self._store.ready_to_decide(now, timing.wait_after_root_ns, timing.max_wait_ns,
                                            timing.max_trace_spans, cache_since, MAX_TRACES_PER_PASS)
        chosen: list[bytes] = []
        spans = 0
        for trace_id, held in ready:
            if chosen and spans + held > MAX_SPANS_PER_PASS:
                break
            chosen.append(trace_id)
            spans += held
        if not chosen:
            self._maybe_forget(now)
            self._last_pass = 0
            return 0
        prior = self._store.prior_decisions(chosen, cache_since)
        decided: list[DecidedTrace] = []
        for facts in facts_of(self._store.held_facts(chosen, self.policy_file.needs_attributes)):
            earlier = prior.get(facts.trace_id)
            if earlier is not None:
                decided.append(DecidedTrace(facts.trace_id, earlier.kept, earlier.probability,
                                            threshold_hex(earlier.probability), earlier.policy,
                                            facts.span_count, facts.approx_bytes, late=True))
                continue
            d = self._decider.decide(facts, now)
            decided.append(DecidedTrace(d.trace_id, d.kept, d.probability, d.threshold, d.policy,
                                        d.spans, d.approx_bytes))
            self.lags_ns.append(max(0, now - facts.end_unix_nano))
        self._store.record_decisions(decided, now)
        kept = [d.trace_id for d in decided if d.kept]
        for i in range(0, len(kept), 5_000):
            self._store.write_spans(self._store.held_spans(kept[i:i + 5_000]))
        self._store.release_held(chosen)
        self.decided_traces += sum(1 for d in decided if not d.late)
        self.kept_traces += sum(1 for d in decided if d.kept and not d.late)
        self._maybe_forget(now)
        self._last_pass = len(chosen)
        return len(chosen)

    def settle_all(self, now_unix_nano: int | None = None) -> int:
        """Settle passes until nothing is due (tests, and the end of a replay)."""
        total = 0
        while True:
            n = self.settle_once(None, now_unix_nano)
            total += n
            if n == 0:
                return total

    def _maybe_forget(self, now: int) -> None:
        if now - self._last_forget < FORGET_EVERY_NS:
            return
        self._last_forget = now
        self._store.forget_decisions(now - self.policy_file.timing.decision_cache_ns, now - MINUTES_KEPT_NS)

    # ---- the background thread (like retention: work runs on the commit thread)
    def start(self, ingest: Ingest) -> None:
        self._ingest = ingest
        self._thread = threading.Thread(target=self._loop, name="tracehouse-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        assert self._ingest is not None
        while not self._stop.wait(self.policy_file.timing.tick_seconds):
            try:
                # Passes back to back while traces are due, so a backlog drains at full speed.
                while not self._stop.is_set():
                    self._ingest.run_task(self.settle_once).result()
                    if not self._last_pass:
                        break
            except IngestClosedError:
                return
            except Exception:
                log.exception("tail sampling pass failed; the spans stay held and are tried again")
