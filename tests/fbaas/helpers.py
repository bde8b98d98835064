"""Helpers for real processes on free ports: the FBaaS services and the tracehouse backend.

Every process is started through `python -m tracehouse`, its output goes to a log file (shown when it
fails to come up), and its whole process tree is killed at teardown whatever the test did.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from bench.ports import free_ports

PYTHON_TRACEHOUSE = [sys.executable, "-m", "tracehouse"]
START_TIMEOUT = 60.0
SPANS_PER_REQUEST = 5


def free_port() -> int:
    return free_ports(1)[0]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test environment without anyone's OTel or FBaaS settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FBAAS_", "FIZZER_", "BUZZER_"))}
    env.update(extra or {})
    return env


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Proc:
    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("w")
        self.popen = subprocess.Popen(args, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, url: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.popen.returncode} before it was healthy:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not healthy at {url} after {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the process and wait for it; returns its exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_tree()
            pytest.fail(f"{self.name} did not exit within {timeout} s of signal {sig}:\n{self.log()}")

    def kill_tree(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(self.popen.pid)
            for process in [*parent.children(recursive=True), parent]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        self._log.close()


@dataclass
class Service:
    name: str
    port: int
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Backend:
    grpc_port: int
    http_port: int
    query_port: int
    proc: Proc

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.query_port}"

    @property
    def otlp_env(self) -> dict[str, str]:
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.grpc_port}",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}

    def sql(self, text: str) -> list[dict[str, Any]]:
        response = httpx.post(f"{self.query_url}/api/sql", json={"sql": text}, timeout=30.0)
        assert response.status_code == 200, response.text
        body = response.json()
        return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]

    def spans_of_traces_since(self, start_ns: int) -> list[dict[str, Any]]:
        """Every span of the traces whose hub root span started at or after `start_ns`."""
        # Only an integer is interpolated.
        return self.sql(
            "SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, status_code, "  # noqa: S608
            "epoch_ns(start_time) AS start_ns, epoch_ns(end_time) AS end_ns, attributes, resource_attributes, "
            "events FROM spans WHERE trace_id IN (SELECT trace_id FROM spans WHERE parent_span_id IS NULL "
            f"AND service_name = 'hub' AND epoch_ns(start_time) >= {int(start_ns)}) ORDER BY start_time"
        )

    def wait_for_spans_since(self, start_ns: int, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(spans := self.spans_of_traces_since(start_ns)) < count:
            if time.monotonic() > deadline:
                stored = self.sql("SELECT service_name, count(*) AS n FROM spans GROUP BY 1")
                pytest.fail(f"{len(spans)} of {count} spans of the new traces arrived in {timeout} s; the store "
                            f"holds {stored}; backend log:\n{self.proc.log()[-3000:]}")
            time.sleep(0.1)
        return spans


class Processes:
    """Starts processes and kills every one of them (with its children) at close."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Proc:
        proc = Proc(name, args, env, self.log_dir / f"{name}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc

    def service(self, name: str, env: Mapping[str, str] | None = None, port: int | None = None) -> Service:
        port = port or free_port()
        proc = self.start(name, [*PYTHON_TRACEHOUSE, "fbaas", name, "--port", str(port)], clean_env(env))
        service = Service(name, port, proc)
        proc.wait_healthy(f"{service.url}/healthz")
        return service

    def fbaas(self, env: Mapping[str, str] | None = None, hub_env: Mapping[str, str] | None = None,
              fizzer_env: Mapping[str, str] | None = None) -> tuple[Service, Service, Service]:
        """fizzer, buzzer and a hub wired to them; (hub, fizzer, buzzer)."""
        fizzer = self.service("fizzer", {**(env or {}), **(fizzer_env or {})})
        buzzer = self.service("buzzer", env)
        hub = self.service("hub", {**(env or {}), "FIZZER_URL": fizzer.url, "BUZZER_URL": buzzer.url,
                                   **(hub_env or {})})
        return hub, fizzer, buzzer

    def backend(self, data_dir: Path) -> Backend:
        grpc_port, http_port, query_port = free_ports(3)
        proc = self.start("backend", [*PYTHON_TRACEHOUSE, "up", "--data", str(data_dir),
                                      "--otlp-grpc-port", str(grpc_port), "--otlp-http-port", str(http_port),
                                      "--query-port", str(query_port)], clean_env())
        backend = Backend(grpc_port, http_port, query_port, proc)
        proc.wait_healthy(f"{backend.query_url}/healthz")
        return backend

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.kill_tree()


def post_number(url: str, body: Any = None, *, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> httpx.Response:
    """POST to a service: `body` as JSON, or raw `content` with the given headers."""
    if content is not None:
        return httpx.post(url, content=content, headers=dict(headers or {}), timeout=timeout)
    return httpx.post(url, json=body, headers=dict(headers or {}), timeout=timeout)


def run_cli(*args: str, timeout: float = 120.0, env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run `tracehouse ARGS` to completion; a wide terminal so rich does not wrap lines."""
    return subprocess.run([*PYTHON_TRACEHOUSE, *args], capture_output=True, text=True, timeout=timeout,
                          env=clean_env({"COLUMNS": "200", **(env or {})}), stdin=subprocess.DEVNULL)
