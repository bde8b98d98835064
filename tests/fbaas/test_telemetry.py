"""The shared telemetry module, in process, with the SDK's in-memory exporter."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracehouse.fbaas import telemetry
from tracehouse.fbaas.telemetry import TRAFFIC_TYPE, TelemetryConfigError, build_resource, build_tracer_provider

OTEL_VARS = ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
             "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_BSP_MAX_QUEUE_SIZE",
             "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_SDK_DISABLED")


@pytest.fixture(autouse=True)
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)


def test_the_service_name_defaults_to_the_service_and_the_version_to_tracehouse() -> None:
    attributes = build_resource("fizzer").attributes
    assert attributes["service.name"] == "fizzer"
    assert attributes["service.version"] == telemetry.package_version() != "0+unknown"


def test_otel_service_name_and_resource_attributes_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "fizzer-canary")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,service.version=9.9")
    attributes = build_resource("fizzer").attributes
    assert attributes["service.name"] == "fizzer-canary"
    assert attributes["deployment.environment"] == "test"
    assert attributes["service.version"] == "9.9"


def test_service_name_in_resource_attributes_also_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=buzzer-eu")
    assert build_resource("buzzer").attributes["service.name"] == "buzzer-eu"


def test_traffic_type_baggage_becomes_a_span_attribute_on_every_span() -> None:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("hub", exporter)
    tracer = provider.get_tracer("test")
    with_baggage = baggage.set_baggage(TRAFFIC_TYPE, "loadtest")
    # An explicit parent context, as server instrumentations pass the one they extracted ...
    tracer.start_span("server", context=with_baggage).end()
    # ... which they also attach, so children started from the current context (as client
    # instrumentations start theirs) see it too.
    token = context.attach(with_baggage)
    try:
        with tracer.start_as_current_span("attached"), tracer.start_as_current_span("client"):
            pass
    finally:
        context.detach(token)
    tracer.start_span("no baggage").end()
    provider.force_flush()
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    assert {n: (by_name[n].attributes or {}).get(TRAFFIC_TYPE) for n in by_name} == {
        "server": "loadtest", "client": "loadtest", "attached": "loadtest", "no baggage": None}
    provider.shutdown()


def test_a_burst_of_spans_is_not_dropped() -> None:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("hub", exporter)
    tracer = provider.get_tracer("test")
    burst = 20_000  # ten times the SDK's default queue, which would drop most of these
    for i in range(burst):
        tracer.start_span(f"s{i}").end()
    provider.shutdown()
    assert len(exporter.get_finished_spans()) == burst


def test_explicit_bsp_settings_still_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "10")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5")
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("hub", exporter)
    tracer = provider.get_tracer("test")
    for i in range(5_000):
        tracer.start_span(f"s{i}").end()
    provider.shutdown()
    assert len(exporter.get_finished_spans()) < 5_000


def test_the_sampler_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("hub", exporter)
    provider.get_tracer("test").start_span("dropped").end()
    provider.shutdown()
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(("protocol", "module"), [
    ("grpc", "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"),
    ("http/protobuf", "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
])
def test_the_exporter_follows_the_otlp_protocol(protocol: str, module: str) -> None:
    exporter = telemetry.build_exporter({"OTEL_EXPORTER_OTLP_PROTOCOL": protocol})
    try:
        assert type(exporter).__module__ == module
    finally:
        exporter.shutdown()


def test_the_traces_protocol_overrides_the_general_one() -> None:
    exporter = telemetry.build_exporter({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                         "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"})
    try:
        assert "http" in type(exporter).__module__
    finally:
        exporter.shutdown()


def test_an_unsupported_protocol_is_refused_by_name() -> None:
    with pytest.raises(TelemetryConfigError, match="http/json"):
        telemetry.build_exporter({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_a_disabled_sdk_configures_nothing_and_shuts_down_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = telemetry.configure("hub")
    assert handle.provider is None
    handle.shutdown()
    handle.shutdown()


def test_shutdown_flushes_once_even_when_called_twice() -> None:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("hub", exporter)
    handle = telemetry.Telemetry(provider)
    provider.get_tracer("test").start_span("pending").end()
    handle.shutdown()
    handle.shutdown()
    assert [s.name for s in exporter.get_finished_spans()] == ["pending"]
