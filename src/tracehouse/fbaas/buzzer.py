"""buzzer: says whether a number is divisible by 5. Auto-instrumented: FlaskInstrumentor makes the span."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor

from tracehouse.fbaas.fizzbuzz import is_buzz
from tracehouse.fbaas.flask_base import json_flask_app
from tracehouse.fbaas.validation import parse_number_request

DEFAULT_PORT = 6002


def create_app() -> Flask:
    app = json_flask_app("buzzer")

    @app.post("/")
    def buzz() -> Response:
        number = parse_number_request(request.content_type, request.get_data())
        # The instrumentation made the span; the handler only adds what it alone knows.
        span = trace.get_current_span()
        span.set_attribute("fizzbuzz.number", number)
        buzz = is_buzz(number)
        span.set_attribute("fizzbuzz.buzz", buzz)
        return jsonify(number=number, buzz=buzz)

    # Health checks are not traffic worth tracing.
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz")  # type: ignore[no-untyped-call]
    return app
