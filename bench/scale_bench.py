"""Benchmark of doctor and every analysis with a baseline at scale (issue 11): 1M traces of the
planted-cause shop (~11 spans each, ~10 span and 12 resource attributes per span), at the default
store memory (128 MB). Target: <= 2 s each (p50), and never an out-of-memory failure.

    python -m bench.scale_bench [--traces 1000000] [--store-memory 128MB] [--repeat 3] [--only NAME]

The store is built once by bench.doctor_bench.build_scale (the last 30% with catalog 1.9.0
deployed and 30 ms slower) and cached under artifacts/bench/scale-TRACES-HASH/, where HASH is
that of the generator's source, so a changed generator builds a new store. Each item runs
`--repeat` times (the first also warms DuckDB's caches; the median of all runs is quoted), timed
in wall clock and in CPU (all threads of the process: the figure other work on a shared machine
disturbs least). The load average is printed with the figures.

Items: doctor over the last hour against the hour before, and over the default window (the last
third against the two thirds before); each analysis over the last hour with `baseline=1h`.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from tracehouse.analytics import incidents
from tracehouse.analytics.report import Report
from tracehouse.query.analyses import Analyses
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter, StoreError
from tracehouse.stores.duckdb import DuckDBStore

TARGET_S = 2.0
HOUR_NS = 3600 * 10**9


def store_path(traces: int) -> Path:
    """The cached store for `traces` traces of the current generator."""
    from bench import doctor_bench

    source = inspect.getsource(incidents) + inspect.getsource(doctor_bench.build_scale)
    digest = hashlib.sha256(source.encode()).hexdigest()[:10]
    return Path("artifacts") / "bench" / f"scale-{traces}-{digest}" / "tracehouse.duckdb"


def ensure_store(traces: int) -> tuple[Path, float]:
    """The cached store, built first if missing (into a scratch name, renamed when complete)."""
    from bench.doctor_bench import build_scale

    path = store_path(traces)
    if path.exists():
        return path, 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / "building"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    started = time.perf_counter()
    build_scale(scratch / "tracehouse.duckdb", traces)
    (scratch / "tracehouse.duckdb").rename(path)
    shutil.rmtree(scratch, ignore_errors=True)
    return path, time.perf_counter() - started


def cases(last_ns: int) -> dict[str, tuple[str, dict[str, Any]]]:
    hour = {"start": str((last_ns + 1 - HOUR_NS) / 1e9), "end": str((last_ns + 1) / 1e9), "baseline": "1h"}
    return {
        "doctor --since 1h --baseline 1h": ("doctor", hour),
        "doctor (default window and baseline)": ("doctor", {}),
        "paths --since 1h --baseline 1h": ("paths", hour),
        "paths --slowest 5% --since 1h --baseline 1h": ("paths", {**hour, "slowest": "5%"}),
        "origins catalog --since 1h --baseline 1h": ("origins", {**hour, "service": "catalog"}),
        "origins frontend --since 1h --baseline 1h": ("origins", {**hour, "service": "frontend"}),
        "latency --since 1h --baseline 1h": ("latency", hour),
        "latency --what-if catalog=-50% (1h, baseline 1h)": ("latency", {**hour, "what_if": "catalog=-50%"}),
        "errors --since 1h --baseline 1h": ("errors", hour),
        "compare --slowest 5% --since 1h --baseline 1h": ("compare", {**hour, "slowest": "5%"}),
        "compare --errors --since 1h --baseline 1h": ("compare", {**hour, "errors": "true"}),
    }


def _notes(report: Report) -> list[str]:
    return [n for n in report.notes if "sample" in n]


def measure(analyses: Analyses, name: str, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    times, cpu, notes = [], [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            report = analyses.run(name, params)
        except StoreError as exc:
            return {"error": str(exc), "within_target": False}
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        notes = _notes(report)
    median = statistics.median(times)
    return {"seconds": round(median, 3), "runs": [round(t, 3) for t in times],
            "cpu_seconds": round(statistics.median(cpu), 3), "within_target": median <= TARGET_S,
            "sample_notes": notes}


def run(traces: int = 1_000_000, store_memory: str | None = None, repeat: int = 3,
        only: list[str] | None = None) -> dict[str, Any]:
    store_memory = store_memory or Settings().store_memory_limit
    path, built = ensure_store(traces)
    store = DuckDBStore(path, memory_limit=store_memory, read_only=True)
    try:
        analyses = Analyses(store)
        _, _, last = store.trace_times(AnalysisFilter())
        assert last is not None
        out: dict[str, Any] = {"traces": store.count_traces(AnalysisFilter()), "spans": store.span_count(),
                               "store_memory": store_memory, "store": str(path), "build_s": round(built, 1),
                               "load_average_before": [round(x, 2) for x in os.getloadavg()], "items": {}}
        print(f"doctor and the analyses on {out['traces']:,} traces / {out['spans']:,} spans, store memory "
              f"{store_memory}, median of {repeat} runs (target <= {TARGET_S:g} s each); load average "
              f"{out['load_average_before']}", flush=True)
        for label, (name, params) in cases(last).items():
            if only and not any(o in label for o in only):
                continue
            figure = measure(analyses, name, params, repeat)
            out["items"][label] = figure
            _print(label, figure)
        out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        met = sum(1 for f in out["items"].values() if f["within_target"])
        print(f"  {met}/{len(out['items'])} within target; load average after {out['load_average_after']}",
              flush=True)
        return out
    finally:
        store.close()


def _print(label: str, figure: dict[str, Any]) -> None:
    if "error" in figure:
        print(f"  {label:50s} FAILED: {figure['error']}", flush=True)
        return
    runs = " / ".join(f"{t:.2f}" for t in figure["runs"])
    verdict = "met" if figure["within_target"] else "NOT MET"
    print(f"  {label:50s} {figure['seconds']:6.2f} s wall  {figure['cpu_seconds']:6.2f} s CPU  (runs {runs}) "
          f"target {TARGET_S:g} s: {verdict}", flush=True)
    for note in figure["sample_notes"]:
        print(f"      note: {note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--store-memory", default=None, help="default: the store's default (128MB)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", help="run only the items whose label contains this")
    args = parser.parse_args()
    print(json.dumps(run(args.traces, args.store_memory, args.repeat, args.only), indent=2))


if __name__ == "__main__":
    main()
