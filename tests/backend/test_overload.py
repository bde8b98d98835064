"""Overload: a backend with a tiny queue answers 503 + Retry-After and UNAVAILABLE + RetryInfo instead
of buffering without bound; its memory stays bounded; what it acknowledged is stored and what it
refused is not; and the OTel SDK's exporters, which retry on exactly those answers, deliver everything.
"""

from __future__ import annotations

import logging
import time

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from .conftest import Backend, BackendFactory, PeakRss, wait_for
from .load import Load
from .otlp_requests import PROTOBUF, parse_status
from .sdk import GrpcExporter, HttpExporter, emit_traces, provider

TINY_QUEUE = ("--queue-max-spans", "500", "--batch-max-spans", "500")
LOAD_SECONDS = 4.0
# Requests of 500 spans with a 2 kB attribute each (~1.1 MB). Measured on 2 cores: with the 500-span
# queue the backend grows by ~110 MiB (the requests being read and decoded) and stays there; with an
# unbounded queue it grows by ~290 MiB in the same 4 s, and keeps growing.
PAD_BYTES = 2000
RSS_GROWTH_LIMIT = 170 * 2**20


def test_overload_is_refused_with_retry_hints_and_memory_stays_bounded(backend: BackendFactory) -> None:
    server: Backend = backend(*TINY_QUEUE)
    with PeakRss(server.pid, interval=0.02) as rss, Load(server, http_threads=5, grpc_threads=2,
                                                          traces_per_request=100, pad_bytes=PAD_BYTES) as load:
        deadline = time.monotonic() + 30
        # Run at least LOAD_SECONDS, and until both protocols have been refused at least once.
        started = time.monotonic()
        wait_for(lambda: (time.monotonic() - started > LOAD_SECONDS and load.first_503 is not None
                          and load.first_unavailable is not None) or time.monotonic() > deadline,
                 60, "overload")
    assert set(load.outcomes) <= {"http 200", "http 503", "grpc OK", "grpc UNAVAILABLE"}, load.outcomes
    assert load.count("http 200") > 0 and load.count("grpc OK") > 0, load.outcomes

    # HTTP: 503, Retry-After in seconds, a google.rpc.Status body in the request's content type.
    response = load.first_503
    assert response is not None, load.outcomes
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == PROTOBUF
    status = parse_status(response.content, PROTOBUF)
    assert status.code == code_pb2.UNAVAILABLE and "retry" in status.message

    # gRPC: UNAVAILABLE with RetryInfo in grpc-status-details-bin ...
    error = load.first_unavailable
    assert error is not None, load.outcomes
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    details = rpc_status.from_call(error)
    assert details is not None and details.code == code_pb2.UNAVAILABLE
    retry = error_details_pb2.RetryInfo()
    assert [d.Unpack(retry) for d in details.details] == [True]
    assert retry.retry_delay.seconds >= 1
    # ... and in the trailer the OTel SDK exporters read their retry delay from.
    trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    assert error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]) == retry

    assert rss.growth < RSS_GROWTH_LIMIT, f"RSS grew by {rss.growth / 2**20:.0f} MiB under overload"
    # Acknowledged spans are stored once each; refused ones not at all.
    server.wait_stored(load.acked, timeout=60)
    server.assert_absent(load.refused)
    assert server.span_count() == len(load.acked) + 5  # + the marker trace of assert_absent
    assert server.stop() == 0


def _transient(caplog: pytest.LogCaptureFixture, protocol: str) -> int:
    return sum(1 for r in caplog.records if "Transient error" in r.getMessage() and f".{protocol}" in r.name)


def test_otel_sdk_retries_deliver_everything(backend: BackendFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    server = backend(*TINY_QUEUE)
    # Batches of 200 spans: two exporters fit the 500-span queue at once when nothing else is queued.
    http_tp = provider(HttpExporter(endpoint=server.traces_url, timeout=60), "sdk-http", batch=200)
    grpc_tp = provider(GrpcExporter(endpoint=server.otlp_grpc, insecure=True, timeout=60), "sdk-grpc", batch=200)
    ids: list[str] = []
    with Load(server, http_threads=4, grpc_threads=1, traces_per_request=100) as load:
        # Keep making spans while other clients keep the queue full, until both exporters have been
        # told to back off (the SDK logs each retry as a "Transient error").
        deadline = time.monotonic() + 30
        while (_transient(caplog, "http") == 0 or _transient(caplog, "grpc") == 0) and time.monotonic() < deadline:
            ids += emit_traces(http_tp, 100)
            ids += emit_traces(grpc_tp, 100)
            time.sleep(0.05)
        # The exporters can be refused before the load's own first answer arrives: wait for it
        # rather than read it at one instant.
        wait_for(lambda: load.count("http 503") > 0, 30, "the load's requests to be refused too")
    assert _transient(caplog, "http") > 0, "the HTTP exporter was never refused"
    assert _transient(caplog, "grpc") > 0, "the gRPC exporter was never refused"
    assert http_tp.force_flush(90_000) and grpc_tp.force_flush(90_000)
    http_tp.shutdown()
    grpc_tp.shutdown()
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], failures
    server.wait_stored(ids, timeout=60)
    server.wait_stored(load.acked, timeout=60)
    assert server.scalar("SELECT count(*) FROM spans WHERE service_name LIKE 'sdk-%'") == len(ids)
    assert server.stop() == 0
