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

import bisect
import itertools
import math
import operator
from collections import Counter, defaultdict
from itertools import repeat

from tracehouse.analytics.reconstruct.gaps import GapModel

WIDTHS_NS = (25_000, 100_000, 400_000, 1_600_000, 6_400_000)
MIN_PEAK_Z = 5.0
# A peak must hold this share of the orphans that have candidates on the edge.
PEAK_SHARE = 0.3
EdgeKey = tuple[str, str, str, str]


class Coverage:
    """The background a histogram of pairs should show when each orphan's candidates were searched
    over a range of its own (a nearest-first search with a budget covers a short range where callers
    are dense, a long one where they are sparse): each orphan spreads its pairs evenly over its range,
    so the chance pairs pile up where many ranges overlap, with no true gap there. `expected(a, b)`:
    how many of the pairs chance puts in [a, b), from sorted range ends and prefix sums."""

    def __init__(self, ranges: list[tuple[float, float, int]]) -> None:
        # each range (lo, hi, n) adds density d = n / (hi - lo) on [lo, hi): the expected count
        # below x is sum over lo <= x of d (x - lo) minus sum over hi <= x of d (x - hi)
        spread = [(lo, max(hi - lo, 1.0), n) for lo, hi, n in ranges if n > 0]
        los = sorted((lo, n / w) for lo, w, n in spread)
        his = sorted((lo + w, n / w) for lo, w, n in spread)
        self._lo = [x for x, _ in los]
        self._hi = [x for x, _ in his]
        self._lo_d, self._lo_s = self._prefix(los)
        self._hi_d, self._hi_s = self._prefix(his)

    @staticmethod
    def _prefix(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
        d, s, sums_d, sums_s = 0.0, 0.0, [0.0], [0.0]
        for x, density in points:
            d += density
            s += density * x
            sums_d.append(d)
            sums_s.append(s)
        return sums_d, sums_s

    def _below(self, x: float) -> float:
        i = bisect.bisect_right(self._lo, x)
        k = bisect.bisect_right(self._hi, x)
        return x * self._lo_d[i] - self._lo_s[i] - (x * self._hi_d[k] - self._hi_s[k])

    def expected(self, a: float, b: float) -> float:
        return self._below(b) - self._below(a)


def _peak(values: list[float], span_ns: float, min_count: int,
          coverage: Coverage | None = None) -> tuple[float, float, float] | None:
    """(centre, half-width, z) of the most significant 3-bin peak holding at least `min_count`
    values, or None. The count floor keeps a handful of chance coincidences in a very narrow bin
    from passing for the edge's gap (the true pairs are one per orphan). With `coverage`, the
    background of each peak is what the orphans' search ranges put there, else it is flat."""
    best: tuple[float, float, float] | None = None
    n = len(values)
    # the background spreads over the range the candidates were actually drawn from (a search
    # nearest-first over a long range covers only its middle)
    span_ns = min(span_ns, max(values) - min(values)) if values else span_ns
    # each width is 4 times the last: its bins are the finest bins' indices divided by 4, so the
    # values are binned once
    finest = WIDTHS_NS[0]
    # v // finest for each value, counted in C (as floats: int() once per distinct bin, not per value)
    bins: dict[int, int] = {int(b): count for b, count in
                            Counter(map(operator.floordiv, values, repeat(float(finest)))).items()}
    for step, width in enumerate(WIDTHS_NS):
        if step:
            # a plain dict: a Counter's += on a new key goes through its Python-level __missing__
            coarser: dict[int, int] = {}
            ratio = width // WIDTHS_NS[step - 1]
            for b, count in bins.items():
                coarse = b // ratio
                coarser[coarse] = coarser.get(coarse, 0) + count
            bins = coarser
        background = n * 3 * width / max(span_ns, 3 * width)
        # each bin's 3-bin count in a comprehension; the few past the floor are weighed below
        get = bins.get
        for b, count in [(b, count) for b, c in bins.items()
                         if (count := c + get(b - 1, 0) + get(b + 1, 0)) >= min_count]:
            if coverage is not None:
                background = coverage.expected((b - 1) * width, (b + 2) * width)
            z = (count - background) / math.sqrt(background + 1)
            if best is None or z > best[2]:
                best = ((b + 0.5) * width, 1.5 * width, z)
    return best if best is not None and best[2] >= MIN_PEAK_Z else None


def seed(model: GapModel, pairs: dict[EdgeKey, list[tuple[float, float, str | None]]], asynchronous: set[EdgeKey],
         offset_span_ns: float, end_span_ns: float, orphans: dict[EdgeKey, int],
         coverage: dict[EdgeKey, list[tuple[float, float, int]]] | None = None) -> int:
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
        tight = list(map(operator.itemgetter(0 if asynchronous_hop else 1), values))
        floor = max(model.min_edge_samples, int(PEAK_SHARE * orphans.get(edge, 0)))
        ranges = coverage.get(edge) if coverage is not None else None
        peak = _peak(tight, offset_span_ns if asynchronous_hop else end_span_ns, floor,
                     Coverage(ranges) if ranges else None)
        if peak is None:
            continue
        centre, half, _ = peak
        inside = [v for v, t in zip(values, tight, strict=True) if abs(t - centre) <= half]
        if len(inside) < model.min_edge_samples:
            continue
        if asynchronous_hop and ranges:
            # The peak holds only the delays near the mode (a queue's delays are skewed and wide),
            # and fitting the pairs inside it would teach a law far too narrow, that the assignment
            # rounds then only narrow further: the law is unmixed from the chance pairs instead.
            median, scale = _unmix(tight, ranges, centre, half)
            targets = Counter([v[2] for v, t in zip(values, tight, strict=True) if abs(t - median) <= scale])
            target = targets.most_common(1)[0][0] if targets else None
            inside = [(x, 0.0, target) for x in _quantiles(median, scale, QUANTILE_SAMPLES)]
        by_edge[edge] = inside
        seeded += 1
    for (cs, cn, ss, sn), inside in by_edge.items():
        for offset, end_gap, target in inside:
            model.observe(cs, cn, ss, sn, offset, end_gap, target)
    return seeded


#: orphans whose candidates `_unmix` weighs (the first of the window's), its rounds, and the
#: samples a seeded queue's law is written to the model as
UNMIX_ORPHANS = 300
UNMIX_ROUNDS = 15
#: the first law's scale, in half-widths of the peak it starts from
UNMIX_START = 4.0
QUANTILE_SAMPLES = 64


def _unmix(values: list[float], ranges: list[tuple[float, float, int]], centre: float,
           half: float) -> tuple[float, float]:
    """(median, scale) of a queue's delay law, by expectation-maximisation on the candidates of each
    orphan: at most one of them is its true pair (drawn from the law), the others were placed by
    chance, evenly over the range its search covered (`Coverage`). Each round weighs every candidate
    by its share of the orphan's posterior (the law's density against chance's, with an equal prior
    of having no true pair among the candidates at all), and refits the law (a Laplace: weighted
    median, weighted mean absolute deviation) from the weights. `values` holds the orphans'
    candidates in the order of `ranges`, each orphan's `n` in a row. Starts from the peak, widened."""
    # every candidate once, sorted by delay, with its orphan's number and that orphan's chance spacing
    pairs: list[tuple[float, int]] = []
    spacing: list[float] = []
    at = 0
    for number, (lo, hi, n) in enumerate(ranges[:UNMIX_ORPHANS]):
        pairs.extend((x, number) for x in values[at:at + n])
        spacing.append(max(hi - lo, 1.0) / n)
        at += n
    pairs.sort()
    xs = [x for x, _ in pairs]
    owner = [g for _, g in pairs]
    if not xs:
        return centre, max(half, 1.0)
    # each candidate's orphan's chance spacing, looked up once for every round
    spaced = [spacing[g] for g in owner]
    exp = math.exp
    # From the peak, four times as wide: the peak holds the mode of a skewed law, not its flank.
    # (Starting from a quarter of the searched range instead found a wide wrong law when producers
    # are sparse and each search covers seconds: `queue` at load 0.2, timing alone, lost its hops.)
    median, scale = centre, max(UNMIX_START * half, 1.0)
    found = 0.5   # the share of orphans whose true pair is among their candidates, refitted too
    for _ in range(UNMIX_ROUNDS):
        # beyond 20 scales a candidate weighs under e^-20 of one at the median: not summed
        first = bisect.bisect_left(xs, median - 20 * scale)
        last = bisect.bisect_right(xs, median + 20 * scale)
        density = 1 / (2 * scale)
        near, owners = xs[first:last], owner[first:last]
        # exp(-|x - median| / scale) on each side of the median without abs(): -|x - median| is
        # x - median below it and median - x above (a rounded difference only changes sign)
        mid = bisect.bisect_left(xs, median, first, last)
        odds = [exp((x - median) / scale) * density * d
                for x, d in zip(xs[first:mid], spaced[first:mid], strict=True)]
        odds += [exp((median - x) / scale) * density * d
                 for x, d in zip(xs[mid:last], spaced[mid:last], strict=True)]
        totals = [(1 - found) / found] * len(spacing)
        for g, o in zip(owners, odds, strict=True):
            totals[g] += o
        weights = [o / totals[g] for g, o in zip(owners, odds, strict=True)]
        mass = sum(weights)
        if mass <= 0:
            break
        found = min(max(mass / len(spacing), 0.05), 0.95)
        # the weighted median: the first delay whose running weight reaches half the mass (the
        # running sums, accumulated in C, only grow: weights are not negative)
        half_mass = bisect.bisect_left(list(itertools.accumulate(weights)), mass / 2)
        new_median = near[half_mass] if half_mass < len(near) else median
        # |x - new_median| on each side without abs(), summed in the same order
        split = bisect.bisect_left(near, new_median)
        deviations = [w * (new_median - x) for x, w in zip(near[:split], weights[:split], strict=True)]
        deviations += [w * (x - new_median) for x, w in zip(near[split:], weights[split:], strict=True)]
        new_scale = max(sum(deviations) / mass, 1.0)
        converged = abs(new_median - median) < 0.01 * scale and abs(new_scale - scale) < 0.01 * scale
        median, scale = new_median, new_scale
        if converged:
            break
    return median, scale


def _quantiles(median: float, scale: float, n: int) -> list[float]:
    """n evenly spaced quantiles of a Laplace law: samples with its median and mean absolute deviation."""
    out = []
    for k in range(n):
        p = (k + 0.5) / n - 0.5
        out.append(median - math.copysign(scale * math.log(1 - 2 * abs(p)), p))
    return out
