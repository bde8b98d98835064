"""Benchmark of doctor (issue 11): top-1 accuracy over the planted-cause suite, and doctor with a
baseline at scale.

    python -m bench.doctor_bench [--seeds 3] [--traces 1000000] [--store-memory 128MB] [--keep DIR]

1. Accuracy: every scenario of tracehouse.analytics.incidents.SUITE, with `--seeds` different
   seeds (other random traffic each time, same plant), 2,000 baseline and 2,000 window traces
   each. A scenario counts as found when doctor's first cause is the planted one (both planted
   causes first for the two-cause scenario; no cause at all for the no-cause one). False causes
   are causes reported on the no-cause scenario.
2. Scale: a store of `--traces` traces of the same shop (~11 spans each, ~10 span and 12 resource
   attributes per span), the last 30% with catalog 1.9.0 deployed and 30 ms slower. doctor runs
   with the default store memory (128 MB) on: the last hour against the hour before
   (`--since 1h --baseline 1h`), and the default window (the last third against the rest).
   The median of `--repeat` runs, wall clock and CPU (all threads of the process); the load average
   is printed, since other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tracehouse.analytics import incidents
from tracehouse.analytics.causes import Diagnosis
from tracehouse.query.analyses import Analyses
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter, StoreError
from tracehouse.stores.duckdb import DuckDBStore

TARGET_S = 2.0
SIDE = 2_000


def accuracy(seeds: int, scratch: Path) -> dict[str, Any]:
    rows = []
    for incident in incidents.SUITE:
        for seed in range(1, seeds + 1):
            path = scratch / f"{incident.name}-{seed}" / "tracehouse.duckdb"
            store = DuckDBStore(path)
            try:
                for batch in incidents.generate(incident, SIDE, SIDE, seed=seed):
                    store.write_spans(batch)
                _, start, end = incidents.window(incident, SIDE, SIDE)
                started = time.perf_counter()
                diagnosis = Analyses(store).diagnose(AnalysisFilter(start, end))
                seconds = time.perf_counter() - started
            finally:
                store.close()
            first = diagnosis.causes[0] if diagnosis.causes else None
            named = "-"
            if first is not None:
                segment = f" [{first.segment.key}={first.segment.value}]" if first.segment else ""
                named = f"{first.kind} {first.location.label()}{segment}"
            rows.append({
                "scenario": incident.name, "seed": seed, "found": incidents.found(diagnosis, incident),
                "first": named,
                "causes": len(diagnosis.causes),
                "false_causes": len(diagnosis.causes) if not incident.expected else 0,
                "seconds": round(seconds, 2),
            })
            print(f"  {incident.name:15s} seed {seed}: {'found' if rows[-1]['found'] else 'MISSED':6s} "
                  f"first: {rows[-1]['first']} ({rows[-1]['causes']} causes, {seconds:.2f} s)", flush=True)
    found = sum(1 for r in rows if r["found"])
    false = sum(r["false_causes"] for r in rows)
    return {"runs": rows, "found": found, "total": len(rows), "top1_accuracy": found / len(rows),
            "false_causes_on_no_cause": false,
            "median_doctor_s_4k_traces": statistics.median(r["seconds"] for r in rows)}


def build_scale(path: Path, traces: int) -> None:
    deploy = incidents.Incident("scale", "catalog 1.9.0 is 30 ms slower",
                                incidents.Plant(slow_service="catalog", slow_ms=30.0, new_version="1.9.0"),
                                (incidents.Expected("catalog"),))
    store = DuckDBStore(path, memory_limit="2GB")
    try:
        baseline = int(traces * 0.7)
        for batch in incidents.generate(deploy, baseline, traces - baseline, seed=11, spacing_ms=20.0):
            store.write_spans(batch)
        store.checkpoint()
    finally:
        store.close()


def scale(traces: int, store_memory: str, keep: Path | None, scratch: Path, repeat: int) -> dict[str, Any]:
    built = 0.0
    if keep is None:   # the store bench/scale_bench.py caches under artifacts/bench/ (built once)
        from bench.scale_bench import ensure_store
        path, built = ensure_store(traces)
    else:
        keep.mkdir(parents=True, exist_ok=True)
        path = keep / "tracehouse.duckdb"
        if not path.exists():
            started = time.perf_counter()
            build_scale(path, traces)
            built = time.perf_counter() - started
    store = DuckDBStore(path, memory_limit=store_memory, read_only=True)
    try:
        analyses = Analyses(store)
        _, _, last = store.trace_times(AnalysisFilter())
        assert last is not None
        hour = 3600 * 10**9
        cases = {
            "doctor --since 1h --baseline 1h": {"start": str((last + 1 - hour) / 1e9), "end": str((last + 1) / 1e9),
                                                "baseline": "1h"},
            "doctor (default window and baseline)": {},
        }
        out: dict[str, Any] = {"traces": store.count_traces(AnalysisFilter()), "spans": store.span_count(),
                               "store_memory": store_memory, "build_s": round(built, 1), "cases": {},
                               "load_average_before": [round(x, 2) for x in os.getloadavg()]}
        for name, params in cases.items():
            times, cpu, first, error, notes = [], [], "", None, []
            for _ in range(repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                try:
                    report = analyses.run("doctor", params)
                except StoreError as exc:
                    error = str(exc)
                    break
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                d = Diagnosis.from_json(report.params["diagnosis"])
                first = d.causes[0].summary if d.causes else d.verdict
                notes = d.notes
            out["cases"][name] = ({"error": error} if error else
                                  {"seconds": round(statistics.median(times), 3), "runs": [round(t, 3) for t in times],
                                   "cpu_seconds": round(statistics.median(cpu), 3),
                                   "within_target": statistics.median(times) <= TARGET_S, "first": first,
                                   "notes": notes})
        out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        return out
    finally:
        store.close()


def run(seeds: int = 3, traces: int = 1_000_000, store_memory: str | None = None, keep: Path | None = None,
        repeat: int = 3) -> dict[str, Any]:
    store_memory = store_memory or Settings().store_memory_limit
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        print(f"Planted-cause suite: {len(incidents.SUITE)} scenarios x {seeds} seeds, {SIDE:,} + {SIDE:,} traces each",
              flush=True)
        acc = accuracy(seeds, scratch)
        print(f"  top-1 accuracy {acc['found']}/{acc['total']} = {acc['top1_accuracy']:.0%}; false causes on the "
              f"no-cause scenario: {acc['false_causes_on_no_cause']}; "
              f"doctor median {acc['median_doctor_s_4k_traces']:.2f} s", flush=True)
        big = scale(traces, store_memory, keep, scratch, repeat)
    print(f"doctor on {big['traces']:,} traces / {big['spans']:,} spans, store memory {big['store_memory']} "
          f"(built in {big['build_s']} s; target <= {TARGET_S:g} s):")
    for name, figure in big["cases"].items():
        if "error" in figure:
            print(f"  {name:40s} FAILED: {figure['error']}")
            continue
        runs = " / ".join(f"{t:.2f}" for t in figure["runs"])
        verdict = "" if figure["within_target"] else "   over target"
        print(f"  {name:40s} {figure['seconds']:6.2f} s  (runs {runs}; CPU {figure['cpu_seconds']:.2f} s, all "
              f"threads){verdict}")
        print(f"    first: {figure['first']}")
        for note in figure["notes"]:
            print(f"    note: {note}")
    print(f"  load average before {big['load_average_before']}, after {big['load_average_after']}")
    return {"accuracy": acc, "scale": big}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--store-memory", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    print(json.dumps(run(args.seeds, args.traces, args.store_memory, args.keep, args.repeat), indent=2, default=str))


if __name__ == "__main__":
    main()
