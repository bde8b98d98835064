"""Whether two versions of the engine give the same answers: every link (child, parent, confidence
to the last bit) of `reconstruct`, and FCFS's, on generated sets (topologies x loads x both evidence
modes x seeds), written one line per set. Run it under each version's code and compare the files:

    PYTHONPATH=<other tree>/src:. python -m bench.reconstruct_same > a.txt
    python -m bench.reconstruct_same > b.txt && cmp a.txt b.txt

A speed-up of the engine must leave every line as it was.
"""

from __future__ import annotations

import hashlib
import os

from bench.reconstruct_data import TOPOLOGIES, generate
from tracehouse.analytics.reconstruct import fcfs_baseline, reconstruct

LOADS = (0.2, 2.0, 8.0)
SEEDS = tuple(int(x) for x in os.environ.get("TRACEHOUSE_SAME_SEEDS", "11,12").split(","))
REQUESTS = int(os.environ.get("TRACEHOUSE_SAME_REQUESTS", "600"))


def main() -> None:
    for topology in TOPOLOGIES:
        for load in LOADS:
            for evidence in (True, False):
                for seed in SEEDS:
                    spans = generate(topology, REQUESTS, load, seed=seed, evidence=evidence).call_spans()
                    result = reconstruct(spans)
                    digest = hashlib.sha256()
                    for k in result.links:
                        digest.update(f"{k.child_trace_id} {k.child_span_id} {k.parent_trace_id} {k.parent_span_id} "
                                      f"{k.confidence.hex()}\n".encode())
                    digest.update(f"{result.orphans} {result.with_candidates} {result.received_calls}\n".encode())
                    for k in fcfs_baseline(spans):
                        digest.update(f"fcfs {k.child_span_id} {k.parent_span_id}\n".encode())
                    print(f"{topology} {load} {'attrs' if evidence else 'timing'} {seed} {len(result.links)} "
                          f"{digest.hexdigest()[:16]}", flush=True)


if __name__ == "__main__":
    main()
