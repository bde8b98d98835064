"""The tests doctor's findings rest on, in the standard library alone (the backend process
refuses numpy, ADR 8): Mann-Whitney U for "larger in the incident than in the baseline" on per-trace values,
Fisher's exact test for "fails more often", and Benjamini-Hochberg over every hypothesis examined.

Rank tests, not t-tests: latencies are skewed and carry stray outliers, which move a mean but not
ranks. The normal approximation of U (with the tie correction) is accurate far below the minimum
support doctor asks for (20 traces a side).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence


def mann_whitney_greater(incident: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided p-value that values in `incident` tend to be larger than in `baseline`."""
    n1, n2 = len(incident), len(baseline)
    if n1 == 0 or n2 == 0:
        return 1.0
    ordered = sorted(baseline)
    # U = pairs (incident, baseline) with the incident value larger, ties counting a half.
    u = 0.0
    for v in incident:
        lo = bisect_left(ordered, v)
        u += lo + (bisect_right(ordered, v, lo) - lo) / 2
    n = n1 + n2
    tie_term = sum(t**3 - t for t in Counter([*incident, *baseline]).values() if t > 1)
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def fisher_greater(incident_hits: int, incident_total: int, baseline_hits: int, baseline_total: int) -> float:
    """One-sided Fisher exact p-value that the incident's rate is higher than the baseline's: the
    hypergeometric probability of at least `incident_hits` of all hits falling in the incident."""
    hits = incident_hits + baseline_hits
    total = incident_total + baseline_total
    if hits == 0 or incident_total == 0 or baseline_total == 0:
        return 1.0

    def log_choose(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_choose(total, incident_total)
    top = min(hits, incident_total)
    p = 0.0
    for k in range(incident_hits, top + 1):
        if hits - k > baseline_total:
            continue
        p += math.exp(log_choose(hits, k) + log_choose(total - hits, incident_total - k) - denominator)
    return min(1.0, p)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """q-values (BH adjusted p-values) in the order given; controls the false discovery rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for position in range(m - 1, -1, -1):
        i = order[position]
        running = min(running, p_values[i] * m / (position + 1))
        q[i] = min(1.0, running)
    return q


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; `values` must be sorted."""
    if not values:
        return 0.0
    pos = (len(values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def change_point(values_in_time_order: Sequence[float]) -> int:
    """Index where the level shifts most (CUSUM of ranks: robust to outliers); 0 when flat."""
    n = len(values_in_time_order)
    if n < 4:
        return 0
    order = sorted(range(n), key=lambda i: values_in_time_order[i])
    ranks = [0.0] * n
    for r, i in enumerate(order):
        ranks[i] = r
    mean = (n - 1) / 2
    best, best_at, running = 0.0, 0, 0.0
    for i in range(n - 1):
        running += ranks[i] - mean
        if abs(running) > best:
            best, best_at = abs(running), i + 1
    return best_at
