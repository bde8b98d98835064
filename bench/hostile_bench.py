"""Hostile conditions (issue 14): memory under the 1M-span request, and recovery after kill -9.

- Peak RSS (VmHWM of the backend + its decode worker) while one legal 51 MB request of 1,000,000
  tiny spans is received and stored; the same figure for a baseline of 200 FBaaS requests of 500
  spans. Target: <= 400 MiB together.
- kill -9 with a full spool (262,144 acknowledged spans not yet stored), then restart: seconds from
  the restart to the first answer and to the first acknowledged (200) request, against a restart on
  an empty data directory in the same run. Target: <= 1 s more than the empty start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.backend_process import Backend
from bench.fbaas_shape import RequestFactory
from tracehouse.receiver.spool import Spool

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def million_span_request(spans: int = 1_000_000) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "tiny"
    scope = rs.scope_spans.add()
    ids = os.urandom(spans * 24)
    now = time.time_ns()
    for i in range(spans):
        scope.spans.add(trace_id=ids[i * 24:i * 24 + 16], span_id=ids[i * 24 + 16:i * 24 + 24], name="t",
                        start_time_unix_nano=now + i, end_time_unix_nano=now + i + 1000)
    return request.SerializeToString()


def _peak_for(send: Any, expected: int, *extra: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend(Path(tmp) / "data", *extra)
        try:
            started = time.monotonic()
            send(backend)
            stored, _ = backend.wait_stored(expected, timeout=600)
            took = time.monotonic() - started
            return {"peak_rss_mib": round(backend.peak_rss_bytes() / 2**20, 1), "stored": stored,
                    "seconds": round(took, 1)}
        finally:
            backend.stop()


def memory() -> dict[str, Any]:
    body = million_span_request()
    print(f"1M-span request: {len(body) / 1e6:.1f} MB", flush=True)

    def send_million(backend: Backend) -> None:
        r = httpx.post(f"{backend.info['otlp_http']}/v1/traces", content=body, headers=PROTOBUF, timeout=600)
        r.raise_for_status()

    factory = RequestFactory(500)
    fbaas = [factory.next_body() for _ in range(200)]

    def send_fbaas(backend: Backend) -> None:
        with httpx.Client(timeout=60) as client:
            for b in fbaas:
                while client.post(f"{backend.info['otlp_http']}/v1/traces", content=b,
                                  headers=PROTOBUF).status_code == 503:
                    time.sleep(0.2)

    million = _peak_for(send_million, 1_000_000)
    baseline = _peak_for(send_fbaas, 100_000)
    return {"million_span_request": million, "fbaas_100k": baseline}


def _first_answers(data_dir: Path) -> tuple[float, float, subprocess.Popen[bytes]]:
    """Start `tracehouse up` on data_dir: seconds to the first answer, and to the first 200."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tracehouse", "up", "--data", str(data_dir), "--otlp-grpc-port",
                             "0", "--otlp-http-port", "0", "--query-port", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    body = RequestFactory(5, seed=7).next_body()
    first = accepted = 0.0
    while time.monotonic() - started < 120:
        try:
            info = json.loads((data_dir / "server.json").read_text())
            if info.get("pid") == proc.pid:
                status = httpx.post(f"{info['otlp_http']}/v1/traces", content=body, headers=PROTOBUF,
                                    timeout=30).status_code
                first = first or time.monotonic() - started
                if status == 200:
                    accepted = time.monotonic() - started
                    break
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.01)
    return first, accepted, proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def recovery(repeats: int = 3, backlog_spans: int = 262_144) -> dict[str, Any]:
    factory = RequestFactory(512 - 512 % 5)
    per = 510
    bodies = [factory.next_body() for _ in range(backlog_spans // per + 1)]
    empty_first, full_first, full_accepted, empty_accepted = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            empty = Path(tmp) / f"empty-{i}"
            empty.mkdir()
            first, accepted, proc = _first_answers(empty)
            empty_first.append(first)
            empty_accepted.append(accepted)
            _kill(proc)
            # The state kill -9 leaves behind with a full queue: a store, and 262k spans acknowledged
            # in the spool but not yet stored.
            full = Path(tmp) / f"full-{i}"
            full.mkdir()
            first, accepted, proc = _first_answers(full)
            _kill(proc)
            spool = Spool(full / "spool")
            list(spool.recover())
            for j in range(0, len(bodies), 16):
                spool.append(bodies[j:j + 16])
            spool.close()
            first, accepted, proc = _first_answers(full)
            full_first.append(first)
            full_accepted.append(accepted)
            _kill(proc)
    return {"empty_first_answer_s": round(median(empty_first), 2),
            "empty_first_200_s": round(median(empty_accepted), 2),
            "full_spool_first_answer_s": round(median(full_first), 2),
            "full_spool_first_200_s": round(median(full_accepted), 2),
            "extra_s": round(median(full_accepted) - median(empty_accepted), 2)}


def run() -> dict[str, Any]:
    print(f"load average: {os.getloadavg()}", flush=True)
    mem = memory()
    print(f"1M-span request (51 MB): peak RSS backend + worker {mem['million_span_request']['peak_rss_mib']} MiB, "
          f"stored {mem['million_span_request']['stored']:,} in {mem['million_span_request']['seconds']} s; "
          f"100k FBaaS spans: {mem['fbaas_100k']['peak_rss_mib']} MiB (target <= 400 MiB)", flush=True)
    rec = recovery()
    print(f"restart (median of 3): empty data dir first answer {rec['empty_first_answer_s']} s, first 200 "
          f"{rec['empty_first_200_s']} s; after kill -9 with 262,144 spans in the spool: first answer "
          f"{rec['full_spool_first_answer_s']} s, first 200 {rec['full_spool_first_200_s']} s "
          f"({rec['extra_s']:+.2f} s; target <= 1 s)", flush=True)
    print(f"load average: {os.getloadavg()}", flush=True)
    return {"memory": mem, "recovery": rec}


if __name__ == "__main__":
    run()
