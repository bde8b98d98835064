"""OTLP/protobuf bodies (gRPC and HTTP application/x-protobuf)."""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.columns import DecodedBatch, to_columns
from tracehouse.otlp.errors import DecodeError


def parse_request(body: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except (ProtobufDecodeError, RecursionError) as exc:
        raise DecodeError(f"body is not a valid OTLP ExportTraceServiceRequest protobuf: {exc}") from exc


def decode_protobuf(body: bytes) -> DecodedBatch:
    return to_columns(parse_request(body))
