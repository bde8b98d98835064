"""`tracehouse doctor`: what changed in a window against a baseline in time, ranked by how much it
costs requests, with tests that survive the number of hypotheses tried (docs/analyses.md).

For each trace of a fixed sample on each side (the store's lowest trace hashes), on its one
timeline (trace_time.timeline: skew corrected, async work kept), each span's own time is charged:
- a SERVER, INTERNAL or CONSUMER span's own time (its duration less the time covered by its
  synchronous children) to its service and to its operation;
- a CLIENT span's time not covered by the callee's SERVER span (the CLIENT->SERVER gap: network,
  queueing before the callee, or all of an uninstrumented callee) to the edge, named by its callee;
- the wait between a PRODUCER's end and its CONSUMER's start to the queue between them.
Durations are measured on one clock each, so none of these move with clock skew.

Hypotheses, per location with enough support (MIN_SUPPORT traces through it on each side):
- slower: the per-trace own time there is larger in the incident. Two tests, Bonferroni-combined:
  Mann-Whitney U (a shift of the whole distribution) and Fisher's exact test on the share of
  traces above the baseline's p90 (a tail that only some requests have: the "p90 self time" rule).
- errors: more traces whose error starts there (a failed span none of whose children failed; a
  CLIENT span that failed while its callee did not, a timeout, is charged to the callee). Fisher.
- repeated calls: more calls per trace (N+1). Mann-Whitney on the counts.
Every p-value goes into one Benjamini-Hochberg correction. A cause must also be big enough to
matter (MIN_ADDED_MS and a 20% change, or an error rate up by a point and by half), so that a large
sample does not turn a 0.1 ms wobble into a finding. Significant causes are narrowed to a segment
(an attribute value of the entry span or of the location's own spans) when one carries the change.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import pyarrow as pa

from tracehouse.analytics.causes import Cause, Diagnosis, Effect, Location, Segment, Support
from tracehouse.analytics.stats import (
    benjamini_hochberg,
    change_point,
    fisher_greater,
    mann_whitney_greater,
    quantile,
)
from tracehouse.analytics.trace_time import place, placed_duration

ALPHA = 0.01                 # false discovery rate of the causes reported
MIN_SUPPORT = 20             # traces through a location on each side before it is tested
MIN_ADDED_MS = 1.0           # a latency change smaller than this is not a cause, whatever its p
MIN_CHANGE = 0.2             # ...nor one under 20% of the baseline's value
MIN_ERROR_RISE = 0.01        # an error rate must rise by a point...
MAX_SEGMENT_VALUES = 50      # attributes with more values than this are identifiers, not segments
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)
PEER_KEYS = ("peer.service", "server.address", "net.peer.name", "db.system", "rpc.service", "messaging.system")
_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{16,})$")

Loc = tuple[str, str, str | None, str | None]   # (kind, service, operation, caller), as Location
ALL_CALLERS = "*"                                 # the caller of an edge that gathers every caller


def template(text: str) -> str:
    """Ids in paths and names become {id}: '/api/users/8812/orders' -> '/api/users/{id}/orders'."""
    if "/" not in text:
        return text
    head = text.partition("?")[0]
    parts = [("{id}" if _ID_SEGMENT.match(p) else p) for p in head.split("/")]
    return "/".join(parts)


@dataclass
class TraceFacts:
    """What doctor keeps of one trace."""

    trace_id: str
    start_ns: int
    duration_ns: int
    own: dict[Loc, int] = field(default_factory=lambda: defaultdict(int))
    calls: dict[Loc, int] = field(default_factory=lambda: defaultdict(int))
    client_ns: dict[Loc, int] = field(default_factory=lambda: defaultdict(int))
    error_at: set[Loc] = field(default_factory=set)
    # Segment candidates, parsed only for the causes found: the rows (in `columns`, the sample's
    # columns) of the root span and of each location's spans.
    columns: dict[str, list[Any]] = field(default_factory=dict)
    root_row: int = 0
    loc_rows: dict[Loc, list[int]] = field(default_factory=lambda: defaultdict(list))
    shifts: dict[str, int] = field(default_factory=dict)
    has_status: bool = False       # some span has an error status


class _JsonCache:
    def __init__(self) -> None:
        self._cache: dict[str, dict[str, Any]] = {}

    def load(self, text: str | None) -> dict[str, Any]:
        if not text:
            return {}
        hit = self._cache.get(text)
        if hit is None:
            try:
                hit = json.loads(text)
            except ValueError:
                hit = {}
            if not isinstance(hit, dict):
                hit = {}
            if len(self._cache) < 50_000:
                self._cache[text] = hit
        return hit


def _attr_items(attrs: dict[str, Any], carrier: str, scope: str) -> Iterator[tuple[str, str, str, str]]:
    for key, value in attrs.items():
        if key == "service.name" or isinstance(value, (dict, list)):
            continue
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        yield key, template(text), carrier, scope


def _union_ns(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for s, e in sorted(intervals):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def trace_facts(table: pa.Table) -> list[TraceFacts]:
    """The facts of each trace of a `cause_sample` table (ordered by trace)."""
    cols = table.to_pydict()
    cache = _JsonCache()
    names: dict[str, str] = {}
    out: list[TraceFacts] = []
    trace_ids = cols["trace_id"]
    n = table.num_rows
    i = 0
    while i < n:
        j = i
        tid = trace_ids[i]
        while j < n and trace_ids[j] == tid:
            j += 1
        facts = _facts_of(tid, cols, i, j, cache, names)
        if facts is not None:
            out.append(facts)
        i = j
    return out


def _facts_of(trace_id: str, cols: dict[str, list[Any]], lo: int, hi: int, cache: _JsonCache,
              names: dict[str, str]) -> TraceFacts | None:
    ids = cols["span_id"][lo:hi]
    index = {sid: k for k, sid in enumerate(ids)}
    if len(index) < len(ids):  # a re-sent span counts once
        rows = [lo + k for k in sorted(index.values())]
        index = {cols["span_id"][r]: k for k, r in enumerate(rows)}

        def column(name: str) -> list[Any]:
            return [cols[name][r] for r in rows]
    else:
        rows = list(range(lo, hi))

        def column(name: str) -> list[Any]:
            return cols[name][lo:hi]
    parent = [index.get(p, -1) if p is not None else -1 for p in column("parent_span_id")]
    service: list[str] = column("service_name")
    kind = [k or "" for k in column("span_kind")]
    start: list[int] = column("start_time_unix_nano")
    duration = [max(0, d) for d in column("duration_ns")]
    end = [s + d for s, d in zip(start, duration, strict=True)]
    error = [bool(e) for e in column("error")]
    span_name: list[str] = column("span_name")
    root, shift, order = place(parent, service, kind, start, end)
    if root < 0:
        return None
    facts = TraceFacts(trace_id, start[root] + shift[root], placed_duration(root, shift, order, start, end),
                       columns=cols, root_row=rows[root], has_status=any(error))
    for k in order:
        if shift[k] and (parent[k] < 0 or shift[k] != shift[parent[k]]):
            facts.shifts.setdefault(service[k], shift[k])
    children: dict[int, list[int]] = defaultdict(list)
    for k in order:
        if k != root:
            children[parent[k]].append(k)
    own_map, calls_map, loc_rows = facts.own, facts.calls, facts.loc_rows

    def callee_of(c: int) -> str:
        server = next((g for g in children.get(c, ()) if service[g] != service[c]), None)
        if server is not None:
            return service[server]
        span_attrs = cache.load(cols["attributes"][rows[c]])
        return next((str(span_attrs[key]) for key in PEER_KEYS if span_attrs.get(key)), span_name[c])

    for k in order:
        kids = children.get(k)
        duration_k = duration[k]
        own = duration_k
        child_failed = False
        producer = kind[k] == "PRODUCER"
        sync: list[int] = []
        if kids:
            # trace_time.is_async, inlined (this loop runs for every span of the sample)
            sync = [c for c in kids if not producer and kind[c] != "CONSUMER"]
            if sync:
                s_start = start[k] + shift[k]
                s_end = s_start + duration_k
                if len(sync) == 1:
                    c = sync[0]
                    c_start = start[c] + shift[c]
                    covered = max(0, min(c_start + duration[c], s_end) - max(c_start, s_start))
                else:
                    spans = [(max(start[c] + shift[c], s_start), min(end[c] + shift[c], s_end)) for c in sync]
                    covered = _union_ns([(a, b) for a, b in spans if b > a])
                own = max(0, duration_k - covered)
                child_failed = any(error[c] for c in sync)
                if child_failed and len(sync) > 1:
                    own -= _charge_retry_waits(k, sync, kind, span_name, start, end, error, service, callee_of,
                                               own_map)
        row = rows[k]
        if kind[k] == "CLIENT":
            servers = [c for c in sync if service[c] != service[k]]
            if servers:
                callee = service[servers[0]]
                # The gap is the client's duration less the callee's: both on one clock each.
                own = max(0, duration_k - max(duration[c] for c in servers))
            else:
                span_attrs = cache.load(cols["attributes"][row])
                callee = next((str(span_attrs[key]) for key in PEER_KEYS if span_attrs.get(key)), span_name[k])
            loc: Loc = ("edge", callee, None, service[k])
            into: Loc = ("edge", callee, None, ALL_CALLERS)   # every call into the callee
            own_map[loc] += own
            own_map[into] += own
            calls_map[loc] += 1
            facts.client_ns[loc] += duration_k
            if error[k] and not child_failed:
                facts.error_at.add(loc)
                facts.error_at.add(into)
            loc_rows[loc].append(row)
            loc_rows[into].append(row)
            continue
        raw_name = span_name[k]
        operation = names.get(raw_name)
        if operation is None:
            operation = names[raw_name] = template(raw_name)
        service_loc: Loc = ("service", service[k], None, None)
        op_loc: Loc = ("operation", service[k], operation, None)
        own_map[service_loc] += own
        own_map[op_loc] += own
        calls_map[op_loc] += 1
        if error[k] and not child_failed:
            facts.error_at.add(service_loc)
            facts.error_at.add(op_loc)
        loc_rows[op_loc].append(row)
        loc_rows[service_loc].append(row)
        if kids and (producer or len(sync) < len(kids)):
            s_end = start[k] + shift[k] + duration_k
            for c in kids:
                if producer or kind[c] == "CONSUMER":
                    queue: Loc = ("queue", service[c], None, service[k])
                    # From the producer's end to the consumer's start (two clocks: nothing to correct with).
                    own_map[queue] += max(0, start[c] + shift[c] - s_end)
                    calls_map[queue] += 1
    return facts


def _charge_retry_waits(k: int, sync: list[int], kind: list[str], span_name: list[str], start: list[int],
                        end: list[int], error: list[bool], service: list[str], callee_of: Any,
                        own_map: dict[Loc, int]) -> int:
    """The time span k waited between a failed call and its retry (the same operation of the same
    callee, next): a back-off the callee's failure caused. It is charged to the call's edge, not to
    k's own time, so a retrying caller is not blamed for its callee's failures. Returns the total
    (both ends of the wait are on k's service's clock)."""
    clients = sorted((c for c in sync if kind[c] == "CLIENT"), key=lambda c: start[c])
    waited = 0
    for a, b in pairwise(clients):
        if not error[a] or span_name[a] != span_name[b] or start[b] <= end[a]:
            continue
        callee = callee_of(a)
        if callee != callee_of(b):
            continue
        wait = start[b] - end[a]
        own_map[("edge", callee, None, service[k])] += wait
        own_map[("edge", callee, None, ALL_CALLERS)] += wait
        waited += wait
    return waited


# ---- hypotheses --------------------------------------------------------------------------------

@dataclass
class _Hypothesis:
    kind: str                      # 'slower' | 'errors' | 'repeated calls'
    loc: Loc
    p: float
    test: str
    impact_ms: float
    effect: Effect
    support: Support
    practical: bool
    q: float = 1.0


def _winsorized_mean(values: Sequence[float], cap: float) -> float:
    return sum(min(v, cap) for v in values) / len(values) if values else 0.0


@dataclass
class _Side:
    """One side's per-location values, gathered in one pass over its traces (values in ms)."""

    traces: int
    own: dict[Loc, list[float]]
    calls: dict[Loc, list[float]]
    client: dict[Loc, list[float]]
    errors: dict[Loc, int]


