"""What a store offers tail sampling (docs/sampling.md, ADR 11): a place for spans to wait for their
trace's decision, the decisions themselves (the decision cache and the weights of kept traces), and
per-minute counts of what each policy kept and dropped.

A store that implements this Protocol can run a tail sampler; one that does not simply has no
sampling (`isinstance(store, SamplingStore)` tells). Held spans are not spans of the store: readers
(search, the Jaeger API, analyses) never see them until their trace is kept and written with
`SpanWriter.write_spans`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyarrow as pa


@dataclass(frozen=True)
class DecidedTrace:
    """One trace's decision, as recorded. `late`: spans of a trace decided earlier, which follow that
    decision (counted as spans, not again as a trace, and recorded as no new decision)."""

    trace_id: bytes
    kept: bool
    probability: float
    threshold: str
    policy: str
    spans: int
    approx_bytes: int
    late: bool = False

    @property
    def weight(self) -> float:
        return 1.0 / self.probability if self.kept and self.probability > 0 else 0.0


@dataclass(frozen=True)
class PriorDecision:
    kept: bool
    probability: float
    policy: str


@dataclass(frozen=True)
class PolicyMinute:
    minute_unix_nano: int
    policy: str
    kept_traces: int
    dropped_traces: int
    kept_spans: int
    dropped_spans: int
    kept_bytes: int
    dropped_bytes: int
    kept_weight: float    # the real traces the kept ones stand for


@runtime_checkable
class SamplingStore(Protocol):
    def hold_spans(self, batch: pa.Table, received_unix_nano: int) -> None:
        """Keep a decoded batch (model.SPAN_BATCH_SCHEMA) until its traces are decided. Durable and
        atomic on return, like write_spans; not idempotent (a replayed batch is held twice, and
        write_spans drops the repeats when the trace is kept). Single writer."""
        ...

    def ready_to_decide(self, now_unix_nano: int, wait_after_root_ns: int, max_wait_ns: int,
                        max_trace_spans: int, cache_since_unix_nano: int, limit: int) -> list[tuple[bytes, int]]:
        """(trace id, held rows) of held traces due for a decision, oldest first, at most `limit`:
        the root arrived `wait_after_root_ns` ago, or the first span `max_wait_ns` ago, or
        `max_trace_spans` spans are held, or a decision since `cache_since_unix_nano` exists. The
        cap counts each span once (trace, span id, start), as held_facts does; the held rows count
        a span held twice (a replayed batch) twice: they are what a pass reads for the trace
        (held_spans loads every copy), the sampler's per-pass budget."""
        ...

    def held_facts(self, trace_ids: Sequence[bytes], with_attributes: bool = False) -> pa.Table:
        """One row per trace of these held traces, in receiver.sampling.traces.TRACE_COLUMNS (the
        per-span work done in the store); attribute lists only `with_attributes`."""
        ...

    def held_spans(self, trace_ids: Sequence[bytes]) -> pa.Table:
        """The held spans of these traces in model.SPAN_BATCH_SCHEMA, ready for write_spans."""
        ...

    def prior_decisions(self, trace_ids: Sequence[bytes], cache_since_unix_nano: int) -> dict[bytes, PriorDecision]:
        """Decisions recorded since `cache_since_unix_nano` for these traces."""
        ...

    def record_decisions(self, decided: Sequence[DecidedTrace], now_unix_nano: int) -> None:
        """Record new decisions and add every trace (late ones as spans only) to the per-minute
        counts, in one transaction. Durable on return."""
        ...

    def release_held(self, trace_ids: Sequence[bytes]) -> None:
        """Delete the held spans of these (decided) traces."""
        ...

    def held_count(self) -> tuple[int, int]:
        """(traces, held rows) waiting for a decision: a span held twice (a replayed batch) counts
        twice until its trace is decided, as it is held twice."""
        ...

    def forget_decisions(self, before_unix_nano: int, minutes_before_unix_nano: int) -> None:
        """Forget dropped decisions older than the first cutoff and per-minute counts older than the second."""
        ...

    def sampling_minutes(self, since_unix_nano: int) -> list[PolicyMinute]:
        """What each policy kept and dropped per minute since then. [] when nothing was ever sampled."""
        ...

    def stored_facts(self, start_unix_nano: int, end_unix_nano: int, traces_per_chunk: int,
                     with_attributes: bool = False) -> Iterator[pa.Table]:
        """Stored traces that started in the window, one row per trace in TRACE_COLUMNS, in chunks."""
        ...

    def trace_weights(self, trace_ids: Sequence[str]) -> dict[str, float]:
        """Sampling weights of these (hex) traces; traces stored unsampled are absent (weight 1)."""
        ...

    def ever_sampled(self) -> bool:
        """Whether any stored trace stands for more than itself (a kept decision with a weight above
        1). Cheap: without one, weighted_span_counts has no sampled spans in any window, and the
        analyses skip it (on ClickHouse it groups every span of the window)."""
        ...

    def weighted_span_counts(self, start_unix_nano: int, end_unix_nano: int,
                             ever_sampled: bool | None = None) -> pa.Table:
        """Per service and operation (spans started in the window): spans, error_spans, est_spans,
        est_error_spans, root_traces, est_root_traces, sampled_spans. est_* weight each span by
        its trace's sampling weight (1 when stored unsampled).

        `ever_sampled`: the caller's answer of ever_sampled(), asked once for its whole analysis, so
        the store need not ask again (None: the store asks, if it needs to). It only chooses how the
        counts are computed, never what they are: with no trace weighing above 1, the weighted
        counts equal the unweighted ones."""
        ...
