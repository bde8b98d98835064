"""Reconstruction benchmark: traces generated with intact propagation, cross-service links cut,
rebuilt, and scored against the truth beside a first-come-first-served baseline on the same data.

For each topology (bench/reconstruct_data.py; `held_out` was never used to choose the engine's
defaults) and each load (mean overlapping requests per service, idle to heavily concurrent), over
several seeds: link accuracy (cut links rejoined to the right caller), whole-trace accuracy (every
cut link of a request right, and no true root given a parent), the same for FCFS, a calibration
table (confidence bins against accuracy), throughput (spans per second through the engine alone,
and per second of a same-run CPU reference, bench/cpu_reference.py) and the peak memory the
engine allocated (tracemalloc, Python objects; first seed, a separate run).

    python -m bench.run reconstruct
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
import tracemalloc
from typing import Any

from bench.cpu_reference import reference_rate
from bench.reconstruct_data import TOPOLOGIES, generate
from tracehouse.analytics.reconstruct import EngineConfig, fcfs_baseline, reconstruct, taught
from tracehouse.analytics.reconstruct.scoring import CONFIDENCE_BINS, score

#: `python -m bench.run reconstruct --quick` (or TRACEHOUSE_BENCH_QUICK=1): idle and the most
#: concurrent load only, one seed, half the requests: for iterating; `make bench` runs the full sweep.
QUICK = os.environ.get("TRACEHOUSE_BENCH_QUICK", "") not in ("", "0")
LOADS = (0.2, 8.0) if QUICK else (0.2, 1.0, 2.0, 5.0, 8.0)
#: TRACEHOUSE_BENCH_LOADS=8 (comma-separated): only these loads, at the full size and seeds
if os.environ.get("TRACEHOUSE_BENCH_LOADS"):
    LOADS = tuple(float(x) for x in os.environ["TRACEHOUSE_BENCH_LOADS"].split(","))
SEEDS = (11,) if QUICK else (11, 12, 13)
REQUESTS = 600 if QUICK else 1200
EVIDENCE = (("attrs", True), ("timing", False))


def _one(topology: str, load: float, seed: int, measure_memory: bool, evidence: bool = True) -> dict[str, Any]:
    data = generate(topology, REQUESTS, load, seed=seed, evidence=evidence)
    spans = data.call_spans()
    before = reference_rate()
    began, cpu = time.perf_counter(), time.process_time()
    result = reconstruct(spans)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    reference = (before * reference_rate()) ** 0.5   # the host's speed around this run
    peak = 0
    if measure_memory:  # a second run: tracemalloc slows Python down several times
        tracemalloc.start()
        reconstruct(spans)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    ours = score(result.links, data.truth, data.request_of)
    fcfs_links = fcfs_baseline(spans)
    fcfs = score(fcfs_links, data.truth, data.request_of)
    # the reference: one assignment under gap models taught the true pairs (nothing learned from
    # the fragments): what better learning could add; the rest is what the evidence cannot tell
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    model = taught([(by_key[p], by_key[k]) for k, p in data.truth.items() if p is not None and p in by_key])
    ref = score(reconstruct(spans, model=model, config=EngineConfig(passes=1)).links, data.truth, data.request_of)
    ours_eq = score(result.links, data.truth, data.request_of, data.interchangeable)
    fcfs_eq = score(fcfs_links, data.truth, data.request_of, data.interchangeable)
    return {"concurrency": data.concurrency, "spans": len(data.rows), "seconds": seconds, "cpu_seconds": cpu_seconds,
            "reference": reference,
            "peak_bytes": peak,
            "link": ours.link_accuracy, "trace": ours.trace_accuracy, "fcfs_link": fcfs.link_accuracy,
            "fcfs_trace": fcfs.trace_accuracy, "false_links": ours.false_links,
            "link_eq": ours_eq.link_accuracy, "trace_eq": ours_eq.trace_accuracy,
            "fcfs_trace_eq": fcfs_eq.trace_accuracy,
            "bins": [(b.links, b.correct) for b in ours.calibration],
            # cut links, right, requests, whole: ours, FCFS; then ours with interchangeable siblings
            # counted right (~) and the taught reference (the same links and requests)
            "counts": (ours.true_links, ours.correct, ours.requests, ours.requests_whole,
                       fcfs.correct, fcfs.requests_whole, ours_eq.correct, ours_eq.requests_whole,
                       ref.correct, ref.requests_whole),
            "taught_link": ref.link_accuracy, "taught_trace": ref.trace_accuracy}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run() -> dict[str, Any]:
    print(f"load average {_load()} (1/5/15 min) on {os.cpu_count()} CPUs shared with other work; "
          f"{REQUESTS} requests per run, seeds {SEEDS}; medians over seeds{'; QUICK mode' if QUICK else ''}")
    print("evidence attrs: spans carry what the Python SDK instrumentations record (requests/httpx/urllib3\n"
          "clients, Flask/FastAPI servers: URLs with ids in some paths or queries, status codes, ports; some\n"
          "services without); timing: the same requests with every shared attribute stripped.\n"
          "link/trace: strict; ~: a link to an interchangeable sibling call (same parent span, same endpoint)\n"
          "counts as right. conc: measured mean overlapping requests per service. spans/s: wall clock; cpu sp/s:\n"
          "per second of this process's CPU time (the machine is shared: wall-clock rates follow the load,\n"
          "and CPU time itself stretches with the host's: the summary divides by a same-run CPU reference).\n"
          "taught: one assignment under gap models taught the true pairs (nothing learned from the fragments):\n"
          "the reference for how much better learning could do; what stays wrong there the timing cannot tell.")
    print(f"{'topology':12} {'evidence':8} {'load':>5} {'conc':>5} {'link':>7} {'trace':>7} {'fcfs link':>9} "
          f"{'fcfs trace':>10} {'link~':>7} {'trace~':>7} {'fcfs tr~':>8} {'spans/s':>8} {'cpu sp/s':>8} "
          f"{'peak MiB':>8} {'taught':>7} {'taught tr':>9}")
    results: dict[str, Any] = {}
    references: list[float] = []
    n_bins = len(CONFIDENCE_BINS) - 1
    tallies = {(mode, top): [[0, 0] for _ in range(n_bins)] for mode, _ in EVIDENCE for top in (False, True)}
    for topology in TOPOLOGIES:
        for load in LOADS:
            for mode, evidence in EVIDENCE:
                runs = [_one(topology, load, seed, seed == SEEDS[0] and load == LOADS[-1], evidence)
                        for seed in SEEDS]
                med = {k: statistics.median(r[k] for r in runs) for k in
                       ("concurrency", "link", "trace", "fcfs_link", "fcfs_trace", "seconds", "spans",
                        "link_eq", "trace_eq", "fcfs_trace_eq", "taught_link", "taught_trace")}
                med["peak_bytes"] = runs[0]["peak_bytes"]
                rate = statistics.median(r["spans"] / r["seconds"] for r in runs)
                cpu_rate = statistics.median(r["spans"] / max(r["cpu_seconds"], 1e-9) for r in runs)
                # CPU spans/s per million reference iterations per CPU second (bench.cpu_reference)
                per_reference = statistics.median(r["spans"] / max(r["cpu_seconds"], 1e-9) / r["reference"]
                                                  for r in runs)
                references.extend(r["reference"] for r in runs)
                peak = f"{med['peak_bytes'] / 2**20:8.1f}" if med["peak_bytes"] else f"{'-':>8}"
                print(f"{topology:12} {mode:8} {load:5.1f} {med['concurrency']:5.1f} {med['link']:7.1%} "
                      f"{med['trace']:7.1%} {med['fcfs_link']:9.1%} {med['fcfs_trace']:10.1%} {med['link_eq']:7.1%} "
                      f"{med['trace_eq']:7.1%} {med['fcfs_trace_eq']:8.1%} {rate:8.0f} {cpu_rate:8.0f} {peak} "
                      f"{med['taught_link']:7.1%} {med['taught_trace']:9.1%}",
                      flush=True)
                results[f"{topology}@{load}/{mode}"] = {**med, "spans_per_second": rate,
                                                       "cpu_spans_per_second": cpu_rate,
                                                       "per_reference": per_reference,
                                                       "counts": [sum(c) for c in zip(*(r["counts"] for r in runs),
                                                                                      strict=True)]}
                for r in runs:
                    for i, (n, c) in enumerate(r["bins"]):
                        for top in (False, True):
                            if top and load != LOADS[-1]:
                                continue
                            tallies[(mode, top)][i][0] += n
                            tallies[(mode, top)][i][1] += c
    print(f"\ncalibration: links per confidence bin and the share right (every run; the most concurrent load, "
          f"{LOADS[-1]}, alone):")
    header = " ".join(f"{mode + ('@top' if top else ''):>16}" for mode, _ in EVIDENCE for top in (False, True))
    print(f"{'confidence':>12} {header}")
    for i, (lo, hi) in enumerate(itertools.pairwise(CONFIDENCE_BINS)):
        cells = []
        for mode, _ in EVIDENCE:
            for top in (False, True):
                n, c = tallies[(mode, top)][i]
                cells.append(f"{n:7d} {c / n if n else 0:7.1%} ")
        print(f"{lo:5.2f}-{min(hi, 1.0):5.2f} {' '.join(cells)}")
    for mode, _ in EVIDENCE:
        confident = sum(b[0] for i, b in enumerate(tallies[(mode, False)]) if CONFIDENCE_BINS[i] >= 0.9)
        right = sum(b[1] for i, b in enumerate(tallies[(mode, False)]) if CONFIDENCE_BINS[i] >= 0.9)
        print(f"{mode}: links with confidence >= 0.9: {confident}, right: {right / confident if confident else 0:.1%}")
    results["calibration"] = {"bins": list(CONFIDENCE_BINS),
                              **{m + ("@top" if t else ""): v for (m, t), v in tallies.items()}}
    for mode, _ in EVIDENCE:
        every = [results[f"{t}@{load}/{mode}"] for t in TOPOLOGIES for load in LOADS]
        top = [results[f"{t}@{LOADS[-1]}/{mode}"] for t in TOPOLOGIES]
        print(f"{mode}: throughput, median over every topology and load: "
              f"{statistics.median(r['spans_per_second'] for r in every):.0f} spans/s wall clock "
              f"(lowest {min(r['spans_per_second'] for r in every):.0f}), "
              f"{statistics.median(r['cpu_spans_per_second'] for r in every):.0f} per CPU second; "
              f"most concurrent load ({LOADS[-1]}), median over topologies: link "
              f"{statistics.median(r['link'] for r in top):.1%} "
              f"(FCFS {statistics.median(r['fcfs_link'] for r in top):.1%}), "
              f"whole trace {statistics.median(r['trace'] for r in top):.1%} "
              f"(FCFS {statistics.median(r['fcfs_trace'] for r in top):.1%})")
        print(f"{mode}: throughput against the same-run CPU reference, median over every topology and load: "
              f"{statistics.median(r['per_reference'] for r in every):.0f} CPU spans/s per million reference "
              f"iterations/s (lowest {min(r['per_reference'] for r in every):.0f})")
        # Pooled: every cut link and every request of every topology and seed at the top load, each
        # counted once (the median above weighs a topology of 3-6 sibling calls like one of 2 calls).
        (links, right, requests, whole, fcfs_right, fcfs_whole, right_eq, whole_eq, taught_right,
         taught_whole) = (sum(c) for c in zip(*(r["counts"] for r in top), strict=True))
        print(f"{mode}: most concurrent load ({LOADS[-1]}), pooled over every topology and seed: link "
              f"{right / links:.1%} of {links} (FCFS {fcfs_right / links:.1%}), whole trace {whole / requests:.1%} "
              f"of {requests} (FCFS {fcfs_whole / requests:.1%})")
        print(f"{mode}: the same pooled, interchangeable siblings counted right (link~/trace~): link "
              f"{right_eq / links:.1%}, whole trace {whole_eq / requests:.1%}; taught reference: link "
              f"{taught_right / links:.1%}, whole trace {taught_whole / requests:.1%}")
        results[f"pooled@{LOADS[-1]}/{mode}"] = {"link": right / links, "trace": whole / requests,
                                                 "fcfs_link": fcfs_right / links, "fcfs_trace": fcfs_whole / requests,
                                                 "link_eq": right_eq / links, "trace_eq": whole_eq / requests,
                                                 "taught_link": taught_right / links,
                                                 "taught_trace": taught_whole / requests}
    print(f"CPU reference (bench/cpu_reference.py) around every timed run: median "
          f"{statistics.median(references):.2f} million iterations per CPU second (lowest {min(references):.2f}, "
          f"highest {max(references):.2f})")
    results["cpu_reference"] = {"median": statistics.median(references), "low": min(references),
                                "high": max(references)}
    print(f"load average at the end {_load()}")
    return results
