"""Seeding the gap models from fragments alone, whatever the load.

Before anything is learned, the true pairs of an edge (caller operation -> callee operation) all
have nearly the same end gap (client end - server end: the response's way back), while the chance
pairs in the same window spread evenly over it. So among all time-compatible pairs of an edge, the
true ones form a sharp peak in the histogram of each gap on a flat background, at any concurrency:
the mode is found before any assignment (which, with wide priors on a busy window, would mostly be
wrong and teach the model nonsense). Bin widths from 25 us to 6.4 ms are tried and the most
significant peak is kept, so the seed adapts to a LAN or to calls across continents. The pairs
inside the peak seed the edge's model; the assignment rounds then refine it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from tracehouse.analytics.reconstruct.gaps import GapModel

WIDTHS_NS = (25_000, 100_000, 400_000, 1_600_000, 6_400_000)
MIN_PEAK_Z = 5.0
# A peak must hold this share of the orphans that have candidates on the edge.
PEAK_SHARE = 0.3
EdgeKey = tuple[str, str, str, str]


def _peak(values: list[float], span_ns: float, min_count: int) -> tuple[float, float, float] | None:
    """(centre, half-width, z) of the most significant 3-bin peak holding at least `min_count`
    values, or None. The count floor keeps a handful of chance coincidences in a very narrow bin
    from passing for the edge's gap (the true pairs are one per orphan)."""
    best: tuple[float, float, float] | None = None
    n = len(values)
    # the background spreads over the range the candidates were actually drawn from (a search
    # nearest-first over a long range covers only its middle)
    span_ns = min(span_ns, max(values) - min(values)) if values else span_ns
    # each width is 4 times the last: its bins are the finest bins' indices divided by 4, so the
    # values are binned once
    finest = WIDTHS_NS[0]
    bins = Counter(int(v // finest) for v in values)
    for step, width in enumerate(WIDTHS_NS):
        if step:
            coarser: Counter[int] = Counter()
            ratio = width // WIDTHS_NS[step - 1]
            for b, count in bins.items():
                coarser[b // ratio] += count
            bins = coarser
        background = n * 3 * width / max(span_ns, 3 * width)
        for b in list(bins):
            count = bins[b] + bins.get(b - 1, 0) + bins.get(b + 1, 0)
            if count < min_count:
                continue
            z = (count - background) / math.sqrt(background + 1)
            if best is None or z > best[2]:
                best = ((b + 0.5) * width, 1.5 * width, z)
    return best if best is not None and best[2] >= MIN_PEAK_Z else None


def seed(model: GapModel, pairs: dict[EdgeKey, list[tuple[float, float, str | None]]], asynchronous: set[EdgeKey],
         offset_span_ns: float, end_span_ns: float, orphans: dict[EdgeKey, int]) -> int:
    """Add the peak pairs of each edge to `model`; returns how many edges were seeded.
    `pairs[edge]`: (offset, end gap, caller target) of every time-compatible pair of that edge. The
    pairs inside the peak of the tight gap seed the model; the assignment rounds then fit the other
    gap (wide where requests queue) from the links they make."""
    seeded = 0
    by_edge: dict[EdgeKey, list[tuple[float, float, str | None]]] = defaultdict(list)
    for edge, values in pairs.items():
        if len(values) < model.min_edge_samples:
            continue
        # the tight gap first: the end gap of a synchronous call, the queue delay of a hop
        asynchronous_hop = edge in asynchronous
        tight = [v[0] if asynchronous_hop else v[1] for v in values]
        floor = max(model.min_edge_samples, int(PEAK_SHARE * orphans.get(edge, 0)))
        peak = _peak(tight, offset_span_ns if asynchronous_hop else end_span_ns, floor)
        if peak is None:
            continue
        centre, half, _ = peak
        inside = [v for v, t in zip(values, tight, strict=True) if abs(t - centre) <= half]
        if len(inside) < model.min_edge_samples:
            continue
        by_edge[edge] = inside
        seeded += 1
    for (cs, cn, ss, sn), inside in by_edge.items():
        for offset, end_gap, target in inside:
            model.observe(cs, cn, ss, sn, offset, end_gap, target)
    return seeded
