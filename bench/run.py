"""`make bench`: every benchmark, one after the other, printing its figures as measured.

    python -m bench.run [NAME ...]   (default: all; NAME is a key of BENCHES below)
    python -m bench.run --quick NAME (a smaller sweep, where the benchmark has one: reconstruct)

Figures from a shared 2-core machine are noisy; each benchmark reports medians where it repeats.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCHES = {
    "ingest": "bench.ingest_bench",
    "fbaas": "bench.fbaas_bench",
    "query": "bench.query_bench",
    "analytics": "bench.analytics_bench",
    "sampling": "bench.sampling_bench",
    "hostile": "bench.hostile_bench",
    "doctor": "bench.doctor_bench",
    "reconstruct": "bench.reconstruct_bench",
    "reconstruct_oracle": "bench.reconstruct_oracle",
    "security": "bench.security_bench",
    "overload": "bench.overload_bench",
    "scale": "bench.scale_bench",
    "sqlguard": "bench.sqlguard_bench",
    "clickhouse": "bench.clickhouse_bench",
}


def main(argv: list[str]) -> int:
    if "--quick" in argv:  # benchmarks that have a smaller sweep for iterating read this
        import os
        os.environ["TRACEHOUSE_BENCH_QUICK"] = "1"
        argv = [a for a in argv if a != "--quick"]
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(BENCHES[name])
        results[name] = module.run()
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)
    out = Path("artifacts") / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nall figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
