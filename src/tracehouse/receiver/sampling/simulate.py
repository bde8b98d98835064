"""`tracehouse sampling simulate FILE --since 1h`: the stored traces of a window, replayed through a
policy file with the same decider the backend runs, so a team sees what a policy would keep before
turning it on. Traces are replayed in the order they ended, each decided at its end time (rate
limits adjust in the replay's own time, and the p99 policy warms up as it would live).

"Slow" in the report: slower than the p95 of the window's traces with the same root operation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from tracehouse.receiver.sampling.decider import Decider
from tracehouse.receiver.sampling.policy_file import PolicyFile
from tracehouse.receiver.sampling.traces import facts_of
from tracehouse.store import SamplingStore

CHUNK_TRACES = 5_000


@dataclass
class Tally:
    traces: int = 0
    spans: int = 0
    bytes: int = 0
    errors: int = 0      # traces with an error
    slow: int = 0        # traces slower than their root operation's p95 in the window

    def add(self, spans: int, size: int, error: bool, slow: bool) -> None:
        self.traces += 1
        self.spans += spans
        self.bytes += size
        self.errors += int(error)
        self.slow += int(slow)


@dataclass
class Simulation:
    start_unix_nano: int
    end_unix_nano: int
    total: Tally = field(default_factory=Tally)
    kept: Tally = field(default_factory=Tally)
    estimated_traces: float = 0.0          # the sum of kept traces' weights: should be near total.traces
    per_policy: dict[str, dict[str, int]] = field(default_factory=dict)   # policy -> kept / dropped traces

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Simulation:
        return cls(int(data["start_unix_nano"]), int(data["end_unix_nano"]), Tally(**data["total"]),
                   Tally(**data["kept"]), float(data["estimated_traces"]),
                   {k: dict(v) for k, v in data["per_policy"].items()})

    def lines(self) -> list[str]:
        def share(part: int, whole: int) -> str:
            return f"{100 * part / whole:.1f}%" if whole else "-"

        t, k = self.total, self.kept
        rows = [
            ("traces", k.traces, t.traces), ("spans", k.spans, t.spans), ("bytes (approx.)", k.bytes, t.bytes),
            ("traces with errors", k.errors, t.errors), ("slow traces (> p95 of their root operation)", k.slow, t.slow),
        ]
        out = [f"{'':46} {'kept':>12} {'of':>12} {'share':>7}"]
        out += [f"{name:46} {kept:>12,} {total:>12,} {share(kept, total):>7}" for name, kept, total in rows]
        out.append(f"kept traces stand for {self.estimated_traces:,.0f} traces by their weights "
                   f"(stored: {t.traces:,})")
        out.append("per policy (traces it decided):")
        for name, counts in sorted(self.per_policy.items()):
            out.append(f"  {name:40} kept {counts.get('kept', 0):>10,}   dropped {counts.get('dropped', 0):>10,}")
        return out


def _p95(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def simulate(store: SamplingStore, policy_file: PolicyFile, start_unix_nano: int, end_unix_nano: int) -> Simulation:
    decider = Decider(policy_file)
    # (root key, duration, spans, bytes, error, kept, weight, policy), in the order the traces ended.
    seen: list[tuple[tuple[str, str], int, int, int, bool, int, bool, float, str]] = []
    for chunk in store.stored_facts(start_unix_nano, end_unix_nano, CHUNK_TRACES, policy_file.needs_attributes):
        for facts in sorted(facts_of(chunk), key=lambda f: f.end_unix_nano):
            d = decider.decide(facts, facts.end_unix_nano)
            seen.append(((facts.root_service, facts.root_operation), facts.duration_ns, facts.span_count,
                         facts.approx_bytes, facts.error_count > 0, facts.end_unix_nano, d.kept, d.weight, d.policy))
    durations: dict[tuple[str, str], list[int]] = {}
    for key, duration, *_ in seen:
        durations.setdefault(key, []).append(duration)
    p95 = {key: _p95(values) for key, values in durations.items() if len(values) >= 20}
    result = Simulation(start_unix_nano, end_unix_nano)
    for key, duration, spans, size, error, _end, kept, weight, policy in seen:
        slow = key in p95 and duration > p95[key]
        result.total.add(spans, size, error, slow)
        counts = result.per_policy.setdefault(policy, {"kept": 0, "dropped": 0})
        if kept:
            result.kept.add(spans, size, error, slow)
            result.estimated_traces += weight
            counts["kept"] += 1
        else:
            counts["dropped"] += 1
    return result
