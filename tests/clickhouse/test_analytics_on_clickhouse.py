"""AnalyticsReader on ClickHouse gives the embedded store's answers, on the same synthetic traces
(with planted errors and attributes): export, trace counts, the trace sample behind critical paths,
and error hot spots, on 18.16 and on chDB; and through the analyses, the errors analysis. The
analyses that do not run on ClickHouse yet say so."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.clickhouse.conftest import CLICKHOUSE_KINDS, clickhouse_store_of, reference_store

from tracehouse.analytics import synthetic
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter, Selection
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.clickhouse import store as clickhouse_store_module
from tracehouse.stores.clickhouse.analytics import unclean_range
from tracehouse.stores.duckdb import DuckDBStore

START = 1_700_000_000 * 10**9
TRACES = 600


@pytest.fixture(scope="module")
def batches() -> list[pa.Table]:
    return list(synthetic.generate(synthetic.mixed(), TRACES, seed=3, start_ns=START))


@pytest.fixture(scope="module")
def duckdb_store(batches: list[pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    with reference_store(batches, Path(tmp_path_factory.mktemp("duck"))) as store:
        yield store


@pytest.fixture(scope="module", params=CLICKHOUSE_KINDS)
def clickhouse_store(request: pytest.FixtureRequest, batches: list[pa.Table]) -> Iterator[ClickHouseStore]:
    with clickhouse_store_of(request, batches, "analytics_") as store:
        yield store


def _filters(batches: list[pa.Table]) -> list[AnalysisFilter]:
    rows = batches[0].to_pylist()
    first = rows[0]
    key, value = next((k, v) for r in rows for k, v in json.loads(r["attributes"] or "{}").items()
                      if isinstance(v, str | int | bool))
    return [
        AnalysisFilter(),
        AnalysisFilter(start_ns=START + 10**9, end_ns=START + 30 * 10**9),
        AnalysisFilter(service=first["service_name"], operation=first["span_name"]),
        AnalysisFilter(attributes={key: str(value).lower() if isinstance(value, bool) else str(value)}),
        AnalysisFilter(service="nobody"),
    ]


_JSON_COLUMNS = ("attributes", "resource_attributes", "events", "links")


def _rows(table: pa.Table, *keys: str) -> list[dict[str, Any]]:
    """Rows in a fixed order, JSON columns parsed (DuckDB's VARIANT gives keys back sorted), floats
    to 1e-3 (interpolated percentiles may differ in their last bit)."""
    rows = [{k: json.loads(v) if k in _JSON_COLUMNS and v is not None else round(v, 3) if isinstance(v, float)
             else v for k, v in r.items()} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


def test_export_in_slices_gives_every_span_once_in_order(duckdb_store: DuckDBStore,
                                                         clickhouse_store: ClickHouseStore, batches: list[pa.Table],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """export_span_batches with slices of 97 spans (a few thousand spans: dozens of slices): the
    embedded store's spans, each once, in start-time order."""
    monkeypatch.setattr(clickhouse_store_module, "EXPORT_SLICE_ROWS", 97)
    for flt in _filters(batches):
        sliced = list(clickhouse_store.export_span_batches(flt))
        expected = duckdb_store.export_spans(flt)
        if expected.num_rows > 97:
            assert len(sliced) > 1, "the export was not sliced"
        got = pa.Table.from_batches(sliced, expected.schema) if sliced else expected.schema.empty_table()
        starts = got.column("start_time_unix_nano").to_pylist()
        assert starts == sorted(starts)
        assert _rows(got, "trace_id", "span_id") == _rows(expected, "trace_id", "span_id"), flt


def test_same_answers_as_the_embedded_store(duckdb_store: DuckDBStore, clickhouse_store: ClickHouseStore,
                                            batches: list[pa.Table]) -> None:
    for flt in _filters(batches):
        count = duckdb_store.count_traces(flt)
        assert clickhouse_store.count_traces(flt) == count, flt
        exported = clickhouse_store.export_spans(flt)
        assert exported.schema.equals(duckdb_store.export_spans(flt).schema)
        assert _rows(exported, "trace_id", "span_id") == _rows(duckdb_store.export_spans(flt), "trace_id", "span_id")
        # The whole selection as a "sample": both stores return every selected trace's spans.
        sample = clickhouse_store.trace_sample(flt, TRACES * 2)
        assert _rows(sample, "trace_id", "span_id") == _rows(duckdb_store.trace_sample(flt, TRACES * 2),
                                                             "trace_id", "span_id")
        hot = clickhouse_store.error_hotspots(flt)
        expected = duckdb_store.error_hotspots(flt)
        assert hot.column_names == expected.column_names
        assert _rows(hot.drop_columns(["example_trace_id"]), "service", "operation", "version") == _rows(
            expected.drop_columns(["example_trace_id"]), "service", "operation", "version"), flt
        routes = clickhouse_store.route_stats(flt, slowest_fraction=0.05)
        expected_routes = duckdb_store.route_stats(flt, slowest_fraction=0.05)
        assert routes.schema.equals(expected_routes.schema)
        # Route keys are hashes (each engine its own); the routes and their figures are the same.
        assert _rows(routes.drop_columns(["route_key"]), "traces", "example_trace_id") == _rows(
            expected_routes.drop_columns(["route_key"]), "traces", "example_trace_id"), flt
        selections = (Selection(errors=True), Selection(slowest_fraction=0.05), Selection(min_duration_ns=20 * 10**6))
        for selection in selections if flt == AnalysisFilter() else selections[:1]:
            contrast = clickhouse_store.attribute_contrast(flt, selection, TRACES)
            expected_contrast = duckdb_store.attribute_contrast(flt, selection, TRACES)
            assert contrast.schema.equals(expected_contrast.schema)
            assert _rows(contrast, "scope", "key", "value") == _rows(expected_contrast, "scope", "key", "value"), (
                flt, selection)
    small = clickhouse_store.attribute_contrast(AnalysisFilter(), Selection(errors=True), 10)
    assert small.num_rows and max(small.column("selected_total").to_pylist()) <= 10
    sampled = clickhouse_store.route_stats(AnalysisFilter(), max_traces=TRACES // 4)
    assert sampled.column("selected_traces")[0].as_py() == TRACES
    assert TRACES // 8 < sum(sampled.column("traces").to_pylist()) < TRACES // 2    # about a quarter
    some = clickhouse_store.trace_sample(AnalysisFilter(), 25)
    assert len(set(some.column("trace_id").to_pylist())) == 25
    assert some.equals(clickhouse_store.trace_sample(AnalysisFilter(), 25))       # the same sample every time


def test_every_analysis_gives_the_embedded_answers(duckdb_store: DuckDBStore,
                                                                 clickhouse_store: ClickHouseStore) -> None:
    analyses = Analyses(clickhouse_store)
    assert analyses.errors(AnalysisFilter()) == Analyses(duckdb_store).errors(AnalysisFilter())
    assert analyses.latency(AnalysisFilter()) is not None
    paths, expected = analyses.paths(AnalysisFilter()), Analyses(duckdb_store).paths(AnalysisFilter())
    assert (paths.title, paths.findings, len(paths.rows)) == (expected.title, expected.findings, len(expected.rows))
    doctor, expected_doctor = analyses.doctor(AnalysisFilter()), Analyses(duckdb_store).doctor(AnalysisFilter())
    assert (doctor.title, len(doctor.rows)) == (expected_doctor.title, len(expected_doctor.rows))
    for service in duckdb_store.services():
        for flt in (AnalysisFilter(), AnalysisFilter(start_ns=START + 10**9, end_ns=START + 30 * 10**9)):
            origins = clickhouse_store.origin_stats(flt, service)
            expected_origins = duckdb_store.origin_stats(flt, service)
            assert origins.schema.equals(expected_origins.schema)
            assert _rows(origins, "calls", "entry", "chain", "operation") == _rows(
                expected_origins, "calls", "entry", "chain", "operation"), (service, flt)
    origins_report = analyses.origins(AnalysisFilter(), "hub")
    expected_report = Analyses(duckdb_store).origins(AnalysisFilter(), "hub")
    assert (origins_report.findings, origins_report.rows) == (expected_report.findings, expected_report.rows)


def test_export_and_connect_on_clickhouse(clickhouse_server: ClickHouseServer, batches: list[pa.Table],
                                          tmp_path: Path) -> None:
    """`tracehouse export` and `tracehouse.connect("clickhouse://...")` read a ClickHouse store."""
    import subprocess

    import pyarrow.parquet as pq
    from tests.backend.conftest import PYTHON, clean_env

    import tracehouse

    url = f"clickhouse://127.0.0.1:{clickhouse_server.http_port}/connect_{uuid.uuid4().hex[:10]}"
    store = ClickHouseStore(parse_location(url))
    for b in batches:
        store.write_spans(b)
    total = store.span_count()
    store.close()
    with tracehouse.connect(url) as th:
        assert th.sql("SELECT count() AS n FROM spans").arrow().to_pylist() == [{"n": total}]
        assert len(th.spans(start=str(START // 10**9 - 60), end=str(START // 10**9 + 3600))) == total
    done = subprocess.run([PYTHON, "-m", "tracehouse", "export", "--parquet", str(tmp_path / "out"),
                           "--start", str(START // 10**9 - 60), "--end", str(START // 10**9 + 3600)],
                          env=clean_env({"TRACEHOUSE_STORE": url}), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "out" / "spans.parquet").num_rows == total


def test_service_map_matches_the_embedded_store_and_is_rebuilt_for_an_older_store(
        duckdb_store: DuckDBStore, clickhouse_store: ClickHouseStore) -> None:
    def links(store: ClickHouseStore | DuckDBStore, start: int, end: int) -> list[tuple[str, str, int, int]]:
        return [(d.parent, d.child, d.call_count, d.error_count) for d in store.dependencies(start, end)]

    # Whole hours (from the hour summaries, made then reused) and a few seconds (from the calls).
    windows = [(0, 2**62), (0, 2**62), (START + 10**9, START + 20 * 10**9),
               (START - 5 * 3600 * 10**9, START + 60 * 10**9)]
    expected = [links(duckdb_store, a, b) for a, b in windows]
    assert expected[0] and len(expected[0]) > 2            # the mixed topology has several calls between services
    assert [links(clickhouse_store, a, b) for a, b in windows] == expected
    # A store created before the table of calls: opening it for writing derives the calls of its spans.
    layout = clickhouse_store.layout
    for table in ("service_calls_local", "dependency_hours_local"):
        clickhouse_store._transport.query(f"DROP TABLE {layout.table(table).name}")
    reopened = ClickHouseStore(clickhouse_store.location, transport=clickhouse_store._transport, owns_transport=False)
    assert [links(reopened, a, b) for a, b in windows] == expected


def test_unclean_range_leaves_out_clean_partitions_at_either_end() -> None:
    day = 86_400 * 10**9
    parts = [(0, day, True), (day, 2 * day, False), (2 * day, 3 * day, True)]
    assert unclean_range(day // 2, 5 * day // 2, parts) == (day, 2 * day)
    assert unclean_range(day // 2, day, parts) is None                    # inside one clean day
    assert unclean_range(2 * day, 4 * day, parts) == (3 * day, 4 * day)   # past every partition: probed
    assert unclean_range(-day, day // 2, parts) == (-day, 0)              # before 1970: probed
    assert unclean_range(-day, 9 * day, [(a, b, True) for a, b, _ in parts]) is None   # every one clean
    assert unclean_range(0, day, []) is None                                              # no span at all


@pytest.mark.parametrize("engine", ["clickhouse-18.16", "chdb"])
def test_error_hotspots_count_a_copy_once_until_merged_and_after(engine: str, request: pytest.FixtureRequest,
                                                                 batches: list[pa.Table],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies of spans that merges have not removed yet (an insert that bypassed the writer) are
    counted once (FINAL, as the count of copies says); once the partitions are merged into one part
    each, system.parts shows them clean and the count of copies is not run."""
    database = "copies_" + uuid.uuid4().hex[:10]
    if engine == "chdb":
        store = ClickHouseStore(parse_location(f"clickhouse://chdb/{database}"),
                                transport=request.getfixturevalue("chdb_transport"), owns_transport=False)
    else:
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        store = ClickHouseStore(parse_location(f"clickhouse://127.0.0.1:{server.http_port}/{database}"))
    sent: list[str] = []
    select = clickhouse_store_module.select

    def spied(transport: Any, sql: str) -> Any:
        sent.append(sql)
        return select(transport, sql)

    monkeypatch.setattr(clickhouse_store_module, "select", spied)
    try:
        for b in batches[:3]:
            store.write_spans(b)
        flt = AnalysisFilter()
        expected = store.error_hotspots(flt).to_pylist()
        assert expected and sum(r["error_spans"] for r in expected) > 0
        table = f"`{database}`.`span_data_local`"
        store._transport.query(f"INSERT INTO {table} SELECT * FROM {table}")  # noqa: S608 (a generated name)
        rows = int(store._transport.query(f"SELECT count() FROM {table}").decode().strip())  # noqa: S608
        assert rows == 2 * sum(b.num_rows for b in batches[:3])   # as stored, before any merge
        sent.clear()
        assert store.error_hotspots(flt).to_pylist() == expected
        assert any("FINAL WHERE" in s for s in sent)          # the copies were counted
        store._transport.query(f"OPTIMIZE TABLE {table} FINAL")
        sent.clear()
        assert store.error_hotspots(flt).to_pylist() == expected
        assert not any("FINAL WHERE" in s for s in sent)      # every partition clean: no count
    finally:
        store._transport.query(f"DROP DATABASE IF EXISTS `{database}`")
        store.close()
