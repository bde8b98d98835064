"""Tail-sampling benchmark (issue 16), all in one run:

1. Ingest with tail sampling off, then on (errors, slow, 5% of the rest), same load from a separate
   process (bench.otlp_load: FBaaS-shaped 500-span requests, 4 HTTP senders): acknowledged spans/s
   and the ratio on/off (target >= 0.8), peak RSS, how long the held traces took to be decided.
2. Decision latency: during the sampled load, a probe sends one small erroring trace every 100 ms;
   latency = its decision time (sampling_decision) - the acknowledgement of its root. The policy's
   wait_after_root (1 s) is part of it by design.
3. Peak RSS with 1M open traces: 1M single-span traces whose roots never arrive, held for a decision
   that max_wait (1 h) puts off; target <= 400 MiB for the backend (backend + decode worker VmHWM).

    python -m bench.sampling_bench [--duration 15] [--open-traces 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from bench.backend_process import Backend

TARGETS = {"ratio": 0.8, "open_traces_rss_mib": 400}
SPANS_PER_REQUEST = 500
SENDERS = 4
PROTOBUF = {"Content-Type": "application/x-protobuf"}
POLICY = """
decision: {wait_after_root: 1s, max_wait: 30s, check_every: 200ms}
policies:
  - {name: errors, error: true}
  - {name: slow, latency: {over: 500ms}}
  - {name: rest-5pc, probabilistic: {percent: 5}}