def _side(traces: list[TraceFacts]) -> _Side:
    own: dict[Loc, list[float]] = defaultdict(list)
    calls: dict[Loc, list[float]] = defaultdict(list)
    client: dict[Loc, list[float]] = defaultdict(list)
    errors: dict[Loc, int] = defaultdict(int)
    for t in traces:
        t_calls, t_client = t.calls, t.client_ns
        for loc, value in t.own.items():
            own[loc].append(value / 1e6)
            calls[loc].append(float(t_calls.get(loc, 0)))
            client[loc].append((t_client.get(loc, 0) or value) / 1e6)
        for loc in t.error_at:
            errors[loc] += 1
    return _Side(len(traces), own, calls, client, errors)


def _latency_hypothesis(loc: Loc, inc: _Side, base: _Side) -> _Hypothesis:
    a, b = sorted(inc.own[loc]), sorted(base.own[loc])
    b90 = quantile(b, 0.90)
    above_inc = len(a) - bisect_right(a, b90)
    above_base = len(b) - bisect_right(b, b90)
    p = min(1.0, 2 * min(mann_whitney_greater(a, b), fisher_greater(above_inc, len(a), above_base, len(b))))
    added50, added90, added95 = (quantile(a, q) - quantile(b, q) for q in (0.5, 0.9, 0.95))
    b50, b95 = quantile(b, 0.5), quantile(b, 0.95)
    practical = ((added50 >= MIN_ADDED_MS and added50 >= MIN_CHANGE * b50)
                 or (added90 >= MIN_ADDED_MS and added90 >= MIN_CHANGE * b90))
    cap = quantile(sorted(a + b), 0.99)
    through = len(a) / inc.traces if inc.traces else 0.0
    impact = (_winsorized_mean(a, cap) - _winsorized_mean(b, cap)) * through
    share = max(0.0, (above_inc / len(a) - above_base / len(b)) / max(1e-9, 1 - above_base / len(b)))
    r1, r0 = inc.errors.get(loc, 0) / len(a), base.errors.get(loc, 0) / len(b)
    effect = Effect(added50, added95, b50, quantile(a, 0.5), b95, quantile(a, 0.95), min(1.0, share),
                    r0, r1, 0.0, 0.0, impact)
    return _Hypothesis("slower", loc, p, "Mann-Whitney U and Fisher on the share above the baseline p90",
                       impact, effect, Support(len(a), len(b), inc.traces, base.traces), practical and impact > 0)


