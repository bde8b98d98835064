"""Every analysis and doctor give the embedded store's reports on a ClickHouse store, on data that is
not FBaaS-shaped and spans several hours: the planted-incident shop (14 services, 8 span attributes,
20 on entry spans, 12 resource attributes, ids in paths, parallel fan-out, an async queue, random
errors and stray outliers) over ~3.7 hours, so that windows take whole hours from the per-trace
summaries and the partial ones from the search index (ADR 18 amendment), with sample sizes small
enough that every sampled path runs. The reports are compared whole: findings, rows and notes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.clickhouse.conftest import CLICKHOUSE_KINDS, clickhouse_store_of, reference_store

from tracehouse.analytics import incidents
from tracehouse.analytics.doctor import BaselineSpec
from tracehouse.analytics.report import Report
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter, Selection
from tracehouse.stores.clickhouse import ClickHouseStore
from tracehouse.stores.duckdb import DuckDBStore

MS = 10**6
MINUTE = 60 * 10**9
HOUR = 60 * MINUTE
# Not on an hour boundary: the first and last hours are partial, and windows below cut hours.
START = (1_700_000_000 * 10**9 // HOUR) * HOUR + 23 * MINUTE + 7 * 10**9 + 3 * MS
BASELINE, INCIDENT, SPACING_MS = 1_500, 700, 6_000.0   # 2,200 requests, one every 6 s: 3 h 40 min
INCIDENT_NAME = "deploy"   # catalog 1.9.0 (a resource attribute) deployed a third into the window
ALL = 10_000   # samples larger than the data: every store reads every trace (see the sampled test below)


@pytest.fixture(scope="module")
def batches() -> list[pa.Table]:
    scenario = incidents.by_name(INCIDENT_NAME)
    return list(incidents.generate(scenario, BASELINE, INCIDENT, seed=7, start_ns=START, spacing_ms=SPACING_MS))


@pytest.fixture(scope="module")
def bounds() -> tuple[int, int, int]:
    return incidents.window(incidents.by_name(INCIDENT_NAME), BASELINE, INCIDENT, START, SPACING_MS)


@pytest.fixture(scope="module")
def reference(batches: list[pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    with reference_store(batches, Path(tmp_path_factory.mktemp("hours"))) as store:
        yield store


@pytest.fixture(scope="module", params=CLICKHOUSE_KINDS)
def clickhouse_store(request: pytest.FixtureRequest, batches: list[pa.Table]) -> Iterator[ClickHouseStore]:
    with clickhouse_store_of(request, batches, "hours_") as store:
        store.write_spans(batches[-1].slice(0, 500))    # a re-sent piece: stored once, unmerged copies until then
        yield store


def _plain(value: Any) -> Any:
    """A report as plain data, floats to 6 significant digits (interpolated percentiles and sums
    taken in another order may differ in their last bits)."""
    if isinstance(value, float):
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _same(got: Report, expected: Report, label: str) -> None:
    got_json, expected_json = _plain(got.to_json()), _plain(expected.to_json())
    assert got_json["findings"] == expected_json["findings"], label
    assert got_json["rows"] == expected_json["rows"], label
    assert got_json["notes"] == expected_json["notes"], label
    assert json.dumps(got_json["params"], sort_keys=True, default=str) == \
        json.dumps(expected_json["params"], sort_keys=True, default=str), label


def _windows(bounds: tuple[int, int, int]) -> list[tuple[str, AnalysisFilter, BaselineSpec | None]]:
    first, boundary, last = bounds
    return [
        # the incident against the explicit baseline before it: both sides cut hours
        ("incident", AnalysisFilter(start_ns=boundary, end_ns=last),
         BaselineSpec(start_ns=first + 11 * MINUTE, end_ns=boundary)),
        # doctor's default baseline (the period before the window), a window inside one hour
        ("one hour", AnalysisFilter(start_ns=boundary + 7 * MINUTE, end_ns=boundary + 41 * MINUTE), None),
        # from before the first span (the oldest hour is read from the spans) to past the last
        ("everything", AnalysisFilter(start_ns=first - HOUR, end_ns=last + HOUR), None),
        # narrowed by a resource-carried service and by a span attribute
        ("service", AnalysisFilter(start_ns=first + 30 * MINUTE, end_ns=last, service="recommend"),
         BaselineSpec(length_ns=HOUR)),
        ("tenant", AnalysisFilter(start_ns=first, end_ns=last, attributes={"tenant.id": "globex"}), None),
    ]


def test_every_analysis_and_doctor_give_the_embedded_reports_over_hours(
        clickhouse_store: ClickHouseStore, reference: DuckDBStore, bounds: tuple[int, int, int]) -> None:
    got, expected = Analyses(clickhouse_store), Analyses(reference)
    assert clickhouse_store.count_traces(AnalysisFilter()) == BASELINE + INCIDENT   # type: ignore[attr-defined]
    for label, flt, baseline in _windows(bounds):
        assert expected.errors(flt).rows or label != "everything", "the data has errors to report"
        _same(got.errors(flt), expected.errors(flt), f"errors {label}")
        # samples smaller than the window's traces: the sampled reads run, and must pick the same traces
        _same(got.latency(flt, sample=ALL), expected.latency(flt, sample=ALL), f"latency {label}")
        _same(got.paths(flt, 0.1, sample=ALL), expected.paths(flt, 0.1, sample=ALL), f"paths {label}")
        _same(got.compare(flt, Selection(slowest_fraction=0.1)), expected.compare(flt, Selection(slowest_fraction=0.1)),
              f"compare {label}")
        _same(got.origins(flt, "pricing", sample=ALL), expected.origins(flt, "pricing", sample=ALL),
              f"origins {label}")
        doctor, expected_doctor = got.doctor(flt, baseline, sample=ALL), expected.doctor(flt, baseline, sample=ALL)
        _same(doctor, expected_doctor, f"doctor {label}")
    incident = _windows(bounds)[0]
    causes = expected.diagnose(incident[1], incident[2], sample=ALL).causes
    assert causes and "catalog" in causes[0].summary and "1.9.0" in causes[0].summary, \
        "the planted cause is found, so the comparison above compares a real diagnosis"


def test_sampled_analyses_draw_samples_of_the_same_size_and_name_the_same_cause(
        clickhouse_store: ClickHouseStore, reference: DuckDBStore, bounds: tuple[int, int, int]) -> None:
    """Past the sample size each engine draws its fixed sample by the same rule (12 time slices, the
    lowest hash) but with its own hash function (DuckDB's hash(), ClickHouse's cityHash64), so the
    sampled traces, and figures, differ within sampling error (docs/clickhouse.md). What must agree:
    the sample sizes and notes, and what the analyses conclude."""
    got, expected = Analyses(clickhouse_store), Analyses(reference)
    _, flt, baseline = _windows(bounds)[0]
    latency, expected_latency = got.latency(flt, sample=150), expected.latency(flt, sample=150)
    assert latency.notes == expected_latency.notes
    assert "a fixed sample of at most 150" in " ".join(latency.notes)
    assert latency.findings[0].split(" is ")[0] == expected_latency.findings[0].split(" is ")[0]
    doctor = got.diagnose(flt, baseline, sample=250)
    expected_doctor = expected.diagnose(flt, baseline, sample=250)
    assert doctor.causes and expected_doctor.causes

    def named(cause: Any) -> tuple[Any, ...]:   # the segment's share is a sample's figure
        segment = cause.segment
        return cause.kind, cause.location, segment and (segment.key, segment.value, segment.carried_by)

    assert named(doctor.causes[0]) == named(expected_doctor.causes[0])
    assert doctor.causes[0].segment is not None, "the cause is the deployed version, not the whole service"
    assert got.latency(flt, sample=150).to_json() == latency.to_json(), "the same sample every time"
