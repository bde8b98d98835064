"""Benchmark of the analyses (issue 5): each analysis on a store of 1M traces (~4.7M spans), target
at most 2 s each; and the SQL console's overhead against the same query run directly on DuckDB.

    python -m bench.analytics_bench [--traces N] [--store-memory 128MB] [--repeat 3] [--keep DIR]

The store is generated with tracehouse.analytics.synthetic.mixed() (every planted cause at once);
it takes about 35 s to build. With --keep DIR, it is kept in (and reused from) DIR. Each analysis
runs --repeat times; the figure is the median, and every run is listed. The memory limit defaults to
the store's default (TRACEHOUSE_STORE_MEMORY, 128MB). The load average is recorded: on a shared
machine it explains most of the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from tracehouse.analytics import synthetic
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter, StoreError
from tracehouse.stores.duckdb import DuckDBStore

TARGET_S = 2.0
CONSOLE_QUERY = ("SELECT service_name, span_name, count(*) AS spans, quantile_cont(duration_ns, 0.95) AS p95 "
                 "FROM spans GROUP BY ALL ORDER BY spans DESC")


def build(path: Path, traces: int) -> None:
    store = DuckDBStore(path, memory_limit="2GB")
    try:
        for batch in synthetic.generate(synthetic.mixed(), traces, batch_traces=50_000):
            store.write_spans(batch)
        store.checkpoint()
    finally:
        store.close()


def _time(fn: Callable[[], Any], repeat: int = 3) -> tuple[list[float], str | None]:
    """Wall-clock seconds of `repeat` runs (the first also warms DuckDB's caches), or the error."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            fn()
        except StoreError as exc:
            return [], str(exc)
        times.append(time.perf_counter() - started)
    return times, None


def run(traces: int = 1_000_000, store_memory: str | None = None, keep: Path | None = None,
        repeat: int = 3) -> dict[str, Any]:
    store_memory = store_memory or Settings().store_memory_limit
    with tempfile.TemporaryDirectory() as scratch:
        directory = keep or Path(scratch)
        path = directory / "tracehouse.duckdb"
        built = 0.0
        if not path.exists():
            started = time.perf_counter()
            build(path, traces)
            built = time.perf_counter() - started
        settings = Settings().with_overrides(data_dir=directory, store_memory_limit=store_memory)
        store = DuckDBStore(path, memory_limit=store_memory, read_only=True)
        service = QueryService(store, settings)
        analyses = Analyses(store)
        every = AnalysisFilter()
        results: dict[str, Any] = {"traces": store.count_traces(every), "spans": store.span_count(),
                                   "store_memory": store_memory, "build_s": round(built, 1), "analyses": {}}
        cases: dict[str, Callable[[], Any]] = {
            "paths": lambda: analyses.run("paths", {}),
            "paths --slowest 5%": lambda: analyses.run("paths", {"slowest": "5%"}),
            "paths --slowest 5% --sample 200000": lambda: analyses.run("paths", {"slowest": "5%", "sample": "200000"}),
            "paths --attr customer.tier=enterprise":
                lambda: analyses.run("paths", {"attr": ["customer.tier=enterprise"]}),
            "origins ledger": lambda: analyses.run("origins", {"service": "ledger"}),
            "origins fizzer (400k calls)": lambda: analyses.run("origins", {"service": "fizzer"}),
            "latency (10k-trace sample)": lambda: analyses.run("latency", {}),
            "latency --what-if fizzer=-50%": lambda: analyses.run("latency", {"what_if": "fizzer=-50%"}),
            "compare --slowest 5%": lambda: analyses.run("compare", {"slowest": "5%"}),
            "compare --errors": lambda: analyses.run("compare", {"errors": "true"}),
            "errors": lambda: analyses.run("errors", {}),
            "doctor": lambda: analyses.run("doctor", {}),
        }
        results["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
        for name, fn in cases.items():
            times, error = _time(fn, repeat)
            if error:
                results["analyses"][name] = {"error": error, "within_target": False}
                continue
            median = statistics.median(times)
            results["analyses"][name] = {"seconds": round(median, 3), "runs": [round(t, 3) for t in times],
                                         "within_target": median <= TARGET_S}
        results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        # The console's overhead: statement check, transaction, timer, row fetch through the sandbox,
        # against a plain cursor on the same connection.
        direct = store._new_cursor()
        sandboxed, plain = [], []
        for _ in range(5):
            started = time.perf_counter()
            service.run_sql(CONSOLE_QUERY)
            sandboxed.append(time.perf_counter() - started)
            started = time.perf_counter()
            direct.execute(CONSOLE_QUERY).fetchall()
            plain.append(time.perf_counter() - started)
        direct.close()
        results["sql_console"] = {
            "query": CONSOLE_QUERY,
            "sandboxed_ms": round(statistics.median(sandboxed) * 1000, 2),
            "direct_ms": round(statistics.median(plain) * 1000, 2),
            "overhead_ms": round((statistics.median(sandboxed) - statistics.median(plain)) * 1000, 2),
        }
        service.close()
        results["duckdb"] = duckdb.__version__
        _print(results)
        return results


def _print(results: dict[str, Any]) -> None:
    print(f"Analyses on {results['traces']:,} traces / {results['spans']:,} spans, store memory "
          f"{results['store_memory']}, median of runs (target <= {TARGET_S:g} s each):")
    for name, figure in results["analyses"].items():
        if "error" in figure:
            print(f"  {name:40s} FAILED: {figure['error']}")
            continue
        runs = " / ".join(f"{t:.2f}" for t in figure["runs"])
        verdict = "" if figure["within_target"] else "   over target"
        print(f"  {name:40s} {figure['seconds']:6.2f} s  (runs {runs}){verdict}")
    console = results["sql_console"]
    print(f"  SQL console overhead: {console['overhead_ms']} ms ({console['sandboxed_ms']} ms sandboxed vs "
          f"{console['direct_ms']} ms direct)")
    print(f"  load average before {results['load_average_before']}, after {results['load_average_after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--store-memory", default=None, help="default: the store's default (128MB)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Keep the generated store in (and reuse it from) this directory.")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.traces, args.store_memory, args.keep, args.repeat), indent=2))


if __name__ == "__main__":
    main()
