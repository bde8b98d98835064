"""Reconstruction benchmark: traces generated with intact propagation, cross-service links cut,
rebuilt, and scored against the truth beside a first-come-first-served baseline on the same data.

For each topology (bench/reconstruct_data.py; `held_out` was never used to choose the engine's
defaults) and each load (mean overlapping requests per service, idle to heavily concurrent), over
several seeds: link accuracy (cut links rejoined to the right caller), whole-trace accuracy (every
cut link of a request right, and no true root given a parent), the same for FCFS, a calibration
table (confidence bins against accuracy), throughput (spans per second through the engine alone)
and the peak memory the engine allocated (tracemalloc, Python objects; first seed, a separate run).

    python -m bench.run reconstruct
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
import tracemalloc
from typing import Any

from bench.reconstruct_data import TOPOLOGIES, generate
from tracehouse.analytics.reconstruct import fcfs_baseline, reconstruct
from tracehouse.analytics.reconstruct.scoring import CONFIDENCE_BINS, score

LOADS = (0.2, 1.0, 2.0, 5.0, 8.0)
SEEDS = (11, 12, 13)
REQUESTS = 1200


def _one(topology: str, load: float, seed: int, measure_memory: bool, evidence: bool = True) -> dict[str, Any]:
    data = generate(topology, REQUESTS, load, seed=seed, evidence=evidence)
    spans = data.call_spans()
    began, cpu = time.perf_counter(), time.process_time()
    result = reconstruct(spans)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    peak = 0
    if measure_memory:  # a second run: tracemalloc slows Python down several times
        tracemalloc.start()
        reconstruct(spans)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    ours = score(result.links, data.truth, data.request_of)
    fcfs_links = fcfs_baseline(spans)
    fcfs = score(fcfs_links, data.truth, data.request_of)
    ours_eq = score(result.links, data.truth, data.request_of, data.interchangeable)
    fcfs_eq = score(fcfs_links, data.truth, data.request_of, data.interchangeable)
    return {"concurrency": data.concurrency, "spans": len(data.rows), "seconds": seconds, "cpu_seconds": cpu_seconds,
            "peak_bytes": peak,
            "link": ours.link_accuracy, "trace": ours.trace_accuracy, "fcfs_link": fcfs.link_accuracy,
            "fcfs_trace": fcfs.trace_accuracy, "false_links": ours.false_links,
            "link_eq": ours_eq.link_accuracy, "trace_eq": ours_eq.trace_accuracy,
            "fcfs_trace_eq": fcfs_eq.trace_accuracy,
            "bins": [(b.links, b.correct) for b in ours.calibration]}


def run() -> dict[str, Any]:
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
          f"{REQUESTS} requests per run, seeds {SEEDS}; medians over seeds")
    print("link/trace: strict; ~: a link to an interchangeable sibling call (same parent span, same endpoint)\n"
          "counts as right. conc: measured mean overlapping requests per service. spans/s: wall clock; cpu sp/s:\n"
          "per second of this process's CPU time (the machine is shared: wall-clock rates follow the load).")
    print(f"{'topology':12} {'load':>5} {'conc':>5} {'link':>7} {'trace':>7} {'fcfs link':>9} {'fcfs trace':>10} "
          f"{'link~':>7} {'trace~':>7} {'fcfs tr~':>8} {'spans/s':>8} {'cpu sp/s':>8} {'peak MiB':>8}")
    results: dict[str, Any] = {}
    bins_total = [[0, 0] for _ in CONFIDENCE_BINS[:-1]]
    bins_top = [[0, 0] for _ in CONFIDENCE_BINS[:-1]]
    for topology in TOPOLOGIES:
        for load in LOADS:
            runs = [_one(topology, load, seed, seed == SEEDS[0]) for seed in SEEDS]
            med = {k: statistics.median(r[k] for r in runs) for k in
                   ("concurrency", "link", "trace", "fcfs_link", "fcfs_trace", "seconds", "spans",
                    "link_eq", "trace_eq", "fcfs_trace_eq")}
            med["peak_bytes"] = runs[0]["peak_bytes"]
            rate = statistics.median(r["spans"] / r["seconds"] for r in runs)
            cpu_rate = statistics.median(r["spans"] / max(r["cpu_seconds"], 1e-9) for r in runs)
            print(f"{topology:12} {load:5.1f} {med['concurrency']:5.1f} {med['link']:7.1%} {med['trace']:7.1%} "
                  f"{med['fcfs_link']:9.1%} {med['fcfs_trace']:10.1%} {med['link_eq']:7.1%} {med['trace_eq']:7.1%} "
                  f"{med['fcfs_trace_eq']:8.1%} {rate:8.0f} {cpu_rate:8.0f} {med['peak_bytes'] / 2**20:8.1f}",
                  flush=True)
            results[f"{topology}@{load}"] = {**med, "spans_per_second": rate, "cpu_spans_per_second": cpu_rate}
            for r in runs:
                for i, (n, c) in enumerate(r["bins"]):
                    bins_total[i][0] += n
                    bins_total[i][1] += c
                    if load == LOADS[-1]:
                        bins_top[i][0] += n
                        bins_top[i][1] += c
    print("\ncalibration (every run; and the most concurrent load alone):")
    print(f"{'confidence':>12} {'links':>8} {'right':>7} {'links@top':>10} {'right@top':>10}")
    for i, (lo, hi) in enumerate(itertools.pairwise(CONFIDENCE_BINS)):
        n, c = bins_total[i]
        nt, ct = bins_top[i]
        print(f"{lo:5.2f}-{min(hi, 1.0):5.2f} {n:8d} {c / n if n else 0:7.1%} {nt:10d} {ct / nt if nt else 0:10.1%}")
    confident = sum(b[0] for i, b in enumerate(bins_total) if CONFIDENCE_BINS[i] >= 0.9)
    right = sum(b[1] for i, b in enumerate(bins_total) if CONFIDENCE_BINS[i] >= 0.9)
    print(f"links with confidence >= 0.9: {confident}, right: {right / confident if confident else 0:.1%}")
    top = [results[f"{t}@{LOADS[-1]}"] for t in TOPOLOGIES]
    every = [results[f"{t}@{load}"] for t in TOPOLOGIES for load in LOADS]
    wall = statistics.median(r["spans_per_second"] for r in every)
    per_cpu = statistics.median(r["cpu_spans_per_second"] for r in every)
    print(f"throughput, median over every topology and load: {wall:.0f} spans/s wall clock, "
          f"{per_cpu:.0f} per CPU second")
    fcfs_link = statistics.median(r["fcfs_link"] for r in top)
    print(f"most concurrent load ({LOADS[-1]}), median over topologies: link "
          f"{statistics.median(r['link'] for r in top):.1%} (FCFS {fcfs_link:.1%}), "
          f"whole trace {statistics.median(r['trace'] for r in top):.1%} "
          f"(FCFS {statistics.median(r['fcfs_trace'] for r in top):.1%})")
    results["calibration"] = {"bins": list(CONFIDENCE_BINS), "all": bins_total, "top_load": bins_top}
    # The same data at the most concurrent load with the attributes both ends share stripped:
    # what timing alone achieves where a topology above had such evidence.
    print(f"\nmost concurrent load ({LOADS[-1]}), timing alone (no shared attributes), medians over seeds:")
    print(f"{'topology':12} {'link':>7} {'trace':>7} {'fcfs link':>9} {'fcfs trace':>10}")
    for topology in TOPOLOGIES:
        if not generate(topology, 5, 1.0, seed=SEEDS[0]).has_evidence():
            continue
        runs = [_one(topology, LOADS[-1], seed, False, evidence=False) for seed in SEEDS]
        row = {k: statistics.median(r[k] for r in runs) for k in ("link", "trace", "fcfs_link", "fcfs_trace")}
        print(f"{topology:12} {row['link']:7.1%} {row['trace']:7.1%} {row['fcfs_link']:9.1%} {row['fcfs_trace']:10.1%}",
              flush=True)
        results[f"{topology}@{LOADS[-1]}/timing"] = row
    return results
