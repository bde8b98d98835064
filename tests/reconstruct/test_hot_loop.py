"""The engine's hot loop (candidate search and pair costs over the index's per-group lists, the
producers' nearest-first search by hint number) against a straightforward reference written from
the definitions: every caller checked with `_compatible` and the timing bounds one by one, every
cost from `GapLaw.cost` and `GapModel.graph_cost`. The same candidates and bit-identical costs."""

from __future__ import annotations

import pytest
from bench.reconstruct_data import generate

from tracehouse.analytics.reconstruct import EngineConfig, GapModel, taught
from tracehouse.analytics.reconstruct.calls import ASYNC_CALLEE, CallSpan
from tracehouse.analytics.reconstruct.engine import (
    _calls,
    _compatible,
    _exact,
    _Index,
    _index,
    _producers,
    _score_calls,
    _score_producers,
)
from tracehouse.analytics.reconstruct.gaps import GapLaw

CONFIG = EngineConfig()


def _reference_calls(s: CallSpan, index: _Index, window: tuple[float, float] | None,
                     offsets: tuple[float, float] | None) -> list[CallSpan]:
    lo_gap, hi_gap = window if window is not None else (-CONFIG.max_offset_ns, CONFIG.max_offset_ns)
    lo_off = max(-CONFIG.max_offset_ns, offsets[0]) if offsets is not None else -CONFIG.max_offset_ns
    hi_off = min(CONFIG.max_call_ns, offsets[1]) if offsets is not None else CONFIG.max_call_ns
    return [c for c in index.callers_by_end
            if _compatible(c, s)
            and s.end + lo_gap <= c.end <= s.end + hi_gap
            and lo_off <= s.start - c.start <= hi_off
            and (c.end - c.start) - (s.end - s.start) >= CONFIG.min_overhead_ns]


def _reference_producers(s: CallSpan, index: _Index, window: tuple[float, float] | None) -> list[CallSpan]:
    """The compatible producers among the searched ones: the 8 * candidates_per_span nearest the
    middle of the delay range (an older one first on a tie)."""
    if window is not None:
        lo, hi = window
        centre = (lo + hi) / 2
    else:
        lo, hi, centre = -CONFIG.max_offset_ns, CONFIG.max_queue_ns, 0.0

    def distance(c: CallSpan) -> tuple[float, int]:
        delay = s.start - c.end
        return ((delay - centre, 0) if delay >= centre else (centre - delay, 1))

    in_range = [c for c in index.producers_by_end if s.start - hi <= c.end <= s.start - lo]
    searched = sorted(in_range, key=distance)[:8 * CONFIG.candidates_per_span]
    return [c for c in searched if _compatible(c, s)]


def _reference_cost(c: CallSpan, s: CallSpan, model: GapModel) -> float | None:
    """The pair's cost from the laws' own `cost`; None beyond their reach."""
    asynchronous = s.kind == ASYNC_CALLEE
    gaps = model.gaps(c.service, c.name, s.service, s.name, asynchronous)
    end_law = gaps.end_gap or GapLaw(0.0, 1.0)
    offset = float(s.start - c.end) if asynchronous else float(s.start - c.start)
    end_gap = 0.0 if asynchronous else float(c.end - s.end)
    if (abs(offset - gaps.offset.median) > gaps.offset.reach(CONFIG.max_scales)
            or (not asynchronous and abs(end_gap - end_law.median) > end_law.reach(CONFIG.max_scales))):
        return None
    cost = model.graph_cost(c.service, c.name, c.target, s.service, s.name) + gaps.offset.cost(offset)
    return cost if asynchronous else cost + end_law.cost(end_gap)


def _key(c: CallSpan) -> tuple[str, str]:
    return c.trace_id, c.span_id


@pytest.mark.parametrize(("topology", "load", "evidence"), [
    ("fanout", 5.0, False), ("fanout_http", 5.0, True), ("queue", 5.0, False), ("held_out", 2.0, True),
    ("queue", 5.0, True),   # roots longer than every call of a group skip it; paths narrow the search
])
def test_candidates_and_costs_match_the_reference(topology: str, load: float, evidence: bool) -> None:
    data = generate(topology, 120, load, seed=51, evidence=evidence)
    spans = data.call_spans()
    orphans, index, _ = _index(spans)
    _, orphans, index = _exact(orphans, index, CONFIG)
    by_key = {_key(s): s for s in spans}
    # two models: nothing learned (wide priors, the first round's search) and one taught the truth
    learned = taught([(by_key[p], by_key[k]) for k, p in data.truth.items() if p is not None and p in by_key])
    checked_pairs = 0
    for model in (GapModel(), learned):
        for s in orphans:
            asynchronous = s.kind == ASYNC_CALLEE
            window = model.window(s.service, s.name, asynchronous, CONFIG.max_scales)
            offsets = None if asynchronous else model.offset_window(s.service, s.name, CONFIG.max_scales)
            if asynchronous:
                found = _producers(s, index, CONFIG, window, None)
                expected = _reference_producers(s, index, window)
                scored = _score_producers(s, found, {}, model, {}, {}, CONFIG.max_scales)
            else:
                found = [group.calls[k] for group, k in _calls(s, index, CONFIG, window, offsets)]
                expected = _reference_calls(s, index, window, offsets)
                scored = _score_calls(s, index, CONFIG, window, offsets, {}, model, {}, {}, CONFIG.max_scales)
            assert sorted(map(_key, found)) == sorted(map(_key, expected))
            # the search's order is the scoring's order (ties in cost keep it)
            assert [_key(c) for _, _, c in scored] == [_key(c) for c in found
                                                      if _reference_cost(c, s, model) is not None]
            for cost, position, c in scored:
                assert cost == _reference_cost(c, s, model)  # bit for bit, not approximately
                assert scored[position][2] is c
            checked_pairs += len(scored)
    assert checked_pairs > 1000
