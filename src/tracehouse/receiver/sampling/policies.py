"""Sampling policies: each gives a trace a keep probability in [0, 1].

One model for all of them, so that composites and weights stay honest (ADR 11):
- a rule that matches (error, latency, attribute, span count, root) gives 1, and 0 otherwise;
- `probabilistic` gives its probability to the traces it applies to; `rate_limit` gives each key
  the probability that keeps its service near the target rate (recomputed every few seconds);
- `and` is the smallest of its parts, `or` the largest; the policy list is an `or`;
- a matching drop rule makes the probability 0.
Every trace has one randomness, taken from its id (OpenTelemetry's convention: the last 56 bits of
a W3C trace id are random), and is kept when that randomness passes the threshold of its
probability p. Since every policy compares the same randomness, the trace is kept exactly with
probability p, whichever policies combine, and a kept trace stands for 1/p traces: its weight.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracehouse.receiver.sampling.traces import TraceFacts


class PolicyError(ValueError):
    """The policy file cannot be used; the message says where and why."""


class Context:
    """State shared by the policies of one decider: the p99 of each root operation, and the clock."""

    def __init__(self, max_operations: int = 2_000, window: int = 256) -> None:
        self.now_unix_nano = 0
        self.root_latency = RootLatency(max_operations, window)


class Policy(Protocol):
    name: str

    def probability(self, trace: TraceFacts, ctx: Context) -> float: ...


# ---- the current p99 of each root operation

class RootLatency:
    """The last `window` durations of each (root service, root operation), for the p99 policy.
    Bounded: at most `max_operations` operations (the least recently seen is forgotten), each a
    fixed array of 8-byte values, so ~2 KB an operation whatever the traffic."""

    def __init__(self, max_operations: int, window: int) -> None:
        self._max = max_operations
        self._window = window
        self._rings: OrderedDict[tuple[str, str], tuple[array[float], list[int]]] = OrderedDict()
        self._p99: dict[tuple[str, str], float] = {}

    def observe(self, key: tuple[str, str], duration_ns: int) -> None:
        ring = self._rings.get(key)
        if ring is None:
            ring = (array("d"), [0])
            self._rings[key] = ring
            if len(self._rings) > self._max:
                old, _ = self._rings.popitem(last=False)
                self._p99.pop(old, None)
        else:
            self._rings.move_to_end(key)
        values, state = ring
        if len(values) < self._window:
            values.append(float(duration_ns))
        else:
            values[state[0] % self._window] = float(duration_ns)
        state[0] += 1
        # Recomputed every 16 observations: a sort of 256 values, cheap, and the p99 of a stream
        # does not move much in 16 values.
        if state[0] % 16 == 0 or len(values) < 16:
            ordered = sorted(values)
            self._p99[key] = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]

    def p99(self, key: tuple[str, str], min_samples: int) -> float | None:
        ring = self._rings.get(key)
        if ring is None or ring[1][0] < min_samples:
            return None
        return self._p99.get(key)


# ---- rules (probability 1 when they match, else 0)

@dataclass
class ErrorRule:
    name: str

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return 1.0 if trace.error_count else 0.0


@dataclass
class LatencyRule:
    name: str
    over_ns: int | None = None
    over_p99: bool = False
    min_samples: int = 100

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        if self.over_ns is not None and trace.duration_ns > self.over_ns:
            return 1.0
        if self.over_p99:
            p99 = ctx.root_latency.p99((trace.root_service, trace.root_operation), self.min_samples)
            if p99 is not None and trace.duration_ns > p99:
                return 1.0
        return 0.0


@dataclass
class AttributeRule:
    name: str
    key: str
    values: tuple[Any, ...] | None = None
    regex: re.Pattern[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exists: bool = False

    def matches(self, value: Any) -> bool:
        if self.exists:
            return True
        if self.values is not None:
            return value in self.values or str(value) in self.values
        if self.regex is not None:
            return isinstance(value, str | int | float | bool) and self.regex.search(str(value)) is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            if not isinstance(value, str):
                return False
            try:
                value = float(value)
            except ValueError:
                return False
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return 1.0 if any(self.matches(v) for v in trace.attribute_values(self.key)) else 0.0


@dataclass
class SpanCountRule:
    name: str
    minimum: int = 0
    maximum: int | None = None

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        ok = trace.span_count >= self.minimum and (self.maximum is None or trace.span_count <= self.maximum)
        return 1.0 if ok else 0.0


@dataclass
class RootRule:
    """Matches the root span's service and/or operation (exact, or a regex with `~` first)."""

    name: str
    service: str | None = None
    operation: str | None = None

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return 1.0 if _root_matches(trace, self.service, self.operation) else 0.0


