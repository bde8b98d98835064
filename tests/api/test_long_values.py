"""A trace whose spans carry megabyte strings opens at once: the trace view's payload holds the
first 2,048 characters of each long value with its full length, and the full value is fetched on
request (it once took 48 s to open such a trace in the UI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.columns import decode_payloads
from tracehouse.stores.duckdb import DuckDBStore

from .live_server import serve

STORE_KINDS = ("duckdb", "clickhouse")

MB = 1_000_000
TRACE = "5b8efff798038103d269b633813fc60c"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "big"
    rs.resource.attributes.add(key="host.notes").value.string_value = "r" * (3 * 10**4)
    scope = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(20):
        span = scope.spans.add(trace_id=bytes.fromhex(TRACE), span_id=bytes([i + 1]) * 8, name=f"s{i}",
                               start_time_unix_nano=now + i, end_time_unix_nano=now + i + 1000)
        if i:
            span.parent_span_id = bytes([1]) * 8
        span.attributes.add(key="db.statement").value.string_value = chr(97 + i) * MB
        span.attributes.add(key="short").value.string_value = "kept"
        event = span.events.add(time_unix_nano=now + i, name="dump")
        event.attributes.add(key="payload").value.string_value = "e" * 5000
    store = DuckDBStore(Path(tmp_path_factory.mktemp("long")) / "store.duckdb", memory_limit="1GB")
    table, _, _ = decode_payloads([request.SerializeToString()])
    assert table is not None
    store.write_spans(table)
    try:
        with serve(store) as url, httpx.Client(base_url=url, timeout=60) as c:
            yield c
    finally:
        store.close()


def test_the_view_of_a_trace_of_megabyte_values_is_small(client: httpx.Client) -> None:
    response = client.get(f"/api/view/traces/{TRACE}")
    assert response.status_code == 200
    assert len(response.content) < 300_000, len(response.content)   # 20 MB of values in the trace
    view = response.json()
    span = view["spans"][0]
    assert span["attrs"]["short"] == "kept"
    assert span["attrs"]["db.statement"] == "a" * 2048 and span["cut"] == {"db.statement": MB}
    assert span["events"][0]["cut"] == {"payload": 5000}
    assert view["resources"][span["res"]]["cut"] == {"host.notes": 30_000}


@pytest.mark.parametrize(("where", "key", "expected"), [
    ("span", "db.statement", "b" * MB), ("event:0", "payload", "e" * 5000), ("resource", "host.notes", "r" * 30_000)])
def test_a_cut_value_is_fetched_in_full(client: httpx.Client, where: str, key: str, expected: str) -> None:
    response = client.get(f"/api/view/traces/{TRACE}/spans/{'02' * 8}/value", params={"key": key, "where": where})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["value"] == expected


def test_an_unknown_value_is_404(client: httpx.Client) -> None:
    response = client.get(f"/api/view/traces/{TRACE}/spans/{'02' * 8}/value", params={"key": "nope"})
    assert response.status_code == 404
    assert client.get(f"/api/view/traces/{TRACE}/spans/{'02' * 8}/value",
                      params={"key": "payload", "where": "event:9"}).status_code == 404