def _error_hypothesis(loc: Loc, inc: _Side, base: _Side, cost_ms: float) -> _Hypothesis:
    n1, n0 = len(inc.own[loc]), len(base.own[loc])
    k1, k0 = inc.errors.get(loc, 0), base.errors.get(loc, 0)
    r1, r0 = k1 / n1, k0 / n0
    p = fisher_greater(k1, n1, k0, n0)
    practical = k1 >= 5 and r1 - r0 >= MIN_ERROR_RISE and r1 >= 1.5 * r0
    impact = (r1 - r0) * (n1 / inc.traces if inc.traces else 0.0) * cost_ms
    a, b = sorted(inc.own[loc]), sorted(base.own[loc])
    effect = Effect(0.0, 0.0, quantile(b, 0.5), quantile(a, 0.5), quantile(b, 0.95), quantile(a, 0.95),
                    max(0.0, r1 - r0), r0, r1, 0.0, 0.0, impact)
    return _Hypothesis("errors", loc, p, "Fisher's exact test on traces whose error starts here", impact, effect,
                       Support(n1, n0, inc.traces, base.traces), practical)


def _calls_hypothesis(loc: Loc, inc: _Side, base: _Side) -> _Hypothesis:
    a, b = inc.calls[loc], base.calls[loc]
    p = mann_whitney_greater(a, b)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    through = len(a) / inc.traces if inc.traces else 0.0
    impact = (sum(inc.client[loc]) / len(a) - sum(base.client[loc]) / len(b)) * through
    practical = mean_a >= 1.5 * mean_b and mean_a - mean_b >= 1.0
    effect = Effect(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, quantile(sorted(b), 0.5), quantile(sorted(a), 0.5),
                    impact)
    return _Hypothesis("repeated calls", loc, p, "Mann-Whitney U on calls per trace", impact, effect,
                       Support(len(a), len(b), inc.traces, base.traces), practical and impact > 0)


