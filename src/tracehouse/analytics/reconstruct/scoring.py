"""Scoring inferred links against known truth: for the benchmark, the tests and the demo."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tracehouse.analytics.reconstruct.engine import InferredLink

SpanKey = tuple[str, str]  # (trace id, span id)

CONFIDENCE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.99, 1.0000001)


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    links: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.links if self.links else 0.0


@dataclass(frozen=True)
class Score:
    true_links: int          # cross-service links that were cut
    correct: int             # of those, rejoined to the right caller
    wrong: int               # of those, rejoined to another caller
    false_links: int         # links given to spans that had no traced caller (true roots)
    requests: int            # requests with at least one cut link
    requests_whole: int      # of those, every cut link right and no false link
    calibration: list[CalibrationBin]

    @property
    def link_accuracy(self) -> float:
        return self.correct / self.true_links if self.true_links else 1.0

    @property
    def trace_accuracy(self) -> float:
        return self.requests_whole / self.requests if self.requests else 1.0

    def confident(self, threshold: float = 0.9) -> tuple[int, int]:
        """(links at or above `threshold`, of which right): calibration's headline figure."""
        links = correct = 0
        for b in self.calibration:
            if b.low >= threshold:
                links += b.links
                correct += b.correct
        return links, correct


def score(links: Iterable[InferredLink], truth: Mapping[SpanKey, SpanKey | None],
          request_of: Mapping[SpanKey, str], interchangeable: Mapping[SpanKey, str] | None = None) -> Score:
    """`truth`: every orphan's true parent (None for spans with no traced caller); `request_of`:
    the request each orphan belongs to, for whole-trace accuracy. With `interchangeable` (caller
    span -> class), a link to another caller of the same class counts as right: sibling calls
    from one span to one endpoint, which nothing but their order tells apart and which give the
    rebuilt trace the same shape either way."""
    classes = interchangeable or {}

    def same(a: SpanKey, b: SpanKey) -> bool:
        return a == b or (a in classes and classes.get(a) == classes.get(b))

    inferred = {(k.child_trace_id, k.child_span_id): k for k in links}
    bins = [[lo, hi, 0, 0] for lo, hi in itertools.pairwise(CONFIDENCE_BINS)]
    true_links = correct = wrong = false_links = 0
    bad_requests: set[str] = set()
    requests: set[str] = set()
    for child, parent in truth.items():
        link = inferred.get(child)
        request = request_of.get(child, child[0])
        if parent is None:
            if link is not None:
                false_links += 1
                bad_requests.add(request)
        else:
            requests.add(request)
            true_links += 1
            if link is not None and same((link.parent_trace_id, link.parent_span_id), parent):
                correct += 1
            else:
                bad_requests.add(request)
                if link is not None:
                    wrong += 1
        if link is not None:
            right = parent is not None and same((link.parent_trace_id, link.parent_span_id), parent)
            for b in bins:
                if b[0] <= link.confidence < b[1]:
                    b[2] += 1
                    b[3] += int(right)
                    break
    return Score(true_links, correct, wrong, false_links, len(requests), len(requests - bad_requests),
                 [CalibrationBin(float(b[0]), float(b[1]), int(b[2]), int(b[3])) for b in bins])
