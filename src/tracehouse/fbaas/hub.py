"""hub: the FBaaS front door. Asks fizzer and buzzer about a number and answers as the talk's hub did.

FastAPI, auto-instrumented: FastAPIInstrumentor makes the SERVER span and HTTPXClientInstrumentor a
CLIENT span per downstream call, injecting traceparent, tracestate and baggage into it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import Status, StatusCode
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracehouse.fbaas.fizzbuzz import answer
from tracehouse.fbaas.telemetry import configure, flush_on_exit_signals, package_version
from tracehouse.fbaas.validation import InvalidRequest, parse_number_request

DEFAULT_PORT = 6000
DEFAULT_TIMEOUT_MS = 2000
CALL_MODES = ("parallel", "sequential")
DOWNSTREAMS = ("fizzer", "buzzer")
PROPAGATION_HEADERS = ("traceparent", "tracestate", "baggage")


class DroppingTransport(httpx.AsyncBaseTransport):
    """Sits under the httpx instrumentation: the instrumentation makes the CLIENT span and injects
    the context into the headers, then this transport removes it on the way out for the services in
    `dropped` (by host:port), as a proxy that strips headers would. So that the demo can score the
    reconstruction, the CLIENT span records what was dropped: `fbaas.would_propagate` (the
    traceparent), `fbaas.downstream` and `fizzbuzz.number`. Reconstruction never reads fbaas.* or
    fizzbuzz.* attributes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, dropped: Mapping[str, str]) -> None:
        self.inner = inner
        self.dropped = dropped  # "host:port" -> service name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        service = self.dropped.get(f"{request.url.host}:{request.url.port}")
        if service is not None:
            span = trace.get_current_span()
            would = request.headers.get("traceparent")
            for header in PROPAGATION_HEADERS:
                request.headers.pop(header, None)
            if span.is_recording():
                span.set_attribute("fbaas.downstream", service)
                if would:
                    span.set_attribute("fbaas.would_propagate", would)
                try:
                    number = json.loads(request.content).get("number")
                except (ValueError, AttributeError):
                    number = None
                if isinstance(number, int):
                    span.set_attribute("fizzbuzz.number", number)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class HubConfig:
    fizzer_url: str = "http://localhost:6001"
    buzzer_url: str = "http://localhost:6002"
    timeout_seconds: float = DEFAULT_TIMEOUT_MS / 1000
    sequential: bool = False
    # Services the hub calls without propagating its context (no traceparent/tracestate/baggage):
    # what a service behind an old library, a proxy or a queue sees. For the reconstruction demo.
    no_propagation: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HubConfig:
        """FIZZER_URL, BUZZER_URL, FBAAS_TIMEOUT_MS, FBAAS_CALLS (parallel | sequential) and
        FBAAS_NO_PROPAGATION (comma-separated services among fizzer, buzzer; or `all`)."""
        env = os.environ if environ is None else environ
        raw_timeout = env.get("FBAAS_TIMEOUT_MS", "").strip() or str(DEFAULT_TIMEOUT_MS)
        try:
            timeout_ms = float(raw_timeout)
        except ValueError:
            timeout_ms = -1
        if timeout_ms <= 0:
            raise ValueError(f"FBAAS_TIMEOUT_MS must be a positive number of milliseconds, got {raw_timeout!r}")
        calls = env.get("FBAAS_CALLS", "").strip().lower() or "parallel"
        if calls not in CALL_MODES:
            raise ValueError(f"FBAAS_CALLS must be one of {', '.join(CALL_MODES)}, got {calls!r}")
        raw_dropped = env.get("FBAAS_NO_PROPAGATION", "").strip().lower()
        dropped = set(DOWNSTREAMS) if raw_dropped == "all" else {p.strip() for p in raw_dropped.split(",") if p.strip()}
        unknown = dropped - set(DOWNSTREAMS)
        if unknown:
            raise ValueError(f"FBAAS_NO_PROPAGATION names unknown services {', '.join(sorted(unknown))}; "
                             f"use {', '.join(DOWNSTREAMS)} or all")
        return cls(
            no_propagation=frozenset(dropped),
            fizzer_url=env.get("FIZZER_URL", "").strip() or cls.fizzer_url,
            buzzer_url=env.get("BUZZER_URL", "").strip() or cls.buzzer_url,
            timeout_seconds=timeout_ms / 1000,
            sequential=calls == "sequential",
        )


