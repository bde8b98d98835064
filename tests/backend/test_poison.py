"""No poison pill: each large-but-legal request that once stopped ingest for good is answered with
a clear partial success (truncated, dropped or refused, per the documented caps), ingest goes on,
and the backend restarts on its own data directory. A span the store still refuses goes to the
dead-letter directory, and `tracehouse store repair` stores it once the store can."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .conftest import Backend, BackendFactory, clean_env, wait_for
from .otlp_requests import PROTOBUF, fbaas_request, good_span, parse_export_response, raw_span_request

MiB = 2**20


@pytest.fixture(scope="module")
def server(module_backends: BackendFactory) -> Iterator[Backend]:
    # Each test checks that ingest goes on; the last one stops this backend and restarts it.
    yield module_backends()


def _post(server: Backend, spans: list[Span]) -> Any:
    response = server.post(raw_span_request(spans).SerializeToString(), timeout=120.0)
    assert response.status_code == 200, response.content[:300]
    return parse_export_response(response.content, PROTOBUF).partial_success


def _still_ingesting(server: Backend) -> None:
    marker = fbaas_request(2)
    server.send(marker)
    server.wait_stored(marker.span_ids, timeout=60)


def test_a_12_mib_attribute_is_truncated_and_flagged(server: Backend) -> None:
    span = good_span("huge value", big="x" * (12 * MiB), small="kept")
    partial = _post(server, [span, good_span("neighbour")])
    assert partial.rejected_spans == 0
    assert "truncated to 1,048,576 bytes" in partial.error_message, partial.error_message
    sid = span.span_id.hex()
    server.wait_stored([sid], timeout=60)
    row = server.sql("SELECT length(attributes['big']::VARCHAR), attributes['small']::VARCHAR, "
                     "attributes['tracehouse.truncated_attributes']::VARCHAR FROM spans WHERE span_id = :sid",
                     sid=sid)
    assert row[0][0] == MiB and row[0][1] == "kept"
    assert "big" in str(row[0][2])
    _still_ingesting(server)


def test_60_spans_of_1_mib_are_all_stored(server: Backend) -> None:
    spans = [good_span(f"heavy {i}", payload=chr(97 + i % 26) * MiB) for i in range(60)]
    partial = _post(server, spans)
    assert partial.rejected_spans == 0 and partial.error_message == ""
    server.wait_stored([s.span_id.hex() for s in spans], timeout=120)
    shortest = server.scalar("SELECT min(length(attributes['payload']::VARCHAR)) FROM spans "
                             "WHERE span_name LIKE 'heavy %'")
    assert shortest == MiB
    _still_ingesting(server)


def test_8192_spans_with_16_kib_sql_statements_are_all_stored(server: Backend) -> None:
    statement = "SELECT " + ", ".join(f"column_{i}" for i in range(2000))
    statement = (statement * 2)[:16 * 2**10]
    ids: list[str] = []
    for _ in range(4):   # 4 requests of 2,048 spans: 32 MiB each, under the 64 MiB body cap
        spans = [good_span("db query", **{"db.statement": statement}) for _ in range(2048)]
        assert _post(server, spans).rejected_spans == 0
        ids += [s.span_id.hex() for s in spans]
    server.wait_stored(ids, timeout=180)
    _still_ingesting(server)


def test_a_million_events_on_one_span_are_cut_to_the_limit(server: Backend) -> None:
    span = good_span("chatty")
    for i in range(1_000_000):
        span.events.add(time_unix_nano=span.start_time_unix_nano + i, name="e")
    partial = _post(server, [span])
    assert partial.rejected_spans == 0
    assert "events past the limit of 1,024 dropped" in partial.error_message, partial.error_message
    sid = span.span_id.hex()
    server.wait_stored([sid], timeout=60)
    row = server.sql("SELECT len(events::JSON[]), attributes['tracehouse.dropped_events']::BIGINT "
                     "FROM spans WHERE span_id = :sid", sid=sid)
    assert row == [[1024, 998976]]
    _still_ingesting(server)


@pytest.mark.parametrize("which", ["start", "end"])
def test_a_timestamp_of_2_63_minus_1_is_refused_and_its_trace_still_reads(server: Backend, which: str) -> None:
    bad = good_span("end of time")
    fine = good_span("fine")
    fine.trace_id = bad.trace_id
    if which == "start":
        bad.start_time_unix_nano = 2**63 - 1
        bad.end_time_unix_nano = 2**63 - 1
    else:
        bad.end_time_unix_nano = 2**63 - 1
    partial = _post(server, [bad, fine])
    assert partial.rejected_spans == 1
    assert "after 2262-01-01" in partial.error_message, partial.error_message
    server.wait_stored([fine.span_id.hex()])
    server.assert_absent([bad.span_id.hex()])
    view = httpx.get(f"{server.query_url}/api/view/traces/{bad.trace_id.hex()}", timeout=30)
    assert view.status_code == 200, view.text[:300]
    jaeger = httpx.get(f"{server.query_url}/api/traces/{bad.trace_id.hex()}", timeout=30)
    assert jaeger.status_code == 200, jaeger.text[:300]


def test_the_backend_restarts_on_its_own_data_after_every_trigger(server: Backend,
                                                                    module_backends: BackendFactory) -> None:
    stored = server.span_count()
    assert server.stop() == 0
    again = module_backends(data_dir=server.data_dir)
    assert again.span_count() == stored
    _still_ingesting(again)
    assert again.stop() == 0


def _store_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracehouse", "store", *args], capture_output=True, text=True,
                          env=clean_env(env), timeout=300, check=False)


def test_a_span_the_store_refuses_is_dead_lettered_and_repaired_later(backend: BackendFactory) -> None:
    """With the byte caps raised past what the store's 128 MB can commit, a 12 MiB value passes
    validation and fails in the store: its batch is split, the span set aside with the reason, and
    its neighbours stored. `tracehouse store repair` with more store memory stores it."""
    first = backend("--attribute-value-max", "64MiB", "--span-max", "64MiB")
    poison = good_span("poison", big="y" * (12 * MiB))
    neighbours = [good_span(f"n{i}") for i in range(5)]
    _post(first, [neighbours[0], neighbours[1], poison, *neighbours[2:]])
    first.wait_stored([s.span_id.hex() for s in neighbours], timeout=60)
    deadletter = first.data_dir / "deadletter"
    wait_for(lambda: list(deadletter.glob("*.arrow")), 60, "the refused span to be dead-lettered")
    _still_ingesting(first)
    first.assert_absent([poison.span_id.hex()])

    check = _store_cli("check", "--data", str(first.data_dir))
    assert check.returncode == 1, check.stdout + check.stderr
    assert "1 span(s)" in check.stdout and "store refused the span" in check.stdout, check.stdout
    assert first.stop() == 0

    repaired = _store_cli("repair", "--data", str(first.data_dir), env={"TRACEHOUSE_STORE_MEMORY": "1GB"})
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "stored 1 dead-lettered span(s)" in repaired.stdout, repaired.stdout
    assert not list(deadletter.glob("*.arrow"))
    second = backend(data_dir=first.data_dir)
    second.wait_stored([poison.span_id.hex()], timeout=30)
    assert second.stop() == 0
