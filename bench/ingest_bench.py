"""Ingest benchmark (issue 3): sustained OTLP load from a separate process, figures for HTTP
protobuf, gRPC and JSON, and the single-threaded parse + walk rate of the same bodies for scale.

    python -m bench.ingest_bench [--duration 20] [--protocols http,grpc,json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.backend_process import Backend
from bench.fbaas_shape import RequestFactory

TARGETS = {"spans_per_s": 100_000, "peak_rss_mib": 400, "bytes_per_span": 120}
SPANS_PER_REQUEST = 500
SENDERS = 4


def naive_walk_rate(bodies: list[bytes]) -> float:
    """Spans/s of a single-threaded protobuf parse plus a plain Python walk to one dict per span."""
    started = time.perf_counter()
    rows = 0
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            resource = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    row = {
                        "trace_id": span.trace_id, "span_id": span.span_id, "parent": span.parent_span_id,
                        "name": span.name, "kind": span.kind, "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano, "status": span.status.code, "resource": resource,
                        "attributes": {kv.key: getattr(kv.value, kv.value.WhichOneof("value"))
                                       for kv in span.attributes},
                    }
                    rows += 1
                    del row
    return rows / (time.perf_counter() - started)


def run_protocol(protocol: str, duration: float, bodies: int, backend_args: tuple[str, ...] = (),
                 load_args: tuple[str, ...] = (), http_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One load run against a fresh backend. `backend_args`, `load_args` and `http_options` (for its
    query API) are how the security benchmark turns tokens and TLS on."""
    with tempfile.TemporaryDirectory(prefix=f"th-bench-{protocol}-") as tmp:
        backend = Backend(Path(tmp) / "data", *backend_args, http_options=http_options)
        try:
            target = backend.info["otlp_grpc"] if protocol == "grpc" else backend.info["otlp_http"]
            load = subprocess.Popen(
                [sys.executable, "-m", "bench.otlp_load", "--protocol", protocol, "--target", target,
                 "--duration", str(duration), "--senders", str(SENDERS), "--spans", str(SPANS_PER_REQUEST),
                 "--bodies", str(bodies), *load_args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert load.stdout and load.stdin
            load.stdout.readline()  # ready: every body is built
            cpu_before = backend.cpu_seconds()
            pss_peak = [0]
            load_done = threading.Event()

            def sample_pss() -> None:
                while not load_done.wait(0.5):
                    pss_peak[0] = max(pss_peak[0], backend.pss_bytes())

            sampler = threading.Thread(target=sample_pss, daemon=True)
            sampler.start()
            load.stdin.write("go\n")
            load.stdin.flush()
            result: dict[str, Any] = json.loads(load.stdout.readline())
            # Spans already in the store when the load stops: the acknowledged rate also counts what
            # waits in the bounded queue (up to --queue-max-spans), this one does not.
            stored_in_window = int(backend.sql("SELECT count(*) FROM span_data")[0][0])
            load.wait()
            load_done.set()
            sampler.join()
            cpu = backend.cpu_seconds() - cpu_before
            # Acknowledged means durable in the spool; the store catches up behind it. Measure how
            # long the last acknowledged span takes to become queryable.
            stored, drain_seconds = backend.wait_stored(result["acked_spans"])
            peak_rss = backend.peak_rss_bytes()
        finally:
            backend.stop()
        db = Path(tmp) / "data" / "tracehouse.duckdb"
        size = db.stat().st_size + (db.with_name(db.name + ".wal").stat().st_size
                                    if db.with_name(db.name + ".wal").exists() else 0)
    acked = result["acked_spans"]
    return {
        "protocol": protocol,
        "seconds": round(result["elapsed"], 2),
        "acked_spans": acked,
        "stored_spans": stored,
        "all_acked_stored": stored >= acked,
        "drain_s": round(drain_seconds, 2),
        "spans_per_s": round(acked / result["elapsed"]),
        "stored_per_s_in_window": round(stored_in_window / result["elapsed"]),
        "p50_ms": round(result["p50_ms"], 1),
        "p99_ms": round(result["p99_ms"], 1),
        "peak_rss_mib": round(peak_rss / 2**20, 1),
        "peak_pss_mib": round(pss_peak[0] / 2**20, 1),
        "bytes_per_span": round(size / max(stored, 1), 1),
        "backend_cpu_s": round(cpu, 1),
        "statuses": result["statuses"],
        "bodies_ran_out": result["bodies_used"] >= result["bodies_built"],
    }


def run(duration: float = 20.0, protocols: tuple[str, ...] = ("http", "grpc", "json")) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    factory = RequestFactory(SPANS_PER_REQUEST, seed=99)
    sample = [factory.next_body() for _ in range(100)]
    baseline = naive_walk_rate(sample)
    runs = []
    for protocol in protocols:
        # JSON decodes ~10x slower; fewer bodies cover its 20 s.
        bodies = 1200 if protocol == "json" else 7000
        runs.append(run_protocol(protocol, duration, bodies))

    table = Table(title=f"Ingest: {SPANS_PER_REQUEST}-span FBaaS-shaped requests, {SENDERS} senders, "
                        f"{duration:g} s per protocol")
    for col in ("protocol", "spans/s acked", "stored/s in window", "stored = acked", "drain s", "p50 ms",
                "p99 ms", "peak RSS MiB", "peak PSS MiB", "bytes/span", "vs naive walk"):
        table.add_column(col)
    for r in runs:
        table.add_row(r["protocol"], f"{r['spans_per_s']:,}", f"{r['stored_per_s_in_window']:,}",
                      "yes" if r["all_acked_stored"] else "NO",
                      str(r["drain_s"]),
                      str(r["p50_ms"]), str(r["p99_ms"]), str(r["peak_rss_mib"]), str(r["peak_pss_mib"]),
                      str(r["bytes_per_span"]), f"{r['spans_per_s'] / baseline:.2f}x")
    console = Console(width=150)  # wide enough for every column when not on a terminal
    console.print(table)
    console.print(f"single-threaded parse + Python walk of the same bodies: {baseline:,.0f} spans/s")
    console.print(f"targets (HTTP protobuf): >= {TARGETS['spans_per_s']:,} spans/s, peak RSS <= "
                  f"{TARGETS['peak_rss_mib']} MiB, <= {TARGETS['bytes_per_span']} bytes/span")
    console.print("stored/s in window: spans in the store when the load stopped, per second of load; the "
                  "acknowledged rate also counts spans still queued then (drain s is how long they took).")
    console.print("peak RSS: sum of each process's VmHWM (backend + decode worker; shared library pages "
                  "count in both). Peak PSS: the largest sum of their PSS, sampled every 0.5 s.")
    for r in runs:
        if r["statuses"].keys() - {"ok"}:
            console.print(f"{r['protocol']}: non-OK answers {r['statuses']}")
        if r["bodies_ran_out"]:
            console.print(f"{r['protocol']}: the load generator ran out of prebuilt bodies before the end")
    return {"naive_walk_spans_per_s": round(baseline), "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--protocols", default="http,grpc,json")
    args = parser.parse_args()
    print(json.dumps(run(args.duration, tuple(args.protocols.split(","))), indent=2))
