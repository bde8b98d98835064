"""The SQL console's schema browser and examples on ClickHouse: every example runs, on 18.16 and on
chDB's current dialect, in the console's sandbox, and answers with rows."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.store_conformance.traces import MS, batch, traces

from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.clickhouse.chdb_transport import ChdbTransport


@pytest.fixture(params=["clickhouse-18.16", "chdb"])
def store(request: pytest.FixtureRequest) -> Iterator[ClickHouseStore]:
    database = "console_" + uuid.uuid4().hex[:10]
    opened: ClickHouseStore
    if request.param == "chdb":
        transport: ChdbTransport = request.getfixturevalue("chdb_transport")
        opened = ClickHouseStore(parse_location(f"clickhouse://chdb/{database}"), transport=transport,
                                 owns_transport=False)
    else:
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        opened = ClickHouseStore(parse_location(f"clickhouse://127.0.0.1:{server.http_port}/{database}"))
    # Recent traces (the first example looks at the last hour), one with an error in buzzer.
    start = time.time_ns() - 60 * 10**9
    table = batch(traces(10, start_ns=start, spacing_ns=MS), traces(1, start_ns=start, error_in="buzzer"))
    # As OTLP decoders write attribute JSON: compact (the examples' visitParam functions need that).
    compact = [json.dumps(json.loads(a), separators=(",", ":")) for a in table.column("attributes").to_pylist()]
    opened.write_spans(table.set_column(table.schema.get_field_index("attributes"), "attributes",
                                        pa.array(compact, pa.string())))
    yield opened
    opened.close()


def test_catalog_lists_the_views_and_their_columns(store: ClickHouseStore) -> None:
    catalog = {t.name: t for t in store.sql_catalog()}
    assert sorted(catalog) == ["edges", "inferred_links", "reconstructed_traces", "spans", "traces"]
    assert {"trace_id", "span_id", "service_name", "attributes", "duration_ns"} <= {
        c.name for c in catalog["spans"].columns}
    assert all(t.description for t in catalog.values())


def test_every_example_runs_and_answers(store: ClickHouseStore) -> None:
    examples = store.sql_examples()
    assert len(examples) >= 4
    answered: dict[str, Any] = {}
    for example in examples:
        result = store.run_sql(example.sql, 100, 30)
        answered[example.title] = result.rows
    assert all(answered.values()), {t: r for t, r in answered.items() if not r}


def test_a_cluster_store_made_before_the_links_view_gets_it_on_open(clickhouse_cluster: Any) -> None:
    """Cluster stores made before the console's inferred_links view had their Distributed links table
    under that name: opening for writing drops that table (it holds no data) and makes the view; the
    links stay (they are in inferred_links_local)."""
    from tracehouse.store import INFERRED_LINK_SCHEMA

    entry = clickhouse_cluster.servers[0][0]
    database = "console_old_" + uuid.uuid4().hex[:8]
    location = parse_location(f"clickhouse://127.0.0.1:{entry.http_port}/{database}?cluster={clickhouse_cluster.name}")
    store = ClickHouseStore(location)
    try:
        start = time.time_ns() - 60 * 10**9
        store.write_spans(batch(traces(2, start_ns=start, spacing_ns=MS)))
        trace = store.run_sql("SELECT trace_id, span_id, start_time_unix_nano FROM spans LIMIT 1", 1, 30).rows[0]
        link = {"child_trace_id": trace[0], "child_span_id": trace[1], "child_start_time_unix_nano": int(trace[2]),
                "parent_trace_id": "ab" * 16, "parent_span_id": "cd" * 8, "confidence": 0.9, "method": "t",
                "child_service": "a", "parent_service": "b"}
        store.replace_inferred_links(int(trace[2]), int(trace[2]) + 1,
                                     pa.Table.from_pylist([link], schema=INFERRED_LINK_SCHEMA))
        on_cluster = f"ON CLUSTER `{clickhouse_cluster.name}`"
        # As such a store was: no reconstruction views, its Distributed links table under the view's name.
        for name in ("reconstructed_traces", *(f"reconstruction_up_{n}" for n in (32, 16, 8, 4, 2, 1)),
                     "inferred_links", "inferred_links_distributed"):
            store._transport.query(f"DROP TABLE `{database}`.`{name}` {on_cluster}")
        store._transport.query(f"CREATE TABLE `{database}`.inferred_links {on_cluster} AS "
                               f"`{database}`.inferred_links_local ENGINE = Distributed(`{clickhouse_cluster.name}`, "
                               f"'{database}', inferred_links_local, cityHash64(child_trace_id))")
        store.close()
        store = ClickHouseStore(location)
        rows = store.run_sql("SELECT child_trace_id, parent_trace_id, confidence FROM inferred_links", 10, 30).rows
        assert [list(r) for r in rows] == [[trace[0], "ab" * 16, 0.9]]
        assert store.inferred_link_stats()[0] == 1
    finally:
        store._transport.query(f"DROP DATABASE IF EXISTS `{database}` ON CLUSTER `{clickhouse_cluster.name}`")
        store.close()
