"""`tracehouse up`: the receivers, the ingest pipeline, retention and the query port, in one process.

One asyncio loop serves both HTTP ports through uvicorn (the OTLP receiver and the query API/UI);
grpc runs its own threads; the ingest commit thread owns the store's writes. Shutdown stops the listeners
first, so no request is answered after the spool closes, then stores everything spooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from tracehouse.access import host_check, load_tokens
from tracehouse.api.app import create_app
from tracehouse.otlp.limits import SpanLimits
from tracehouse.query.service import QueryService
from tracehouse.receiver.ingest import Ingest
from tracehouse.receiver.otlp_grpc import create_grpc_server
from tracehouse.receiver.otlp_http import create_otlp_http_app
from tracehouse.receiver.retention import Retention
from tracehouse.receiver.sampling.policy_file import PolicyError, load_policy_file
from tracehouse.receiver.sampling.tail import TailSampler
from tracehouse.receiver.spool import Spool
from tracehouse.settings import Settings, run_file
from tracehouse.store import SamplingStore, SpanWriter, Store

log = logging.getLogger("tracehouse")


class PortInUseError(Exception):
    def __init__(self, what: str, host: str, port: int, flag: str) -> None:
        super().__init__(f"port {port} on {host} ({what}) is already in use; stop what holds it or choose "
                         f"another port with {flag}")
        self.port = port


@dataclass(frozen=True)
class BoundPorts:
    otlp_grpc: int
    otlp_http: int
    query: int


def bind_socket(host: str, port: int, what: str, flag: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(what, host, port, flag) from exc
        raise OSError(f"cannot listen on {host}:{port} ({what}): {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    # Two servers share one loop; signals are handled once, by BackendServer.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _tail_sampler(settings: Settings, store: Store) -> TailSampler | None:
    """The tail sampler of `--sampling FILE`, or None. Raises PolicyError for a bad file."""
    if settings.sampling_file is None:
        return None
    policy_file = load_policy_file(settings.sampling_file)
    if not policy_file.policies:
        return None    # a file with only `remote:` strategies for SDKs: every trace received is kept
    if not isinstance(store, SamplingStore):
        raise PolicyError(f"this store ({type(store).__name__}) cannot hold spans for tail sampling")
    return TailSampler(store, policy_file)


class BackendServer:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.sampler = _tail_sampler(settings, store)
        writer: SpanWriter = store if self.sampler is None else self.sampler.writer()
        limits = SpanLimits(attribute_value_max_bytes=settings.attribute_value_max_bytes,
                            events_max=settings.span_events_max, links_max=settings.span_links_max,
                            span_max_bytes=settings.span_max_bytes)
        self.ingest = Ingest(writer, Spool(settings.data_dir / "spool", reserve_bytes=settings.disk_reserve_bytes),
                             settings.queue_max_spans, settings.batch_max_spans, settings.decode_workers,
                             max_pending_bytes=settings.queue_max_bytes, limits=limits)
        self.retention = Retention(self.ingest, settings.retention_seconds, settings.max_size_bytes,
                                   settings.retention_interval_seconds)
        # Imports write through the ingest pipeline's commit thread, the store's one writer.
        self.query_service = QueryService(store, settings, run_write=self.ingest.run_task)
        self.reconstruction = self.query_service.continuous_reconstruction() if settings.reconstruct else None
        self._sockets: list[socket.socket] = []
        self._grpc: grpc.Server | None = None
        self._servers: list[_Server] = []

    def recover(self) -> int:
        """Open the spool; what was acknowledged but not yet stored before a crash is replayed in the
        background once serving, so the ports open at once (ADR 12). Returns the backlog's bytes."""
        return self.ingest.recover()

    def bind(self) -> BoundPorts:
        """Claim every port before starting anything, so a port in use fails fast and cleanly."""
        s = self.settings
        http_sock = bind_socket(s.host, s.otlp_http_port, "OTLP/HTTP", "--otlp-http-port")
        self._sockets.append(http_sock)
        query_sock = bind_socket(s.host, s.query_port, "query API and UI", "--query-port")
        self._sockets.append(query_sock)
        if s.otlp_grpc_port:
            # Probe the port first: grpc reports a port in use with a log line of its own on stderr.
            bind_socket(s.host, s.otlp_grpc_port, "OTLP/gRPC", "--otlp-grpc-port").close()
        self._grpc = create_grpc_server(self.ingest, s.max_body_bytes, retention_seconds=s.retention_seconds,
                                        tokens=_ingest_tokens(s))
        try:
            grpc_port = _add_grpc_port(self._grpc, s)
        except RuntimeError as exc:
            raise PortInUseError("OTLP/gRPC", s.host, s.otlp_grpc_port, "--otlp-grpc-port") from exc
        if grpc_port == 0:
            raise PortInUseError("OTLP/gRPC", s.host, s.otlp_grpc_port, "--otlp-grpc-port")
        return BoundPorts(otlp_grpc=grpc_port, otlp_http=http_sock.getsockname()[1],
                          query=query_sock.getsockname()[1])

    def serve(self, ports: BoundPorts) -> None:
        assert self._grpc is not None
        self.ingest.start()
        self._grpc.start()
        self.retention.start()
        if self.sampler is not None:
            self.sampler.start(self.ingest)
        if self.reconstruction is not None:
            self.reconstruction.start()
        http_sock, query_sock = self._sockets
        self._servers = [
            _Server(uvicorn.Config(create_otlp_http_app(self.ingest, self.settings.max_body_bytes,
                                                        retention_seconds=self.settings.retention_seconds,
                                                        tokens=_ingest_tokens(self.settings),
                                                        hosts=host_check(self.settings.host,
                                                                         self.settings.allowed_hosts,
                                                                         bool(_ingest_tokens(self.settings)))),
                                   log_level="warning", access_log=False, timeout_graceful_shutdown=10,
                                   **_tls(self.settings))),
            _Server(uvicorn.Config(create_app(self.query_service), log_level="warning", access_log=False,
                                   timeout_graceful_shutdown=5, **_tls(self.settings))),
        ]
        self._write_run_file(ports)
        try:
            asyncio.run(self._serve_until_signal([[http_sock], [query_sock]]))
        finally:
            self._shutdown()

    async def _serve_until_signal(self, sockets: list[list[socket.socket]]) -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for server in self._servers:
                server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await asyncio.gather(*(server.serve(sockets=socks)
                               for server, socks in zip(self._servers, sockets, strict=True)))

    def _shutdown(self) -> None:
        # Listeners first: once they are closed no new export can be acknowledged.
        if self._grpc is not None:
            self._grpc.stop(grace=5).wait(6)
        self.retention.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.reconstruction is not None:
            self.reconstruction.stop()
        self.ingest.close(self.settings.shutdown_timeout_seconds)
        self.store.close()
        for sock in self._sockets:
            sock.close()
        with contextlib.suppress(FileNotFoundError):
            run_file(self.settings.data_dir).unlink()

    def _write_run_file(self, ports: BoundPorts) -> None:
        host = self.settings.host
        url_host = f"[{host}]" if ":" in host else host
        scheme = _scheme(self.settings)
        info = {
            "pid": os.getpid(),
            "started": time.time(),
            "query_url": f"{scheme}://{url_host}:{ports.query}",
            "otlp_grpc": f"{url_host}:{ports.otlp_grpc}",
            "otlp_http": f"{scheme}://{url_host}:{ports.otlp_http}",
            "data_dir": str(self.settings.data_dir.resolve()),
            # Where local CLIs find what they need to talk to this backend (paths, never secrets).
            "tls_cert_file": _absolute(self.settings.tls_cert_file),
            "query_token_file": _absolute(self.settings.query_token_file),
        }
        path = run_file(self.settings.data_dir)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(path)

    def announce(self, ports: BoundPorts) -> None:
        host = self.settings.host
        scheme = _scheme(self.settings)
        print(
            f"tracehouse is up (pid {os.getpid()})\n"
            f"  OTLP/gRPC   {host}:{ports.otlp_grpc}{' (TLS)' if scheme == 'https' else ''}\n"
            f"  OTLP/HTTP   {scheme}://{host}:{ports.otlp_http}/v1/traces\n"
            f"  UI and API  {scheme}://{host}:{ports.query}/\n"
            f"  data        {self.settings.data_dir.resolve()}\n"
            "Press Ctrl-C to stop.",
            file=sys.stderr, flush=True,
        )


# ---- Access control and TLS (docs/security.md). `tracehouse up` has checked the files before we get here.

def _ingest_tokens(s: Settings) -> tuple[str, ...]:
    return load_tokens(s.ingest_token, s.ingest_token_file, "--ingest-token", "--ingest-token-file")


def _scheme(s: Settings) -> str:
    return "https" if s.tls_cert_file else "http"


def _absolute(path: str) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


def _tls(s: Settings) -> dict[str, Any]:
    """uvicorn's TLS options: the same certificate on both HTTP ports."""
    if not s.tls_cert_file:
        return {}
    return {"ssl_certfile": s.tls_cert_file, "ssl_keyfile": s.tls_key_file or None}


def _add_grpc_port(server: grpc.Server, s: Settings) -> int:
    address = f"{s.host}:{s.otlp_grpc_port}"
    if not s.tls_cert_file:
        return server.add_insecure_port(address)
    key = Path(s.tls_key_file or s.tls_cert_file).expanduser().read_bytes()
    chain = Path(s.tls_cert_file).expanduser().read_bytes()
    return server.add_secure_port(address, grpc.ssl_server_credentials([(key, chain)]))
