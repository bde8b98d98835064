"""`tracehouse up`: the receivers, the ingest pipeline, retention and the query port, in one process.

One asyncio loop serves both HTTP ports through uvicorn (the OTLP receiver and the query API/UI);
grpc runs its own threads; the ingest commit thread owns the store's writes. Shutdown stops the listeners
first, so no request is answered after the spool closes, then stores everything spooled.

Start-up comes in two steps (ADR 12, "acknowledge before the store"): the receivers need only the
spool to acknowledge, so they serve as soon as the ports are bound and the spool is open, with
nothing heavier than grpc, uvicorn and protobuf imported. The store (DuckDB, pyarrow), the decode
worker, the query API and the UI are loaded next, in the background; until then the query port
answers 503 "starting" with Retry-After, and what is acknowledged waits in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import orjson
import uvicorn

from tracehouse.access import host_check, load_tokens
from tracehouse.otlp.limits import SpanLimits
from tracehouse.receiver.ingest import Ingest
from tracehouse.receiver.otlp_grpc import create_grpc_server
from tracehouse.receiver.otlp_http import create_otlp_http_app
from tracehouse.receiver.spool import Spool
from tracehouse.settings import Settings, run_file

if TYPE_CHECKING:
    # Loaded in the background once the receivers serve (module docstring): DuckDB, pyarrow, FastAPI.
    from tracehouse.analytics.reconstruct.runner import ContinuousReconstruction
    from tracehouse.query.service import QueryService
    from tracehouse.receiver.retention import Retention
    from tracehouse.receiver.sampling.policy_file import PolicyFile
    from tracehouse.receiver.sampling.tail import TailSampler
    from tracehouse.store import SpanWriter, Store

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


class StartupError(Exception):
    """`tracehouse up` cannot start (or go on starting): the message says why in one line."""


def claim_data_dir(directory: Path, store_path: Path) -> int:
    """Create the data directory if needed and take its lock (flock on the directory itself, so no
    file is left behind): one backend per data directory, checked before the spool is touched,
    since the receivers now acknowledge before the store's own file lock is taken. Returns the fd
    that holds the lock for the life of the process."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create the data directory {directory}: {exc.strerror}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StartupError(f"the data directory {directory} is not writable ({errno.errorcode[errno.EACCES]})")
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        holder = ""
        with contextlib.suppress(OSError, ValueError, KeyError):
            holder = f" (pid {json.loads(run_file(directory).read_text())['pid']})"
        raise StartupError(f"{store_path} is locked: another tracehouse backend{holder} uses the data directory "
                           f"{directory}; stop it, or point --data at another directory") from exc
    return fd


