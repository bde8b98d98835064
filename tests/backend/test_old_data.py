"""Old data is never dropped without a word (issue 13).

- A span already older than the retention window is refused through OTLP partial success, over HTTP
  and gRPC, with a message naming the window and how to keep such data; the rest of the request is
  stored.
- `tracehouse import` loads such traces (OTLP-JSON, OTLP protobuf, Jaeger JSON) through the running
  backend or straight into the store file, and retention leaves them alone until their own retention
  ends; analyses then run over them with --start/--end.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import grpc
import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .conftest import PYTHON, BackendFactory, clean_env, wait_for
from .otlp_requests import JSON, fbaas_request

FAST = {"TRACEHOUSE_RETENTION_INTERVAL": "0.2"}
# The OTLP specification's own example (opentelemetry-proto examples/trace.json), timestamps from 2018.
SPEC_TRACE = "5b8efff798038103d269b633813fc60c"
SPEC_EXAMPLE = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
        "scope": {"name": "my.library", "version": "1.0.0",
                  "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
        "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
            "parentSpanId": "EEE19B7EC3C1B173", "name": "I'm a server span",
            "startTimeUnixNano": 1544712660000000000, "endTimeUnixNano": 1544712661000000000, "kind": 2,
            "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]}]}]}]}


def tracehouse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tracehouse", *args], capture_output=True, text=True, env=clean_env(FAST),
                          timeout=120, check=False)


def _old_and_new() -> tuple[ExportTraceServiceRequest, str]:
    """The spec's 2018 span and a fresh FBaaS trace, in one request; the fresh trace's id."""
    built = fbaas_request(1)
    old = built.request.resource_spans.add()
    old.resource.attributes.add(key="service.name").value.string_value = "my.service"
    span = old.scope_spans.add().spans.add(trace_id=bytes.fromhex(SPEC_TRACE), span_id=b"\x01" * 8, name="old",
                                           start_time_unix_nano=1544712660000000000,
                                           end_time_unix_nano=1544712661000000000)
    assert span.name == "old"
    return built.request, built.request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()


def _check_message(message: str) -> None:
    for words in ("rejected 1 span(s)", "older than the retention window of 7d", "--retention",
                  "tracehouse import"):
        assert words in message, message


def test_old_spans_get_partial_success_over_http_and_grpc(backend: BackendFactory) -> None:
    server = backend()   # the default retention: 7 days
    r = server.post(orjson.dumps(SPEC_EXAMPLE), JSON)
    assert r.status_code == 200
    body = orjson.loads(r.content)
    assert body["partialSuccess"]["rejectedSpans"] == "1"
    _check_message(body["partialSuccess"]["errorMessage"])

    request, fresh = _old_and_new()
    with grpc.insecure_channel(server.otlp_grpc) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                   request_serializer=None, response_deserializer=None)
        reply = ExportTraceServiceResponse.FromString(call(request.SerializeToString(), timeout=30))
    assert reply.partial_success.rejected_spans == 1
    _check_message(reply.partial_success.error_message)
    wait_for(lambda: server.scalar("SELECT count(*) FROM spans WHERE trace_id = :t", t=fresh) == 5, 30,
             "the fresh trace")
    assert server.scalar("SELECT count(*) FROM spans WHERE trace_id = :t", t=SPEC_TRACE) == 0


def test_import_keeps_old_traces_and_analyses_find_them(backend: BackendFactory, tmp_path: Path) -> None:
    server = backend(env=FAST)   # retention 7 days, a pass every 0.2 s
    spec = tmp_path / "trace.json"
    spec.write_bytes(orjson.dumps(SPEC_EXAMPLE))
    # A year-old FBaaS trace as OTLP protobuf, and the same trace as a Jaeger JSON download.
    # (Jaeger JSON has microseconds: a whole-microsecond start lets its spans match the stored ones.)
    year_ago = (time.time_ns() - 365 * 86400 * 10**9) // 1000 * 1000
    built = fbaas_request(2, start_ns=year_ago)
    proto_dir = tmp_path / "replay"
    proto_dir.mkdir()
    (proto_dir / "incident.pb").write_bytes(built.request.SerializeToString())
    (proto_dir / "notes.txt").write_text("not a trace file: skipped")

    imported = tracehouse("import", str(spec), str(proto_dir), "--data", str(server.data_dir))
    assert imported.returncode == 0, imported.stderr
    assert "1 new span(s) of 1 in 1 trace(s) (otlp-json)" in imported.stdout
    assert "10 new span(s) of 10 in 2 trace(s) (otlp-protobuf)" in imported.stdout
    assert "kept until deleted" in imported.stdout
    time.sleep(1.0)   # several retention passes
    assert server.span_count() == 11
    spec_span = server.sql("SELECT span_name, scope_attributes['my.scope.attribute']::VARCHAR, "
                           "epoch_ns(start_time) FROM spans WHERE trace_id = :t", t=SPEC_TRACE)
    assert spec_span == [["I'm a server span", "some scope attribute", 1544712660000000000]]

    # Jaeger JSON, as /api/traces returns it: a re-import changes nothing (the spans are stored).
    trace_id = built.request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    jaeger = httpx.get(f"{server.query_url}/api/traces/{trace_id}", timeout=30).content
    (tmp_path / "download.json").write_bytes(jaeger)
    again = tracehouse("import", str(tmp_path / "download.json"), "--url", server.query_url)
    assert again.returncode == 0, again.stderr
    assert "0 new span(s) of 5 in 1 trace(s) (jaeger-json)" in again.stdout

    # The analyses see the 2018 trace in its own window.
    report = tracehouse("analyze", "paths", "--data", str(server.data_dir), "--format", "json",
                        "--start", "2018-12-13T14:00:00Z", "--end", "2018-12-13T15:00:00Z")
    assert report.returncode == 0, report.stderr
    assert SPEC_TRACE in report.stdout and json.loads(report.stdout)
    none = tracehouse("analyze", "paths", "--data", str(server.data_dir), "--format", "json",
                      "--start", "2018-12-14T00:00:00Z", "--end", "2018-12-15T00:00:00Z")
    assert none.returncode == 0 and SPEC_TRACE not in none.stdout


def test_import_into_the_store_file_and_its_own_retention(backend: BackendFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    spec = tmp_path / "trace.json"
    spec.write_bytes(orjson.dumps(SPEC_EXAMPLE))
    old = fbaas_request(1, start_ns=time.time_ns() - 30 * 86400 * 10**9)
    (tmp_path / "month.pb").write_bytes(old.request.SerializeToString())
    # No backend runs: straight into the store. The spec's trace for good, the other for 2 seconds.
    kept = tracehouse("import", str(spec), "--data", str(data))
    assert kept.returncode == 0, kept.stderr
    brief = tracehouse("import", str(tmp_path / "month.pb"), "--data", str(data), "--retention", "2s")
    assert brief.returncode == 0, brief.stderr
    assert "kept until 20" in brief.stdout
    stored = tracehouse("sql", "--data", str(data), "--format", "json",
                        "SELECT (SELECT count(*) FROM spans) AS spans, count(*) AS pins, "
                        "count(keep_until_unix_nano) AS timed FROM retention_pin_data")
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout) == [{"spans": 6, "pins": 2, "timed": 1}]
    server = backend(env=FAST, data_dir=data)   # retention 7 days, a pass every 0.2 s
    wait_for(lambda: server.span_count() == 1, 30, "the 2-second import to expire")
    time.sleep(0.6)
    assert server.sql("SELECT trace_id FROM spans") == [[SPEC_TRACE]]


def test_import_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"neither": "otlp nor jaeger"}')
    result = tracehouse("import", str(bad), "--data", str(tmp_path / "data"))
    assert result.returncode != 0 and "bad.json" in result.stderr and "cannot import" in result.stderr
    wrong = tracehouse("import", str(bad), "--data", str(tmp_path / "data"), "--retention", "soon")
    assert wrong.returncode != 0 and "--retention" in wrong.stderr
