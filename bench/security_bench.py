"""Security benchmark (issue 14): ingest rate with bearer tokens and TLS on all ports, against the same
backend with both off, in one run. The load is bench/ingest_bench.py's (500-span FBaaS-shaped
requests from 4 senders in a separate process); each configuration runs ROUNDS times, alternating,
and the medians are compared.

    python -m bench.security_bench [--duration 10] [--rounds 3] [--protocols http,grpc]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.certificates import make_certificate
from bench.ingest_bench import run_protocol

TOKEN = "bench-ingest-token-0123456789abcdef"
QUERY_TOKEN = "bench-query-token-0123456789abcdef"


def run(duration: float = 10.0, rounds: int = 3, protocols: tuple[str, ...] = ("http", "grpc")) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="th-bench-security-") as tmp:
        cert = make_certificate(Path(tmp) / "tls")
        secure_args = ("--tls-cert", str(cert.cert), "--tls-key", str(cert.key), "--ingest-token", TOKEN,
                       "--query-token", QUERY_TOKEN)
        load_args = ("--token", TOKEN, "--cafile", str(cert.cert))
        query = {"verify": cert.context(), "headers": {"Authorization": f"Bearer {QUERY_TOKEN}"}}
        for protocol in protocols:
            runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
            # Enough prebuilt 500-span bodies for 175,000 spans/s (building them is most of a run's time).
            bodies = int(duration * 350)
            for _ in range(rounds):
                runs["off"].append(run_protocol(protocol, duration, bodies))
                runs["on"].append(run_protocol(protocol, duration, bodies, secure_args, load_args, query))
            results[protocol] = {mode: {
                "spans_per_s": [r["spans_per_s"] for r in rs],
                "median_spans_per_s": statistics.median(r["spans_per_s"] for r in rs),
                "median_p50_ms": statistics.median(r["p50_ms"] for r in rs),
                "median_p99_ms": statistics.median(r["p99_ms"] for r in rs),
                "median_backend_cpu_s": statistics.median(r["backend_cpu_s"] for r in rs),
                "all_acked_stored": all(r["all_acked_stored"] for r in rs),
                "statuses": [r["statuses"] for r in rs],
            } for mode, rs in runs.items()}
            on, off = results[protocol]["on"], results[protocol]["off"]
            results[protocol]["ratio_on_to_off"] = round(on["median_spans_per_s"] / off["median_spans_per_s"], 3)

    table = Table(title=f"Ingest with tokens + TLS on vs off: {rounds} alternating runs of {duration:g} s each, "
                        "medians")
    for col in ("protocol", "mode", "spans/s (runs)", "median spans/s", "p50 ms", "p99 ms", "backend CPU s",
                "stored = acked", "on / off"):
        table.add_column(col)
    for protocol, r in results.items():
        for mode in ("off", "on"):
            m = r[mode]
            table.add_row(protocol, "tokens+TLS" if mode == "on" else "plain",
                          ", ".join(f"{v:,}" for v in m["spans_per_s"]), f"{m['median_spans_per_s']:,.0f}",
                          str(m["median_p50_ms"]), str(m["median_p99_ms"]), str(m["median_backend_cpu_s"]),
                          "yes" if m["all_acked_stored"] else "NO",
                          f"{r['ratio_on_to_off']:.3f}" if mode == "on" else "")
    console = Console(width=150)
    console.print(table)
    console.print("on / off: median acknowledged spans/s with a bearer token on every request and TLS on "
                  "the port, divided by the same without either.")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--protocols", default="http,grpc")
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.rounds, tuple(args.protocols.split(","))), indent=2, default=str))
