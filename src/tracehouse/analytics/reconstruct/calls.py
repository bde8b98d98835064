"""The spans reconstruction looks at, and the attribute hints both ends of a call may carry."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

SYNC_CALLER, SYNC_CALLEE = "CLIENT", "SERVER"
ASYNC_CALLER, ASYNC_CALLEE = "PRODUCER", "CONSUMER"
CALLERS = (SYNC_CALLER, ASYNC_CALLER)
CALLEES = (SYNC_CALLEE, ASYNC_CALLEE)


@dataclass(slots=True)
class CallSpan:
    """One SERVER/CLIENT/PRODUCER/CONSUMER span. Ids are lowercase hex; times in ns, each on its own
    service's clock. `target` (a caller: where the call went; a callee: the address it was reached
    at) and `path`/`size` (both sides) are hints taken from the span's attributes; None when the
    span does not carry them."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    service: str
    name: str
    kind: str
    start: int
    end: int
    target: str | None = None
    path: str | None = None
    size: int | None = None
    response_size: int | None = None
    correlation: str | None = None
    query: str | None = None
    status: int | None = None


# Attribute names, new semantic conventions first, then the older ones SDKs still send.
_ADDRESS = ("server.address", "net.peer.name", "net.peer.ip", "messaging.destination.name", "peer.service")
_PORT = ("server.port", "net.peer.port")
# What a callee records about where it was reached (client.* and net.peer.* are the caller's side).
_OWN_ADDRESS = ("server.address", "net.host.name", "http.host", "messaging.destination.name")
_OWN_PORT = ("server.port", "net.host.port")
_URL = ("url.full", "http.url")
_PATH = ("url.path", "http.target")
_QUERY = ("url.query",)
_STATUS = ("http.response.status_code", "http.status_code")
_SIZE = ("http.request.body.size", "http.request_content_length", "messaging.message.body.size",
         "rpc.message.uncompressed_size")
_RESPONSE_SIZE = ("http.response.body.size", "http.response_content_length")
# Ids both ends of one call or message record. OpenTelemetry's messaging conventions put the message
# id on the PRODUCER and on the CONSUMER span (`messaging.message_id` before semconv 1.17: Celery,
# pika, botocore's SQS); a captured request-id header (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*)
# is recorded by the client and the server alike. A request-id may be shared by every call of one
# request (services pass it along): it then narrows the callers to that request, not to one call.
_CORRELATION = ("messaging.message.id", "messaging.message_id", "http.request.header.x-request-id",
                "http.request.header.x-correlation-id")


class Hints(NamedTuple):
    target: str | None
    path: str | None
    size: int | None
    response_size: int | None
    correlation: str | None
    query: str | None
    status: int | None


def _first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _size(raw: Any) -> int | None:
    numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
    if numeric or (isinstance(raw, str) and raw.isdigit()):
        return int(raw)
    return None


def _correlation(attrs: dict[str, Any]) -> str | None:
    for name in _CORRELATION:
        value = attrs.get(name)
        if isinstance(value, list | tuple):  # captured headers are arrays of strings
            value = ",".join(str(v) for v in value)
        if value is not None and value != "":
            return f"{'m' if name.startswith('messaging') else 'h'}:{value}"
    return None


def hints(kind: str, attrs: dict[str, Any]) -> Hints:
    """(target, path, size, response size, correlation id, query, status) of a span from its attributes.

    A caller's target is where it sent the call (address:port, or the messaging destination): the
    engine learns which callee each target reaches. A callee's target is where it was reached;
    when both ends name a port (or a destination) and they differ, the pair is ruled out. Both
    sides' path is the concrete request path (never a route template: '/users/{id}' cannot be
    compared with '/users/7'), and the size the request body's bytes; when both sides carry one
    and they differ, the pair is ruled out; the same for the response body's bytes and for a
    correlation id (a message id, a captured request-id header), the query string (`url.full`'s
    or `http.target`'s after the '?', or `url.query`; '' when the side records its path and there is
    no query: the stable conventions leave `url.query` out when it is empty) and the response's
    status code (`http.response.status_code`, `http.status_code`: both ends see the same one).
    """
    target: str | None = None
    path: str | None = None
    query: str | None = None
    url = _first(attrs, _URL)
    if kind in CALLERS:
        address, port = _first(attrs, _ADDRESS), _first(attrs, _PORT)
        parts = None
        if url is not None:
            try:
                parts = urlsplit(str(url))
            except ValueError:
                parts = None
        if address is None and parts is not None and parts.hostname:
            address = parts.hostname
            with contextlib.suppress(ValueError):  # a port that is not a number
                port = port if port is not None else parts.port
        if address is not None:
            target = f"{address}:{port}" if port is not None else str(address)
        if parts is not None and parts.path:
            path = parts.path
            query = parts.query
    else:
        address, port = _first(attrs, _OWN_ADDRESS), _first(attrs, _OWN_PORT)
        if address is not None:
            host = str(address)
            if ":" in host and host.rpartition(":")[2].isdigit():  # http.host, net.host.name may carry it
                host, _, own = host.rpartition(":")
                port = port if port is not None else own
            target = f"{host}:{port}" if port is not None else host
        elif port is not None:  # the port alone (server.port without server.address) still rules out
            target = f"*:{port}"
    if kind not in CALLERS:
        path, query = _served_path(attrs, url)
    if path is not None:
        # servers record the decoded path (WSGI's PATH_INFO, ASGI's scope path), clients the URL
        path = unquote(path)
    if query is not None:
        query = unquote(query)
    return Hints(target, path, _size(_first(attrs, _SIZE)), _size(_first(attrs, _RESPONSE_SIZE)),
                 _correlation(attrs), query, _size(_first(attrs, _STATUS)))


def _served_path(attrs: dict[str, Any], url: Any) -> tuple[str | None, str | None]:
    """(path, query) as the callee recorded them. The query is None where the span cannot say:
    the ASGI instrumentation's old conventions put the path alone in `http.target` (the query only
    in the server's `http.url`), WSGI's put both; the stable ones split `url.path` and `url.query`
    and leave out an empty `url.query`, so a `url.path` alone means no query."""
    raw_query = _first(attrs, _QUERY)
    path_attr = attrs.get("url.path")
    target = attrs.get("http.target")
    if path_attr:
        return str(path_attr), str(raw_query).lstrip("?") if raw_query is not None else ""
    if url is not None:
        try:
            parts = urlsplit(str(url))
        except ValueError:
            parts = None
        if parts is not None and parts.path:
            return parts.path, parts.query
    if target:
        path, mark, query = str(target).partition("?")
        if raw_query is not None:
            return path, str(raw_query).lstrip("?")
        return path, query if mark else None
    return None, None


@functools.lru_cache(maxsize=4096)  # a window holds few distinct targets and many pairs
def same_place(caller_target: str | None, callee_target: str | None) -> bool:
    """False only when both ends say where the call went and they disagree: different ports (host
    names are not compared: one side's localhost is the other's 127.0.0.1), or, without ports,
    different names (messaging destinations)."""
    if caller_target is None or callee_target is None:
        return True
    _, a_sep, a_port = caller_target.rpartition(":")
    _, b_sep, b_port = callee_target.rpartition(":")
    if a_sep and b_sep and a_port.isdigit() and b_port.isdigit():
        return a_port == b_port
    if not a_sep and not b_sep:
        return caller_target == callee_target
    return True
