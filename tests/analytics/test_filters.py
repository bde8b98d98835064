"""One AnalysisFilter (time window, service, operation, attributes) narrows every analysis alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tracehouse.analytics import synthetic
from tracehouse.query.analyses import Analyses, AnalysisError, parse_filter
from tracehouse.store import AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore

START = 1_700_000_000 * 10**9
MS = 10**6


def test_service_operation_and_attribute_filters(make_store: Callable[..., DuckDBStore]) -> None:
    store = make_store(synthetic.slow_route(), 300)   # three routes, 100 traces each
    assert store.count_traces(AnalysisFilter()) == 300
    assert store.count_traces(AnalysisFilter(service="payments")) == 100
    assert store.count_traces(AnalysisFilter(service="db", operation="SELECT items")) == 300
    assert store.count_traces(AnalysisFilter(service="web", operation="GET /cart")) == 100
    assert store.count_traces(AnalysisFilter(service="payments", operation="GET /cart")) == 0


def test_attribute_filters_match_span_or_resource_attributes(make_store: Callable[..., DuckDBStore]) -> None:
    store = make_store(synthetic.bad_version(), 500)
    all_traces = store.count_traces(AnalysisFilter())
    v2 = store.count_traces(AnalysisFilter(attributes={"service.version": "1.4.2"}))      # resource
    users = store.count_traces(AnalysisFilter(attributes={"traffic.type": "user"}))        # span
    both = store.count_traces(AnalysisFilter(attributes={"service.version": "1.4.2", "traffic.type": "user"}))
    assert 0 < v2 < all_traces and 0 < users < all_traces
    assert 0 < both < min(v2, users)
    assert store.count_traces(AnalysisFilter(attributes={"traffic.type": "nobody"})) == 0


def test_time_window_counts_spans_that_started_in_it(make_store: Callable[..., DuckDBStore]) -> None:
    store = make_store(synthetic.funnel(), 100)   # one request every 10 ms from START
    window = AnalysisFilter(start_ns=START + 200 * MS, end_ns=START + 500 * MS)
    assert store.count_traces(window) == 30
    report = Analyses(store).paths(window)
    assert sum(r["traces"] for r in report.rows) == 30


def test_string_parameters_become_the_same_filter() -> None:
    flt = parse_filter({"since": "1h", "service": "hub", "attr": ["traffic.type=user", "k=v=w"]}, now_ns=10**19)
    assert flt.start_ns == 10**19 - 3600 * 10**9 and flt.end_ns is None
    assert flt.service == "hub"
    assert flt.attributes == {"traffic.type": "user", "k": "v=w"}
    window = parse_filter({"start": "2023-11-14T22:13:20", "end": "1700000100"})
    assert (window.start_ns, window.end_ns) == (START, START + 100 * 10**9)


@pytest.mark.parametrize("params", [
    {"attr": ["a=1", "b=2", "c=3", "d=4", "e=5"]},
    {"start": "1700000100", "end": "1700000000"},
])
def test_bad_filters_are_refused_with_a_message(params: dict[str, list[str] | str]) -> None:
    with pytest.raises(AnalysisError):
        parse_filter(params)


def test_attribute_values_are_bound_not_spliced(make_store: Callable[..., DuckDBStore]) -> None:
    store = make_store(synthetic.funnel(), 50)
    evil = "x' OR 1=1 --"
    assert store.count_traces(AnalysisFilter(service=evil, attributes={evil: evil})) == 0
    assert store.count_traces(AnalysisFilter()) == 50
