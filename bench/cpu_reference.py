"""A same-run reference for CPU-bound rates on a shared machine.

The machines here are virtual and shared: a fixed pure-Python loop ran at 3.9 to 6.7 million
iterations per CPU second in five consecutive runs on an otherwise idle machine, so CPU time
itself stretches with the host's load. A rate quoted alone cannot be compared across runs; the
same rate divided by this loop's, measured just before and just after it, takes out the part of
that drift that lasts longer than a run (not the faster jitter: medians over seeds and topologies
are still needed).

The loop does what the reconstruction engine does most: dictionary look-ups and stores keyed by
small integers, and integer arithmetic, in the interpreter.
"""

from __future__ import annotations

import time

ITERATIONS = 1_000_000


def reference_rate() -> float:
    """Millions of loop iterations per CPU second of this process, now."""
    counts: dict[int, int] = {}
    began = time.process_time()
    for i in range(ITERATIONS):
        key = i % 1000
        counts[key] = counts.get(key, 0) + i
    return ITERATIONS / 1e6 / max(time.process_time() - began, 1e-9)
