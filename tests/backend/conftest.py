"""Real backend processes for the tests: `tracehouse up` on free ports in a temporary data directory.

`backend(*flags, env=...)` starts one and waits until it is ready (its run file names its own pid
and /healthz answers); every process started is killed (its whole process group) at teardown.
`backend.fails(*flags)` runs one that is expected to refuse to start, and returns how it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from .otlp_requests import PROTOBUF, Built, fbaas_request

START_TIMEOUT = 30.0
# Tests read whole id lists through /api/sql, so their backends allow big results.
SQL_MAX_ROWS = 5_000_000
_HEX = re.compile(r"[0-9a-f]+")
PYTHON = sys.executable


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without TRACEHOUSE_* or OTEL_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEHOUSE_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Backend:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def query_url(self) -> str:
        return str(self.info["query_url"])

    @property
    def otlp_http(self) -> str:
        return str(self.info["otlp_http"])

    @property
    def traces_url(self) -> str:
        return f"{self.otlp_http}/v1/traces"

    @property
    def otlp_grpc(self) -> str:
        return str(self.info["otlp_grpc"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    # ---- OTLP/HTTP
    def post(self, body: bytes, content_type: str = PROTOBUF, headers: dict[str, str] | None = None,
             timeout: float = 30.0) -> httpx.Response:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return httpx.post(self.traces_url, content=body, headers=all_headers, timeout=timeout)

    def send(self, built: Built) -> None:
        """Send a request as protobuf and insist on full success."""
        response = self.post(built.protobuf())
        assert response.status_code == 200, response.text

    # ---- the query API
    def sql(self, query: str, max_rows: int | None = None, **ids: str | Sequence[str]) -> list[list[Any]]:
        """Rows of a query through POST /api/sql. `:name` in the query becomes the hex id (or the
        parenthesised list of hex ids) passed as `name=`; ids are checked to be hex."""
        for name, value in ids.items():
            values = [value] if isinstance(value, str) else list(value)
            assert values and all(_HEX.fullmatch(v) for v in values), value
            literal = ",".join(f"'{v}'" for v in values)
            query = query.replace(f":{name}", literal if isinstance(value, str) else f"({literal})")
        payload: dict[str, Any] = {"sql": query}
        if max_rows:
            payload["max_rows"] = max_rows
        response = httpx.post(f"{self.query_url}/api/sql", json=payload, timeout=60.0)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body["truncated"], "query result was truncated; raise max_rows"
        return list(body["rows"])

    def scalar(self, query: str, **ids: str | Sequence[str]) -> Any:
        return self.sql(query, **ids)[0][0]

    def span_count(self) -> int:
        return int(self.scalar("SELECT count(*) FROM spans"))

    def stored_span_ids(self) -> Counter[str]:
        """Every stored span id, with its number of rows."""
        rows = self.sql("SELECT span_id, count(*) FROM spans GROUP BY span_id", max_rows=SQL_MAX_ROWS)
        return Counter({sid: int(n) for sid, n in rows})

    def stored_of(self, span_ids: Sequence[str]) -> dict[str, int]:
        """How many stored rows each of `span_ids` has (absent ids are missing from the dict)."""
        if len(span_ids) > 2000:
            # Cheaper to read every stored id once than to send thousands of literals.
            wanted = set(span_ids)
            return {sid: n for sid, n in self.stored_span_ids().items() if sid in wanted}
        found: dict[str, int] = {}
        for i in range(0, len(span_ids), 5000):
            chunk = list(span_ids[i:i + 5000])
            query = "SELECT span_id, count(*) FROM spans WHERE span_id IN :ids GROUP BY span_id"
            for sid, n in self.sql(query, max_rows=len(chunk) + 1, ids=chunk):
                found[sid] = int(n)
        return found

    def wait_stored(self, span_ids: Sequence[str], timeout: float = 30.0) -> None:
        """Wait until every one of `span_ids` is stored, then insist each is stored exactly once.

        An acknowledged span may reach the store a moment after the acknowledgement (it is durable
        from the acknowledgement on, visible once committed), so tests poll for it.
        """
        wanted = list(dict.fromkeys(span_ids))
        counts: dict[str, int] = {}

        def all_there() -> bool:
            try:
                counts.update(self.stored_of([s for s in wanted if s not in counts]))
            except AssertionError as exc:
                # Users' SQL shares the store's memory limit with the writer (DuckDB has no per-query
                # pool; ADR 0012): while a huge batch is being committed or split, this poll may be
                # refused for memory. That is an answer to retry, not the spans missing.
                if "Out of Memory" not in str(exc):
                    raise
            return len(counts) == len(wanted)

        wait_for(all_there, timeout, f"{len(wanted)} acknowledged spans to be stored", interval=0.1)
        assert {sid: n for sid, n in self.stored_of(wanted).items() if n != 1} == {}, "spans stored twice"

    def assert_absent(self, span_ids: Sequence[str]) -> None:
        """None of `span_ids` is stored, checked after a later good request was stored (so anything
        sent before it had its chance), which also proves the backend still serves."""
        marker = fbaas_request(1)
        self.send(marker)
        self.wait_stored(marker.span_ids)
        assert self.stored_of(list(span_ids)) == {}
        assert self.alive()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.query_url}/healthz", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    # ---- stopping
    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


class PeakRss:
    """Samples a process's resident memory on a thread while the `with` block runs."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.start = int(self._process.memory_info().rss)
        self.peak = self.start

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, int(self._process.memory_info().rss))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self._interval)

    @property
    def growth(self) -> int:
        return self.peak - self.start

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Failure:
    returncode: int
    stdout: str
    stderr: str


