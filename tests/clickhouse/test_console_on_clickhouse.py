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
