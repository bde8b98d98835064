"""OpenTelemetry set-up shared by the three FBaaS services.

Everything is driven by the standard OTel environment variables, read by the SDK itself:
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, OTEL_BSP_*, OTEL_PROPAGATORS and OTEL_SDK_DISABLED. This module
only adds what the SDK cannot know: each service's default name, the tracehouse version, a span queue
large enough for bursts, the `traffic.type` baggage copied onto spans, and a flush on shutdown.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import FrameType

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SDK_DISABLED,
)
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

TRAFFIC_TYPE = "traffic.type"
"""Baggage entry (set by the caller) and span attribute (set by every service) naming the traffic type."""

# The SDK defaults (2048 queued, 512 per batch) drop ~60% of spans when a tight loop outruns the
# exporter; a deep queue absorbs a burst and large batches drain it with fewer round trips.
BURST_QUEUE_SIZE = 65536
BURST_BATCH_SIZE = 2048


def package_version() -> str:
    try:
        return metadata.version("tracehouse")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class TrafficTypeProcessor(SpanProcessor):
    """Copies the `traffic.type` baggage entry onto every span as an attribute when the span starts.

    The parent context is the one handed to the tracer: for server spans the instrumentation passes
    the context it extracted from the request headers, so baggage is seen before any handler runs.
    Spans started without an explicit context (httpx client spans) read the current one.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        value = baggage.get_baggage(TRAFFIC_TYPE, parent_context)
        if isinstance(value, str) and value:
            span.set_attribute(TRAFFIC_TYPE, value)


class TelemetryConfigError(ValueError):
    """An OTel environment variable has a value these services cannot use."""


def sdk_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """OTEL_SDK_DISABLED, read the way the SDK reads it."""
    env = os.environ if environ is None else environ
    return env.get(OTEL_SDK_DISABLED, "").strip().lower() == "true"


def build_resource(default_service_name: str) -> Resource:
    """The SDK's resource (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win) plus our defaults."""
    resource = Resource({SERVICE_VERSION: package_version()}).merge(Resource.create())
    name = resource.attributes.get(SERVICE_NAME)
    if not isinstance(name, str) or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    return resource


def build_exporter(environ: Mapping[str, str] | None = None) -> SpanExporter:
    """An OTLP exporter for the protocol in OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL (default grpc).

    The exporters read their endpoint, headers, compression and timeout from the environment; with
    nothing set, gRPC goes to localhost:4317, where `tracehouse up` listens.
    """
    env = os.environ if environ is None else environ
    protocol = (env.get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) or env.get(OTEL_EXPORTER_OTLP_PROTOCOL) or "grpc").strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise TelemetryConfigError(
        f"{OTEL_EXPORTER_OTLP_PROTOCOL}={protocol!r} is not supported here; use grpc or http/protobuf"
    )


def build_tracer_provider(default_service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider with the env-configured sampler, our resource, traffic types and a burst-sized batcher.

    `exporter` defaults to OTLP as configured by the environment; tests pass an in-memory one.
    """
    # shutdown_on_exit=False: shutdown is ours to call (signal handler or server hook), exactly once.
    provider = TracerProvider(resource=build_resource(default_service_name), shutdown_on_exit=False)
    provider.add_span_processor(TrafficTypeProcessor())
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter if exporter is not None else build_exporter(),
            # An explicit OTEL_BSP_* setting wins; otherwise size for bursts rather than the SDK default.
            max_queue_size=None if OTEL_BSP_MAX_QUEUE_SIZE in os.environ else BURST_QUEUE_SIZE,
            max_export_batch_size=None if OTEL_BSP_MAX_EXPORT_BATCH_SIZE in os.environ else BURST_BATCH_SIZE,
        )
    )
    return provider


@dataclass
class Telemetry:
    """The tracing of one service process. `provider` is None when OTEL_SDK_DISABLED=true."""

    provider: TracerProvider | None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _shut_down: bool = field(default=False, repr=False)

    def shutdown(self) -> None:
        """Export every pending span, then stop the exporter. Safe to call more than once."""
        with self._lock:
            if self._shut_down or self.provider is None:
                self._shut_down = True
                return
            self._shut_down = True
        self.provider.shutdown()


def configure(default_service_name: str) -> Telemetry:
    """Install the global tracer provider for this process (call once, in the process that serves).

    Must run after any fork: the batch processor's export thread does not survive one.
    """
    if sdk_disabled():
        return Telemetry(provider=None)
    provider = build_tracer_provider(default_service_name)
    trace.set_tracer_provider(provider)
    return Telemetry(provider=provider)


def flush_on_exit_signals(telemetry: Telemetry) -> None:
    """On SIGTERM or SIGINT, flush pending spans and exit with status 0.

    uvicorn replaces these handlers while it serves and re-raises the signal once it has stopped,
    so this runs after a graceful shutdown there too.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        telemetry.shutdown()
        sys.exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)