class BackendFactory:
    def __init__(self, base: Path) -> None:
        self._base = base
        self._procs: list[subprocess.Popen[bytes]] = []
        self._n = 0

    def _next_dir(self, name: str) -> Path:
        self._n += 1
        path = self._base / f"{name}-{self._n}"
        path.mkdir(parents=True)
        return path

    def command(self, data_dir: Path | str, flags: Sequence[str]) -> list[str]:
        defaults = {"--otlp-grpc-port": "0", "--otlp-http-port": "0", "--query-port": "0",
                    "--sql-max-rows": str(SQL_MAX_ROWS)}
        ports = [x for flag, value in defaults.items() if flag not in flags for x in (flag, value)]
        return [PYTHON, "-m", "tracehouse", "up", "--data", str(data_dir), *ports, *flags]

    def __call__(self, *flags: str, env: dict[str, str] | None = None, data_dir: Path | None = None,
                 start_timeout: float = START_TIMEOUT) -> Backend:
        data_dir = data_dir or self._next_dir("data")
        log_path = self._next_dir("log") / "backend.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(self.command(data_dir, flags), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=clean_env(env), start_new_session=True)
        self._procs.append(proc)
        backend = Backend(proc=proc, data_dir=data_dir, log_path=log_path)
        run_file = data_dir / "server.json"

        def ready() -> dict[str, Any] | None:
            if proc.poll() is not None:
                pytest.fail(f"backend exited with {proc.returncode} while starting:\n{backend.log()}")
            try:
                info = json.loads(run_file.read_text())
            except (OSError, ValueError):
                return None
            if info.get("pid") != proc.pid:
                return None  # a stale run file, from a backend that was killed
            backend.info = info
            return info if backend.healthy() else None

        wait_for(ready, start_timeout, "the backend to become ready")
        return backend

    def fails(self, *flags: str, data_dir: Path | str | None = None, timeout: float = 60.0) -> Failure:
        """Run a backend that must refuse to start; returns its exit code and output."""
        data_dir = data_dir or self._next_dir("data")
        result = subprocess.run(self.command(data_dir, flags), stdin=subprocess.DEVNULL, capture_output=True,
                                env=clean_env(), timeout=timeout, start_new_session=True, check=False)
        return Failure(result.returncode, result.stdout.decode(errors="replace"),
                       result.stderr.decode(errors="replace"))

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendFactory]:
    factory = BackendFactory(tmp_path / "backends")
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendFactory]:
    """For a backend shared by every test of a module (each such module checks it keeps serving)."""
    factory = BackendFactory(tmp_path_factory.mktemp("backends"))
    try:
        yield factory
    finally:
        factory.close()
