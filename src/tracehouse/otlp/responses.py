"""Encoding OTLP responses and error bodies, in the content type of the request."""

from __future__ import annotations

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def export_response(rejected: int, error_message: str) -> ExportTraceServiceResponse:
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
    if error_message:
        # With no span rejected, the message is a warning (values truncated, events dropped), which
        # the OTLP specification lets a server send with rejected_spans = 0.
        response.partial_success.error_message = error_message
    return response


def encode(message: ExportTraceServiceResponse | status_pb2.Status, content_type: str) -> bytes:
    if content_type == JSON:
        return json_format.MessageToJson(message, indent=None).encode("utf-8")
    return message.SerializeToString()


def status_body(code: int, message: str, content_type: str) -> bytes:
    """A google.rpc.Status error body (`code` is a gRPC code number)."""
    return encode(status_pb2.Status(code=code, message=message), content_type)
