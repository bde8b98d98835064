"""The critical path on hand-built traces: every case the walk and the clipping must get right."""

from __future__ import annotations

import itertools
import random

import pytest

from tracehouse.analytics.critical_path import (
    OperationShare,
    SpanTiming,
    critical_path,
    find_root,
    operation_shares,
    self_time_by_operation,
)


def span(span_id: str, parent: str | None, start: int, end: int, service: str = "svc", name: str | None = None
         ) -> SpanTiming:
    return SpanTiming(span_id, parent, service, name or span_id, start, end)


def path_of(spans: list[SpanTiming]) -> list[tuple[str, int, int]]:
    return [(seg.span.span_id, seg.start_ns, seg.end_ns) for seg in critical_path(spans)]


def test_a_lone_span_is_its_own_path() -> None:
    assert path_of([span("root", None, 100, 250)]) == [("root", 100, 250)]


def test_an_empty_trace_has_no_path() -> None:
    assert critical_path([]) == []


def test_sequential_children_are_all_on_the_path_with_the_parent_between_them() -> None:
    spans = [span("root", None, 0, 100), span("a", "root", 10, 40), span("b", "root", 50, 90)]
    assert path_of(spans) == [("root", 0, 10), ("a", 10, 40), ("root", 40, 50), ("b", 50, 90), ("root", 90, 100)]


def test_children_back_to_back_are_both_on_the_path() -> None:
    spans = [span("root", None, 0, 100), span("a", "root", 0, 50), span("b", "root", 50, 100)]
    assert path_of(spans) == [("a", 0, 50), ("b", 50, 100)]


def test_of_parallel_children_only_the_one_finishing_last_is_on_the_path() -> None:
    spans = [span("root", None, 0, 100), span("fast", "root", 10, 60), span("slow", "root", 10, 90)]
    assert path_of(spans) == [("root", 0, 10), ("slow", 10, 90), ("root", 90, 100)]


def test_a_child_overlapping_the_one_followed_is_skipped_as_jaeger_does() -> None:
    # "a" still runs when "b" starts, so the parent was not waiting on "a" alone at any point.
    spans = [span("root", None, 0, 100), span("a", "root", 5, 50), span("b", "root", 40, 90)]
    assert path_of(spans) == [("root", 0, 40), ("b", 40, 90), ("root", 90, 100)]


def test_the_walk_descends_through_grandchildren() -> None:
    spans = [
        span("root", None, 0, 100),
        span("call", "root", 10, 90),
        span("server", "call", 20, 80),
        span("query", "server", 30, 50),
    ]
    assert path_of(spans) == [
        ("root", 0, 10), ("call", 10, 20), ("server", 20, 30), ("query", 30, 50),
        ("server", 50, 80), ("call", 80, 90), ("root", 90, 100),
    ]


def test_a_child_outliving_its_parent_is_cut_at_the_parent_end() -> None:
    spans = [span("root", None, 0, 100), span("async", "root", 50, 150)]
    assert path_of(spans) == [("root", 0, 50), ("async", 50, 100)]


def test_clock_skew_a_child_starting_before_its_parent_is_cut_at_the_parent_start() -> None:
    spans = [span("root", None, 100, 200), span("skewed", "root", 50, 150)]
    assert path_of(spans) == [("skewed", 100, 150), ("root", 150, 200)]


def test_clock_skew_a_child_wholly_outside_its_parent_is_left_off_with_its_descendants() -> None:
    spans = [
        span("root", None, 100, 200),
        span("late", "root", 300, 400),
        span("late-child", "late", 310, 390),
        span("early", "root", 0, 90),
    ]
    assert path_of(spans) == [("root", 100, 200)]


def test_grandchildren_are_clipped_into_the_clipped_child() -> None:
    spans = [span("root", None, 0, 100), span("child", "root", 50, 200), span("grandchild", "child", 90, 180)]
    assert path_of(spans) == [("root", 0, 50), ("child", 50, 90), ("grandchild", 90, 100)]


def test_zero_length_children_do_not_stall_the_walk_or_add_segments() -> None:
    spans = [span("root", None, 0, 100), span("z1", "root", 50, 50), span("z2", "root", 50, 50),
             span("a", "root", 10, 50)]
    assert path_of(spans) == [("root", 0, 10), ("a", 10, 50), ("root", 50, 100)]


def test_the_root_is_the_span_without_a_parent_even_when_listed_last() -> None:
    spans = [span("b", "root", 50, 90), span("root", None, 0, 100)]
    assert find_root(spans) == spans[1]
    assert path_of(spans)[0] == ("root", 0, 50)


def test_a_trace_whose_root_is_missing_starts_at_its_outermost_orphan() -> None:
    spans = [span("orphan-late", "gone", 20, 30), span("orphan", "gone", 0, 100), span("child", "orphan", 10, 60)]
    assert path_of(spans) == [("orphan", 0, 10), ("child", 10, 60), ("orphan", 60, 100)]


