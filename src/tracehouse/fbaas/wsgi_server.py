"""Serve a Flask service under gunicorn, with telemetry started in the worker after the fork.

gunicorn forks its worker from the process that configured it; threads (such as the OTel batch
exporter's) do not survive a fork, so tracing is configured in the `post_fork` hook and flushed in
`worker_exit`, which gunicorn calls in the worker on SIGTERM (graceful) and SIGINT/SIGQUIT (quick).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from tracehouse.fbaas.telemetry import Telemetry, configure

# One worker with threads: the fizzer's planted delay is a sleep, so threads keep it concurrent,
# and a single worker keeps one span exporter per service.
WORKER_THREADS = 16


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class FlaskService(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, service: str, create_app: Callable[[], Flask], host: str, port: int) -> None:
        self.service = service
        self.create_app = create_app
        self.telemetry: Telemetry | None = None
        self.options: dict[str, Any] = {
            "bind": bind_address(host, port),
            "workers": 1,
            "worker_class": "gthread",
            "threads": WORKER_THREADS,
            "proc_name": f"fbaas-{service}",
            "loglevel": "warning",
            "accesslog": None,
            "graceful_timeout": 10,
            "post_fork": self._post_fork,
            "worker_exit": self._worker_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # Newer gunicorns open a control socket in ~/.gunicorn, shared by every instance; we need none.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        # Runs in the worker, after post_fork: the app and its instrumentation see the real provider.
        return self.create_app()

    def _post_fork(self, server: Any, worker: Any) -> None:
        self.telemetry = configure(self.service)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self.telemetry is not None:
            self.telemetry.shutdown()


def serve_flask(service: str, create_app: Callable[[], Flask], host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT; the worker flushes its spans before it exits."""
    FlaskService(service, create_app, host, port).run()
