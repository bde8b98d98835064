"""Inferred links in the DuckDB store: beside the spans, never over them; reruns idempotent; the
SQL views; retention."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from bench.reconstruct_data import Generated

from tracehouse.analytics.reconstruct.runner import Reconstructor
from tracehouse.store import INFERRED_LINK_SCHEMA, InferredLinkStore
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import window


def _all_spans(store: DuckDBStore) -> pa.Table:
    ids = [r[0] for r in store.run_sql("SELECT DISTINCT trace_id FROM spans", 100_000, 30).rows]
    return store.get_spans(ids)


def _links(store: DuckDBStore) -> set[tuple[object, ...]]:
    return set(store.run_sql("SELECT child_trace_id, child_span_id, parent_trace_id, parent_span_id, confidence "
                             "FROM inferred_links", 100_000, 30).rows)


def test_links_are_stored_beside_the_spans_and_reruns_replace_them(store: DuckDBStore, data: Generated) -> None:
    assert isinstance(store, InferredLinkStore)
    before = _all_spans(store)
    start, end = window(data)
    report = Reconstructor(store).run(start, end)
    assert report.linked > 0.9 * sum(1 for p in data.truth.values() if p is not None)
    assert report.received_calls > 0
    first = _links(store)
    assert len(first) == report.linked == store.inferred_link_stats()[0]
    # Nothing a client sent changed: every span as it was, parentless fragments still parentless.
    assert _all_spans(store).equals(before)
    # Only spans that arrived without a parent are given one; received parents are never replaced.
    parentless = {tuple(r) for r in store.run_sql(
        "SELECT trace_id, span_id FROM spans WHERE parent_span_id IS NULL", 100_000, 30).rows}
    assert {(c, s) for c, s, *_ in first} <= parentless
    # A rerun (a fresh model, or the warm one) leaves the same links, once.
    Reconstructor(store).run(start, end)
    assert _links(store) == first
    again = Reconstructor(store)
    again.run(start, end)
    again.run(start, end)
    assert len(_links(store)) == len(first)


def test_a_window_replaces_only_its_own_links(store: DuckDBStore, data: Generated) -> None:
    start, end = window(data)
    Reconstructor(store).run(start, end)
    total = store.inferred_link_stats()[0]
    middle = (start + end) // 2
    store.replace_inferred_links(middle, end, INFERRED_LINK_SCHEMA.empty_table())
    kept = store.run_sql("SELECT count(*) FROM inferred_links WHERE epoch_ns(child_start_time) < $1", 10, 10,
                         [middle]).rows[0][0]
    assert 0 < store.inferred_link_stats()[0] == kept < total


def test_sql_views_say_which_traces_are_reconstructed(store: DuckDBStore, data: Generated) -> None:
    Reconstructor(store).run(*window(data))
    rows = store.run_sql("SELECT role, count(*), min(hops), max(hops) FROM reconstructed_traces GROUP BY role "
                         "ORDER BY role", 10, 30).rows
    roles = {r[0]: r for r in rows}
    assert set(roles) == {"fragment", "root"}
    assert roles["fragment"][2] == 1 and roles["fragment"][3] == 2  # chain: inventory is two hops down
    # Leaving reconstructed traces out, or keeping only them, is one clause.
    everything = store.run_sql("SELECT count(*) FROM traces", 10, 30).rows[0][0]
    untouched = store.run_sql("SELECT count(*) FROM traces WHERE trace_id NOT IN "
                              "(SELECT trace_id FROM reconstructed_traces)", 10, 30).rows[0][0]
    assert untouched == everything - roles["fragment"][1] - roles["root"][1]
    # Every fragment names a root that is itself a root.
    orphans = store.run_sql("SELECT count(*) FROM reconstructed_traces f WHERE role = 'fragment' AND "
                            "reconstructed_trace_id NOT IN (SELECT trace_id FROM reconstructed_traces "
                            "WHERE role = 'root')", 10, 30).rows[0][0]
    assert orphans == 0


def test_retention_deletes_the_links_of_deleted_spans(store: DuckDBStore, data: Generated) -> None:
    start, end = window(data)
    Reconstructor(store).run(start, end)
    store.delete_before(end + 10**12)
    assert store.inferred_link_stats() == (0, None)


def test_a_store_opened_read_only_reads_links(tmp_path: Path, data: Generated) -> None:
    path = tmp_path / "ro.duckdb"
    st = DuckDBStore(path)
    st.write_spans(data.table())
    Reconstructor(st).run(*window(data))
    count = st.inferred_link_stats()[0]
    some = st.run_sql("SELECT child_trace_id FROM inferred_links LIMIT 1", 1, 10).rows[0][0]
    st.close()
    ro = DuckDBStore(path, read_only=True)
    try:
        assert ro.inferred_link_stats()[0] == count
        assert ro.inferred_links([some]).num_rows >= 1
    finally:
        ro.close()
