"""Gap models learned from the data: how a callee's span sits inside its caller's call, per edge.

For a synchronous call (CLIENT -> SERVER) two gaps describe the pair:
- offset  = server start - client start ("request start -> handler start"): the request's network
            time, any time it waited in the server's accept queue, plus the clock skew between the
            two services (a constant per service pair, so it shows as a shifted median). Queueing
            makes it wide under load;
- end gap = client end - server end ("last work -> response end"): the response's network time
            minus the skew. Nothing queues on the way back, so it stays tight at any load, and it
            carries most of the evidence.
For an asynchronous hop (PRODUCER -> CONSUMER) the gap is the queue delay: consumer start -
producer end (plus skew); the end gap does not apply.

Each gap is modelled as a Laplace distribution (median, mean absolute deviation) with a rounded top
(`GapLaw`): heavier tails than a normal one, so a few slow calls do not make the model intolerant,
and a strictly convex cost near the median, so that identical parallel calls are paired by how alike
their gaps are (a pure Laplace cost is indifferent to most exchanges between siblings). Its negative
log-likelihood is the assignment's cost. Models are kept per edge (caller
service and operation -> callee service and operation) and, for edges with few samples, per
service pair. Samples come from calls whose propagation works (ground truth) and from confident
links of earlier passes or windows; each edge keeps the most recent `max_samples`, so the model
follows changes in load and memory stays bounded whatever the history.

The model also learns the call graph: how often each caller operation (and each call target, such
as server.address:port) reaches each callee operation.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

MS = 1_000_000

EdgeKey = tuple[str, str, str, str]       # caller service, caller operation, callee service, callee operation
PairKey = tuple[str, str]                 # caller service, callee service


# Real gaps have a tail the core does not explain: an event loop that resumes a client late, a GC
# pause, a retransmit. A gap is modelled as the learned Laplace core with weight 1 - TAIL_WEIGHT plus a
# Laplace tail TAIL_FACTOR times as wide (at least TAIL_MIN_NS): without it, true pairs in the tail
# were never candidates, never learned, and the core only narrowed (a hub under asyncio left over a
# quarter of its fragments unlinked). Candidates are searched to `max_scales` core scales or
# TAIL_SCALES tail scales, whichever reaches further.
TAIL_WEIGHT = 0.05
TAIL_FACTOR = 10.0
TAIL_MIN_NS = 500_000.0
TAIL_SCALES = 4.0


#: where the core's cost turns from quadratic to linear, in scales (`GapLaw`)
KINK_SCALES = 1.0


@dataclass(frozen=True)
class GapLaw:
    """A gap's learned law: a core (median, scale: the mean absolute deviation) and a wide tail.

    The core is a Laplace law whose top is rounded (Huber's): its cost is quadratic within `kink`
    scales of the median and linear (Laplace's) beyond. A pure Laplace cost |x - median| / scale is
    flat under exchanges: two siblings' callee spans swapped between their calls cost the same sum
    whenever both gaps stay on one side of the median, so identical parallel calls were paired by
    the order of the search, not by their timing. A strictly convex top prefers the pairing whose
    gaps are the most alike (a log-concave law is matched best in order), while the linear flanks
    keep the Laplace law's tolerance of slow calls. kink 0: the pure Laplace law (queue delays)."""

    median: float
    scale: float
    kink: float = 0.0

    @property
    def tail(self) -> float:
        return max(TAIL_FACTOR * self.scale, TAIL_MIN_NS)

    def terms(self) -> tuple[float, float, float, float, float]:
        """(1/scale, 1/tail, log weight/norm of the core, of the tail, kink in ns): for `cost` in a loop."""
        c, b = self.kink, self.scale
        # the core's integral: the quadratic top (a normal law's, sd b sqrt(c)) and the two flanks
        norm = 2 * b * (math.sqrt(c * math.pi / 2) * math.erf(math.sqrt(c / 2)) + math.exp(-c / 2)) if c else 2 * b
        return (1 / b, 1 / self.tail, math.log((1 - TAIL_WEIGHT) / norm), math.log(TAIL_WEIGHT / (2 * self.tail)),
                c * b)

    def cost(self, x: float) -> float:
        """-log density of x under core and tail."""
        return mixture_cost(abs(x - self.median), *self.terms())

    def reach(self, k: float) -> float:
        return max(k * self.scale, TAIL_SCALES * self.tail)

    def bounds(self, k: float) -> tuple[float, float]:
        r = self.reach(k)
        return self.median - r, self.median + r


def mixture_cost(dx: float, inv_scale: float, inv_tail: float, log_core: float, log_tail: float,
                 kink: float = 0.0) -> float:
    """-log density at |x - median| = dx; `kink` in ns (0: no rounded top)."""
    a = log_core - (0.5 * dx * dx * inv_scale / kink if dx < kink else (dx - 0.5 * kink) * inv_scale)
    b = log_tail - dx * inv_tail
    if a < b:
        a, b = b, a
    return -(a + math.log1p(math.exp(b - a)))


def fit(values: list[float], min_scale: float, kink: float = 0.0) -> GapLaw:
    ordered = sorted(values)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    # n/(n-1): the mean absolute deviation from the sample's own median underestimates the scale.
    mad = sum(abs(v - median) for v in ordered) / n * (n / (n - 1) if n > 1 else 1.0)
    return GapLaw(median, max(mad, min_scale), kink)


@dataclass(frozen=True)
class EdgeGaps:
    offset: GapLaw
    end_gap: GapLaw | None     # None for asynchronous hops
    samples: int


# With nothing learned yet, a first pass uses wide priors: an offset of a few ms either way and a
# small positive end_gap. Its confident links then seed the learned models (engine, `passes`).
BOOTSTRAP_SYNC = EdgeGaps(GapLaw(0.0, 5 * MS), GapLaw(0.0, 1 * MS), 0)
BOOTSTRAP_ASYNC = EdgeGaps(GapLaw(0.0, 50 * MS), None, 0)


@dataclass
class GapModel:
    """Learned gaps and call graph. Bounded: `max_samples` per edge, `max_edges` edges."""

    max_samples: int = 400
    max_edges: int = 5000
    min_edge_samples: int = 8
    min_scale_ns: float = 20_000.0
    _edges: dict[EdgeKey, deque[tuple[float, float]]] = field(default_factory=dict)
    _pairs: dict[PairKey, deque[tuple[float, float]]] = field(default_factory=dict)
    _fitted: dict[object, EdgeGaps | None] = field(default_factory=dict)
    _graph: dict[tuple[str, str], Counter[tuple[str, str]]] = field(default_factory=dict)
    _targets: dict[tuple[str, str, str], Counter[tuple[str, str]]] = field(default_factory=dict)
    _into: dict[tuple[str, str], set[EdgeKey]] = field(default_factory=dict)

    def observe(self, caller_service: str, caller_name: str, callee_service: str, callee_name: str,
                offset: float, end_gap: float, target: str | None = None) -> None:
        """Record one call known (or confidently inferred) to be caller -> callee."""
        key = (caller_service, caller_name, callee_service, callee_name)
        pair = (caller_service, callee_service)
        samples = self._edges.get(key)
        if samples is None and len(self._edges) < self.max_edges:
            samples = self._edges[key] = deque(maxlen=self.max_samples)
            self._into.setdefault((callee_service, callee_name), set()).add(key)
        if samples is not None:
            samples.append((offset, end_gap))
            self._fitted.pop(key, None)
        pair_samples = self._pairs.get(pair)
        if pair_samples is None and len(self._pairs) < self.max_edges:
            pair_samples = self._pairs[pair] = deque(maxlen=self.max_samples)
        if pair_samples is not None:
            pair_samples.append((offset, end_gap))
            self._fitted.pop(pair, None)
        callee = (callee_service, callee_name)
        if len(self._graph) < self.max_edges or (caller_service, caller_name) in self._graph:
            self._graph.setdefault((caller_service, caller_name), Counter())[callee] += 1
        if target is not None and (len(self._targets) < self.max_edges
                                   or (caller_service, caller_name, target) in self._targets):
            self._targets.setdefault((caller_service, caller_name, target), Counter())[callee] += 1

    def decay(self, factor: float = 0.5) -> None:
        """Halve the call-graph counts, so the graph follows changes too (called once per window)."""
        for table in (self._graph, self._targets):
            for counts in table.values():
                for k in list(counts):
                    counts[k] = int(counts[k] * factor)
                    if counts[k] <= 0:
                        del counts[k]

    def _fit(self, key: object, samples: deque[tuple[float, float]] | None, asynchronous: bool) -> EdgeGaps | None:
        if key in self._fitted:
            return self._fitted[key]
        gaps: EdgeGaps | None = None
        if samples is not None and len(samples) >= self.min_edge_samples:
            # a queue's delays keep the pure Laplace law: they are skewed, with no sharp mode to round
            offset = fit([s[0] for s in samples], self.min_scale_ns, 0.0 if asynchronous else KINK_SCALES)
            end_gap = None if asynchronous else fit([s[1] for s in samples], self.min_scale_ns, KINK_SCALES)
            gaps = EdgeGaps(offset, end_gap, len(samples))
        self._fitted[key] = gaps
        return gaps

    def gaps(self, caller_service: str, caller_name: str, callee_service: str, callee_name: str,
             asynchronous: bool) -> EdgeGaps:
        """The most specific model with enough samples: the edge, its service pair, else the prior."""
        key = (caller_service, caller_name, callee_service, callee_name)
        found = self._fit(key, self._edges.get(key), asynchronous)
        if found is None:
            pair = (caller_service, callee_service)
            found = self._fit(pair, self._pairs.get(pair), asynchronous)
        if found is None:
            return BOOTSTRAP_ASYNC if asynchronous else BOOTSTRAP_SYNC
        return found

    def window(self, callee_service: str, callee_name: str, asynchronous: bool, k: float) -> tuple[float, float] | None:
        """The gaps candidates are searched by (`k` scales either side of each median) of every
        learned edge into this callee operation, as one range; None when no edge into it is learned
        yet. The end gap for a synchronous call, the queue delay for an asynchronous one."""
        lo, hi = math.inf, -math.inf
        for key in self._into.get((callee_service, callee_name), ()):
            gaps = self._fit(key, self._edges.get(key), asynchronous)
            if gaps is not None:
                a, b = (gaps.offset if gaps.end_gap is None else gaps.end_gap).bounds(k)
                lo, hi = min(lo, a), max(hi, b)
        return (lo, hi) if lo <= hi else None

    def offset_window(self, callee_service: str, callee_name: str, k: float) -> tuple[float, float] | None:
        """The start offsets (`k` scales either side of each median) of every learned synchronous
        edge into this callee operation, as one range; None when none is learned yet."""
        lo, hi = math.inf, -math.inf
        for key in self._into.get((callee_service, callee_name), ()):
            gaps = self._fit(key, self._edges.get(key), False)
            if gaps is not None:
                a, b = gaps.offset.bounds(k)
                lo, hi = min(lo, a), max(hi, b)
        return (lo, hi) if lo <= hi else None

    def learned(self, caller_service: str, callee_service: str) -> bool:
        samples = self._pairs.get((caller_service, callee_service))
        return samples is not None and len(samples) >= self.min_edge_samples

    def graph_cost(self, caller_service: str, caller_name: str, target: str | None,
                   callee_service: str, callee_name: str) -> float:
        """-log P(callee operation | caller operation [and its target]), smoothed; 0 when unknown.

        A call target seen with one callee only makes every other callee unlikely, which is how
        `server.address:port` on the client tells fizzer's requests from buzzer's."""
        callee = (callee_service, callee_name)
        counts = None
        if target is not None:
            counts = self._targets.get((caller_service, caller_name, target))
        if not counts:
            counts = self._graph.get((caller_service, caller_name))
        if not counts:
            return 0.0
        total = sum(counts.values())
        alpha = 0.5
        return -math.log((counts.get(callee, 0) + alpha) / (total + alpha * (len(counts) + 1)))

    def edge_count(self) -> int:
        return len(self._edges)