class _QueryPort:
    """The query port's ASGI app: 503 "starting" (Retry-After: 1) until the store is open and the
    query API and UI are built, then the API and UI themselves."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        self.state = "starting: opening the store"

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        app = self.app
        if app is not None:
            await app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # lifespan is off for this port; a websocket is refused by not accepting it
        body = orjson.dumps({"status": "starting", "detail": self.state})
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"), (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
        await send({"type": "http.response.body", "body": body})


def _load_policy_file(settings: Settings) -> PolicyFile | None:
    """The `--sampling FILE` policies, read before anything binds (a bad file fails the start at once)."""
    if settings.sampling_file is None:
        return None
    from tracehouse.receiver.sampling.policy_file import PolicyError, load_policy_file

    try:
        return load_policy_file(settings.sampling_file)
    except PolicyError as exc:
        raise StartupError(str(exc)) from exc


def _tail_sampler(policy_file: PolicyFile | None, store: Store) -> TailSampler | None:
    """The tail sampler of `--sampling FILE`, or None. Raises PolicyError if the store cannot sample."""
    if policy_file is None or not policy_file.policies:
        return None    # none, or a file with only `remote:` strategies for SDKs: every trace received is kept
    from tracehouse.receiver.sampling.policy_file import PolicyError
    from tracehouse.receiver.sampling.tail import TailSampler
    from tracehouse.store import SamplingStore

    if not isinstance(store, SamplingStore):
        raise PolicyError(f"this store ({type(store).__name__}) cannot hold spans for tail sampling")
    return TailSampler(store, policy_file)


# How often a start waits again for a store another process holds (StoreBusyError).
STORE_BUSY_RETRY_SECONDS = 0.5


class BackendServer:
    def __init__(self, settings: Settings, open_store: Callable[[], Store]) -> None:
        """Claims the data directory and reads the sampling policies; the store is opened by `serve`,
        in the background, with `open_store` (which may raise StoreError)."""
        self.settings = settings
        self._open_store = open_store
        self._policy_file = _load_policy_file(settings)
        self._dir_lock = claim_data_dir(settings.data_dir, settings.store_path)
        self.store: Store | None = None
        self.sampler: TailSampler | None = None
        self.retention: Retention | None = None
        self.query_service: QueryService | None = None
        self.reconstruction: ContinuousReconstruction | None = None
        limits = SpanLimits(attribute_value_max_bytes=settings.attribute_value_max_bytes,
                            events_max=settings.span_events_max, links_max=settings.span_links_max,
                            span_max_bytes=settings.span_max_bytes)
        self.ingest = Ingest(None, Spool(settings.data_dir / "spool", reserve_bytes=settings.disk_reserve_bytes),
                             settings.queue_max_spans, settings.batch_max_spans, settings.decode_workers,
                             max_pending_bytes=settings.queue_max_bytes, limits=limits)
        self._query_port = _QueryPort()
        self._sockets: list[socket.socket] = []
        self._grpc: grpc.Server | None = None
        self._servers: list[_Server] = []
        self._opener: threading.Thread | None = None
        self._stopping = threading.Event()
        self._startup_error: str | None = None
        #: Set once the store is open and every part runs (tests and benchmarks wait on it).
        self.ready = threading.Event()

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
        """Acknowledge at once (spool only), open the store and the rest in the background, and serve
        until SIGINT/SIGTERM. Raises StartupError if the background start fails (after stopping)."""
        assert self._grpc is not None
        self.ingest.start_receiving()
        self._grpc.start()
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
            # lifespan off: the API has no start-up or shutdown handlers, and the app behind this
            # port changes once the store is open.
            _Server(uvicorn.Config(self._query_port, log_level="warning", access_log=False, lifespan="off",
                                   timeout_graceful_shutdown=5, **_tls(self.settings))),
        ]
        self._write_run_file(ports)
        self._opener = threading.Thread(target=self._open_the_rest, args=(ports,), name="tracehouse-start",
                                        daemon=True)
        self._opener.start()
        try:
            asyncio.run(self._serve_until_signal([[http_sock], [query_sock]]))
        finally:
            self._shutdown()
        if self._startup_error is not None:
            raise StartupError(self._startup_error)

    def _open_store_when_free(self) -> Store | None:
        """Open the store, waiting while another process holds it (None if stopped meanwhile)."""
        from tracehouse.store import StoreBusyError

        told = False
        while not self._stopping.is_set():
            try:
                return self._open_store()
            except StoreBusyError as exc:
                self._query_port.state = f"starting: waiting for the store: {exc}"
                if not told:
                    log.warning("waiting for the store (spans are acknowledged into the spool meanwhile): %s", exc)
                    told = True
                self._stopping.wait(STORE_BUSY_RETRY_SECONDS)
        return None

    def _open_the_rest(self, ports: BoundPorts) -> None:
        """The second step of the start (module docstring): store, pipeline, retention, API and UI."""
        try:
            from tracehouse.api.app import create_app
            from tracehouse.query.service import QueryService
            from tracehouse.receiver.retention import Retention

            store = self._open_store_when_free()
            if store is None:
                return
            self.store = store
            if self._stopping.is_set():
                return
            self.sampler = _tail_sampler(self._policy_file, store)
            writer: SpanWriter = store if self.sampler is None else self.sampler.writer()
            self._query_port.state = "starting: the decode worker"
            self.ingest.attach(writer)
            self.ingest.start()
            self.retention = Retention(self.ingest, self.settings.retention_seconds, self.settings.max_size_bytes,
                                       self.settings.retention_interval_seconds)
            self.retention.start()
            if self.sampler is not None:
                self.sampler.start(self.ingest)
            # Imports write through the ingest pipeline's commit thread, the store's one writer.
            self.query_service = QueryService(store, self.settings, run_write=self.ingest.run_task)
            if self.settings.reconstruct:
                self.reconstruction = self.query_service.continuous_reconstruction()
                self.reconstruction.start()
            self._query_port.state = "starting: the query API"
            self._query_port.app = create_app(self.query_service)
        except Exception as exc:
            from tracehouse.receiver.sampling.policy_file import PolicyError
            from tracehouse.store import StoreError

            if isinstance(exc, (StoreError, OSError, PolicyError)):
                self._startup_error = str(exc)
            else:
                log.exception("tracehouse could not start")
                self._startup_error = f"tracehouse could not start: {exc!r}"
            self._stop_serving()
            return
        self.ready.set()
        self.announce(ports)

    def _stop_serving(self) -> None:
        for server in self._servers:
            server.should_exit = True

    async def _serve_until_signal(self, sockets: list[list[socket.socket]]) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop_serving)
        if self._startup_error is not None:
            self._stop_serving()
        await asyncio.gather(*(server.serve(sockets=socks)
                               for server, socks in zip(self._servers, sockets, strict=True)))

    def _shutdown(self) -> None:
        # Listeners first: once they are closed no new export can be acknowledged.
        if self._grpc is not None:
            self._grpc.stop(grace=5).wait(6)
        # The background start stops at its next step (or its next wait for a busy store).
        self._stopping.set()
        if self._opener is not None:
            self._opener.join()
        if self.retention is not None:
            self.retention.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.reconstruction is not None:
            self.reconstruction.stop()
        # Without a store (it never opened), this only closes the spool: what was acknowledged stays
        # there, and the next start stores it.
        self.ingest.close(self.settings.shutdown_timeout_seconds)
        if self.store is not None:
            self.store.close()
        for sock in self._sockets:
            sock.close()
        with contextlib.suppress(FileNotFoundError):
            run_file(self.settings.data_dir).unlink()
        os.close(self._dir_lock)

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
