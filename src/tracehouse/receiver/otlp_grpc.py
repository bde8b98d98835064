"""OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export.

The request is taken as raw bytes and parsed by our decoder rather than by grpc, so a body that is
not a valid message gets INVALID_ARGUMENT with our message (grpc's own deserializer would answer
INTERNAL). gzip-compressed requests are decompressed by grpc itself, within the receive-size cap;
a message of several gzip members (legal per RFC 1952, never sent by grpc's clients, which compress
each message as one member) is refused by grpc whole, INTERNAL "Decompression failed due to not all
input consumed", before this handler runs: never half stored (tests/security/test_gzip_members.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from tracehouse.access import TokenCheck
from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.prepare import prepare_protobuf
from tracehouse.otlp.responses import export_response
from tracehouse.receiver.ingest import Ingest, IngestClosedError, QueueFullError

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
COMMIT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


def _unavailable(message: str, retry_after_seconds: int) -> grpc.Status:
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after_seconds))
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(retry)
    return _Status(grpc.StatusCode.UNAVAILABLE, message, (
        ("grpc-status-details-bin", status.SerializeToString()),
        # The OTel SDK exporters read the delay from this trailer, not from the status details.
        ("google.rpc.retryinfo-bin", retry.SerializeToString()),
    ))


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def _export_handler(ingest: Ingest, token_check: TokenCheck,
                    retention_seconds: int = 0) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    def export(body: bytes, context: grpc.ServicerContext) -> bytes:
        if not token_check.accepts_authorization(_authorization(context)):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token: send the metadata "
                          "`authorization: Bearer <ingest token>` (OTEL_EXPORTER_OTLP_HEADERS)")
        if ingest.is_full():
            context.abort_with_status(_unavailable(str(QueueFullError(1)), 1))
        # grpc has read the message already; what it is parsed and split into counts against the
        # receivers' byte budget until the answer (Ingest.RECEIVE_BUDGET_BYTES).
        if not ingest.reserve_receive(len(body)):
            context.abort_with_status(_unavailable("the backend is receiving as many request bytes as it holds at "
                                                   "once; retry in 1 s", 1))
        try:
            return _export(body, context)
        finally:
            ingest.release_receive(len(body))

    def _export(body: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            decoded = prepare_protobuf(body, ingest.limits, retention_seconds)
        except DecodeError as exc:
            bad = error_details_pb2.BadRequest()
            bad.field_violations.add(field="body", description=str(exc))
            status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(exc))
            status.details.add().Pack(bad)
            context.abort_with_status(rpc_status.to_status(status))
        try:
            future = ingest.submit_records(decoded.records)
        except QueueFullError as exc:
            context.abort_with_status(_unavailable(str(exc), exc.retry_after_seconds))
        except IngestClosedError as exc:
            context.abort_with_status(_unavailable(str(exc), 1))
        try:
            future.result(timeout=COMMIT_TIMEOUT_SECONDS)
        except Exception as exc:
            context.abort_with_status(_unavailable(f"the spans could not be stored durably: {exc}", 1))
        return export_response(decoded.rejected, decoded.error_message).SerializeToString()

    return export


def create_grpc_server(ingest: Ingest, max_body_bytes: int, workers: int = 8,
                       retention_seconds: int = 0, tokens: tuple[str, ...] = ()) -> grpc.Server:
    """A grpc server with the TraceService registered; the caller adds a port and starts it. With
    `tokens`, a call must carry the metadata `authorization: Bearer <one of them>` (UNAUTHENTICATED
    otherwise, before the request is decoded)."""
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Export": grpc.unary_unary_rpc_method_handler(_export_handler(ingest, TokenCheck(tokens), retention_seconds)),
    })
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_body_bytes),
        # Without this, Linux lets a second server bind the same port and steal half the traffic.
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
                         handlers=[handler], options=options)
    return server
