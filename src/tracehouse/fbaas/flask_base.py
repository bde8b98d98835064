"""What fizzer and buzzer share: a Flask app that answers JSON, errors included, and a health check."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from tracehouse.fbaas.validation import InvalidRequest

log = logging.getLogger(__name__)


def error_response(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def json_flask_app(service: str) -> Flask:
    """A Flask app whose every error, 404 and 500 included, is `{"error": "..."}` instead of HTML."""
    app = Flask(f"fbaas.{service}")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=service)

    @app.errorhandler(InvalidRequest)
    def invalid_request(exc: InvalidRequest) -> tuple[Response, int]:
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[Response, int]:
        # The traceback goes to the log, never to the client.
        log.exception("unhandled error in %s", service)
        return error_response(500, f"internal error in {service}")

    return app
