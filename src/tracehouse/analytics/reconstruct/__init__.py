"""Rebuilding traces whose context propagation is broken: cross-service parent links from timing.

Where a service drops `traceparent`, each callee's SERVER (or CONSUMER) span starts a trace of its own.
This package proposes, for each such orphan, the CLIENT (PRODUCER) span in another service that
caused it, with a calibrated confidence, by one global min-cost assignment over a time window whose
costs come from gap models learned from the data itself. See docs/reconstruction.md.

- `calls`: the spans the engine looks at (`CallSpan`) and the attribute hints both sides carry.
- `gaps`: the learned gap models (per edge: start offset and end gap, or queue delay), bounded memory.
- `seed`: the first models of unlearned edges, from the peaks of their gap histograms (a queue's delay
  law unmixed from the chance pairs around its peak).
- `assign`: sparse min-cost assignment with private "no parent" options, and min-marginal margins.
- `engine`: one window, end to end: candidates, iterative re-estimation, links with confidence;
  and the first-come-first-served baseline the benchmark compares against.
- `runner`: the store-facing side: read a window through the store contract, write the links.
"""

from tracehouse.analytics.reconstruct.calls import CallSpan
from tracehouse.analytics.reconstruct.engine import (
    EngineConfig,
    InferredLink,
    Reconstruction,
    fcfs_baseline,
    reconstruct,
    taught,
)
from tracehouse.analytics.reconstruct.gaps import GapModel

__all__ = ["CallSpan", "EngineConfig", "GapModel", "InferredLink", "Reconstruction", "fcfs_baseline", "reconstruct",
           "taught"]
