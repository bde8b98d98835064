"""Origins on call chains deeper than its unrolled levels, chains cut by the window, and the per-trace
figures from trace_summary_data agreeing with those grouped from the spans."""

from __future__ import annotations

import random
from collections.abc import Callable

from tracehouse.analytics import synthetic
from tracehouse.analytics.synthetic import Call, client_server
from tracehouse.query.analyses import Analyses
from tracehouse.store import AnalysisFilter, Selection
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.sql_files import sql

START = 1_700_000_000 * 10**9
MS = 10**6
HOPS = ["a", "b", "c", "d", "e"]   # edge -> a -> ... -> e -> vault: the vault call is 12 levels down
CALLS = list(zip(["edge", *HOPS[:-1]], HOPS, strict=True))


def deep_or_shallow(rng: random.Random, index: int) -> Call:
    """Two in three requests reach `vault` through five services (12 levels: deeper than the six
    levels origins.sql unrolls), entering at two operations that differ only at the top; the others
    call it directly. `vault` also makes an internal call to itself, which is not a call into it."""
    vault = client_server("e" if index % 3 else "edge", "vault", "GET /secret", 2.0,
                          children=[Call("vault", "decrypt", synthetic.INTERNAL)])
    if index % 3 == 0:
        return Call("edge", "GET /peek", children=[vault])
    call = vault
    for caller, callee in CALLS[::-1]:
        call = client_server(caller, callee, f"GET /{callee}", 1.0, children=[call])
    return Call("edge", "GET /deep" if index % 3 == 1 else "GET /deeper", children=[call])


def test_origins_follow_chains_deeper_than_the_unrolled_levels(make_store: Callable[..., DuckDBStore]) -> None:
    report = Analyses(make_store(deep_or_shallow, 300)).origins(AnalysisFilter(), "vault")
    by_entry = {r["entry"]: r for r in report.rows}
    assert sorted(by_entry) == ["edge:GET /deep", "edge:GET /deeper", "edge:GET /peek"]
    assert [r["calls"] for r in report.rows] == [100, 100, 100]
    links = [f"{caller}:GET > {callee}:GET /{callee}" for caller, callee in CALLS]
    for entry in ("edge:GET /deep", "edge:GET /deeper"):
        assert by_entry[entry]["chain"] == " > ".join([entry, *links, "e:GET"])
    assert by_entry["edge:GET /peek"]["chain"] == "edge:GET /peek > edge:GET"
    # vault:decrypt is called from vault itself: not a call into vault.
    assert {r["operation"] for r in report.rows} == {"GET /secret"}


def test_origins_chain_stops_where_the_window_cuts_it(make_store: Callable[..., DuckDBStore]) -> None:
    store = make_store(synthetic.funnel(), 20)   # one request every 10 ms; the root's own work is 0.7-1.3 ms
    # From 0.5 ms after the first request started: its root span is outside the window, the rest inside.
    window = AnalysisFilter(start_ns=START + MS // 2, end_ns=START + 10 * MS)
    rows = Analyses(store).origins(window, "ledger").rows
    assert len(rows) == 1 and rows[0]["calls"] == 1
    assert rows[0]["entry"] == "gateway:POST"
    assert rows[0]["chain"].startswith("gateway:POST > ")


def _without_summaries(store: DuckDBStore) -> None:
    """Make trace_summary_data miss some spans, as a store whose summary is behind would."""
    store._con.execute("DELETE FROM trace_summary_data WHERE trace_id IN "
                       "(SELECT trace_id FROM trace_summary_data ORDER BY trace_id LIMIT 10)")


def test_analyses_agree_with_and_without_the_trace_summaries(make_store: Callable[..., DuckDBStore]) -> None:
    windows = [AnalysisFilter(), AnalysisFilter(start_ns=START + 1000 * MS + 1, end_ns=START + 3000 * MS + 7),
               AnalysisFilter(service="buzzer", attributes={"traffic.type": "user"})]

    def everything(store: DuckDBStore) -> list[object]:
        out: list[object] = []
        for flt in windows:
            routes = store.route_stats(flt, 0.05).drop(["route_key"]).sort_by("example_trace_id")
            out += [store.count_traces(flt), routes, store.origin_stats(flt, "fizzer"),
                    store.attribute_contrast(flt, Selection(errors=True), 100), store.error_hotspots(flt),
                    store.trace_sample(flt, 50)]
        return out

    scenario = synthetic.mixed()
    stored = everything(make_store(scenario, 500, name="stored"))
    behind = make_store(scenario, 500, name="behind")
    _without_summaries(behind)
    assert everything(behind) == stored


def test_the_summary_kept_while_writing_equals_one_rebuilt_from_the_spans(
        make_store: Callable[..., DuckDBStore]) -> None:
    """The three writes of trace_summary_data (each batch, after a retention delete, a bulk rebuild)
    share one definition of a trace's summary; kept batch by batch it must equal a rebuild."""
    store = make_store(synthetic.mixed(), 1500)
    con = store._con
    rows = "SELECT * FROM trace_summary_data ORDER BY trace_id"

    def rebuilt() -> list[tuple[object, ...]]:
        kept = con.execute(rows).fetchall()
        con.execute("DELETE FROM trace_summary_data")
        con.execute(sql("write/rebuild_trace_summary"))
        assert con.execute(rows).fetchall() == kept
        return kept

    assert len(rebuilt()) == 1500
    middle = con.execute("SELECT quantile_disc(epoch_ns(start_time), 0.5) FROM span_data").fetchall()[0][0]
    assert store.delete_before(int(middle)) > 0
    assert 0 < len(rebuilt()) < 1500