"""
HOLD_POLICY = """
decision: {wait_after_root: 1h, max_wait: 1h, check_every: 1s}
policies: [{name: all, always: true}]
"""


def _load(target: str, duration: float) -> dict[str, Any]:
    load = subprocess.Popen(
        [sys.executable, "-m", "bench.otlp_load", "--protocol", "http", "--target", target, "--duration",
         str(duration), "--senders", str(SENDERS), "--spans", str(SPANS_PER_REQUEST), "--bodies", "7000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert load.stdout and load.stdin
    load.stdout.readline()
    load.stdin.write("go\n")
    load.stdin.flush()
    result: dict[str, Any] = json.loads(load.stdout.readline())
    load.wait()
    return result


def _probe_body(trace_id: bytes) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value={"string_value": "probe"}))
    now = time.time_ns()
    span = rs.scope_spans.add().spans.add(trace_id=trace_id, span_id=os.urandom(8), name="probe", kind=2,
                                          start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now)
    span.status.code = 2
    return request.SerializeToString()


def _held(backend: Backend) -> tuple[int, int]:
    body = httpx.get(f"{backend.query_url}/api/sampling/minutes", timeout=60).json()
    return int(body["held_traces"]), int(body["held_spans"])


def _decided_spans(backend: Backend) -> int:
    body = httpx.get(f"{backend.query_url}/api/sampling/minutes", timeout=60).json()
    return sum(int(m["kept_spans"]) + int(m["dropped_spans"]) for m in body["minutes"])


def run_ingest(sampling: Path | None, duration: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="th-bench-sampling-") as tmp:
        extra = ("--sampling", str(sampling)) if sampling else ()
        backend = Backend(Path(tmp) / "data", *extra)
        probes: list[tuple[str, int]] = []
        stop = threading.Event()

        def probe() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.wait(0.1):
                    tid = os.urandom(16)
                    r = client.post(f"{backend.info['otlp_http']}/v1/traces", content=_probe_body(tid),
                                    headers=PROTOBUF)
                    if r.status_code == 200:
                        probes.append((tid.hex(), time.time_ns()))

        prober = threading.Thread(target=probe, daemon=True)
        try:
            if sampling:
                prober.start()
            result = _load(backend.info["otlp_http"], duration)
            stop.set()
            if sampling:
                prober.join()
            started = time.monotonic()
            if sampling:
                # Every acknowledged span (the load's and the probes') decided: held, then settled.
                expected = result["acked_spans"] + len(probes)
                while _decided_spans(backend) < expected and time.monotonic() - started < 300:
                    time.sleep(0.2)
            else:
                backend.wait_stored(result["acked_spans"])
            settle_s = time.monotonic() - started
            peak_rss = backend.peak_rss_bytes()
            out: dict[str, Any] = {
                "sampling": bool(sampling), "seconds": round(result["elapsed"], 2),
                "acked_spans": result["acked_spans"], "spans_per_s": round(result["acked_spans"] / result["elapsed"]),
                "p99_ms": round(result["p99_ms"], 1), "statuses": result["statuses"],
                "peak_rss_mib": round(peak_rss / 2**20, 1), "settle_s": round(settle_s, 2),
                "stored_spans": int(backend.sql("SELECT count(*) FROM span_data")[0][0]),
            }
            if sampling:
                decided = {tid: int(t) for tid, t in backend.sql(
                    "SELECT lower(hex(trace_id)), decided_unix_nano FROM sampling_decision WHERE policy = 'errors'")}
                lags = sorted((decided[tid] - acked) / 1e6 for tid, acked in probes if tid in decided)
                out["probes"] = len(probes)
                out["probes_decided"] = len(lags)
                if lags:
                    out["decision_ms_p50"] = round(lags[len(lags) // 2], 1)
                    out["decision_ms_p99"] = round(lags[min(len(lags) - 1, int(0.99 * len(lags)))], 1)
                out["kept_traces"], out["dropped_traces"] = (int(x) for x in backend.sql(
                    "SELECT count(*) FILTER (WHERE kept), count(*) FILTER (WHERE NOT kept) FROM sampling_decision")[0])
        finally:
            stop.set()
            backend.stop()
    return out


def _open_trace_bodies(traces: int, per_request: int) -> list[bytes]:
    bodies = []
    now = time.time_ns()
    for start in range(0, traces, per_request):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.append(KeyValue(key="service.name", value={"string_value": "waiting"}))
        scope = rs.scope_spans.add()
        for k in range(min(per_request, traces - start)):
            span = scope.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), parent_span_id=os.urandom(8),
                                   name="GET /child", kind=3, start_time_unix_nano=now + k,
                                   end_time_unix_nano=now + k + 1_000_000)
            span.attributes.append(KeyValue(key="http.route", value={"string_value": "/child"}))
        bodies.append(request.SerializeToString())
    return bodies


def run_open_traces(policy: Path, traces: int) -> dict[str, Any]:
    bodies = _open_trace_bodies(traces, 2_000)
    with tempfile.TemporaryDirectory(prefix="th-bench-open-") as tmp:
        backend = Backend(Path(tmp) / "data", "--sampling", str(policy))
        try:
            rss_start = backend.peak_rss_bytes()
            lock = threading.Lock()
            queue = list(reversed(bodies))
            started = time.monotonic()

            def send() -> None:
                with httpx.Client(timeout=120) as client:
                    while True:
                        with lock:
                            if not queue:
                                return
                            body = queue.pop()
                        while client.post(f"{backend.info['otlp_http']}/v1/traces", content=body,
                                          headers=PROTOBUF).status_code == 503:
                            time.sleep(0.2)

            senders = [threading.Thread(target=send) for _ in range(SENDERS)]
            for s in senders:
                s.start()
            for s in senders:
                s.join()
            sent_s = time.monotonic() - started
            while _held(backend)[0] < traces and time.monotonic() - started < 600:
                time.sleep(0.5)
            held = _held(backend)
            time.sleep(3)   # a few decision passes over the million held traces
            peak = backend.peak_rss_bytes()
        finally:
            backend.stop()
    return {"open_traces": held[0], "held_spans": held[1], "send_s": round(sent_s, 1),
            "start_rss_mib": round(rss_start / 2**20, 1), "peak_rss_mib": round(peak / 2**20, 1)}


def run(duration: float = 15.0, open_traces: int = 1_000_000) -> dict[str, Any]:
    from rich.console import Console

    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="th-bench-policy-") as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY)
        hold = Path(tmp) / "hold.yaml"
        hold.write_text(HOLD_POLICY)
        off = run_ingest(None, duration)
        on = run_ingest(policy, duration)
        held = run_open_traces(hold, open_traces)
    ratio = on["spans_per_s"] / off["spans_per_s"] if off["spans_per_s"] else 0.0
    console.print(f"load average at the end: {os.getloadavg()}")
    console.print(f"ingest, tail sampling off: {off['spans_per_s']:,} spans/s acked (p99 {off['p99_ms']} ms), peak RSS "
                  f"{off['peak_rss_mib']} MiB, stored {off['stored_spans']:,} spans, drained in {off['settle_s']} s")
    console.print(f"ingest, tail sampling on:  {on['spans_per_s']:,} spans/s acked (p99 {on['p99_ms']} ms), peak RSS "
                  f"{on['peak_rss_mib']} MiB, kept {on['kept_traces']:,} / dropped {on['dropped_traces']:,} traces, "
                  f"stored {on['stored_spans']:,} spans, all decided {on['settle_s']} s after the load")
    console.print(f"ratio on/off: {ratio:.2f}x (target >= {TARGETS['ratio']})")
    console.print(f"decision latency (root acknowledged -> decided, wait_after_root 1 s included), "
                  f"{on.get('probes_decided', 0)} of {on.get('probes', 0)} probes: p50 {on.get('decision_ms_p50')} ms, "
                  f"p99 {on.get('decision_ms_p99')} ms")
    console.print(f"open traces: {held['open_traces']:,} held ({held['held_spans']:,} spans, sent in "
                  f"{held['send_s']} s); backend peak RSS {held['peak_rss_mib']} MiB "
                  f"(at start {held['start_rss_mib']} MiB; target <= "
                  f"{TARGETS['open_traces_rss_mib']} MiB)")
    return {"off": off, "on": on, "ratio": round(ratio, 3), "open_traces": held, "loadavg": os.getloadavg()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--open-traces", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.open_traces), indent=2, default=str))
