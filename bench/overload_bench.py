"""Overload memory (issue 14): peak RSS of the backend + its decode worker while senders offer far
more than the store can take, over OTLP/HTTP and OTLP/gRPC at once. Target: <= 400 MiB together.

Two load generators (bench/otlp_load.py, separate processes, every body built before the clock
starts) send back to back, each with SENDERS threads, retrying a refused request after 50 ms as an
exporter would; the backend's answers are 200 / OK or the retryable 503 / UNAVAILABLE. Two shapes:
FBaaS-like 500-span requests, and heavy ones (the same with a 2 KiB attribute on every span, ~1.1 MB
a request), which stress what is held in bytes rather than in spans. Figures: spans/s offered
(acknowledged + refused) and acknowledged, the backend's peak RSS (sum of VmHWM of the backend and
its decode worker) and the largest PSS sum sampled every 0.2 s, medians over ROUNDS runs. Then,
in the same run, the peak for the one legal 51 MB request of 1,000,000 spans (bench/hostile_bench.py),
the third figure of the same target.

    python -m bench.overload_bench [--duration 20] [--rounds 3] [--senders 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from statistics import median
from typing import Any

from bench.backend_process import Backend

TARGET_MIB = 400
SPANS_PER_REQUEST = 500


def one_run(duration: float, senders: int, pad_bytes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="th-bench-overload-") as tmp:
        backend = Backend(Path(tmp) / "data")
        try:
            loads = []
            for protocol in ("http", "grpc"):
                target = backend.info["otlp_grpc"] if protocol == "grpc" else backend.info["otlp_http"]
                loads.append(subprocess.Popen(
                    [sys.executable, "-m", "bench.otlp_load", "--protocol", protocol, "--target", target,
                     "--duration", str(duration), "--senders", str(senders), "--spans", str(SPANS_PER_REQUEST),
                     "--bodies", str(300 if pad_bytes else 600), "--pad-bytes", str(pad_bytes), "--reuse"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            for load in loads:
                assert load.stdout is not None
                load.stdout.readline()   # ready: bodies built
            pss_peak = [0]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.2):
                    pss_peak[0] = max(pss_peak[0], backend.pss_bytes())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for load in loads:
                assert load.stdin is not None
                load.stdin.write("go\n")
                load.stdin.flush()
            results = []
            for load in loads:
                assert load.stdout is not None
                results.append(json.loads(load.stdout.readline()))
                load.wait()
            done.set()
            sampler.join()
            peak = backend.peak_rss_bytes()
            each = [_hwm_mib(pid) for pid in backend._tree()]
        finally:
            backend.stop()
    elapsed = max(r["elapsed"] for r in results)
    answers = sum(sum(r["statuses"].values()) for r in results)
    acked = sum(r["acked_spans"] for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {"offered_spans_per_s": round(answers * SPANS_PER_REQUEST / elapsed),
            "acked_spans_per_s": round(acked / elapsed), "peak_rss_mib": round(peak / 2**20, 1),
            "peak_pss_mib": round(pss_peak[0] / 2**20, 1), "statuses": statuses, "peak_rss_each_mib": each}


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run(duration: float = 20.0, rounds: int = 3, senders: int = 8,
        shapes: tuple[str, ...] = ("fbaas", "heavy", "million")) -> dict[str, Any]:
    print(f"load average: {os.getloadavg()}", flush=True)
    out: dict[str, Any] = {}
    for shape, pad in (("fbaas", 0), ("heavy", 2048)):
        if shape not in shapes:
            continue
        runs = [one_run(duration, senders, pad) for _ in range(rounds)]
        out[shape] = {"runs": runs, **{k: median(r[k] for r in runs) for k in
                                       ("offered_spans_per_s", "acked_spans_per_s", "peak_rss_mib", "peak_pss_mib")}}
        m = out[shape]
        print(f"overload, {shape} spans ({SPANS_PER_REQUEST}/request{f', {pad} B attribute each' if pad else ''}), "
              f"{senders} HTTP + {senders} gRPC senders, {duration:g} s, median of {rounds}: offered "
              f"{m['offered_spans_per_s']:,.0f} spans/s, acknowledged {m['acked_spans_per_s']:,.0f} spans/s; peak RSS "
              f"backend + worker {m['peak_rss_mib']} MiB (runs: {[r['peak_rss_mib'] for r in runs]}; backend, worker: "
              f"{[r['peak_rss_each_mib'] for r in runs]}), peak PSS "
              f"{m['peak_pss_mib']} MiB (target <= {TARGET_MIB} MiB); answers {[r['statuses'] for r in runs]}",
              flush=True)
    if "million" in shapes:
        from bench.hostile_bench import PROTOBUF, _peak_for, million_span_request

        body = million_span_request()

        def send(backend: Backend) -> None:
            import httpx

            httpx.post(f"{backend.info['otlp_http']}/v1/traces", content=body, headers=PROTOBUF,
                       timeout=600).raise_for_status()

        out["million"] = m = _peak_for(send, 1_000_000)
        print(f"1M-span request ({len(body) / 1e6:.1f} MB): peak RSS backend + worker {m['peak_rss_mib']} MiB, "
              f"stored {m['stored']:,} in {m['seconds']} s (target <= {TARGET_MIB} MiB)", flush=True)
    print(f"load average: {os.getloadavg()}", flush=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--shapes", default="fbaas,heavy,million")
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.rounds, args.senders, tuple(args.shapes.split(","))), indent=2))
