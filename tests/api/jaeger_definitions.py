"""Jaeger's public response definitions, transcribed field by field, and a checker.

Sources (read with the project's search tool; the field names, types and constraints are copied,
the code is ours):
- jaeger-idl proto/api_v3/query_service.proto: TraceSummary, ServiceSummary,
  FindTraceSummariesResponse, DependenciesResponse/Dependency, GetServicesResponse,
  GetOperationsResponse/Operation, GRPCGatewayError. proto3 JSON: fixed64/uint64 are decimal strings,
  int32 numbers, names lowerCamelCase.
- jaeger-ui packages/jaeger-ui/src/api/v3/schemas.ts: the UI's own checks on top of the proto
  (trace id 32 hex digits and not all zeros; span ids 16 hex digits; nanosecond times decimal
  strings; counts non-negative integers; parentSpanId, when present, a valid span id).
- jaeger api_v2/metrics/openmetrics.proto as the Jaeger UI's Monitor-tab fixtures show it
  (MetricFamily name/type/help/metrics, Metric labels/metricPoints, gaugeValue.doubleValue, RFC 3339
  timestamp), and jaeger-ui's deep-dependency-graph payload types (TDdgPayload).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TRACE_ID = re.compile(r"(?!0+$)[0-9a-f]{32}", re.IGNORECASE)
SPAN_ID = re.compile(r"(?!0+$)[0-9a-f]{16}", re.IGNORECASE)
DECIMAL_U64 = re.compile(r"\d+")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")

Check = Callable[[Any], bool]


def text(v: Any) -> bool:
    return isinstance(v, str)


def int32(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31


def u64_string(v: Any) -> bool:
    return isinstance(v, str) and bool(DECIMAL_U64.fullmatch(v)) and int(v) < 2**64


def matches(pattern: re.Pattern[str]) -> Check:
    return lambda v: isinstance(v, str) and bool(pattern.fullmatch(v))


def number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def repeated(definition: dict[str, Any]) -> Check:
    return lambda v: isinstance(v, list) and all(conforms(item, definition) == [] for item in v)


SERVICE_SUMMARY = {"name": text, "spanCount": int32, "errorSpanCount": int32}
TRACE_SUMMARY = {
    "traceId": matches(TRACE_ID),              # string trace_id = 1, hex, 128-bit
    "rootServiceName": text,                   # string root_service_name = 2
    "rootOperationName": text,                 # string root_operation_name = 3
    "minStartTimeUnixNano": u64_string,        # fixed64 min_start_time_unix_nano = 4
    "maxEndTimeUnixNano": u64_string,          # fixed64 max_end_time_unix_nano = 5
    "spanCount": int32,                        # int32 span_count = 6
    "errorSpanCount": int32,                   # int32 error_span_count = 7
    "orphanSpanCount": int32,                  # int32 orphan_span_count = 8
    "services": repeated(SERVICE_SUMMARY),     # repeated ServiceSummary services = 9
}
FIND_TRACE_SUMMARIES_RESPONSE = {"summaries": repeated(TRACE_SUMMARY)}
DEPENDENCY = {"parent": text, "child": text, "callCount": u64_string}
DEPENDENCIES_RESPONSE = {"dependencies": repeated(DEPENDENCY)}
GET_SERVICES_RESPONSE = {"services": lambda v: isinstance(v, list) and all(map(text, v))}
OPERATION = {"name": text, "spanKind": text}
GET_OPERATIONS_RESPONSE = {"operations": repeated(OPERATION)}
GRPC_GATEWAY_ERROR_DETAILS = {"httpCode": int32, "message": text}
GRPC_GATEWAY_ERROR = {"error": lambda v: conforms(v, GRPC_GATEWAY_ERROR_DETAILS) == []}

LABEL = {"name": text, "value": text}
METRIC_POINT = {"gaugeValue": lambda v: isinstance(v, dict) and set(v) == {"doubleValue"} and number(v["doubleValue"]),
                "timestamp": matches(RFC3339)}
METRIC = {"labels": repeated(LABEL), "metricPoints": repeated(METRIC_POINT)}
METRIC_FAMILY = {"name": text, "type": lambda v: v == "GAUGE", "help": text, "metrics": repeated(METRIC)}

DDG_ENTRY = {"service": text, "operation": text}
DDG_ATTRIBUTE = {"key": text, "value": text}
DDG_PATH = {"path": repeated(DDG_ENTRY), "attributes": repeated(DDG_ATTRIBUTE)}
DDG_PAYLOAD = {"dependencies": repeated(DDG_PATH)}

# Jaeger's v1 structuredResponse (cmd/query/app/http_handler.go).
V1_ENVELOPE_KEYS = {"data", "total", "limit", "offset", "errors"}


def conforms(obj: Any, definition: dict[str, Any]) -> list[str]:
    """What is wrong with `obj` against `definition` (every field present with its type, nothing
    else); [] when it conforms."""
    if not isinstance(obj, dict):
        return [f"not an object: {obj!r:.80}"]
    problems = [f"unexpected field {k!r}" for k in obj if k not in definition]
    for name, check in definition.items():
        if name not in obj:
            problems.append(f"missing field {name!r}")
        elif not check(obj[name]):
            problems.append(f"field {name!r} has a wrong type or value: {obj[name]!r:.120}")
    return problems
