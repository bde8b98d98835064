"""A ceiling for reconstruction: the most likely assignment (MAP) under the generator's TRUE model.

The engine learns its gap laws from the fragments; the benchmark's "taught" reference is the same
engine with laws taught the true pairs. Both are our own models. This oracle is not: it knows
everything bench/reconstruct_data.py knows except the answer (the topology, each service's clock
skew, the network and queue laws, which operation calls which, how retries and caches behave) and
finds the assignment of orphans to calls that makes the data most likely. It never reads
`Generated.truth` to choose; the truth is read only to score, and to check (`Checks`) that the
model never rules out a true pair.

The model, from `_Run.call`/`_Run._emit` (skews are added to every span of a service):
- a synchronous call: server start - client start = net1 + dskew, client end - server end =
  net2 - dskew (dskew = callee skew - caller skew), net1 and net2 independent,
  int(net_ms * 1e6 * LogNormal(0, 0.35)); given the assignment, the rest of both fragments is
  a change of variables away from (net1, net2), so a pair's likelihood is f(net1) f(net2);
- an asynchronous hop: consumer start - producer end = int(Exp(mean queue_ms)) + dskew;
- the attributes both ends record are copied from the caller to the callee: a hard filter (the
  engine's own `_compatible`, every hint both ends carry equal, targets agreeing); every callee
  has one calling service in these topologies, so the hints' rarity is the same for every
  candidate and drops out;
- a caller span's target: its operation's calls in order (parallel calls start in order too),
  minus the skipped ones (the consistent skip patterns, their union per position), each
  fanned out; a retry's failed first attempt (a CLIENT span of the same parent ending exactly
  2 ms before another one starts) reaches nobody and is no candidate;
- the entry operation's spans have no parent, every other orphan exactly one.

`no ord` (the same oracle without the calls' order: a caller span may have called any service its
operation calls with its kind) is the ceiling for a method that, like the engine, does not use it.

Relaxations (each can only make the oracle weaker, never let it peek): the skip pattern's
positions are allowed independently (not jointly), and its prior is ignored. MAP maximizes the
probability of the whole assignment being right; a per-link decoder could score a shade more
links on identical siblings, so this is a ceiling in the Bayes sense, not a theorem per link.

    python -m bench.run reconstruct_oracle
    TRACEHOUSE_BENCH_LOADS=0.2 python -m bench.run reconstruct_oracle   (the idle sanity check)
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.reconstruct_data import MS, TOPOLOGIES, Generated, Op, Topology, _instrument, generate
from tracehouse.analytics.reconstruct import CallSpan, EngineConfig, InferredLink, reconstruct, taught
from tracehouse.analytics.reconstruct.assign import Assignment
from tracehouse.analytics.reconstruct.engine import _compatible
from tracehouse.analytics.reconstruct.scoring import Score, score

LOADS: tuple[float, ...] = (2.0, 8.0)
if os.environ.get("TRACEHOUSE_BENCH_LOADS"):
    LOADS = tuple(float(x) for x in os.environ["TRACEHOUSE_BENCH_LOADS"].split(","))
SEEDS = (11, 12, 13)
REQUESTS = 1200
EVIDENCE = (("attrs", True), ("timing", False))

#: the network law's log-scale (reconstruct_data._Run._net)
SIGMA = 0.35
#: a pair whose network time is further than this many sigmas from the median is not a candidate
#: (its likelihood is under e^-32 of the median's: nothing the assignment could prefer)
SIGMAS = 8.0
#: a queue delay this many means above the row's shortest candidate one weighs under e^-28 (1e-12)
QUEUE_MEANS = 28.0
#: leaving a non-entry orphan unlinked: never cheaper than any chain of reassignments
NO_PARENT = 1e7
RETRY_PAUSE = 2 * MS  # a failed attempt's end -> its retry's start (`_Run.call`)


def topology_of(topology: str, seed: int, evidence: bool = True) -> Topology:
    """The topology `generate(topology, ..., seed=seed, evidence=evidence)` ran: the same random
    draws in the same order (`generate`'s first draws, then `_instrument`'s own stream)."""
    topo = TOPOLOGIES[topology](random.Random(seed))
    if not evidence:
        topo.hints = False
    _instrument(topo, random.Random(seed * 7919 + 3))
    return topo


def _ops(topo: Topology) -> dict[tuple[str, str], Op]:
    out: dict[tuple[str, str], Op] = {}
    todo = [topo.entry]
    while todo:
        op = todo.pop()
        out[(op.service, op.name)] = op
        todo.extend(c.target for c in op.calls)
    return out


@dataclass
class Checks:
    """Read from the truth AFTER the assignment, to check the model, never to choose."""

    orphans: int = 0
    rows: int = 0                 # non-entry orphans
    edges: int = 0                # candidate pairs
    stranded: int = 0             # non-entry orphans without any candidate
    true_filtered: int = 0        # true pairs `_compatible` rejects: must be 0
    true_missing: int = 0         # true pairs not among the candidates (pruned, slot): must be 0
    failed_attempts: int = 0      # caller spans recognised as failed first attempts
    wrong_root: int = 0           # orphans the oracle calls the entry whose truth has a parent
    #: -log likelihood (nats, the assignment-dependent part) of the oracle's links, and of the true
    #: ones: the MAP's can be no higher, or the assignment is not the optimum
    cost: float = 0.0
    truth_cost: float = 0.0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)


def _targets(op: Op, children: list[CallSpan]) -> list[set[str]]:
    """Per caller span of one parent span (in slot order), the services it may have called."""
    calls = op.calls
    skippable = [k for k, c in enumerate(calls) if c.skip]
    allowed: list[set[str]] = [set() for _ in children]
    for pattern in itertools.product((False, True), repeat=len(skippable)):
        skipped = {k for k, s in zip(skippable, pattern, strict=True) if s}
        sequence = [c for k, c in enumerate(calls) if k not in skipped for _ in range(c.fanout)]
        if len(sequence) != len(children):
            continue
        if any(c.asynchronous != (s.kind == "PRODUCER") for c, s in zip(sequence, children, strict=True)):
            continue
        for k, c in enumerate(sequence):
            allowed[k].add(c.target.service)
    return allowed


def _callers(spans: Sequence[CallSpan], topo: Topology, checks: Checks,
             order: bool = True) -> tuple[list[CallSpan], list[set[str]]]:
    """The caller spans that reached somebody, each with the services it may have called: by its
    place in its operation's calls (`order`), or any its operation calls with its kind."""
    ops = _ops(topo)
    by_parent: dict[tuple[str, str], list[CallSpan]] = {}
    owner: dict[tuple[str, str], CallSpan] = {}
    for s in spans:
        owner[(s.trace_id, s.span_id)] = s
        if s.kind in ("CLIENT", "PRODUCER") and s.parent_span_id:
            by_parent.setdefault((s.trace_id, s.parent_span_id), []).append(s)
    out: list[CallSpan] = []
    targets: list[set[str]] = []
    for key, children in by_parent.items():
        parent = owner[key]
        op = ops[(parent.service, parent.name)]
        starts = {c.start: c for c in children}
        real: list[tuple[int, CallSpan]] = []   # (slot time, span)
        retried: dict[int, int] = {}            # a retry's start -> its failed attempt's start
        for c in children:
            retry = starts.get(c.end + RETRY_PAUSE) if c.kind == "CLIENT" else None
            if retry is not None:
                retried[retry.start] = c.start
                checks.failed_attempts += 1
        for c in children:
            if c.end + RETRY_PAUSE in starts and c.kind == "CLIENT":
                continue
            # a retry takes its failed attempt's place in the order (parallel calls start in order)
            real.append((retried.get(c.start, c.start), c))
        real.sort(key=lambda p: (p[0], p[1].start))
        allowed = _targets(op, [c for _, c in real]) if order else [set() for _ in real]
        for (_, c), a in zip(real, allowed, strict=True):
            if not a:  # without `order`, or no consistent pattern (never seen): any call of its kind
                if order:
                    checks.extra["no_pattern"] = checks.extra.get("no_pattern", 0) + 1
                a = {call.target.service for call in op.calls if call.asynchronous == (c.kind == "PRODUCER")}
            out.append(c)
            targets.append(a)
    return out, targets


