"""Query-string parsing shared by the Jaeger v1/v3 routes and tracehouse's own: Go durations, unix
microseconds, RFC 3339 times, tag filters. Every failure is a ParamError naming the parameter."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tracehouse.model import SPAN_KINDS, DurationScope, SortOrder, TraceQuery
from tracehouse.query.service import MAX_SEARCH_LIMIT

DEFAULT_LIMIT = 100
MAX_ATTRIBUTE_FILTERS = 8

_GO_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
# Lookbacks also take days and weeks ("2d", "1w"), which Jaeger's UI offers but Go durations lack.
_LOOKBACK_UNITS = {**_GO_UNITS, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)")
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")


class ParamError(ValueError):
    """A query parameter has a value that cannot be used. `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"parameter '{param}': {message}")
        self.param = param


def go_duration_ns(text: str, param: str, units: Mapping[str, int] = _GO_UNITS) -> int:
    """A Go duration ("100ms", "1.5s", "1h30m") in nanoseconds; negative durations are refused."""
    s = text.strip()
    if s == "0":
        return 0
    s = s.removeprefix("+")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or m.group(2) not in units:
            raise ParamError(param, f"{text!r} is not a duration (examples: 250ms, 1.5s, 2m, 1h)")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if not s:
        raise ParamError(param, "empty duration")
    return round(total)


def lookback_ns(text: str, param: str = "lookback") -> int:
    return go_duration_ns(text, param, _LOOKBACK_UNITS)


def integer(text: str, param: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ParamError(param, f"{text!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ParamError(param, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ParamError(param, f"must be at most {maximum}")
    return value


def rfc3339_ns(text: str, param: str) -> int:
    """An RFC 3339 time with up to nanosecond precision, as unix nanoseconds."""
    m = _RFC3339.fullmatch(text.strip())
    if not m:
        raise ParamError(param, f"{text!r} is not an RFC 3339 time (example: 2026-01-15T10:00:00.5Z)")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        tz = dt.UTC if zone in ("Z", "z") else dt.timezone(
            (1 if zone[0] == "+" else -1) * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError as exc:
        raise ParamError(param, f"{text!r} is not a valid time: {exc}") from None
    return int(moment.timestamp()) * 10**9 + int((frac or "0").ljust(9, "0"))


def trace_id(text: str, param: str = "traceID") -> str:
    """A hex trace id normalised to 32 lowercase digits."""
    if not _HEX_ID.fullmatch(text):
        raise ParamError(param, f"{text[:64]!r} is not a trace id (1 to 32 hex digits)")
    return text.lower().rjust(32, "0")


def span_kind(text: str | None, param: str) -> str | None:
    if not text:
        return None
    kind = text.strip().upper()
    if kind not in SPAN_KINDS:
        raise ParamError(param, f"{text!r} is not a span kind (server, client, producer, consumer, internal)")
    return kind


def _tag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def attribute_map(text: str | None, param: str) -> dict[str, str]:
    """A JSON object of attribute filters ({"http.status_code": "500", "error": true})."""
    if not text:
        return {}
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ParamError(param, 'must be a JSON object, e.g. {"http.status_code":"500"}') from None
    if not isinstance(doc, dict):
        raise ParamError(param, 'must be a JSON object, e.g. {"http.status_code":"500"}')
    return {str(k): _tag_value(v) for k, v in doc.items()}


def tag_pairs(values: Sequence[str], param: str = "tag") -> dict[str, str]:
    """Repeated key:value filters (Jaeger's tag=key:value)."""
    result: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise ParamError(param, f"{raw!r} is not key:value")
        result[key] = value
    return result


def check_attributes(attributes: dict[str, str], param: str) -> dict[str, str]:
    if "" in attributes:
        raise ParamError(param, "an attribute key must not be empty")
    if len(attributes) > MAX_ATTRIBUTE_FILTERS:
        raise ParamError(param, f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters")
    return attributes


def sort_order(text: str | None, param: str = "sort") -> SortOrder:
    if not text:
        return SortOrder.RECENT
    try:
        return SortOrder(text.strip().lower())
    except ValueError:
        raise ParamError(param, f"{text!r} is not one of {', '.join(o.value for o in SortOrder)}") from None


def duration_scope(text: str | None, param: str = "durationScope",
                   default: DurationScope = DurationScope.TRACE) -> DurationScope:
    if not text:
        return default
    try:
        return DurationScope(text.strip().lower())
    except ValueError:
        raise ParamError(param, f"{text!r} is not one of trace, span") from None


def limit(text: str | None, param: str = "limit") -> int:
    if not text:
        return DEFAULT_LIMIT
    value = integer(text, param, minimum=0, maximum=MAX_SEARCH_LIMIT)
    return value or DEFAULT_LIMIT  # Jaeger treats 0 as "the default"


def now_ns() -> int:
    return time.time_ns()


def boolean(text: str | None, param: str) -> bool:
    """Go's strconv.ParseBool spellings, which Jaeger's query service accepts."""
    if not text:
        return False
    value = text.strip()
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ParamError(param, f"{text!r} is not a boolean (true or false)")


def v1_trace_query(q: Mapping[str, str], tags: Sequence[str],
                   default_scope: DurationScope = DurationScope.TRACE) -> TraceQuery:
    """/api/traces and /api/search parameters (Jaeger v1 names, plus sort and durationScope).

    `default_scope` is what min/maxDuration mean when durationScope is absent: the Jaeger route passes
    SPAN (Jaeger's meaning), tracehouse's own /api/search keeps TRACE."""
    start = integer(q["start"], "start", minimum=0) * 1000 if q.get("start") else None
    end = integer(q["end"], "end", minimum=0) * 1000 if q.get("end") else None
    if q.get("lookback") and q["lookback"] != "custom" and start is None:
        start = (end if end is not None else now_ns()) - lookback_ns(q["lookback"])
    if start is not None and end is not None and start > end:
        raise ParamError("start", "must not be after end")
    min_d = go_duration_ns(q["minDuration"], "minDuration") if q.get("minDuration") else None
    max_d = go_duration_ns(q["maxDuration"], "maxDuration") if q.get("maxDuration") else None
    if min_d is not None and max_d is not None and min_d > max_d:
        raise ParamError("minDuration", "must not be greater than maxDuration")
    attributes = attribute_map(q.get("tags"), "tags")
    attributes.update(tag_pairs(tags))
    return TraceQuery(
        service=q.get("service") or None,
        operation=q.get("operation") or None,
        span_kind=span_kind(q.get("spanKind"), "spanKind"),
        attributes=check_attributes(attributes, "tags"),
        start_time_min_ns=start,
        start_time_max_ns=end,
        duration_min_ns=min_d,
        duration_max_ns=max_d,
        duration_scope=duration_scope(q.get("durationScope"), default=default_scope),
        limit=limit(q.get("limit")),
        sort=sort_order(q.get("sort")),
    )


def _v3(q: Mapping[str, str], *names: str) -> tuple[str, str | None]:
    """The first of `names` present: Jaeger's v3 gateway takes camelCase names and, deprecated,
    snake_case ones (query_parser.go); the Jaeger UI's client still sends some snake_case ones."""
    for name in names:
        if q.get(name):
            return name, q[name]
    return names[0], None


def v3_trace_query(q: Mapping[str, str], require_window: bool = False) -> TraceQuery:
    """/api/v3/traces and /api/v3/trace-summaries parameters (query.*), plus query.sort and
    query.durationScope. Duration filters match spans, as in Jaeger, unless query.durationScope=trace.
    `require_window`: refuse a request without both start times, as Jaeger does."""
    p_min, t_min = _v3(q, "query.startTimeMin", "query.start_time_min")
    p_max, t_max = _v3(q, "query.startTimeMax", "query.start_time_max")
    if require_window and (not t_min or not t_max):
        raise ParamError(p_min if not t_min else p_max,
                         "query.startTimeMin and query.startTimeMax are required (RFC 3339 times)")
    start = rfc3339_ns(t_min, p_min) if t_min else None
    end = rfc3339_ns(t_max, p_max) if t_max else None
    if start is not None and end is not None and start > end:
        raise ParamError(p_min, f"must not be after {p_max}")
    p_dmin, d_min = _v3(q, "query.durationMin", "query.duration_min")
    p_dmax, d_max = _v3(q, "query.durationMax", "query.duration_max")
    min_d = go_duration_ns(d_min, p_dmin) if d_min else None
    max_d = go_duration_ns(d_max, p_dmax) if d_max else None
    if min_d is not None and max_d is not None and min_d > max_d:
        raise ParamError(p_dmin, f"must not be greater than {p_dmax}")
    p_depth, depth = _v3(q, "query.searchDepth", "query.num_traces", "query.search_depth")
    p_attrs, attrs = _v3(q, "query.attributes")
    p_kind, kind = _v3(q, "query.spanKind", "query.span_kind")
    p_scope, scope = _v3(q, "query.durationScope", "query.duration_scope")
    p_raw, raw = _v3(q, "query.rawTraces", "query.raw_traces")
    boolean(raw, p_raw)  # validated; tracehouse never adjusts stored spans, so every trace is raw
    return TraceQuery(
        service=_v3(q, "query.serviceName", "query.service_name")[1],
        operation=_v3(q, "query.operationName", "query.operation_name", "query.span_name")[1],
        span_kind=span_kind(kind, p_kind),
        attributes=check_attributes(attribute_map(attrs, p_attrs), p_attrs),
        start_time_min_ns=start,
        start_time_max_ns=end,
        duration_min_ns=min_d,
        duration_max_ns=max_d,
        duration_scope=duration_scope(scope, p_scope, default=DurationScope.SPAN),
        limit=limit(depth, p_depth),
        sort=sort_order(q.get("query.sort"), "query.sort"),
    )