def test_a_duplicated_span_counts_once() -> None:
    child = span("a", "root", 10, 40)
    assert path_of([span("root", None, 0, 100), child, child]) == [("root", 0, 10), ("a", 10, 40), ("root", 40, 100)]


def test_a_span_claiming_to_be_its_own_parent_does_not_loop() -> None:
    assert path_of([span("root", "root", 0, 100)]) == [("root", 0, 100)]


def test_a_very_deep_trace_does_not_exhaust_the_stack() -> None:
    depth = 20_000
    spans = [span("s0", None, 0, 2 * depth)]
    spans += [span(f"s{i}", f"s{i - 1}", i, 2 * depth - i) for i in range(1, depth)]
    path = critical_path(spans)
    assert sum(seg.self_time_ns for seg in path) == 2 * depth
    assert path[0].span.span_id == "s0" and path[-1].span.span_id == "s0"


@pytest.mark.parametrize("seed", range(25))
def test_self_times_on_the_path_add_up_to_the_root_duration(seed: int) -> None:
    rng = random.Random(seed)
    spans = [span("0", None, 0, 10_000)]
    for i in range(1, 60):
        parent = rng.choice(spans)
        # Children may stray outside their parent, as skewed clocks and async work make them do.
        start = rng.randint(parent.start_ns - 500, parent.end_ns)
        spans.append(span(str(i), parent.span_id, start, start + rng.randint(0, 3_000)))
    path = critical_path(spans)
    assert sum(seg.self_time_ns for seg in path) == 10_000
    # Segments tile the root's interval: contiguous, in order, none empty.
    assert path[0].start_ns == 0 and path[-1].end_ns == 10_000
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(path))
    assert all(seg.self_time_ns == seg.end_ns - seg.start_ns > 0 for seg in path)


def fbaas_trace(fizzer_ms: int, buzzer_ms: int, sequential: bool = False) -> list[SpanTiming]:
    """hub SERVER → two hub CLIENT calls → fizzer / buzzer SERVER, times in ms."""
    ms = 1_000_000
    fizz_end = 1 + fizzer_ms + 2
    buzz_start = fizz_end if sequential else 1
    buzz_end = buzz_start + buzzer_ms + 2
    end = max(fizz_end, buzz_end) + 1
    return [
        SpanTiming("h", None, "hub", "POST /", 0, end * ms),
        SpanTiming("hc1", "h", "hub", "POST", 1 * ms, fizz_end * ms),
        SpanTiming("f", "hc1", "fizzer", "POST /", 2 * ms, (fizz_end - 1) * ms),
        SpanTiming("hc2", "h", "hub", "POST", buzz_start * ms, buzz_end * ms),
        SpanTiming("b", "hc2", "buzzer", "POST /", (buzz_start + 1) * ms, (buzz_end - 1) * ms),
    ]


def test_a_slow_fizzer_dominates_the_path_of_a_parallel_hub() -> None:
    times = self_time_by_operation(critical_path(fbaas_trace(fizzer_ms=500, buzzer_ms=2)))
    assert times[("fizzer", "POST /")] == 500 * 1_000_000
    assert ("buzzer", "POST /") not in times


def test_a_sequential_hub_puts_both_downstreams_on_the_path() -> None:
    times = self_time_by_operation(critical_path(fbaas_trace(fizzer_ms=30, buzzer_ms=20, sequential=True)))
    assert times[("fizzer", "POST /")] == 30 * 1_000_000
    assert times[("buzzer", "POST /")] == 20 * 1_000_000


def test_operation_shares_sum_over_traces_and_rank_the_largest_first() -> None:
    traces = [fbaas_trace(500, 2), fbaas_trace(300, 2), fbaas_trace(1, 100)]
    shares = operation_shares(traces)
    total = sum(s.self_time_ns for s in shares)
    assert total == sum(max(s.end_ns for s in t) - min(s.start_ns for s in t) for t in traces)
    assert shares[0].service_name == "fizzer" and shares[0].span_name == "POST /"
    # In the third trace the 1 ms fizzer runs beside a 100 ms buzzer, so it is off that path.
    assert shares[0].self_time_ns == 800 * 1_000_000
    assert shares[0].trace_count == 2
    assert shares[0].share == pytest.approx(800 / (total / 1_000_000))
    assert sum(s.share for s in shares) == pytest.approx(1.0)
    assert [s.self_time_ns for s in shares] == sorted((s.self_time_ns for s in shares), reverse=True)
    buzzer = next(s for s in shares if s.service_name == "buzzer")
    assert buzzer == OperationShare("buzzer", "POST /", 100 * 1_000_000, buzzer.share, 1)


def test_operation_shares_of_nothing_is_empty() -> None:
    assert operation_shares([]) == []
    assert operation_shares([[]]) == []