def _net_cost(n: int, median: float) -> float:
    """-log P(int(median * LogNormal(0, SIGMA)) = n), the density at n + 0.5."""
    x = n + 0.5
    z = math.log(x / median) / SIGMA
    return math.log(x * SIGMA * math.sqrt(2 * math.pi)) + 0.5 * z * z


def oracle(data: Generated, topo: Topology, order: bool = True) -> tuple[list[InferredLink], Checks]:
    """The MAP assignment of `data`'s orphans under `topo`'s true model, as links (confidence 1).
    Without `order`, a call's place among its parent's calls is not used (the engine does not use it
    either): which service a caller span called is then whatever its operation calls."""
    began = time.perf_counter()
    checks = Checks()
    spans = data.call_spans()
    callers, targets = _callers(spans, topo, checks, order)
    skew = {s: int(v * MS) for s, v in topo.skew_ms.items()}
    median = topo.net_ms * MS
    lo, hi = median * math.exp(-SIGMAS * SIGMA), median * math.exp(SIGMAS * SIGMA)
    mean_queue = topo.queue_ms * MS
    # per (caller service, callee service, asynchronous): the columns, by start (calls) or end (hops)
    groups: dict[tuple[str, str, bool], tuple[list[int], list[int]]] = {}
    for j, (c, allowed) in enumerate(zip(callers, targets, strict=True)):
        for callee in allowed:
            group = groups.setdefault((c.service, callee, c.kind == "PRODUCER"), ([], []))
            group[0].append(j)
    for (_, _, hop), (columns, times) in groups.items():
        columns.sort(key=lambda j: callers[j].end if hop else callers[j].start)
        times.extend(callers[j].end if hop else callers[j].start for j in columns)
    calling: dict[tuple[str, bool], set[str]] = {}
    for op in _ops(topo).values():
        for call in op.calls:
            calling.setdefault((call.target.service, call.asynchronous), set()).add(op.service)
    orphans = [s for s in spans if s.kind in ("SERVER", "CONSUMER") and not s.parent_span_id]
    checks.orphans = len(orphans)
    rows: list[CallSpan] = []
    adjacency: list[list[tuple[int, float]]] = []
    for s in orphans:
        if s.service == topo.entry.service:
            continue  # the entry: called from outside, no parent
        hop = s.kind == "CONSUMER"
        edges: list[tuple[int, float]] = []
        for service in calling.get((s.service, hop), ()):
            dskew = skew[s.service] - skew[service]
            found = groups.get((service, s.service, hop))
            if found is None:
                continue
            columns, times = found
            if hop:
                # q = start - producer end - dskew in [0, ...]: producers ending up to `start - dskew`
                last = bisect.bisect_right(times, s.start - dskew)
                first = bisect.bisect_left(times, s.start - dskew - 40 * mean_queue)
                for j in columns[first:last]:
                    c = callers[j]
                    if _compatible(c, s):
                        edges.append((j, (s.start - c.end - dskew) / mean_queue))
            else:
                first = bisect.bisect_left(times, s.start - dskew - hi)
                last = bisect.bisect_right(times, s.start - dskew - lo)
                for j in columns[first:last]:
                    c = callers[j]
                    net2 = c.end - s.end + dskew
                    if lo <= net2 <= hi and _compatible(c, s):
                        edges.append((j, _net_cost(s.start - c.start - dskew, median) + _net_cost(net2, median)))
        if hop and edges:
            best = min(cost for _, cost in edges)
            edges = [(j, cost) for j, cost in edges if cost <= best + QUEUE_MEANS]
        if not edges:
            checks.stranded += 1
            continue
        rows.append(s)
        adjacency.append(edges)
    checks.rows = len(rows) + checks.stranded
    checks.edges = sum(len(e) for e in adjacency)
    solved = Assignment(adjacency, [NO_PARENT] * len(rows), len(callers))
    links = []
    for r, s in enumerate(rows):
        j = solved.parent(r)
        if j < 0:
            continue
        c = callers[j]
        checks.cost += solved.cost_of(r, j)
        links.append(InferredLink(s.trace_id, s.span_id, c.trace_id, c.span_id, 1.0, s.service, c.service, s.start))
    checks.seconds = time.perf_counter() - began
    _check(data, spans, rows, adjacency, callers, checks, topo)
    return links, checks


