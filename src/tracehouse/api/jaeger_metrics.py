"""Jaeger's Service Performance Monitoring API (/api/metrics/{latencies,calls,errors} and
/api/metrics/minstep), which the Jaeger UI's Monitor tab calls, answered from the stored spans.

Parameters as Jaeger's query service parses them (query_parser.go): `service` (repeated; at least
one), `spanKind` (repeated; default server), `groupByOperation`, `endTs` (unix ms; default now),
`lookback`, `step` and `ratePer` (ms; defaults 1 h, 5 s, 10 min), and `quantile` (latencies only,
required). Answers are MetricFamily JSON; errors use Jaeger's v1 envelope.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.jaeger_v1 import envelope, error
from tracehouse.api.responses import json_response
from tracehouse.model import SpanMetricsQuery
from tracehouse.query.service import QueryService
from tracehouse.query.span_metrics import MetricKind
from tracehouse.store import StoreError

MS = 10**6
DEFAULT_LOOKBACK_MS = 3600 * 1000
DEFAULT_STEP_MS = 5 * 1000
DEFAULT_RATE_PER_MS = 10 * 60 * 1000
# The step the Monitor tab may ask for: any, since the metrics are computed from spans; Jaeger's
# Prometheus reader answers its scrape interval, 1 s by default.
MIN_STEP_MS = 1000
# Prometheus refuses a range query of more than 11,000 points per series; so does tracehouse.
MAX_POINTS = 11_000


def _services(values: Sequence[str]) -> tuple[str, ...]:
    # The Jaeger UI joins several services as "service=a,service=b" inside one value; split them.
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().removeprefix("service=")
            if name:
                names.append(name)
    if not names:
        raise params.ParamError("service", "please provide at least one service name")
    return tuple(dict.fromkeys(names))


def _kinds(values: Sequence[str]) -> tuple[str, ...]:
    kinds = [params.span_kind(v.removeprefix("SPAN_KIND_").removeprefix("span_kind_"), "spanKind")
             for v in values if v]
    return tuple(dict.fromkeys(k for k in kinds if k)) or ("SERVER",)


def _milliseconds(text: str | None, param: str, default: int, minimum: int) -> int:
    return default if not text else params.integer(text, param, minimum=minimum)


def metrics_query(request: Request, quantile: float | None) -> SpanMetricsQuery:
    q = request.query_params
    end_ms = _milliseconds(q.get("endTs"), "endTs", time.time_ns() // MS, 0)
    lookback = _milliseconds(q.get("lookback"), "lookback", DEFAULT_LOOKBACK_MS, 0)
    step = _milliseconds(q.get("step"), "step", DEFAULT_STEP_MS, 1)
    rate_per = _milliseconds(q.get("ratePer"), "ratePer", DEFAULT_RATE_PER_MS, 1)
    if lookback // step + 1 > MAX_POINTS:
        raise params.ParamError("step", f"lookback/step gives more than {MAX_POINTS} points; use a larger step")
    return SpanMetricsQuery(
        services=_services(q.getlist("service")),
        span_kinds=_kinds(q.getlist("spanKind")),
        group_by_operation=params.boolean(q.get("groupByOperation"), "groupByOperation"),
        end_ns=end_ms * MS, lookback_ns=lookback * MS, step_ns=step * MS, rate_per_ns=rate_per * MS,
        quantile=quantile,
    )


def _quantile(request: Request) -> float:
    text = request.query_params.get("quantile")
    if not text:
        raise params.ParamError("quantile", "required: a number between 0 and 1, e.g. 0.95")
    try:
        value = float(text)
    except ValueError:
        raise params.ParamError("quantile", f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise params.ParamError("quantile", "must be between 0 and 1")
    return value


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["Jaeger metrics (Monitor tab)"])

    def answer(kind: MetricKind, request: Request) -> Response:
        try:
            quantile = _quantile(request) if kind is MetricKind.LATENCIES else None
            return json_response(service.metrics(kind, metrics_query(request, quantile)))
        except params.ParamError as exc:
            return error(400, str(exc))
        except StoreError as exc:
            return error(500, str(exc))

    @api.get("/api/metrics/latencies")
    def latencies(request: Request) -> Response:
        return answer(MetricKind.LATENCIES, request)

    @api.get("/api/metrics/calls")
    def calls(request: Request) -> Response:
        return answer(MetricKind.CALLS, request)

    @api.get("/api/metrics/errors")
    def errors(request: Request) -> Response:
        return answer(MetricKind.ERRORS, request)

    @api.get("/api/metrics/minstep")
    def minstep() -> Response:
        body = envelope(MIN_STEP_MS)
        body["total"] = 0
        return json_response(body)

    return api
