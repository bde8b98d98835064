"""OTLP/protobuf bodies (gRPC and HTTP application/x-protobuf)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.errors import DecodeError

if TYPE_CHECKING:
    from tracehouse.otlp.columns import DecodedBatch


def parse_request(body: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except (ProtobufDecodeError, RecursionError) as exc:
        raise DecodeError(f"body is not a valid OTLP ExportTraceServiceRequest protobuf: {exc}") from exc


def decode_protobuf(body: bytes) -> DecodedBatch:
    # Imported here: columns needs pyarrow, which the receivers (parse_request) must not wait for
    # at start-up (ADR 12: the ports acknowledge before the store and pyarrow are loaded).
    from tracehouse.otlp.columns import to_columns

    return to_columns(parse_request(body))
