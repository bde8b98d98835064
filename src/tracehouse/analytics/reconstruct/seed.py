"""Seeding the gap models from fragments alone, whatever the load.

Before anything is learned, the true pairs of an edge (caller operation -> callee operation) all
have nearly the same offset and overhead, while the chance pairs in the same window spread evenly
over it. So among all time-compatible pairs of an edge, the true ones form a sharp peak in the
histogram of each gap on a flat background, at any concurrency: the mode is found before any
assignment (which, with wide priors on a busy window, would mostly be wrong and teach the model
nonsense). Bin widths from 25 us to 6.4 ms are tried and the most significant peak is kept, so the
seed adapts to a LAN or to calls across continents. The pairs inside both peaks seed the edge's
model; the assignment rounds then refine it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from tracehouse.analytics.reconstruct.gaps import GapModel

WIDTHS_NS = (25_000, 100_000, 400_000, 1_600_000, 6_400_000)
MIN_PEAK_Z = 5.0
EdgeKey = tuple[str, str, str, str]


def _peak(values: list[float], span_ns: float) -> tuple[float, float, float] | None:
    """(centre, half-width, z) of the most significant 3-bin peak, or None."""
    best: tuple[float, float, float] | None = None
    n = len(values)
    for width in WIDTHS_NS:
        bins = Counter(math.floor(v / width) for v in values)
        background = n * 3 * width / max(span_ns, 3 * width)
        for b in bins:
            count = bins[b - 1] + bins[b] + bins[b + 1]
            z = (count - background) / math.sqrt(background + 1)
            if best is None or z > best[2]:
                best = ((b + 0.5) * width, 1.5 * width, z)
    return best if best is not None and best[2] >= MIN_PEAK_Z else None


def seed(model: GapModel, pairs: dict[EdgeKey, list[tuple[float, float, str | None]]], asynchronous: set[EdgeKey],
         offset_span_ns: float, overhead_span_ns: float) -> int:
    """Add the peak pairs of each edge to `model`; returns how many edges were seeded.
    `pairs[edge]`: (offset, overhead, caller target) of every time-compatible pair of that edge."""
    seeded = 0
    by_edge: dict[EdgeKey, list[tuple[float, float, str | None]]] = defaultdict(list)
    for edge, values in pairs.items():
        if len(values) < model.min_edge_samples:
            continue
        is_async = edge in asynchronous
        o_peak = _peak([v[0] for v in values], offset_span_ns)
        if o_peak is None:
            continue
        centre, half, _ = o_peak
        inside = [v for v in values if abs(v[0] - centre) <= half]
        if not is_async:
            g_peak = _peak([v[1] for v in inside], overhead_span_ns)
            if g_peak is None:
                continue
            g_centre, g_half, _ = g_peak
            inside = [v for v in inside if abs(v[1] - g_centre) <= g_half]
        if len(inside) < model.min_edge_samples:
            continue
        by_edge[edge] = inside
        seeded += 1
    for (cs, cn, ss, sn), inside in by_edge.items():
        for offset, overhead, target in inside:
            model.observe(cs, cn, ss, sn, offset, overhead, target)
    return seeded
