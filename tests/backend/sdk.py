"""The official OpenTelemetry Python SDK and OTLP exporters as clients of the backend.

Each test gets its own TracerProvider (never the global one), with a BatchSpanProcessor sized so the
SDK itself drops nothing: every span the test makes must reach the exporter, so a missing span is
the backend's fault.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["GrpcExporter", "HttpCompression", "HttpExporter", "emit_traces", "provider"]


def provider(exporter: SpanExporter, service: str, max_queue: int = 20_000, batch: int = 512) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": service, "service.version": "1.0.0"}))
    tp.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=max_queue, max_export_batch_size=batch,
                                             schedule_delay_millis=50, export_timeout_millis=60_000))
    return tp


def emit_traces(tp: TracerProvider, traces: int, error_every: int = 0) -> list[str]:
    """FBaaS-like traces of 3 spans (SERVER root, two CLIENT children); returns their hex span ids.

    Every `error_every`-th trace's root ends with status ERROR and a recorded exception (an event).
    """
    tracer = tp.get_tracer("tracehouse.tests", "1.0")
    ids: list[str] = []
    for i in range(traces):
        number = i % 100
        with tracer.start_as_current_span(f"GET /fizzbuzz/{number}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "http.route": "/fizzbuzz/{number}", "fizzbuzz.number": number,
            "http.response.status_code": 200, "fbaas.ratio": 0.25, "fbaas.flag": True,
        }) as root:
            ids.append(format(root.get_span_context().span_id, "016x"))
            for service in ("fizzer", "buzzer"):
                with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT,
                                                  attributes={"server.address": service}) as child:
                    ids.append(format(child.get_span_context().span_id, "016x"))
            if error_every and i % error_every == 0:
                root.record_exception(ValueError(f"{number} is not a number"))
                root.set_status(Status(StatusCode.ERROR, "bad number"))
    return ids
