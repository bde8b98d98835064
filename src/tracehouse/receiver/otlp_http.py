"""OTLP/HTTP receiver: POST /v1/traces, protobuf or JSON, plain or gzip (rules: docs/receiving.md)."""

from __future__ import annotations

import asyncio

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from tracehouse.access import GuardMiddleware, HostCheck, TokenCheck
from tracehouse.otlp.compression import decompress
from tracehouse.otlp.errors import BodyTooLargeError, DecodeError
from tracehouse.otlp.prepare import PreparedExport, prepare
from tracehouse.otlp.responses import JSON, PROTOBUF, encode, export_response, status_body
from tracehouse.receiver.ingest import Ingest, IngestClosedError, QueueFullError

# gRPC status codes used in google.rpc.Status bodies.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAVAILABLE = 14
_UNAUTHENTICATED = 16
_CONTENT_TYPES = (PROTOBUF, JSON)


def _error(http_status: int, grpc_code: int, message: str, content_type: str,
           headers: dict[str, str] | None = None) -> Response:
    return Response(status_body(grpc_code, message, content_type), status_code=http_status,
                    media_type=content_type, headers=headers)


def _busy(content_type: str) -> Response:
    return _error(503, _UNAVAILABLE, "the backend is receiving as many request bytes as it holds at once; retry in 1 s",
                  content_type, {"Retry-After": "1"})


class _Held:
    """Request bytes this request holds against the receivers' budget (Ingest.reserve_receive)."""

    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest
        self.bytes = 0

    def take(self, nbytes: int) -> bool:
        if not self._ingest.reserve_receive(nbytes):
            return False
        self.bytes += nbytes
        return True

    def release(self) -> None:
        self._ingest.release_receive(self.bytes)
        self.bytes = 0


def create_otlp_http_app(ingest: Ingest, max_body_bytes: int, decode_threads: int = 2,
                         retention_seconds: int = 0, tokens: tuple[str, ...] = (),
                         hosts: HostCheck | None = None) -> Starlette:
    """The OTLP/HTTP app. With `tokens`, a request must carry `Authorization: Bearer <one of them>`
    (401 otherwise, before its body is read); `hosts` is the DNS-rebinding check (loopback by default)."""
    # Decoding holds the GIL; more threads than cores would only queue bodies in memory.
    limiter = anyio.CapacityLimiter(decode_threads)
    token_check = TokenCheck(tokens)

    async def export(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not token_check.accepts_authorization(request.headers.get("authorization")):
            return _error(401, _UNAUTHENTICATED, "missing or wrong bearer token: send the header "
                          "`Authorization: Bearer <ingest token>` (OTEL_EXPORTER_OTLP_HEADERS)",
                          content_type if content_type in _CONTENT_TYPES else JSON,
                          {"WWW-Authenticate": 'Bearer realm="tracehouse-otlp"'})
        if content_type not in _CONTENT_TYPES:
            return _error(415, _INVALID_ARGUMENT,
                          f"unsupported Content-Type {content_type or '(none)'!r}; OTLP/HTTP takes "
                          f"{PROTOBUF} or {JSON}", JSON)
        if ingest.is_full():
            return _error(503, _UNAVAILABLE, str(QueueFullError(1)), content_type, {"Retry-After": "1"})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            return _error(413, _RESOURCE_EXHAUSTED, f"request body of {declared} bytes exceeds the limit of "
                          f"{max_body_bytes}", content_type)
        # The body counts against the receive budget from before it is read (its declared length,
        # else as it arrives) until the answer (Ingest.RECEIVE_BUDGET_BYTES).
        held = _Held(ingest)
        if declared and declared.isdigit() and not held.take(int(declared)):
            return _busy(content_type)
        try:
            chunks: list[bytes] = []
            size = 0
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_body_bytes:
                        return _error(413, _RESOURCE_EXHAUSTED, f"request body exceeds the limit of {max_body_bytes} "
                                      "bytes", content_type)
                    # No (or a short) declared length: count the body against the budget as it comes.
                    if size > held.bytes and not held.take(size - held.bytes):
                        return _busy(content_type)
                    chunks.append(chunk)
            except ClientDisconnect:
                return Response(status_code=400)
            body = b"".join(chunks)
            chunks.clear()   # a 64 MiB body is held once, not twice
            encoding = request.headers.get("content-encoding")

            def decode() -> PreparedExport:
                return prepare(decompress(body, encoding, max_body_bytes), content_type, ingest.limits,
                               retention_seconds)

            try:
                decoded = await anyio.to_thread.run_sync(decode, limiter=limiter)
            except BodyTooLargeError as exc:
                return _error(413, _RESOURCE_EXHAUSTED, str(exc), content_type)
            except DecodeError as exc:
                return _error(400, _INVALID_ARGUMENT, str(exc), content_type)
            try:
                future = ingest.submit_records(decoded.records)
            except QueueFullError as exc:
                return _error(503, _UNAVAILABLE, str(exc), content_type,
                              {"Retry-After": str(exc.retry_after_seconds)})
            except IngestClosedError as exc:
                return _error(503, _UNAVAILABLE, str(exc), content_type, {"Retry-After": "1"})
            try:
                await asyncio.wrap_future(future)
            except Exception as exc:  # the spool write failed: nothing of this request was kept; retryable
                return _error(503, _UNAVAILABLE, f"the spans could not be stored durably: {exc}", content_type,
                              {"Retry-After": "1"})
            return Response(encode(export_response(decoded.rejected, decoded.error_message), content_type),
                            media_type=content_type)
        finally:
            held.release()

    async def method_not_allowed(request: Request) -> Response:
        return _error(405, _INVALID_ARGUMENT, "use POST /v1/traces", JSON, {"Allow": "POST"})

    return Starlette(routes=[
        Route("/v1/traces", export, methods=["POST"]),
        Route("/v1/traces", method_not_allowed, methods=["GET", "PUT", "DELETE", "PATCH"]),
    ], middleware=[Middleware(GuardMiddleware, hosts=hosts or HostCheck("127.0.0.1"))])