class DownstreamError(Exception):
    """fizzer or buzzer failed us: `status` is 502 (down or nonsense) or 504 (too slow)."""

    def __init__(self, service: str, status: int, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.message = message


class Downstream:
    """One of the two services the hub asks, and the one boolean it answers with."""

    def __init__(self, service: str, url: str, answer_key: str, timeout_seconds: float) -> None:
        self.service = service
        self.url = url
        self.answer_key = answer_key
        self.timeout_seconds = timeout_seconds

    async def ask(self, client: httpx.AsyncClient, number: int) -> bool:
        timeout_ms = round(self.timeout_seconds * 1000)
        try:
            # httpx's timeout bounds each phase (connect, write, read); this bounds the whole call.
            async with asyncio.timeout(self.timeout_seconds):
                response = await client.post(self.url, json={"number": number})
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise DownstreamError(self.service, 504, f"{self.service} did not answer within {timeout_ms} ms") from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise DownstreamError(self.service, 502, f"{self.service} is unreachable at {self.url}: {reason}") from exc
        if response.status_code != 200:
            raise DownstreamError(self.service, 502,
                                  f"{self.service} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            value = response.json()[self.answer_key]
        except (ValueError, KeyError, TypeError):
            value = None
        if not isinstance(value, bool):
            raise DownstreamError(self.service, 502, f"{self.service} sent an unexpected answer: {response.text[:200]}")
        return value


def error_json(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def record_failures(failures: list[DownstreamError]) -> None:
    """Mark the SERVER span (current in the handler) as failed, with one exception event per failure."""
    span = trace.get_current_span()
    for failure in failures:
        span.record_exception(failure)
    span.set_status(Status(StatusCode.ERROR, "; ".join(f.message for f in failures)))


def create_app(config: HubConfig) -> FastAPI:
    fizzer = Downstream("fizzer", config.fizzer_url, "fizz", config.timeout_seconds)
    buzzer = Downstream("buzzer", config.buzzer_url, "buzz", config.timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One pooled client for the process: connections to fizzer and buzzer are reused.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        dropped = {f"{httpx.URL(d.url).host}:{httpx.URL(d.url).port}": d.service
                   for d in (fizzer, buzzer) if d.service in config.no_propagation}
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_seconds),
            limits=limits,
            headers={"User-Agent": f"fbaas-hub/{package_version()}"},
            transport=DroppingTransport(httpx.AsyncHTTPTransport(limits=limits), dropped) if dropped else None,
        )
        HTTPXClientInstrumentor.instrument_client(client)
        app.state.client = client
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(title="FBaaS hub", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_json(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette still logs the traceback; the client gets JSON, not a stack trace.
        return error_json(500, "internal error in hub")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "hub"}

    @app.post("/")
    async def fizzbuzz(request: Request) -> JSONResponse:
        try:
            number = parse_number_request(request.headers.get("content-type"), await request.body())
        except InvalidRequest as exc:
            return error_json(exc.status, exc.message)
        client: httpx.AsyncClient = request.app.state.client
        if config.sequential:
            # The talk's hub: one call after the other, so the trace shows the two back to back.
            outcomes: list[bool | BaseException] = []
            for downstream in (fizzer, buzzer):
                try:
                    outcomes.append(await downstream.ask(client, number))
                except DownstreamError as exc:
                    outcomes.append(exc)
                    break
        else:
            outcomes = list(await asyncio.gather(fizzer.ask(client, number), buzzer.ask(client, number),
                                                 return_exceptions=True))
        failures = [o for o in outcomes if isinstance(o, DownstreamError)]
        unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, DownstreamError)]
        if unexpected:
            raise unexpected[0]
        if failures:
            record_failures(failures)
            status = 504 if any(f.status == 504 for f in failures) else 502
            return error_json(status, "; ".join(f.message for f in failures),
                              services=[f.service for f in failures])
        fizz, buzz = outcomes
        return JSONResponse(answer(number, bool(fizz), bool(buzz)))

    # Health checks are not traffic worth tracing; the ASGI receive/send sub-spans are noise here.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz", exclude_spans=["receive", "send"])
    return app


def serve(host: str, port: int, config: HubConfig) -> None:
    """Run the hub under uvicorn until SIGTERM/SIGINT, then flush pending spans."""
    telemetry = configure("hub")
    flush_on_exit_signals(telemetry)
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=10,
    ))
    try:
        server.run()
    finally:
        telemetry.shutdown()
