"""The gap laws' shape, the queue's seed, and the engine against a reference taught the truth."""

from __future__ import annotations

import math
import random

import pytest
from bench.reconstruct_data import Generated, generate

from tracehouse.analytics.reconstruct import EngineConfig, InferredLink, fcfs_baseline, reconstruct, taught
from tracehouse.analytics.reconstruct.gaps import KINK_SCALES, GapLaw, GapModel
from tracehouse.analytics.reconstruct.scoring import score
from tracehouse.analytics.reconstruct.seed import Coverage, _unmix

US = 1_000


def test_rounded_top_pairs_identical_siblings_by_their_gaps() -> None:
    # Two identical parallel calls whose callees end 20 us apart; each response takes ~400 us back.
    # Paired right, the end gaps are 430 and 460 us; swapped, 410 and 480. A pure Laplace cost
    # (|gap - median| / scale) gives both pairings the same total: the swap is a coin toss.
    laplace = GapLaw(400 * US, 100 * US)
    right = laplace.cost(430 * US) + laplace.cost(460 * US)
    swapped = laplace.cost(410 * US) + laplace.cost(480 * US)
    assert right == pytest.approx(swapped, abs=0.002)  # (the wide tail tells them apart by a hair)
    # The learned law has a rounded top: the pairing whose gaps are the most alike costs less.
    model = GapModel()
    for gap in (250, 320, 360, 390, 400, 410, 440, 480, 550):
        model.observe("gateway", "GET", "catalog", "GET /item", -3600.0 * US, gap * US)
    law = model.gaps("gateway", "GET", "catalog", "GET /item", asynchronous=False).end_gap
    assert law is not None and law.kink == KINK_SCALES > 0
    # a queue's delay keeps the pure Laplace law
    queue = GapModel()
    for delay in (1, 2, 3, 5, 8, 13, 21, 34, 55):
        queue.observe("api", "publish", "mailer", "send", delay * 1000.0 * US, 0.0)
    assert queue.gaps("api", "publish", "mailer", "send", asynchronous=True).offset.kink == 0
    rounded = GapLaw(400 * US, 100 * US, law.kink)
    assert rounded.cost(430 * US) + rounded.cost(460 * US) < rounded.cost(410 * US) + rounded.cost(480 * US) - 0.05
    # Past the kink it is Laplace's again: the cost grows by one nat per scale (until the wide tail takes over).
    assert rounded.cost(650 * US) - rounded.cost(550 * US) == pytest.approx(1.0, abs=0.1)


def test_rounded_top_is_a_density() -> None:
    law = GapLaw(0.0, 1000.0, KINK_SCALES)   # core 1 us wide, tail 0.5 ms: fine steps near the core
    core = sum(math.exp(-law.cost(x + 0.5)) for x in range(-20_000, 20_000))
    wide = sum(math.exp(-law.cost(x * 250.0 + 125.0)) * 250.0 for x in range(-40_000, 40_000) if abs(x) >= 80)
    assert core + wide == pytest.approx(1.0, abs=0.01)


def test_coverage_spreads_each_orphans_pairs_over_its_own_range() -> None:
    cover = Coverage([(0.0, 10.0, 5), (5.0, 15.0, 10)])
    assert cover.expected(-100.0, 100.0) == pytest.approx(15.0)
    assert cover.expected(5.0, 10.0) == pytest.approx(2.5 + 5.0)
    assert cover.expected(12.0, 20.0) == pytest.approx(3.0)
    assert cover.expected(20.0, 30.0) == pytest.approx(0.0)


def test_unmix_finds_a_queues_delay_law_among_chance_pairs() -> None:
    # 300 consumers, each with 60 chance producers over +-25 ms and its true one 6 ms + Exp(3 ms)
    # later (a queue behind a skewed clock: median about 8.1 ms, mean absolute deviation about 2.3 ms).
    rng = random.Random(5)
    values: list[float] = []
    ranges: list[tuple[float, float, int]] = []
    for _ in range(300):
        xs = sorted([rng.uniform(-25e6, 25e6) for _ in range(60)] + [6e6 + rng.expovariate(1 / 3e6)])
        ranges.append((xs[0], xs[-1], len(xs) - 2))
        values.extend(xs[1:-1])
    # from the narrow peak at the law's sharp edge, as the histogram finds it
    median, scale = _unmix(values, ranges, 6.6e6, 0.6e6)
    assert 6.3e6 <= median <= 9.0e6
    assert 1.2e6 <= scale <= 4.0e6   # the peak alone (0.6 ms) would teach a law far too narrow


def _hop_accuracy(data: Generated, links: list[InferredLink]) -> float:
    kinds = {(r["trace_id"], r["span_id"]): r["kind"] for r in data.rows}
    hop = {k: p for k, p in data.truth.items() if p is not None and kinds[k] == "CONSUMER"}
    got = {(k.child_trace_id, k.child_span_id): (k.parent_trace_id, k.parent_span_id) for k in links}
    return sum(got.get(k) == p for k, p in hop.items()) / len(hop)


def _taught_links(data: Generated) -> list[InferredLink]:
    spans = data.call_spans()
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    model = taught([(by_key[p], by_key[k]) for k, p in data.truth.items() if p is not None])
    return reconstruct(spans, model=model, config=EngineConfig(passes=1)).links


def test_a_queue_without_message_ids_is_learned_from_timing() -> None:
    # Timing alone, under load: the queue's delays are wide and skewed, and before the delays were
    # unmixed from the chance pairs the engine learned a law around a wrong delay and got almost
    # none of the hops right (0.8% on this set), far below what the same assignment does when
    # taught the truth.
    data = generate("queue", 500, 5.0, seed=22, evidence=False)
    ours = _hop_accuracy(data, reconstruct(data.call_spans()).links)
    reference = _hop_accuracy(data, _taught_links(data))
    assert ours >= 0.1, ours
    assert ours >= 0.8 * reference, (ours, reference)


def test_identical_parallel_calls_reach_the_taught_reference() -> None:
    # `fanout`: 3-6 identical calls to one endpoint, nothing but timing (and rare status codes) to
    # tell them apart. What the engine learns from the fragments pairs them as well as gap models
    # taught the true pairs do, and far better than first come, first served.
    data = generate("fanout", 300, 5.0, seed=22)
    spans = data.call_spans()
    ours = score(reconstruct(spans).links, data.truth, data.request_of)
    reference = score(_taught_links(data), data.truth, data.request_of)
    fcfs = score(fcfs_baseline(spans), data.truth, data.request_of)
    assert ours.link_accuracy >= reference.link_accuracy - 0.02, (ours, reference)
    assert ours.link_accuracy >= fcfs.link_accuracy + 0.3, (ours, fcfs)
    assert ours.trace_accuracy >= fcfs.trace_accuracy + 0.2, (ours, fcfs)
