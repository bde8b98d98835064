"""One trace duration everywhere (ADR 13): the trace view (its headline, where it draws each span,
its critical path), latency's critical paths, doctor's per-trace facts and the demo's headline all
measure a trace on analytics.trace_time's timeline, so clock skew and async work count the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from playwright.sync_api import sync_playwright
from rich.console import Console

from tracehouse.analytics.critical_path import SpanTiming
from tracehouse.analytics.diagnosis import trace_facts
from tracehouse.analytics.latency import sample_paths
from tracehouse.analytics.trace_time import trace_critical_path, trace_duration
from tracehouse.cli.demo_cmd import print_report
from tracehouse.model import SPAN_BATCH_SCHEMA, SPAN_KINDS, TraceQuery
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import serve

MS = 10**6
T0 = 1_700_000_000 * 10**9
TRACE = "ab" * 16
# (span, parent, service, operation, kind, start ms, end ms)
SPANS = [
    ("r", None, "web", "GET /", "SERVER", 0, 100),
    ("c", "r", "web", "GET", "CLIENT", 10, 60),
    # api's clock is 500 ms ahead: its span sits outside the CLIENT span that waited for it.
    ("s", "c", "api", "GET /x", "SERVER", 520, 560),
    ("p", "r", "web", "publish", "PRODUCER", 70, 72),
    # The consumer runs after the request answered: kept, with the queue wait before it.
    ("q", "p", "worker", "process", "CONSUMER", 300, 350),
]


def _id(name: str) -> bytes:
    return name.encode().ljust(8, b"0")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    rows = [{"trace_id": bytes.fromhex(TRACE), "span_id": _id(s), "parent_span_id": _id(p) if p else None,
             "trace_state": None, "service_name": svc, "span_name": op, "span_kind": SPAN_KINDS.index(kind),
             "start_time_unix_nano": T0 + a * MS, "end_time_unix_nano": T0 + b * MS, "status_code": 0,
             "status_message": None, "attributes": "{}", "resource_attributes": json.dumps({"service.name": svc}),
             "events": None, "links": None, "scope_name": "test", "scope_version": None, "flags": 0x101,
             "scope_attributes": None, "scope_schema_url": None, "resource_schema_url": None}
            for s, p, svc, op, kind, a, b in SPANS]
    st = DuckDBStore(tmp_path / "data" / "tracehouse.duckdb")
    st.write_spans(pa.Table.from_pylist(rows, schema=SPAN_BATCH_SCHEMA))
    yield st
    st.close()


def test_skew_and_async_children_count_the_same_everywhere(store: DuckDBStore, tmp_path: Path) -> None:
    timings = [SpanTiming(_id(s).hex(), _id(p).hex() if p else None, svc, op, T0 + a * MS, T0 + b * MS, kind)
               for s, p, svc, op, kind, a, b in SPANS]
    expected = trace_duration(timings)
    assert expected == 350 * MS   # root start to the consumer's end; the 500 ms skew is not in it
    # The store's own envelope is what selects traces in SQL (ADR 13); the skew stretches it.
    (summary,) = store.find_traces(TraceQuery())
    assert summary.duration_ns == 560 * MS
    # Latency's critical paths.
    assert sample_paths(store, AnalysisFilter()).durations == [expected]
    # Doctor's per-trace facts.
    (facts,) = trace_facts(store.cause_sample(AnalysisFilter(), 10))
    assert facts.duration_ns == expected and facts.shifts == {"api": -505 * MS}
    # The trace view, through the HTTP API the UI draws.
    settings = Settings().with_overrides(data_dir=tmp_path / "data")
    with serve(QueryService(store, settings)) as url:
        view = httpx.get(f"{url}/api/view/traces/{TRACE}", timeout=30).json()
        with sync_playwright() as p:   # the page says the clock was corrected, and the same duration
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page(base_url=url)
                page.goto(f"/trace/{TRACE}")
                page.wait_for_selector("#clock-chip")
                assert page.text_content("#clock-chip") == "clock skew corrected: api \u2212505 ms"
                assert "Duration 350 ms" in (page.text_content(".facts") or "")
            finally:
                browser.close()
    assert view["duration"] == expected
    assert view["clockCorrections"] == {"api": -505 * MS}
    drawn = {s["id"]: s for s in view["spans"]}
    api = drawn[_id("s").hex()]
    assert (api["start"], api["dur"], api["shift"]) == (15 * MS, 40 * MS, -505 * MS)   # inside its caller
    assert "shift" not in drawn[_id("q").hex()]
    path = view["criticalPath"]
    assert sum(seg["end"] - seg["start"] for seg in path) == expected
    assert [s["end"] - s["start"] for s in path] == [seg.self_time_ns for seg in trace_critical_path(timings)]
    # The demo's headline: the same critical path over the same timeline.
    console = Console(record=True, width=200)
    assert print_report(console, [timings], 0.0) is not None
    assert "took 0.35 s in all" in console.export_text()


# ---- routes, compare and latency measure a trace the same way (issue 11): a trace whose callee's
# clock runs ahead looks long by its spans' envelope (560 ms), but took 60 ms; the genuinely slow
# ones took 400+ ms. One route (the same calls), so its percentiles are over every trace.
Spans = list[tuple[str, str | None, str, str, str, int, int]]


def _traces(skewed: int, slow: int, normal: int) -> list[tuple[str, str, Spans]]:
    made = []
    for k in range(skewed + slow + normal):
        tier = "skewed" if k < skewed else "slow" if k < skewed + slow else "normal"
        root_ms = 60 if tier == "skewed" else 400 + k if tier == "slow" else 40 + k
        ahead = 500 if tier == "skewed" else 0
        made.append((f"{k + 1:032x}", tier, [
            ("r", None, "web", "GET /", "SERVER", 0, root_ms),
            ("c", "r", "web", "GET", "CLIENT", 5, root_ms - 5),
            ("s", "c", "api", "GET /x", "SERVER", 10 + ahead, root_ms - 10 + ahead),
        ]))
    return made


@pytest.fixture
def skewed_store(tmp_path: Path) -> Iterator[DuckDBStore]:
    rows = []
    for n, (trace, tier, spans) in enumerate(_traces(6, 4, 30)):
        base = T0 + n * 10**9
        rows += [{"trace_id": bytes.fromhex(trace), "span_id": _id(s), "parent_span_id": _id(p) if p else None,
                  "trace_state": None, "service_name": svc, "span_name": op, "span_kind": SPAN_KINDS.index(kind),
                  "start_time_unix_nano": base + a * MS, "end_time_unix_nano": base + b * MS, "status_code": 0,
                  "status_message": None, "attributes": json.dumps({"tier": tier} if s == "r" else {}),
                  "resource_attributes": json.dumps({"service.name": svc}), "events": None, "links": None,
                  "scope_name": "test", "scope_version": None, "flags": 0x101, "scope_attributes": None,
                  "scope_schema_url": None, "resource_schema_url": None}
                 for s, p, svc, op, kind, a, b in spans]
    st = DuckDBStore(tmp_path / "skewed" / "tracehouse.duckdb")
    st.write_spans(pa.Table.from_pylist(rows, schema=SPAN_BATCH_SCHEMA))
    yield st
    st.close()


def test_routes_compare_and_latency_measure_a_skewed_trace_alike(skewed_store: DuckDBStore) -> None:
    analyses = Analyses(skewed_store)
    durations = sorted(sample_paths(skewed_store, AnalysisFilter()).durations)
    assert durations[-4:] == [(400 + k) * MS for k in range(6, 10)] and max(durations[:-4]) == 79 * MS
    latency = analyses.run("latency", {})
    (route,) = analyses.run("paths", {}).rows
    assert route["traces"] == 40
    assert route["p50_ms"] == pytest.approx(latency.params["root_p50_ms"])
    assert route["p95_ms"] == pytest.approx(latency.params["root_p95_ms"])
    assert route["p99_ms"] < 410          # the envelope would say 560 ms
    slowest = analyses.run("paths", {"slowest": "5%"})
    assert "at least 407.0 ms" in slowest.findings[0]
    # compare's slow side is the slow traces, not the skewed ones, by fraction and by minimum.
    for params in ({"slowest": "5%"}, {"min_duration": "300ms"}):
        report = analyses.run("compare", params)
        marks = {r["attribute"]: r for r in report.rows if r["key"] == "tier"}
        assert marks["tier=slow"]["selected_pct"] == 100.0, params
        assert "tier=skewed" not in marks or marks["tier=skewed"]["selected_pct"] == 0.0
        assert report.rows[0]["attribute"] == "tier=slow"
