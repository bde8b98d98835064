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
    # Not in the proto: the Jaeger UI 2.19 client's hand-written schema requires the id as `traceID`
    # (src/api/v3/schemas.ts before the IDL was published); later clients accept either.
    "traceID": matches(TRACE_ID),
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


# ---- OTLP-JSON traces, with the Jaeger UI's refinements (schemas.ts: refinedSpan and friends)

DECIMAL_I64 = re.compile(r"-?\d{1,20}")
ANY_VALUE_KEYS = ("stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue")


def any_value(v: Any) -> bool:
    """Exactly one value field (falsy values count); int64 as a decimal string; nested values too."""
    if not isinstance(v, dict) or len([k for k in ANY_VALUE_KEYS if k in v]) != 1:
        return False
    if "intValue" in v:
        return isinstance(v["intValue"], str) and bool(DECIMAL_I64.fullmatch(v["intValue"]))
    if "stringValue" in v or "bytesValue" in v:
        return isinstance(v.get("stringValue", v.get("bytesValue")), str)
    if "boolValue" in v:
        return isinstance(v["boolValue"], bool)
    if "doubleValue" in v:
        return number(v["doubleValue"])
    if "arrayValue" in v:
        return isinstance(v["arrayValue"], dict) and all(map(any_value, v["arrayValue"].get("values", [])))
    return isinstance(v["kvlistValue"], dict) and all(key_value(kv) for kv in v["kvlistValue"].get("values", []))


def key_value(v: Any) -> bool:
    return isinstance(v, dict) and set(v) == {"key", "value"} and text(v["key"]) and any_value(v["value"])


def key_values(v: Any) -> bool:
    return isinstance(v, list) and all(map(key_value, v))


def enum(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def optional(definition: dict[str, Check], required: tuple[str, ...]) -> Check:
    """An object whose `required` fields are present and whose fields all pass their checks."""
    def check(v: Any) -> bool:
        return (isinstance(v, dict) and all(k in v for k in required)
                and all(k in definition and definition[k](x) for k, x in v.items()))
    return check


SPAN_EVENT = optional({"timeUnixNano": u64_string, "name": text, "attributes": key_values,
                       "droppedAttributesCount": int32}, ())
SPAN_LINK = optional({"traceId": matches(TRACE_ID), "spanId": matches(SPAN_ID), "traceState": text,
                      "attributes": key_values, "droppedAttributesCount": int32, "flags": enum}, ("traceId", "spanId"))
STATUS = optional({"message": text, "code": enum}, ())
SPAN = optional({
    "traceId": matches(TRACE_ID), "spanId": matches(SPAN_ID), "traceState": text, "parentSpanId": matches(SPAN_ID),
    "flags": enum, "name": text, "kind": enum, "startTimeUnixNano": u64_string, "endTimeUnixNano": u64_string,
    "attributes": key_values, "droppedAttributesCount": int32, "events": lambda v: isinstance(v, list) and all(
        map(SPAN_EVENT, v)), "droppedEventsCount": int32, "links": lambda v: isinstance(v, list) and all(
        map(SPAN_LINK, v)), "droppedLinksCount": int32, "status": STATUS}, ("traceId", "spanId"))
SCOPE = optional({"name": text, "version": text, "attributes": key_values, "droppedAttributesCount": int32}, ())
SCOPE_SPANS = optional({"scope": SCOPE, "spans": lambda v: isinstance(v, list) and all(map(SPAN, v)),
                        "schemaUrl": text}, ("spans",))
RESOURCE = optional({"attributes": key_values, "droppedAttributesCount": int32}, ())
RESOURCE_SPANS = optional({"resource": RESOURCE, "scopeSpans": lambda v: isinstance(v, list) and all(
    map(SCOPE_SPANS, v)), "schemaUrl": text}, ("scopeSpans",))
TRACES_DATA = optional({"resourceSpans": lambda v: isinstance(v, list) and all(map(RESOURCE_SPANS, v))}, ())
GET_TRACE_RESPONSE = {"result": TRACES_DATA}   # the grpc-gateway envelope


def first_bad_span(traces_data: dict[str, Any]) -> Any:
    """The first span (or scope/resource group) the definitions above refuse, for a readable failure."""
    for rs in traces_data.get("resourceSpans", []):
        if not RESOURCE_SPANS(rs):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    if not SPAN(span):
                        return span
                if not SCOPE_SPANS(ss):
                    return {k: v for k, v in ss.items() if k != "spans"}
            return {k: v for k, v in rs.items() if k != "scopeSpans"}
    return None