def _through(traces: list[TraceFacts], loc: Loc) -> list[TraceFacts]:
    return [t for t in traces if loc in t.own]


def examine(inc: list[TraceFacts], base: list[TraceFacts]) -> list[_Hypothesis]:
    """Every hypothesis, with its BH-corrected q."""
    a_side, b_side = _side(inc), _side(base)
    base_durations = sorted(t.duration_ns / 1e6 for t in base)
    cost_ms = quantile(base_durations, 0.9)   # a failed request costs as much as a slow one
    hypotheses: list[_Hypothesis] = []
    for loc in sorted(a_side.own, key=str):
        n_a, n_b = len(a_side.own[loc]), len(b_side.own.get(loc, ()))
        if n_a < MIN_SUPPORT or n_b < MIN_SUPPORT:
            continue
        hypotheses.append(_latency_hypothesis(loc, a_side, b_side))
        if a_side.errors.get(loc, 0):
            hypotheses.append(_error_hypothesis(loc, a_side, b_side, cost_ms))
        if loc[0] != "service" and loc[3] != ALL_CALLERS and max(a_side.calls[loc]) > 1:
            hypotheses.append(_calls_hypothesis(loc, a_side, b_side))
    for h, q in zip(hypotheses, benjamini_hochberg([h.p for h in hypotheses]), strict=True):
        h.q = q
    return hypotheses


