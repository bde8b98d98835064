"""fizzer: says whether a number is divisible by 3. Instrumented by hand, as in the talk.

The span is made the way any framework integration makes it: extract the caller's context from the
headers, start a SERVER span as its child, and record what we know about the request on it.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, jsonify, request
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind

from tracehouse.fbaas.fizzbuzz import is_fizz
from tracehouse.fbaas.flask_base import error_response, json_flask_app
from tracehouse.fbaas.telemetry import package_version
from tracehouse.fbaas.validation import InvalidRequest, parse_number_request

DEFAULT_PORT = 6001
NUMBER_ATTRIBUTE = "fizzbuzz.number"


def delay_from_env() -> float:
    """FIZZER_DELAY_MS: the talk's planted bottleneck, in seconds (default none)."""
    raw = os.environ.get("FIZZER_DELAY_MS", "").strip() or "0"
    try:
        delay_ms = float(raw)
    except ValueError:
        raise ValueError(f"FIZZER_DELAY_MS must be a number of milliseconds, got {raw!r}") from None
    if delay_ms < 0:
        raise ValueError(f"FIZZER_DELAY_MS must not be negative, got {raw!r}")
    return delay_ms / 1000


def create_app(delay_seconds: float | None = None) -> Flask:
    delay = delay_from_env() if delay_seconds is None else delay_seconds
    app = json_flask_app("fizzer")
    tracer = trace.get_tracer("tracehouse.fbaas.fizzer", package_version())

    @app.post("/")
    def fizz() -> Response | tuple[Response, int]:
        parent = propagate.extract(request.headers)
        # Attached, not just passed to the tracer, so the caller's baggage stays current in the
        # handler and would travel on with any call it makes.
        token = context.attach(parent)
        try:
            return handle(parent)
        finally:
            context.detach(token)

    def handle(parent: context.Context) -> Response | tuple[Response, int]:
        attributes = {
            "http.request.method": request.method,
            "http.route": "/",
            "url.path": request.path,
            "url.scheme": request.scheme,
            "user_agent.original": request.headers.get("User-Agent", ""),
        }
        with tracer.start_as_current_span("POST /", context=parent, kind=SpanKind.SERVER,
                                          attributes=attributes) as span:
            try:
                number = parse_number_request(request.content_type, request.get_data())
            except InvalidRequest as exc:
                span.set_attribute("http.response.status_code", exc.status)
                return error_response(exc.status, exc.message)
            span.set_attribute(NUMBER_ATTRIBUTE, number)
            if delay:
                time.sleep(delay)
            fizz = is_fizz(number)
            span.set_attribute("fizzbuzz.fizz", fizz)
            span.set_attribute("http.response.status_code", 200)
            return jsonify(number=number, fizz=fizz)

    return app
