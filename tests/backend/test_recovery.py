"""Fast, honest recovery: after a crash the ports open at once and the spool's backlog is replayed
in the background; a command that opens the store directly stores the backlog first instead of
showing a store that silently misses acknowledged spans."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import grpc
import httpx
from bench.fbaas_shape import RequestFactory

from tracehouse.receiver.spool import Spool

from .conftest import PYTHON, Backend, BackendFactory, clean_env, wait_for


def _spool_backlog(data_dir: Path, distinct_requests: int, copies: int) -> int:
    """Spool what a backend acknowledged and did not store before it was killed: `distinct_requests`
    requests of 500 FBaaS spans, each `copies` times (resent by clients). Returns distinct spans."""
    factory = RequestFactory(500)
    bodies = [factory.next_body() for _ in range(distinct_requests)]
    spool = Spool(data_dir / "spool")
    list(spool.recover())
    for _ in range(copies):
        for i in range(0, len(bodies), 10):
            spool.append(bodies[i:i + 10])
    spool.close()
    return distinct_requests * 500


EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _start(backend: BackendFactory, data_dir: Path, log_path: Path) -> Backend:
    """Start a backend on `data_dir` without waiting for it to be ready; returns once its run file
    (written as soon as the ports are bound) names it."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(backend.command(data_dir, []), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True)
    backend._procs.append(proc)
    run_file = data_dir / "server.json"

    def started() -> dict[str, str] | None:
        assert proc.poll() is None, f"the backend exited while starting: {log_path.read_text()[-2000:]}"
        try:
            info: dict[str, str] = json.loads(run_file.read_text())
        except (OSError, ValueError):
            return None
        return info if info.get("pid") == proc.pid else None

    info = wait_for(started, 60, "the run file", interval=0.01)
    return Backend(proc=proc, data_dir=data_dir, log_path=log_path, info=info)


def test_after_a_crash_with_a_full_spool_the_receivers_acknowledge_before_the_store_opens(
        backend: BackendFactory, tmp_path: Path) -> None:
    """Ordering, not timing (the 1 s figure is `make bench hostile`'s): this test holds the store's
    file, so the restarted backend cannot open it. Its receivers must still acknowledge, durably (in
    the spool), on HTTP and gRPC, while the query port answers a retryable 503 "starting"; once the
    store is free, the backlog and everything acknowledged meanwhile is stored exactly once.
    Before, the ports opened only after the store, the decode worker and the whole query layer had
    loaded (first 200 at 3.8 s after kill -9 on a loaded machine), and a held store stopped the start."""
    from tracehouse.stores.duckdb import DuckDBStore

    from .otlp_requests import fbaas_request
    data = tmp_path / "data"
    first = backend(data_dir=data)
    assert first.stop() == 0
    # What kill -9 leaves with a full queue: 100,000 acknowledged spans (25,000 distinct) in the spool.
    spans = _spool_backlog(data, 50, 4)
    held = DuckDBStore(data / "tracehouse.duckdb")   # another process holds the store (DuckDB's file lock)
    try:
        restarted = _start(backend, data, tmp_path / "restarted.log")
        sent = [fbaas_request(3) for _ in range(4)]

        def acknowledged() -> bool:
            try:
                return restarted.post(sent[0].protobuf(), timeout=30).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(acknowledged, 60, "the first acknowledged export", interval=0.01)
        restarted.send(sent[1])
        with grpc.insecure_channel(restarted.otlp_grpc) as channel:
            export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            export(sent[2].protobuf(), timeout=30)
            export(sent[3].protobuf(), timeout=30, compression=grpc.Compression.Gzip)
        # Still true now: the store is held, so every answer above came before it was open.
        health = httpx.get(f"{restarted.query_url}/healthz", timeout=30)
        assert health.status_code == 503 and health.headers["retry-after"] == "1", health.text
        assert health.json()["status"] == "starting", health.text
        assert httpx.get(f"{restarted.query_url}/api/services", timeout=30).status_code == 503

        def waiting() -> bool:
            response = httpx.get(f"{restarted.query_url}/healthz", timeout=30)
            assert response.status_code == 503, response.text
            return "waiting for the store" in response.json()["detail"]

        wait_for(waiting, 60, "the backend to find the store held")
    finally:
        held.close()
    wait_for(restarted.healthy, 120, "the store to open")
    ids = [sid for built in sent for sid in built.span_ids]
    restarted.wait_stored(ids, timeout=120)
    wait_for(lambda: restarted.span_count() >= spans + len(ids), 120, "the backlog to be replayed", interval=0.5)
    assert restarted.span_count() == spans + len(ids)
    assert "waiting for the store" in restarted.log()
    assert restarted.stop() == 0


def test_commands_on_the_store_store_the_spool_backlog_first(backend: BackendFactory) -> None:
    first = backend()
    assert first.stop() == 0
    spans = _spool_backlog(first.data_dir, 4, 1)
    result = subprocess.run([PYTHON, "-m", "tracehouse", "sql", "--data", str(first.data_dir), "--format", "json",
                             "SELECT count(*) AS n FROM spans"], capture_output=True, text=True, env=clean_env(),
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": spans}]
    assert f"stored {spans:,} acknowledged span(s) left in the spool" in result.stderr
    check = subprocess.run([PYTHON, "-m", "tracehouse", "store", "check", "--data", str(first.data_dir)],
                           capture_output=True, text=True, env=clean_env(), timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "spool backlog: none" in check.stdout and "dead letter: none" in check.stdout


def test_sigterm_while_waiting_for_the_store_exits_cleanly_and_keeps_what_it_acknowledged(
        backend: BackendFactory, tmp_path: Path) -> None:
    """Stopped before its store ever opened, the backend exits 0, and what it acknowledged meanwhile
    (in the spool only) is stored by the next start."""
    from tracehouse.stores.duckdb import DuckDBStore

    from .otlp_requests import fbaas_request
    data = tmp_path / "data"
    first = backend(data_dir=data)
    assert first.stop() == 0
    held = DuckDBStore(data / "tracehouse.duckdb")
    try:
        waiting = _start(backend, data, tmp_path / "waiting.log")
        built = fbaas_request(2)
        wait_for(lambda: waiting.post(built.protobuf(), timeout=30).status_code == 200, 60, "an acknowledgement",
                 interval=0.05)
        assert waiting.stop() == 0, waiting.log()
        assert "Traceback" not in waiting.log(), waiting.log()
    finally:
        held.close()
    again = backend(data_dir=data)
    again.wait_stored(built.span_ids, timeout=60)
    assert again.stop() == 0