@dataclass
class AlwaysRule:
    name: str

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return 1.0


def _root_matches(trace: TraceFacts, service: str | None, operation: str | None) -> bool:
    return _text_matches(trace.root_service, service) and _text_matches(trace.root_operation, operation)


def _text_matches(value: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted.startswith("~"):
        return re.search(wanted[1:], value) is not None
    return value == wanted


# ---- samplers (a probability below 1)

@dataclass
class Probabilistic:
    name: str
    probability_value: float
    service: str | None = None
    operation: str | None = None

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return self.probability_value if _root_matches(trace, self.service, self.operation) else 0.0


@dataclass
class RateLimit:
    """Keeps about `traces_per_second` traces a second per root service, in the spirit of
    Refinery's EMA throughput sampler: traces are counted per key (the root operation by
    default), counts are smoothed (an exponential moving average, weight 0.5) every
    `adjust_seconds`, and the goal is shared among keys by the logarithm of their counts, so a
    rare key keeps most of its traces and a busy one a small fraction. Until the first
    adjustment a key's probability is 1 (its traces count fully, weight 1)."""

    name: str
    traces_per_second: float
    service: str | None = None
    key: tuple[str, ...] = ("operation",)
    adjust_seconds: float = 5.0
    max_keys: int = 1_000
    _window_start: int = 0
    _counts: dict[tuple[str, tuple[Any, ...]], int] = field(default_factory=dict)
    _ema: dict[tuple[str, tuple[Any, ...]], float] = field(default_factory=dict)
    _probability: dict[tuple[str, tuple[Any, ...]], float] = field(default_factory=dict)

    def _key_of(self, trace: TraceFacts) -> tuple[str, tuple[Any, ...]]:
        parts: list[Any] = []
        for part in self.key:
            if part == "operation":
                parts.append(trace.root_operation)
            elif part == "error":
                parts.append(bool(trace.error_count))
            elif part.startswith("attribute:"):
                parts.append(next(iter(trace.attribute_values(part[len("attribute:"):])), None))
        return trace.root_service, tuple(parts)

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        if not _text_matches(trace.root_service, self.service):
            return 0.0
        self._maybe_adjust(ctx.now_unix_nano)
        key = self._key_of(trace)
        if key not in self._counts and len(self._counts) >= self.max_keys:
            key = (key[0], ("(other)",))
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._probability.get(key, 1.0)

    def _maybe_adjust(self, now: int) -> None:
        if not self._window_start:
            self._window_start = now
            return
        elapsed = (now - self._window_start) / 1e9
        if elapsed < self.adjust_seconds:
            return
        for key in set(self._ema) | set(self._counts):
            ema = 0.5 * self._ema.get(key, 0.0) + 0.5 * self._counts.get(key, 0) / elapsed
            if ema < 1e-3:
                self._ema.pop(key, None)
            else:
                self._ema[key] = ema
        self._counts = {}
        self._window_start = now
        self._probability = {}
        by_service: dict[str, list[tuple[tuple[str, tuple[Any, ...]], float]]] = {}
        for key, rate in self._ema.items():
            by_service.setdefault(key[0], []).append((key, rate))
        for keys in by_service.values():
            total = sum(rate for _, rate in keys)
            if total <= self.traces_per_second:
                continue   # under the goal: keep everything
            weights = [math.log1p(rate) for _, rate in keys]
            share = sum(weights)
            for (key, rate), w in zip(keys, weights, strict=True):
                goal = self.traces_per_second * w / share
                self._probability[key] = min(1.0, goal / rate)


# ---- composites

@dataclass
class AllOf:
    name: str
    parts: list[Policy]

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        # Every part is evaluated (no short cut), so rate limits count every trace they see.
        return min(p.probability(trace, ctx) for p in self.parts)


@dataclass
class AnyOf:
    name: str
    parts: list[Policy]

    def probability(self, trace: TraceFacts, ctx: Context) -> float:
        return max(p.probability(trace, ctx) for p in self.parts)
