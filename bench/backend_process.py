"""Start and stop a real `tracehouse up` for benchmarks, on free ports in a fresh data directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


class Backend:
    def __init__(self, data_dir: Path, *extra_args: str, env: dict[str, str] | None = None,
                 http_options: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        self.http_options = http_options or {}  # httpx options for the query API: token header, TLS trust
        cmd = [sys.executable, "-m", "tracehouse", "up", "--data", str(data_dir), "--otlp-grpc-port", "0",
               "--otlp-http-port", "0", "--query-port", "0", *extra_args]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.info = self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run_file = self.data_dir / "server.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backend exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            if run_file.exists():
                info: dict[str, Any] = json.loads(run_file.read_text())
                try:
                    if httpx.get(f"{info['query_url']}/healthz", timeout=2,
                                 **self.http_options).status_code == 200:
                        return info
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise TimeoutError("backend did not become ready")

    @property
    def query_url(self) -> str:
        return str(self.info["query_url"])

    def sql(self, query: str) -> list[list[Any]]:
        r = httpx.post(f"{self.query_url}/api/sql", json={"sql": query}, timeout=120, **self.http_options)
        if r.is_error:
            raise RuntimeError(f"{query!r} failed: HTTP {r.status_code} {r.text}")
        rows: list[list[Any]] = r.json()["rows"]
        return rows

    def _tree(self) -> list[int]:
        pids = [self.proc.pid]
        for pid in pids:
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                pids.extend(int(c) for c in children.read_text().split())
        return pids

    def peak_rss_bytes(self) -> int:
        """Sum over the backend and its decode worker of VmHWM, the kernel's record of each one's
        peak resident set (an upper bound: the two peaks need not coincide)."""
        total = 0
        for pid in self._tree():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        return total

    def pss_bytes(self) -> int:
        """Sum over the backend and its decode worker of the proportional set size now: like RSS,
        but pages shared between them (libarrow, libpython, ...) are counted once in the sum."""
        total = 0
        for pid in self._tree():
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self._tree():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def wait_stored(self, expected: int, timeout: float = 120.0) -> tuple[int, float]:
        """Poll until `expected` spans are queryable; returns (stored, seconds waited)."""
        started = time.monotonic()
        stored = 0
        while time.monotonic() - started < timeout:
            stored = int(self.sql("SELECT count(*) FROM span_data")[0][0])
            if stored >= expected:
                break
            time.sleep(0.1)
        return stored, time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
