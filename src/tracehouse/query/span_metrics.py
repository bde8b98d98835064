"""Jaeger's Service Performance Monitoring answers (/api/metrics/{latencies,calls,errors}): a
MetricFamily of api_v2/metrics/openmetrics.proto in the proto3 JSON encoding Jaeger's query service
writes, computed from stored spans (model.SpanMetricsQuery) rather than from a metrics pipeline.

Units follow Jaeger's Prometheus reader, which the Monitor tab is built for: latencies in
milliseconds, call rates in calls per second, error rates as a fraction of calls (0..1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from tracehouse.model import SpanMetricsPoint


class MetricKind(StrEnum):
    LATENCIES = "latencies"
    CALLS = "calls"
    ERRORS = "errors"


_NAMES = {MetricKind.LATENCIES: "latencies", MetricKind.CALLS: "call_rate", MetricKind.ERRORS: "error_rate"}


def _timestamp(ns: int) -> str:
    """A google.protobuf.Timestamp in JSON: RFC 3339 in UTC, with only the fraction digits needed."""
    moment = dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = ns % 10**9
    if frac:
        digits = f"{frac:09d}"
        moment += "." + (digits[:3] if frac % 10**6 == 0 else digits[:6] if frac % 10**3 == 0 else digits)
    return moment + "Z"


def _help(kind: MetricKind, by_operation: bool, quantile: float | None) -> str:
    grouped = "grouped by service & operation" if by_operation else "grouped by service"
    if kind is MetricKind.LATENCIES:
        return f"{quantile:.2f}th quantile latency, {grouped}"
    if kind is MetricKind.CALLS:
        return f"calls/sec, {grouped}"
    return f"error rate, computed as a fraction of errors/sec over calls/sec, {grouped}"


def _value(kind: MetricKind, point: SpanMetricsPoint, rate_per_seconds: float) -> float | None:
    if kind is MetricKind.LATENCIES:
        return None if point.latency_ns is None else point.latency_ns / 1e6
    if kind is MetricKind.CALLS:
        return point.calls / rate_per_seconds
    return None if point.calls == 0 else point.errors / point.calls


def metric_family(kind: MetricKind, points: Sequence[SpanMetricsPoint], by_operation: bool,
                  rate_per_ns: int, quantile: float | None = None) -> dict[str, Any]:
    """The MetricFamily for `points` (ordered by series then time): one Metric per series, labelled
    service_name (and operation), each with its points; points without a value are left out."""
    metrics: list[dict[str, Any]] = []
    current: tuple[str, str | None] | None = None
    rate_per_seconds = rate_per_ns / 1e9
    for point in points:
        key = (point.service, point.operation)
        if key != current:
            current = key
            labels = [{"name": "service_name", "value": point.service}]
            if by_operation:
                labels.append({"name": "operation", "value": point.operation or ""})
            metrics.append({"labels": labels, "metricPoints": []})
        value = _value(kind, point, rate_per_seconds)
        if value is not None:
            metrics[-1]["metricPoints"].append(
                {"gaugeValue": {"doubleValue": value}, "timestamp": _timestamp(point.timestamp_ns)})
    prefix = "service_operation_" if by_operation else "service_"
    return {"name": prefix + _NAMES[kind], "type": "GAUGE", "help": _help(kind, by_operation, quantile),
            "metrics": metrics}