def _check(data: Generated, spans: Sequence[CallSpan], rows: list[CallSpan], adjacency: list[list[tuple[int, float]]],
           callers: list[CallSpan], checks: Checks, topo: Topology) -> None:
    """Count the true pairs the model ruled out (the truth read after the assignment, for this only)."""
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    column = {(c.trace_id, c.span_id): j for j, c in enumerate(callers)}
    candidates = {(s.trace_id, s.span_id): dict(edges) for s, edges in zip(rows, adjacency, strict=True)}
    for child, parent in data.truth.items():
        if parent is None:
            continue
        s = by_key[child]
        if s.service == topo.entry.service:
            checks.wrong_root += 1
        if not _compatible(by_key[parent], s):
            checks.true_filtered += 1
        cost = candidates.get(child, {}).get(column.get(parent, -1))
        if cost is None:
            checks.true_missing += 1
        else:
            checks.truth_cost += cost


def _pct(num: int, den: int) -> str:
    return f"{num / den:6.1%}" if den else f"{'-':>6}"


def _one(topology: str, load: float, seed: int, evidence: bool) -> dict[str, Any]:
    data = generate(topology, REQUESTS, load, seed=seed, evidence=evidence)
    topo = topology_of(topology, seed, evidence)
    links, checks = oracle(data, topo)
    unordered, plain = oracle(data, topo, order=False)
    checks.seconds += plain.seconds
    spans = data.call_spans()
    ours = score(reconstruct(spans).links, data.truth, data.request_of)
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    model = taught([(by_key[p], by_key[k]) for k, p in data.truth.items() if p is not None and p in by_key])
    ref = score(reconstruct(spans, model=model, config=EngineConfig(passes=1)).links, data.truth, data.request_of)
    best = score(links, data.truth, data.request_of)
    return {"oracle": best, "engine": ours, "taught": ref, "checks": checks,
            "no order": score(unordered, data.truth, data.request_of)}