def _caller_contention(hypotheses: list[_Hypothesis], instrumented: set[str]) -> list[_Hypothesis]:
    """An uninstrumented callee (a database, a vendor API: seen only through its callers' CLIENT
    spans) cannot be told apart from the caller's own side of the call (encoding, TLS, a starved
    CPU). When the caller's own work got markedly slower too (its own-time p50 up by half or more),
    the edge's added time goes to the caller, whose cause it is, and the edge is dropped; a callee
    that is slow on its own leaves its callers' own work as it was."""
    found = [h for h in hypotheses if h.q <= ALPHA and h.practical and h.kind == "slower"]
    callers = {h.loc[1]: h for h in found if h.loc[0] == "service"
               and h.effect.incident_p50_ms >= 1.5 * max(h.effect.baseline_p50_ms, 1e-9)}
    moved: set[str] = set()
    for h in found:
        if h.loc[0] == "edge" and h.loc[1] not in instrumented and h.loc[3] in callers:
            caller = callers[h.loc[3]]
            caller.impact_ms += h.impact_ms
            caller.effect = replace(caller.effect, impact_ms=caller.impact_ms)
            moved.add(h.loc[1])
    return [h for h in hypotheses if not (h.kind == "slower" and h.loc[0] == "edge" and h.loc[1] in moved)]


def _select(hypotheses: list[_Hypothesis]) -> list[_Hypothesis]:
    """The significant, big-enough hypotheses, one per place: a service or its busiest operation;
    repeated calls absorb the callee's added time."""
    found = [h for h in hypotheses if h.q <= ALPHA and h.practical]
    repeated = {(h.loc[1]) for h in found if h.kind == "repeated calls"}
    kept: list[_Hypothesis] = []
    for h in found:
        if h.kind != "repeated calls" and h.loc[1] in repeated and h.kind == "slower":
            continue  # more calls, not slower calls
        kept.append(h)
    # Per place, the general and the specific: a service and its operations; all calls into a
    # service (caller '*') and each caller's edge. The specific wins when it carries >= 80%.
    general: dict[tuple[str, ...], _Hypothesis] = {}
    specific: dict[tuple[str, ...], _Hypothesis] = {}
    for h in kept:
        if h.kind == "repeated calls":
            group: tuple[str, ...] = (h.kind, h.loc[1])
        elif h.loc[0] == "queue":
            group = (h.kind, h.loc[1], "queue", h.loc[3] or "")
        else:
            group = (h.kind, h.loc[1], "edge" if h.loc[0] == "edge" else "own")
        is_general = h.loc[0] == "service" or (h.loc[0] == "edge" and h.loc[3] == ALL_CALLERS)
        if h.kind == "repeated calls":
            is_general = h.loc[0] != "edge"   # an edge names who repeats the calls
        table = general if is_general else specific
        if group not in table or h.impact_ms > table[group].impact_ms:
            table[group] = h
    best: dict[tuple[str, ...], _Hypothesis] = {}
    for group in set(general) | set(specific):
        g, sp = general.get(group), specific.get(group)
        if g is None or sp is None:
            best[group] = g or sp  # type: ignore[assignment]
        elif group[0] == "repeated calls":
            best[group] = sp
        else:
            best[group] = sp if sp.impact_ms >= 0.8 * g.impact_ms else g
    # An error charged both to an edge and (as timeout) elsewhere stays as found; order by impact.
    return sorted(best.values(), key=lambda h: (-h.impact_ms, h.q, str(h.loc)))


# ---- segments, timelines, wording ----------------------------------------------------------------

def _values(traces: Iterable[TraceFacts], h: _Hypothesis) -> list[float]:
    if h.kind == "errors":
        return [1.0 if h.loc in t.error_at else 0.0 for t in traces]
    if h.kind == "repeated calls":
        return [float(t.calls[h.loc]) for t in traces]
    return [t.own[h.loc] / 1e6 for t in traces]


