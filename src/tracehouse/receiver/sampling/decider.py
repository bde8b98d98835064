"""One decision per trace: the policies' keep probability, the trace's randomness, its weight.

Randomness and threshold follow OpenTelemetry's consistent-probability sampling: R is the last 56
bits of the trace id, the threshold T = (1 - p) * 2^56, and a trace is kept when R >= T. The
threshold is recorded with each decision as the `th` value of the OpenTelemetry tracestate (`ot`
entry) would be: 14 hex digits, trailing zeros dropped, "0" meaning "always kept".
"""

from __future__ import annotations

from dataclasses import dataclass

from tracehouse.receiver.sampling.policies import Context
from tracehouse.receiver.sampling.policy_file import PolicyFile
from tracehouse.receiver.sampling.traces import TraceFacts

_MAX = 1 << 56
NO_POLICY = "(no policy)"


@dataclass(frozen=True)
class Decision:
    trace_id: bytes
    kept: bool
    probability: float
    policy: str          # kept: the policy that gave the highest probability; dropped: the drop
                         # rule that matched, or the policy whose sample it fell outside, or NO_POLICY
    spans: int
    approx_bytes: int
    error: bool

    @property
    def weight(self) -> float:
        """How many traces this kept trace stands for (1/p)."""
        return 1.0 / self.probability if self.kept and self.probability > 0 else 0.0

    @property
    def threshold(self) -> str:
        return threshold_hex(self.probability)


def randomness(trace_id: bytes) -> int:
    return int.from_bytes(trace_id[-7:], "big")


def threshold(probability: float) -> int:
    return _MAX - round(max(0.0, min(1.0, probability)) * _MAX)


def threshold_hex(probability: float) -> str:
    value = threshold(probability)
    if value == 0:
        return "0"
    return f"{value:014x}".rstrip("0")


def kept_at(trace_id: bytes, probability: float) -> bool:
    return probability > 0 and randomness(trace_id) >= threshold(probability)


class Decider:
    """Applies a policy file. Not thread-safe: one decider per sampler (the commit thread's)."""

    def __init__(self, policy_file: PolicyFile) -> None:
        self.file = policy_file
        self.ctx = Context()

    def decide(self, trace: TraceFacts, now_unix_nano: int) -> Decision:
        self.ctx.now_unix_nano = now_unix_nano
        best, best_name = 0.0, NO_POLICY
        for policy in self.file.policies:
            p = policy.probability(trace, self.ctx)
            if p > best:
                best, best_name = p, policy.name
        dropped_by = next((d.name for d in self.file.drops if d.probability(trace, self.ctx) >= 1.0), None)
        if trace.has_root:
            # After the policies: the p99 a trace is compared with is that of the traces before it.
            self.ctx.root_latency.observe((trace.root_service, trace.root_operation), trace.duration_ns)
        error = trace.error_count > 0
        if dropped_by is not None:
            return Decision(trace.trace_id, False, 0.0, dropped_by, trace.span_count, trace.approx_bytes, error)
        kept = kept_at(trace.trace_id, best)
        return Decision(trace.trace_id, kept, best, best_name, trace.span_count, trace.approx_bytes, error)
