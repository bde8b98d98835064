"""`tracehouse fbaas hub|fizzer|buzzer`: run one FBaaS service in this process.

Imports of the services happen inside the commands, so other commands do not pay for FastAPI,
Flask and the OTel instrumentations at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import click

HOST_OPTION = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")


def _port_option(default: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option("--port", type=click.IntRange(1, 65535), default=default, show_default=True,
                        help="Port to listen on.")


@click.group()
def fbaas() -> None:
    """Run one FBaaS service (hub, fizzer or buzzer) in this process.

    FBaaS is FizzBuzz as a Service, the example system of "Implementing Distributed Tracing"
    (PyCascades 2023). Tracing is configured by the standard OTEL_* environment variables and
    exported over OTLP (default: gRPC to localhost:4317). See docs/fbaas.md.
    """


@fbaas.command()
@HOST_OPTION
@_port_option(6000)
def hub(host: str, port: int) -> None:
    """The hub (FastAPI on uvicorn): POST / {"number": n} answers "Fizz!", "Buzz!", "Fizzbuzz!" or n.

    Reads FIZZER_URL, BUZZER_URL, FBAAS_TIMEOUT_MS and FBAAS_CALLS (parallel | sequential).
    """
    from tracehouse.fbaas import hub as hub_service

    try:
        config = hub_service.HubConfig.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    hub_service.serve(host, port, config)


@fbaas.command()
@HOST_OPTION
@_port_option(6001)
def fizzer(host: str, port: int) -> None:
    """fizzer (Flask on gunicorn, instrumented by hand): is the number divisible by 3?

    FIZZER_DELAY_MS plants the talk's bottleneck: a sleep inside the fizzer's span.
    """
    from tracehouse.fbaas import fizzer as fizzer_service
    from tracehouse.fbaas.wsgi_server import serve_flask

    try:
        delay = fizzer_service.delay_from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    serve_flask("fizzer", partial(fizzer_service.create_app, delay), host, port)


@fbaas.command()
@HOST_OPTION
@_port_option(6002)
def buzzer(host: str, port: int) -> None:
    """buzzer (Flask on gunicorn, auto-instrumented): is the number divisible by 5?"""
    from tracehouse.fbaas import buzzer as buzzer_service
    from tracehouse.fbaas.wsgi_server import serve_flask

    serve_flask("buzzer", buzzer_service.create_app, host, port)