def _segment(h: _Hypothesis, inc: list[TraceFacts], base: list[TraceFacts]) -> tuple[Segment | None, int]:
    """The attribute value that carries the change, if one does; and how many were tested."""
    a = _through(inc, h.loc)
    b = _through(base, h.loc)
    b_values = sorted(_values(b, h))
    threshold = quantile(b_values, 0.9) if h.kind != "errors" else 0.5
    values_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    members: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    cache = _JsonCache()
    for i, t in enumerate(a):
        # A value counts for a trace when every span of the location in it carries it: a trace
        # with more spans there (a retry, a repeated call) must not collect more values.
        cols = t.columns
        common: set[tuple[str, str, str, str]] | None = None
        for row in t.loc_rows.get(h.loc, []):
            carrier = cols["service_name"][row]
            own = set(_attr_items(cache.load(cols["attributes"][row]), carrier, "span"))
            if h.loc[0] != "edge":
                own.update(_attr_items(cache.load(cols["resource_attributes"][row]), carrier, "resource"))
            common = own if common is None else common & own
        root_row = t.root_row
        items = set(_attr_items(cache.load(cols["attributes"][root_row]), cols["service_name"][root_row], "span"))
        items |= common or set()
        for item in items:
            values_of[(item[0], item[2])].add(item[1])
            members[item].append(i)
    values = _values(a, h)
    hit = [v > threshold for v in values]
    total_hits = sum(hit)
    candidates = []
    for item, idx in members.items():
        if len(values_of[(item[0], item[2])]) > MAX_SEGMENT_VALUES or len(values_of[(item[0], item[2])]) < 2:
            continue
        if len(idx) < MIN_SUPPORT or len(idx) > 0.95 * len(a):
            continue
        k_in = sum(1 for i in idx if hit[i])
        candidates.append((item, len(idx), k_in))
    best: tuple[float, float, tuple[str, str, str, str], int] | None = None
    for item, n_in, k_in in candidates:
        n_out = len(a) - n_in
        k_out = total_hits - k_in
        if n_out < MIN_SUPPORT:
            continue
        p = fisher_greater(k_in, n_in, k_out, n_out)
        rate_in, rate_out = k_in / n_in, k_out / n_out
        # The segment must carry most of the change: the rest looks like the baseline.
        base_rate = sum(1 for v in b_values if v > threshold) / len(b_values) if b_values else 0.0
        if rate_out - base_rate > 0.5 * (rate_in - base_rate):
            continue
        own_carrier = 0 if item[2] == h.loc[1] else 1
        key = (p, own_carrier - rate_in)
        if best is None or key < (best[0], best[1]):
            best = (p, own_carrier - rate_in, item, n_in)
    tested = max(1, len(candidates))
    if best is None or best[0] * tested > ALPHA:
        if h.kind == "slower" and h.loc[0] in ("service", "operation"):
            branch, more = _branch_segment(h, inc, base)
            return branch, len(candidates) + more
        return None, len(candidates)
    name, value, carrier, scope = best[2]
    return Segment(name, value, carrier, scope, best[3] / len(a)), len(candidates)


def _branch_segment(h: _Hypothesis, inc: list[TraceFacts], base: list[TraceFacts]) -> tuple[Segment | None, int]:
    """For a location a request reaches several times at once (a fan-out to shards, partitions,
    replicas): the span attribute value that marks the slow branch. Each span of the location is
    one branch; a value is kept when the spans carrying it are above the baseline's p90 far more
    often than the others, and the others look like the baseline (Fisher's exact test on spans,
    Bonferroni over the values tried). Trace-level segments cannot see this: every request carries
    every shard. A branch's time is its span's duration (its own work, for a leaf)."""
    cache = _JsonCache()

    def branches(traces: list[TraceFacts]) -> list[tuple[set[tuple[str, str, str, str]], float]]:
        out = []
        for t in _through(traces, h.loc):
            rows = t.loc_rows.get(h.loc, [])
            if len(rows) < 2:
                continue
            cols = t.columns
            for row in rows:
                items = set(_attr_items(cache.load(cols["attributes"][row]), cols["service_name"][row], "span"))
                out.append((items, cols["duration_ns"][row] / 1e6))
        return out

    a, b = branches(inc), branches(base)
    if len(a) < MIN_SUPPORT or len(b) < MIN_SUPPORT:
        return None, 0
    b_values = sorted(d for _, d in b)
    threshold = quantile(b_values, 0.9)
    base_rate = sum(1 for v in b_values if v > threshold) / len(b_values)
    values_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    members: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for i, (items, _) in enumerate(a):
        for item in items:
            values_of[(item[0], item[2])].add(item[1])
            members[item].append(i)
    hit = [d > threshold for _, d in a]
    total_hits = sum(hit)
    candidates = [(item, idx) for item, idx in members.items()
                  if 2 <= len(values_of[(item[0], item[2])]) <= MAX_SEGMENT_VALUES
                  and MIN_SUPPORT <= len(idx) <= 0.95 * len(a) and len(a) - len(idx) >= MIN_SUPPORT]
    best: tuple[float, tuple[str, str, str, str], int] | None = None
    for item, idx in candidates:
        n_in, k_in = len(idx), sum(1 for i in idx if hit[i])
        n_out, k_out = len(a) - n_in, total_hits - k_in
        rate_in, rate_out = k_in / n_in, k_out / n_out
        if rate_out - base_rate > 0.5 * (rate_in - base_rate):
            continue
        p = fisher_greater(k_in, n_in, k_out, n_out)
        if best is None or (p, item) < (best[0], best[1]):
            best = (p, item, n_in)
    if best is None or best[0] * max(1, len(candidates)) > ALPHA:
        return None, len(candidates)
    name, value, carrier, _ = best[1]
    return Segment(name, value, carrier, "span", best[2] / len(a)), len(candidates)