def _counts(s: Score) -> tuple[int, int, int, int]:
    return s.true_links, s.correct, s.requests, s.requests_whole


def _row(label: str, runs: list[dict[str, Any]]) -> str:
    cells = []
    for who in WHO:
        links, right, requests, whole = (sum(c) for c in zip(*(_counts(r[who]) for r in runs), strict=True))
        cells.append(f"{_pct(right, links)} {_pct(whole, requests)}")
    return f"{label} {'   '.join(cells)}"


WHO = ("oracle", "no order", "engine", "taught")


def run() -> dict[str, Any]:
    print(f"MAP oracle under the generator's true model vs the engine vs the taught reference; {REQUESTS} "
          f"requests per run,\nseeds {SEEDS}, loads {LOADS}. link/trace: strict (scoring.score), pooled over "
          f"the seeds on the 'all'\nlines (cut links right / cut links, whole requests / requests). no ord: the "
          f"oracle without the calls' order\n(a caller span may have called any service its operation calls; the "
          f"engine does not use the order).\nchecks: true pairs the oracle's model ruled out (must be 0), orphans "
          f"left without a candidate (must be 0),\nthe MAP's -log likelihood minus the truth's (<= 0: at least as "
          f"likely as the truth), the oracle's seconds (both variants).")
    header = f"{'topology':12} {'evidence':8} {'load':>5} {'seed':>5}"
    print(f"{header} {'oracle':>6} {'trace':>6}   {'no ord':>6} {'trace':>6}   {'engine':>6} {'trace':>6}   "
          f"{'taught':>6} {'trace':>6}   checks")
    results: dict[str, Any] = {}
    started = time.perf_counter()
    oracle_seconds = 0.0
    top: dict[str, list[dict[str, Any]]] = {mode: [] for mode, _ in EVIDENCE}
    for topology in TOPOLOGIES:
        for load in LOADS:
            for mode, evidence in EVIDENCE:
                runs = []
                for seed in SEEDS:
                    r = _one(topology, load, seed, evidence)
                    c: Checks = r["checks"]
                    oracle_seconds += c.seconds
                    runs.append(r)
                    print(f"{_row(f'{topology:12} {mode:8} {load:5.1f} {seed:5d}', [r])}   "
                          f"ruled out {c.true_filtered + c.true_missing}, stranded {c.stranded}, "
                          f"MAP - truth {round(c.cost - c.truth_cost):d} nats, {c.seconds:.1f} s", flush=True)
                print(_row(f"{topology:12} {mode:8} {load:5.1f} {'all':>5}", runs), flush=True)
                results[f"{topology}@{load}/{mode}"] = {
                    who: [sum(x) for x in zip(*(_counts(r[who]) for r in runs), strict=True)]
                    for who in WHO}
                if load == LOADS[-1]:
                    top[mode].extend(runs)
    for mode, _ in EVIDENCE:
        print(_row(f"{'pooled':12} {mode:8} {LOADS[-1]:5.1f} {'all':>5}", top[mode]))
        results[f"pooled@{LOADS[-1]}/{mode}"] = {
            who: [sum(x) for x in zip(*(_counts(r[who]) for r in top[mode]), strict=True)]
            for who in WHO}
    print(f"oracle: {oracle_seconds:.0f} s in total (the whole benchmark {time.perf_counter() - started:.0f} s)")
    results["oracle_seconds"] = oracle_seconds
    return results
