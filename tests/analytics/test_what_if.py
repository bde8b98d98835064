"""--what-if predicts root p50/p95 from the critical paths."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tracehouse.analytics import synthetic
from tracehouse.analytics.critical_path import SpanTiming, critical_path
from tracehouse.analytics.latency import predicted_duration
from tracehouse.analytics.parsing import ParseError, WhatIf, parse_what_if
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter

MS = 10**6


def _sequential_trace() -> list[SpanTiming]:
    # root 0..100 calls a (10..60), then b (60..90); a has 50 ms of its own time.
    return [SpanTiming("r", None, "hub", "GET /", 0, 100 * MS),
            SpanTiming("a", "r", "fizzer", "GET /fizz", 10 * MS, 60 * MS),
            SpanTiming("b", "r", "buzzer", "GET /buzz", 60 * MS, 90 * MS)]


def test_minus_ms_shrinks_the_path_by_at_most_the_spans_own_time() -> None:
    path = critical_path(_sequential_trace())
    assert predicted_duration(path, WhatIf("fizzer", None, minus_ns=20 * MS)) == 80 * MS
    assert predicted_duration(path, WhatIf("fizzer", None, minus_ns=500 * MS)) == 50 * MS
    assert predicted_duration(path, WhatIf("fizzer", "GET /other", minus_ns=20 * MS)) == 100 * MS


def test_minus_percent_scales_the_spans_own_time() -> None:
    path = critical_path(_sequential_trace())
    assert predicted_duration(path, WhatIf("buzzer", "GET /buzz", fraction=0.5)) == 85 * MS


def test_parse_what_if() -> None:
    assert parse_what_if("fizzer:GET /fizz=-100ms") == WhatIf("fizzer", "GET /fizz", minus_ns=100 * MS)
    assert parse_what_if("fizzer=-50%") == WhatIf("fizzer", None, fraction=0.5)
    with pytest.raises(ParseError):
        parse_what_if("fizzer=+10ms")
    with pytest.raises(ParseError):
        parse_what_if("fizzer")


def test_what_if_on_fbaas_removes_the_planted_delay(analyses_of: Callable[..., Analyses]) -> None:
    analyses = analyses_of(synthetic.fbaas(fizzer_delay_ms=200.0), 400)
    report = analyses.latency(AnalysisFilter(), parse_what_if("fizzer=-200ms"))
    before, after = report.params["root_p50_ms"], report.params["predicted_p50_ms"]
    assert before > 200
    # Every request waited on fizzer's 200 ms sleep plus its ~3 ms of work; -200 ms leaves ~10 ms.
    assert 195 < before - after <= 200
    assert report.params["predicted_p95_ms"] < report.params["root_p95_ms"]