def _timeline(h: _Hypothesis, traces: list[TraceFacts], start: int, end: int,
              buckets: int = 24) -> list[list[float]]:
    width = max(1, (end - start) // buckets)
    groups: dict[int, list[float]] = defaultdict(list)
    through = _through(traces, h.loc)
    for t, v in zip(through, _values(through, h), strict=True):
        groups[min(buckets - 1, max(0, (t.start_ns - start) // width))].append(v)
    out = []
    for i in range(buckets):
        vs = sorted(groups.get(i, []))
        out.append([(start + i * width) / 1e9, quantile(vs, 0.5), quantile(vs, 0.9), float(len(vs))])
    return out


def _since(h: _Hypothesis, traces: list[TraceFacts]) -> int | None:
    through = sorted(_through(traces, h.loc), key=lambda t: t.start_ns)
    if len(through) < 4:
        return None
    at = change_point(_values(through, h))
    return through[at].start_ns if at > 0 else None


def _describe(h: _Hypothesis, segment: Segment | None) -> str:
    label = Location(*h.loc).label()
    e = h.effect
    who = f" for {segment.key}={segment.value} (on {segment.carried_by}, {segment.share:.0%} of its requests)" \
        if segment else ""
    if h.kind == "errors":
        return (f"{label}: errors start here in {e.error_rate_after:.1%} of requests through it{who}, "
                f"against {e.error_rate_before:.1%} before.")
    if h.kind == "repeated calls":
        return (f"{label}: {e.calls_after:g} calls per request{who}, against {e.calls_before:g} before "
                f"(+{h.impact_ms:,.1f} ms per request).")
    where = {"edge": "between the CLIENT and SERVER spans (network, queueing or the callee)",
             "queue": "waiting in the queue"}.get(h.loc[0], "in its own work")
    return (f"{label} is slower {where}{who}: p50 {e.baseline_p50_ms:,.1f} -> {e.incident_p50_ms:,.1f} ms, "
            f"p95 {e.baseline_p95_ms:,.1f} -> {e.incident_p95_ms:,.1f} ms, for ~{e.share_affected:.0%} "
            f"of requests through it.")


def _link(loc: Loc, segment: Segment | None, start: int | None, end: int | None) -> str:
    from urllib.parse import urlencode

    service = loc[3] if loc[0] in ("edge", "queue") and loc[3] != ALL_CALLERS else loc[1]
    params: dict[str, str] = {"service": service or ""}
    if loc[0] == "operation" and loc[2] is not None and "{id}" not in loc[2]:
        params["operation"] = loc[2]
    if start is not None:
        params["start"] = str(start // 1000)
    if end is not None:
        params["end"] = str(end // 1000)
    if segment is not None and "{id}" not in segment.value:
        params["tags"] = json.dumps({segment.key: segment.value})
    return "/search?" + urlencode(params)


def _skew_notes(inc: list[TraceFacts]) -> list[str]:
    shifted: dict[str, list[int]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)
    for t in inc:
        for service in {loc[1] for loc in t.own if loc[0] == "service"}:
            seen[service] += 1
        for service, shift in t.shifts.items():
            shifted[service].append(shift)
    notes = []
    for service, shifts in sorted(shifted.items()):
        shifts.sort()
        median = quantile([float(s) for s in shifts], 0.5) / 1e6
        if len(shifts) >= 0.2 * seen[service] and abs(median) >= 1.0:
            notes.append(f"clock skew: {service}'s spans sat outside their callers in {len(shifts):,} of "
                         f"{seen[service]:,} traces; shifted by a median {median:+,.1f} ms to fit (corrected, "
                         "not blamed)")
    return notes


@dataclass
class Sides:
    incident: list[TraceFacts]
    baseline: list[TraceFacts]
    window: tuple[int | None, int | None]
    baseline_window: tuple[int | None, int | None]
    baseline_how: str
    notes: list[str]


def diagnose(sides: Sides) -> Diagnosis:
    inc, base = sides.incident, sides.baseline
    if not inc:
        return Diagnosis(*sides.window, *sides.baseline_window, sides.baseline_how, [],
                         "No traces in the window: nothing to diagnose.", [], 0, sides.notes)
    hypotheses = examine(inc, base) if base else []
    instrumented = {loc[1] for t in inc for loc in t.own if loc[0] == "service"}
    chosen = _select(_caller_contention(hypotheses, instrumented))
    causes: list[Cause] = []
    segment_tests = 0
    previous_key: float | None = None
    rank = 0
    start = sides.baseline_window[0] if sides.baseline_window[0] is not None else min(t.start_ns for t in base + inc)
    end = sides.window[1] if sides.window[1] is not None else max(t.start_ns for t in inc) + 1
    for position, h in enumerate(chosen[:10]):
        segment, tested = _segment(h, inc, base)
        segment_tests += tested
        rounded = float(f"{h.impact_ms:.2g}")
        if rounded != previous_key:
            rank = position + 1
            previous_key = rounded
        a_values = sorted(_values(_through(inc, h.loc), h))
        b_values = sorted(_values(_through(base, h.loc), h))
        example = max(_through(inc, h.loc), key=lambda t: (_values([t], h)[0], t.trace_id)).trace_id
        causes.append(Cause(
            rank=rank, kind=h.kind, location=Location(*h.loc), segment=segment, effect=h.effect,
            support=h.support, test=h.test, p_value=h.p, q_value=h.q, since_ns=_since(h, base + inc),
            summary=_describe(h, segment), link=_link(h.loc, segment, sides.window[0], sides.window[1]),
            example_trace_id=example,
            baseline_quantiles_ms=[quantile(b_values, q) for q in QUANTILES],
            incident_quantiles_ms=[quantile(a_values, q) for q in QUANTILES],
            timeline=_timeline(h, base + inc, start, end)))
    ranks = [c.rank for c in causes]
    causes = [replace(c, tied=ranks.count(c.rank) > 1) for c in causes]
    services = {loc[1] for t in inc for loc in t.own if loc[0] == "service"}
    edges = {loc for t in inc for loc in t.own if loc[0] in ("edge", "queue")}
    operations = {loc for t in inc for loc in t.own if loc[0] == "operation"}
    looked_at = [f"{len(inc):,} traces in the window against {len(base):,} in the baseline",
                 f"{len(services)} services, {len(operations)} operations, {len(edges)} caller→callee edges and queues",
                 f"{len(hypotheses):,} hypotheses (slower, more errors, more calls per request), Benjamini-Hochberg "
                 f"at a {ALPHA:.0%} false discovery rate, then {segment_tests:,} segment tests (Bonferroni per cause)"]
    if not base:
        verdict = "No baseline traces: nothing to compare the window with."
    elif len(inc) < MIN_SUPPORT or len(base) < MIN_SUPPORT:
        verdict = (f"Too few traces to tell: {len(inc):,} in the window and {len(base):,} in the baseline "
                   f"(doctor needs at least {MIN_SUPPORT} on each side).")
    elif not causes:
        verdict = "Nothing stands out: no change against the baseline is both significant and large enough."
    else:
        ties = sum(1 for c in causes if c.rank == 1)
        verdict = (f"{len(causes)} suspected cause{'s' if len(causes) > 1 else ''}; first: {causes[0].summary}"
                   + (f" ({ties} tied first)" if ties > 1 else ""))
    notes = sides.notes + _skew_notes(inc)
    if not any(t.has_status for t in inc + base):
        notes.append("no span on either side has an error status: either nothing failed, or this instrumentation "
                     "does not set one (then errors cannot be seen in this data)")
    return Diagnosis(*sides.window, *sides.baseline_window, sides.baseline_how, causes, verdict, looked_at,
                     len(hypotheses) + segment_tests, notes)
