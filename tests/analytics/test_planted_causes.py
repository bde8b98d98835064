"""Each analysis ranks the planted cause first (tracehouse.analytics.synthetic describes each plant)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tracehouse.analytics import synthetic
from tracehouse.cli.doctor_cmd import render_doctor
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter, Selection
from tracehouse.stores.duckdb import analytics as duckdb_analytics

EVERYTHING = AnalysisFilter()


def test_paths_rank_the_route_with_the_slow_operation_first(analyses_of: Callable[..., Analyses]) -> None:
    analyses = analyses_of(synthetic.slow_route(), 1500)
    report = analyses.paths(EVERYTHING, slowest_fraction=0.05)
    top = report.rows[0]
    assert top["route"].splitlines()[0] == "web:POST /checkout"
    assert top["slow_share"] == 100.0
    assert abs(top["share"] - 100 / 3) < 1
    # The same operation on the other routes is fast, so those routes are not over-represented.
    assert all(r["difference"] < 0 for r in report.rows[1:])
    assert len(report.rows) == 3


def test_latency_names_the_operation_slow_on_one_route(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.slow_route(), 1500).latency(EVERYTHING)
    assert (report.rows[0]["service"], report.rows[0]["operation"]) == ("db", "SELECT items")


def test_compare_ranks_the_attribute_of_the_slow_dependency_first(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.slow_attribute(), 2000).compare(EVERYTHING, Selection(slowest_fraction=0.05))
    top = report.rows[0]
    assert (top["key"], top["value"], top["scope"]) == ("customer.tier", "enterprise", "span")
    assert top["selected_pct"] == 100.0
    assert top["baseline_pct"] < 20


def test_compare_by_min_duration_finds_the_same_attribute(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.slow_attribute(), 1000).compare(EVERYTHING, Selection(min_duration_ns=100 * 10**6))
    assert report.rows[0]["attribute"] == "customer.tier=enterprise"
    assert report.rows[0]["baseline_pct"] == 0.0


def test_compare_on_errors_ranks_the_failing_version_first(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.bad_version(), 3000).compare(EVERYTHING, Selection(errors=True))
    top = report.rows[0]
    assert (top["scope"], top["key"], top["value"]) == ("resource", "service.version", "1.4.2")


def test_error_hot_spots_name_the_failing_service_and_version(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.bad_version(), 3000).errors(EVERYTHING)
    top = report.rows[0]
    assert (top["service"], top["version"], top["operation"]) == ("buzzer", "1.4.2", "GET /buzz")
    # The hub's server spans fail too (propagated), but not on their own.
    hub = [r for r in report.rows if r["service"] == "hub" and r["operation"] == "GET /fizzbuzz/{n}"]
    assert hub and hub[0]["errors"] > hub[0]["own_errors"]


def test_origins_name_the_dominant_entry_point(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.funnel(), 2000).origins(EVERYTHING, "ledger")
    top = report.rows[0]
    assert top["entry"] == "gateway:POST /batch"
    assert top["chain"] == "gateway:POST /batch > gateway:POST > importer:POST /import > importer:POST"
    assert 75 < top["share"] < 85
    assert sum(r["calls"] for r in report.rows) == 2000
    entries = {r["entry"] for r in report.rows}
    assert entries == {"gateway:POST /batch", "gateway:GET /balance", "gateway:POST /transfer"}


def test_origins_of_one_operation(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.funnel(), 1000).origins(EVERYTHING, "ledger", "GET /entries")
    assert [r["entry"] for r in report.rows] == ["gateway:GET /balance"]


def test_fbaas_latency_and_doctor_name_fizzer(analyses_of: Callable[..., Analyses]) -> None:
    analyses = analyses_of(synthetic.fbaas(fizzer_delay_ms=200.0, delayed_share=0.3), 1000)
    latency = analyses.latency(EVERYTHING)
    assert (latency.rows[0]["service"], latency.rows[0]["operation"]) == ("fizzer", "GET /fizz")
    assert latency.rows[0]["share"] > 50
    # The delay is there all along: nothing changed against the baseline, and doctor says so,
    # while its context still says where requests wait.
    report = analyses.doctor(EVERYTHING)
    assert report.findings[0].startswith("Nothing stands out")
    assert report.params["context"]["findings"][0].startswith("fizzer:GET /fizz")
    assert "fizzer" in render_doctor(report)


def test_paths_on_a_sample_find_the_same_route_and_say_so(analyses_of: Callable[..., Analyses]) -> None:
    analyses = analyses_of(synthetic.slow_route(), 3000)
    whole = analyses.paths(EVERYTHING, slowest_fraction=0.05)
    sampled = analyses.paths(EVERYTHING, slowest_fraction=0.05, sample=1000)
    counted = sum(r["traces"] for r in sampled.rows)
    assert 800 < counted < 1200  # about `sample` traces: a hash range, not an exact count
    assert sampled.rows[0]["route"] == whole.rows[0]["route"]
    assert sampled.rows[0]["slow_share"] == 100.0
    assert any(f"sample of {counted:,} of the 3,000 traces" in n for n in sampled.notes)
    assert not any("sample" in n for n in whole.notes)
    # The same traces every time, whoever asks.
    assert analyses.paths(EVERYTHING, slowest_fraction=0.05, sample=1000).rows == sampled.rows
    # A sample larger than the selection is the whole selection.
    assert analyses.paths(EVERYTHING, 0.05, sample=5000).rows == whole.rows


def test_the_doctor_notes_what_it_looked_at(analyses_of: Callable[..., Analyses]) -> None:
    report = analyses_of(synthetic.slow_route(), 500).doctor(EVERYTHING)
    assert any(n.startswith("baseline: no window given") for n in report.notes)
    assert any(n.startswith("looked at: ") and "hypotheses" in n for n in report.notes)
    assert "Looked at:" in render_doctor(report)


def test_both_ways_of_grouping_a_sample_agree(analyses_of: Callable[..., Analyses],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A small sample is joined in one pass, a large one in two halves: the same routes either way."""
    analyses = analyses_of(synthetic.mixed(), 3000)
    one_pass = analyses.paths(EVERYTHING, slowest_fraction=0.05, sample=1000)
    monkeypatch.setattr(duckdb_analytics, "_ONE_JOIN_MAX_TRACES", 0)
    halves = analyses.paths(EVERYTHING, slowest_fraction=0.05, sample=1000)
    assert halves.rows == one_pass.rows and len(one_pass.rows) > 1
