"""One window of reconstruction, end to end.

Gaps (`gaps`): for a call, the offset (client start -> server start) and the end gap (server end
-> client end); for an asynchronous hop, the queue delay.

1. Calls whose propagation works (a SERVER span whose parent is a CLIENT span of another service)
   are ground truth: they teach the gap model (`gaps.GapModel`) and are never touched.
2. Orphans are SERVER/CONSUMER spans with no parent at all. Candidates for each are CLIENT/PRODUCER
   spans of another trace that have no child of their own (their callee never learned their id),
   within `max_offset_ns` of it (`max_queue_ns` after a PRODUCER for a CONSUMER), whose request
   path and body size, where both sides carry them, agree.
3. Each pair costs its negative log-likelihood under the edge's gap model, plus -log P(callee
   operation | caller operation and target) from the learned call graph. Each orphan may also stay
   unlinked, at a cost `no_parent_nats` above its best pair's baseline: true roots and spans called
   by an untraced client have no parent to find.
4. One global min-cost assignment (`assign.Assignment`): each call is given to at most one orphan.
5. `passes` rounds of re-estimation: the confident links of a round refit the gap models (and the
   call graph) for the next, starting from wide priors when nothing is known. The last round's
   confident links feed the persistent model the next window starts from.
6. Confidence: for each other option of the orphan (another candidate, or no parent), how many
   nats the best assignment giving it that option is worse (its min-marginal m_k); the link's
   confidence is 1 / (1 + sum_k exp(-m_k)): its share of the weight over the best assignment per
   option. With one close rival that is the logistic of the margin; with several close rivals
   (identical parallel calls) each takes its share, where the margin alone was overconfident.
   The benchmark's calibration table checks it, on the held-out topology too.
7. Fast path: an orphan whose correlation id (a message id) exactly one caller carries is linked
   to it before the assignment (`_exact`); the pair teaches the gap model like a received call.
"""

from __future__ import annotations

import bisect
import gc
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import exp, log1p

from tracehouse.analytics.reconstruct.assign import Assignment
from tracehouse.analytics.reconstruct.calls import ASYNC_CALLEE, CALLEES, CALLERS, SYNC_CALLER, CallSpan, same_place
from tracehouse.analytics.reconstruct.gaps import MS, GapLaw, GapModel
from tracehouse.analytics.reconstruct.seed import seed

METHOD = "timing-assignment"
#: a left-out candidate this many nats above the best weighs under e^-30 against it: not summed
NEGLIGIBLE_NATS = 30.0


@dataclass(frozen=True)
class EngineConfig:
    #: largest |caller end - callee end| considered: clock skew plus the response's network time.
    max_offset_ns: int = 50 * MS
    #: longest callee start - caller start considered (request network time plus server-side queueing).
    max_call_ns: int = 10_000 * MS
    #: longest queue delay (consumer start - producer end) considered for an asynchronous hop.
    max_queue_ns: int = 10_000 * MS
    #: a callee may appear to outlast its caller by this much (clock granularity), not more.
    min_overhead_ns: int = -200_000
    #: candidates kept per orphan (the cheapest), and how many learned scales a pair may deviate.
    candidates_per_span: int = 8
    max_scales: float = 8.0
    #: the cost of leaving an orphan unlinked, in nats on top of the background density (a pair is
    #: linked only where its gap model explains it better than chance placement in the window does).
    no_parent_nats: float = 0.0
    passes: int = 2
    #: orphans in round 0, the wide search that discovers edges (a contiguous slice of the window).
    bootstrap_orphans: int = 1500
    #: orphans whose candidate pairs seed the histograms of unlearned edges (`seed`).
    seed_orphans: int = 400
    #: links at least this confident teach the gap model.
    learn_confidence: float = 0.9


@dataclass(frozen=True)
class InferredLink:
    child_trace_id: str
    child_span_id: str
    parent_trace_id: str
    parent_span_id: str
    confidence: float
    child_service: str
    parent_service: str
    child_start: int


@dataclass
class Reconstruction:
    links: list[InferredLink]
    orphans: int                  # SERVER/CONSUMER spans without a parent in the window
    with_candidates: int          # of those, how many were linked (in the padded window)
    received_calls: int           # cross-service calls whose propagation worked (used to learn)
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Group:
    """The synchronous calls of one (service, call target), by end, with each call's fields the
    candidate search and the costs read laid out as parallel lists (one index per call, no
    attribute look-ups in the hot loop)."""

    service: str
    target: str | None
    calls: list[CallSpan]
    starts: list[int]
    ends: list[int]
    durations: list[int]
    traces: list[str]
    #: the number of each call's hints (`_hints`) in the index's `hint_table`
    hints: list[int]
    #: the number of each call's (service, operation, target) in the index's `call_keys`: what its
    #: pair's cost terms depend on besides the orphan's operation
    keys: list[int]
    #: the caller key every call of the group has, or -1 where they differ
    one_key: int = -1
    #: the longest call's duration: an orphan that lasted longer (a request's root, reached by no
    #: call at all) skips the group unread
    longest: int = 0
    #: per request path, then per query (None: the call records none, so any orphan's agrees): the
    #: positions of the calls with it, ascending, and their ends (`narrowed`); built on first use
    by_path: dict[str | None, tuple[list[int], list[int]]] | None = None
    by_query: dict[str | None, tuple[list[int], list[int]]] | None = None

    def _by(self, values: list[str | None]) -> dict[str | None, tuple[list[int], list[int]]]:
        out: dict[str | None, tuple[list[int], list[int]]] = {}
        ends = self.ends
        for k, value in enumerate(values):
            found = out.get(value)
            if found is None:
                found = out[value] = ([], [])
            found[0].append(k)
            found[1].append(ends[k])
        return out

    def narrowed(self, end_lo: float, end_hi: float, path: str | None, query: str | None) -> Sequence[int]:
        """The positions (ascending) of the calls ending in [end_lo, end_hi] whose path, or query,
        can be the orphan's (`path`/`query`, not both None): the same calls the scan of the whole
        range keeps after comparing hints, minus those the chosen field alone rules out. Where
        paths or queries carry ids (`/item/17`), a hinted orphan skips most calls unread."""
        chosen: tuple[list[int], list[int]] | None = None
        wild: tuple[list[int], list[int]] | None = None
        fewest = -1
        for value, field_ in ((path, 0), (query, 1)):
            if value is None:
                continue
            if field_ == 0:
                table = self.by_path
                if table is None:
                    table = self.by_path = self._by([c.path for c in self.calls])
            else:
                table = self.by_query
                if table is None:
                    table = self.by_query = self._by([c.query for c in self.calls])
            hit, anything = table.get(value), table.get(None)
            n = (len(hit[0]) if hit is not None else 0) + (len(anything[0]) if anything is not None else 0)
            if fewest < 0 or n < fewest:
                chosen, wild, fewest = hit, anything, n
        if 2 * fewest > len(self.ends):
            # the field rules out too few calls to pay for the merge: the whole range, as unnarrowed
            return range(bisect.bisect_left(self.ends, end_lo), bisect.bisect_right(self.ends, end_hi))
        out: list[int] = []
        for part in (chosen, wild):
            if part is not None:
                positions, ends = part
                out += positions[bisect.bisect_left(ends, end_lo):bisect.bisect_right(ends, end_hi)]
        if chosen is not None and wild is not None:
            out.sort()
        return out


@dataclass
class _Index:
    callers_by_end: list[CallSpan]
    caller_ends: list[int]
    producers_by_end: list[CallSpan]
    ends: list[int]
    #: the synchronous callers again, split by (service, call target), each by end: an orphan scans
    #: only the groups of other services whose target can be where it was reached (`same_place`),
    #: so the candidate search, the hot loop, skips the calls that went elsewhere wholesale
    #: with each call the number of its hints (`_hints`) in `hint_table`: a window holds few
    #: distinct ones, so an orphan compares its hints with each distinct caller's once
    groups: list[_Group] = field(default_factory=list)
    hint_table: list[_Hints] = field(default_factory=list)
    #: the number of each producer's hints in `hint_table`
    producer_hints: list[int] = field(default_factory=list)
    call_keys: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: per (orphan service, orphan target): the groups it may have been called from (`_groups_for`)
    places: dict[tuple[str, str | None], list[_Group]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_group: dict[tuple[str, str | None], list[CallSpan]] = {}
        for c in self.callers_by_end:
            by_group.setdefault((c.service, c.target), []).append(c)
        numbers: dict[_Hints, int] = {}
        key_numbers: dict[tuple[str, str, str | None], int] = {}

        def number_of(hints: _Hints) -> int:
            number = numbers.get(hints)
            if number is None:
                number = numbers[hints] = len(self.hint_table)
                self.hint_table.append(hints)
            return number

        self.groups = []
        for (service, target), calls in by_group.items():
            keys = []
            for c in calls:
                key = (c.service, c.name, c.target)
                number = key_numbers.get(key)
                if number is None:
                    number = key_numbers[key] = len(self.call_keys)
                    self.call_keys.append(key)
                keys.append(number)
            self.groups.append(_Group(service, target, calls, [c.start for c in calls], [c.end for c in calls],
                                      [c.end - c.start for c in calls], [c.trace_id for c in calls],
                                      [number_of(_hints(c)) for c in calls], keys,
                                      keys[0] if keys.count(keys[0]) == len(keys) else -1,
                                      max(c.end - c.start for c in calls)))
        self.producer_hints = [number_of(_hints(c)) for c in self.producers_by_end]

    def groups_for(self, s: CallSpan) -> list[_Group]:
        """The groups of calls that may have reached orphan `s`: other services', to a target that
        can be where it was reached."""
        place = (s.service, s.target)
        found = self.places.get(place)
        if found is None:
            found = self.places[place] = [g for g in self.groups
                                          if g.service != s.service and same_place(g.target, s.target)]
        return found


_Hints = tuple[str | None, int | None, int | None, str | None, str | None, int | None]


def _hints(s: CallSpan) -> _Hints:
    """The hints of a span `_compatible` compares besides its trace, service and target."""
    return s.path, s.size, s.response_size, s.correlation, s.query, s.status


def _hints_agree(a: _Hints, b: _Hints) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _index(spans: Sequence[CallSpan]) -> tuple[list[CallSpan], _Index, list[tuple[CallSpan, CallSpan]]]:
    by_id: dict[tuple[str, str], CallSpan] = {}
    has_child: set[tuple[str, str]] = set()
    for s in spans:
        by_id[(s.trace_id, s.span_id)] = s
        if s.parent_span_id:
            has_child.add((s.trace_id, s.parent_span_id))
    orphans: list[CallSpan] = []
    received: list[tuple[CallSpan, CallSpan]] = []
    sync_callers: list[CallSpan] = []
    producers: list[CallSpan] = []
    for s in spans:
        if s.kind in CALLEES:
            if not s.parent_span_id:
                orphans.append(s)
            else:
                parent = by_id.get((s.trace_id, s.parent_span_id))
                if parent is not None and parent.kind in CALLERS and parent.service != s.service:
                    received.append((parent, s))
        elif s.kind in CALLERS and (s.trace_id, s.span_id) not in has_child:
            (sync_callers if s.kind == SYNC_CALLER else producers).append(s)
    sync_callers.sort(key=lambda c: c.end)
    producers.sort(key=lambda c: c.end)
    orphans.sort(key=lambda s: s.start)
    index = _Index(sync_callers, [c.end for c in sync_callers], producers, [c.end for c in producers])
    return orphans, index, received


#: the confidence of a link both ends name by the same unique id (a message id): ids are unique by
#: construction, so only a producer that reuses ids could make it wrong.
EXACT_CONFIDENCE = 0.999


def _exact(orphans: list[CallSpan], index: _Index,
           config: EngineConfig) -> tuple[list[tuple[CallSpan, CallSpan]], list[CallSpan], _Index]:
    """The fast path: orphans whose correlation id (`calls.hints`) is carried by exactly one caller
    that could have caused them in time are linked to it outright, and leave the assignment with
    their callers. Several consumers of one message (publish/subscribe) all join its producer. An
    id several callers share (a request-id passed along to every call of a request) only narrows
    the candidates (`_compatible`)."""
    by_id: dict[str, list[CallSpan]] = {}
    for c in (*index.callers_by_end, *index.producers_by_end):
        if c.correlation is not None:
            by_id.setdefault(c.correlation, []).append(c)
    if not by_id:
        return [], orphans, index
    matched: list[tuple[CallSpan, CallSpan]] = []
    rest: list[CallSpan] = []
    taken: set[int] = set()
    for s in orphans:
        callers = by_id.get(s.correlation) if s.correlation is not None else None
        if callers:
            fits = [c for c in callers if _compatible(c, s) and _plausible(c, s, config)]
            if len(fits) == 1:
                matched.append((fits[0], s))
                taken.add(id(fits[0]))
                continue
        rest.append(s)
    if not taken:
        return matched, rest, index
    sync = [c for c in index.callers_by_end if id(c) not in taken]
    producers = [c for c in index.producers_by_end if id(c) not in taken]
    return matched, rest, _Index(sync, [c.end for c in sync], producers, [c.end for c in producers])


def _plausible(caller: CallSpan, callee: CallSpan, config: EngineConfig) -> bool:
    """The loosest timing a true pair satisfies: the callee starts after the call did (up to skew)
    and, for a synchronous call, ends before it (up to skew)."""
    if callee.kind == ASYNC_CALLEE:
        return -config.max_offset_ns <= callee.start - caller.end <= config.max_queue_ns
    return (-config.max_offset_ns <= callee.start - caller.start <= config.max_call_ns
            and caller.end - callee.end >= -config.max_offset_ns)


def _gaps_of(caller: CallSpan, callee: CallSpan) -> tuple[float, float]:
    """(offset, end gap) of a pair (see `gaps`); for an asynchronous hop the offset is the queue delay."""
    if callee.kind == ASYNC_CALLEE:
        return float(callee.start - caller.end), 0.0
    return float(callee.start - caller.start), float(caller.end - callee.end)


def _compatible(caller: CallSpan, callee: CallSpan) -> bool:
    # Cross-service links only, as with the calls that teach the model (`_index`): within a service
    # propagation is intact, and fragments of one service pair up by accident (the sibling consumers
    # of one fan-out each publish soon after they start: a peak of chance pairs).
    if caller.trace_id == callee.trace_id or caller.service == callee.service:
        return False
    a, b = caller.path, callee.path
    if a is not None and b is not None and a != b:
        return False
    a_size, b_size = caller.size, callee.size
    if a_size is not None and b_size is not None and a_size != b_size:
        return False
    a_size, b_size = caller.response_size, callee.response_size
    if a_size is not None and b_size is not None and a_size != b_size:
        return False
    a, b = caller.correlation, callee.correlation
    if a is not None and b is not None and a != b:
        return False
    a, b = caller.query, callee.query
    if a is not None and b is not None and a != b:
        return False
    a_status, b_status = caller.status, callee.status
    if a_status is not None and b_status is not None and a_status != b_status:
        return False
    a, b = caller.target, callee.target
    return a is None or b is None or same_place(a, b)


def _candidates(s: CallSpan, index: _Index, config: EngineConfig, window: tuple[float, float] | None = None,
                offsets: tuple[float, float] | None = None, unsearched: list[int] | None = None) -> list[CallSpan]:
    """Time-compatible callers of orphan `s`: a CLIENT whose call contains the SERVER span up to
    skew (end gap within `window` when the model has learned the edges into its operation, else
    within +-max_offset_ns), or a PRODUCER that ended up to max_queue_ns before the CONSUMER.
    Producers in range but past the search's budget are counted into `unsearched`."""
    if s.kind == ASYNC_CALLEE:
        return _producers(s, index, config, window, unsearched)
    return [group.calls[k] for group, k in _calls(s, index, config, window, offsets)]


def _producers(s: CallSpan, index: _Index, config: EngineConfig, window: tuple[float, float] | None,
               unsearched: list[int] | None) -> list[CallSpan]:
    """`_candidates` of a CONSUMER: producers, nearest the expected queue delay first."""
    out: list[CallSpan] = []
    # Queue delays: the learned range, searched outwards from its middle; with nothing learned,
    # outwards from a delay of 0 (a consumer may seem to start a little before its producer
    # ended: skew). Nearest first, and not unboundedly many: a window of 10 s holds thousands.
    if window is not None:
        lo_off, hi_off = window
        centre = (lo_off + hi_off) / 2
    else:
        lo_off, hi_off, centre = -config.max_offset_ns, config.max_queue_ns, 0.0
    ends = index.ends
    first = bisect.bisect_left(ends, s.start - hi_off)
    last = bisect.bisect_right(ends, s.start - lo_off)
    mid = min(max(bisect.bisect_right(ends, s.start - centre), first), last)
    older, newer = mid - 1, mid
    budget = 8 * config.candidates_per_span
    # `_compatible` with the hints compared once per distinct producer hints (numbered in the index)
    producers, numbers, table = index.producers_by_end, index.producer_hints, index.hint_table
    trace, service, target, own = s.trace_id, s.service, s.target, _hints(s)
    agree: dict[int, bool] = {}
    while budget > 0 and (older >= first or newer < last):
        # older producers have longer delays: take whichever side is nearer the centre
        if newer >= last or (older >= first
                             and (s.start - ends[older]) - centre <= centre - (s.start - ends[newer])):
            k = older
            older -= 1
        else:
            k = newer
            newer += 1
        budget -= 1
        c = producers[k]
        if c.trace_id == trace or c.service == service:
            continue
        number = numbers[k]
        ok = agree.get(number)
        if ok is None:
            ok = agree[number] = _hints_agree(table[number], own)
        if ok and same_place(c.target, target):
            out.append(c)
    if unsearched is not None:
        unsearched.append((older - first + 1) + (last - newer))
    return out


def _calls(s: CallSpan, index: _Index, config: EngineConfig, window: tuple[float, float] | None = None,
           offsets: tuple[float, float] | None = None) -> list[tuple[_Group, int]]:
    """`_candidates` of a SERVER orphan, as (group, position) pairs."""
    return [(group, k) for group, positions in _call_positions(s, index, config, window, offsets) for k in positions]


def _call_positions(s: CallSpan, index: _Index, config: EngineConfig, window: tuple[float, float] | None = None,
                    offsets: tuple[float, float] | None = None) -> list[tuple[_Group, list[int]]]:
    """`_calls` grouped: each group with candidates, and their positions in it (ascending)."""
    out: list[tuple[_Group, list[int]]] = []
    lo_gap, hi_gap = window if window is not None else (-config.max_offset_ns, config.max_offset_ns)
    # the learned start offsets prune before anything else is compared
    lo_off = max(-config.max_offset_ns, offsets[0]) if offsets is not None else -config.max_offset_ns
    hi_off = min(config.max_call_ns, offsets[1]) if offsets is not None else config.max_call_ns
    # a call c fits when lo_off <= s.start - c.start <= hi_off and its duration exceeds the orphan's
    # by at least min_overhead_ns: bounds on c.start, compared directly in the loop
    first_start, last_start = s.start - hi_off, s.start - lo_off
    min_duration = (s.end - s.start) + config.min_overhead_ns
    end_lo, end_hi = s.end + lo_gap, s.end + hi_gap
    # an orphan that carries no hint but its target (compared group by group) is compatible with
    # every call of another trace: the hints are not compared
    plain = _plain(s)
    trace = s.trace_id
    own = _hints(s)
    agree: dict[int, bool] = {}   # per distinct caller hints: do they agree with the orphan's
    table = index.hint_table
    narrow = s.path is not None or s.query is not None
    path, query = s.path, s.query
    for group in index.groups_for(s):
        if group.longest < min_duration:
            continue
        starts, durations, traces, numbers = group.starts, group.durations, group.traces, group.hints
        ends = group.ends
        # the timing bounds in a comprehension, the duration first (most calls in the end range are
        # shorter than the orphan), the hints then on the few left
        found = [k for k in (group.narrowed(end_lo, end_hi, path, query) if narrow
                             else range(bisect.bisect_left(ends, end_lo), bisect.bisect_right(ends, end_hi)))
                 if durations[k] >= min_duration and first_start <= starts[k] <= last_start and traces[k] != trace]
        if found and not plain:
            kept: list[int] = []
            for k in found:
                number = numbers[k]
                ok = agree.get(number)
                if ok is None:
                    ok = agree[number] = _hints_agree(table[number], own)
                if ok:
                    kept.append(k)
            found = kept
        if found:
            out.append((group, found))
    return out


def _plain(s: CallSpan) -> bool:
    """Whether `s` carries no hint `_compatible` compares but its target."""
    return (s.path is None and s.size is None and s.response_size is None and s.correlation is None
            and s.query is None and s.status is None)


#: a pair's cost terms (`_pair_terms`): the offset's median, reach and `GapLaw.terms`, the end
#: gap's the same, and the call graph's cost
_Terms = tuple[float, float, float, float, float, float, float, float, float, float, float, float, float, float, float]
_Models = dict[tuple[str, str, str, str], tuple[float, float, tuple[float, float, float, float, float],
                                                float, float, tuple[float, float, float, float, float]]]


def _pair_terms(model: GapModel, models: _Models, graph_costs: dict[tuple[str, str, str | None, str, str], float],
                caller: tuple[str, str, str | None], s: CallSpan, asynchronous: bool, k_scales: float) -> _Terms:
    """The cost terms of a pair between a caller of (service, operation, target) and orphan `s`.
    The gap laws are looked up once per (caller operation, orphan operation) and the graph's cost
    once per caller target too (`models`, `graph_costs`: shared by the round's orphans)."""
    service, name, target = caller
    mkey = (service, name, s.service, s.name)
    m = models.get(mkey)
    if m is None:
        gaps = model.gaps(service, name, s.service, s.name, asynchronous)
        end_gap = gaps.end_gap or GapLaw(0.0, 1.0)
        m = models[mkey] = (gaps.offset.median, gaps.offset.reach(k_scales), gaps.offset.terms(),
                            end_gap.median, end_gap.reach(k_scales), end_gap.terms())
    gkey = (service, name, target, s.service, s.name)
    graph = graph_costs.get(gkey)
    if graph is None:
        graph = graph_costs[gkey] = model.graph_cost(*gkey)
    return (m[0], m[1], *m[2], m[3], m[4], *m[5], graph)


def _solve(orphans: list[CallSpan], index: _Index, model: GapModel, config: EngineConfig,
           with_confidence: bool = True) -> tuple[list[CallSpan | None], list[float]]:
    """Each orphan's parent (or None) and, with `with_confidence`, its link's confidence (else 0)."""
    adjacency: list[list[tuple[int, float]]] = []
    no_parent: list[float] = []
    columns: dict[tuple[str, str], int] = {}
    column_spans: list[CallSpan] = []
    windows: dict[tuple[str, str, bool], tuple[float, float] | None] = {}
    offset_windows: dict[tuple[str, str, bool], tuple[float, float] | None] = {}
    dropped: dict[int, tuple[float, float]] = {}  # row -> (its cheapest cost, weight of the left-out relative to it)
    models: _Models = {}
    graph_costs: dict[tuple[str, str, str | None, str, str], float] = {}
    # per orphan operation, the cost terms of each caller (service, operation, target): by the
    # caller's number in the index for calls, by the triple for producers
    call_terms: dict[tuple[str, str, bool], dict[int, _Terms]] = {}
    producer_terms: dict[tuple[str, str, bool], dict[tuple[str, str, str | None], _Terms]] = {}
    k_scales = config.max_scales
    unlinked_call = _background(False, config) + config.no_parent_nats
    unlinked_hop = _background(True, config) + config.no_parent_nats
    for s in orphans:
        asynchronous = s.kind == ASYNC_CALLEE
        wkey = (s.service, s.name, asynchronous)
        if wkey not in windows:
            windows[wkey] = model.window(s.service, s.name, asynchronous, k_scales)
            offset_windows[wkey] = None if asynchronous else model.offset_window(s.service, s.name, k_scales)
            call_terms[wkey] = {}
            producer_terms[wkey] = {}
        unsearched: list[int] = []
        if asynchronous:
            scored = _score_producers(s, _producers(s, index, config, windows[wkey], unsearched),
                                      producer_terms[wkey], model, models, graph_costs, k_scales)
        else:
            scored = _score_calls(s, index, config, windows[wkey], offset_windows[wkey], call_terms[wkey],
                                  model, models, graph_costs, k_scales)
        kept = scored
        if len(scored) > config.candidates_per_span or (unsearched and unsearched[0] and scored):
            scored.sort()
            kept = scored[:config.candidates_per_span]
            # The candidates left out still count against the link's confidence: each with the
            # weight e^-cost it has on its own (competition could only lower it); producers past
            # the search's budget each with the weight of the farthest one searched (they are
            # farther still: an overestimate, so the confidence errs low).
            if with_confidence:
                best = scored[0][0]
                weight = sum([exp(best - cost) for cost, _, _ in scored[config.candidates_per_span:]
                              if cost - best < NEGLIGIBLE_NATS])
                if unsearched and unsearched[0]:
                    weight += unsearched[0] * exp(best - scored[-1][0])
                dropped[len(adjacency)] = (best, weight)
        row: list[tuple[int, float]] = []
        for cost, _, c in kept:
            key = (c.trace_id, c.span_id)
            col = columns.get(key)
            if col is None:
                col = columns[key] = len(column_spans)
                column_spans.append(c)
            row.append((col, cost))
        adjacency.append(row)
        no_parent.append(unlinked_hop if asynchronous else unlinked_call)
    solved = Assignment(adjacency, no_parent, len(column_spans))
    parents: list[CallSpan | None] = []
    confidences: list[float] = []
    for r in range(len(orphans)):
        col = solved.parent(r)
        if col < 0:
            parents.append(None)
            confidences.append(0.0)
        else:
            parents.append(column_spans[col])
            if not with_confidence:
                confidences.append(0.0)
                continue
            rivals = [math.exp(-m) for m in solved.alternatives(r) if m < math.inf]
            if r in dropped:
                cheapest, weight = dropped[r]
                rivals.append(weight * math.exp(min(0.0, cheapest - solved.cost_of(r, col))))
            confidences.append(1.0 / (1.0 + sum(rivals)))
    return parents, confidences


def _score_producers(s: CallSpan, producers: list[CallSpan], terms: dict[tuple[str, str, str | None], _Terms],
                     model: GapModel, models: _Models,
                     graph_costs: dict[tuple[str, str, str | None, str, str], float],
                     k_scales: float) -> list[tuple[float, int, CallSpan]]:
    """(cost, position, producer) of each of a CONSUMER's candidates within the reach of its queue
    delay's law: the negative log-likelihood of the delay (core and tail) plus the graph's cost."""
    scored: list[tuple[float, int, CallSpan]] = []
    s_start = s.start
    for c in producers:
        tkey = (c.service, c.name, c.target)
        t = terms.get(tkey)
        if t is None:
            t = terms[tkey] = _pair_terms(model, models, graph_costs, tkey, s, True, k_scales)
        o_med, o_reach, o_inv, o_inv_tail, o_log, o_log_tail, o_kink = t[:7]
        dx_o = abs((s_start - c.end) - o_med)
        if dx_o > o_reach or t[8] < 0.0:
            continue
        # mixture_cost (gaps), inlined: this runs for every candidate pair
        x = o_log - (0.5 * dx_o * dx_o * o_inv / o_kink if dx_o < o_kink else (dx_o - 0.5 * o_kink) * o_inv)
        y = o_log_tail - dx_o * o_inv_tail
        cost = t[14] - (x + log1p(exp(y - x)) if x >= y else y + log1p(exp(x - y)))
        scored.append((cost, len(scored), c))
    return scored


def _score_calls(s: CallSpan, index: _Index, config: EngineConfig, window: tuple[float, float] | None,
                 offsets: tuple[float, float] | None, terms: dict[int, _Terms], model: GapModel, models: _Models,
                 graph_costs: dict[tuple[str, str, str | None, str, str], float],
                 k_scales: float) -> list[tuple[float, int, CallSpan]]:
    """(cost, position, call) of each of a SERVER orphan's candidates (`_calls`, the same calls in
    the same order) within the reach of its gap laws: the negative log-likelihood of the start
    offset and of the end gap (each core and tail) plus the graph's cost. The search and the
    costs in one pass over the groups' lists: this is the engine's hot loop."""
    scored: list[tuple[float, int, CallSpan]] = []
    lo_gap, hi_gap = window if window is not None else (-config.max_offset_ns, config.max_offset_ns)
    lo_off = max(-config.max_offset_ns, offsets[0]) if offsets is not None else -config.max_offset_ns
    hi_off = min(config.max_call_ns, offsets[1]) if offsets is not None else config.max_call_ns
    s_start, s_end = s.start, s.end
    first_start, last_start = s_start - hi_off, s_start - lo_off
    min_duration = (s_end - s_start) + config.min_overhead_ns
    end_lo, end_hi = s_end + lo_gap, s_end + hi_gap
    plain = _plain(s)
    trace = s.trace_id
    own = _hints(s)
    agree: dict[int, bool] = {}
    table = index.hint_table
    call_keys = index.call_keys
    last_key = -1
    o_med = o_reach = o_inv = o_inv_tail = o_log = o_log_tail = o_kink = 0.0
    g_med = g_reach = g_inv = g_inv_tail = g_log = g_log_tail = g_kink = graph = 0.0
    narrow = s.path is not None or s.query is not None
    path, query = s.path, s.query
    for group in index.groups_for(s):
        if group.longest < min_duration:
            continue
        starts, ends, durations, traces = group.starts, group.ends, group.durations, group.traces
        numbers, keys, calls = group.hints, group.keys, group.calls
        # the timing bounds first, in a comprehension, the duration before the start: most calls in
        # the end range are shorter than the orphan, and a comprehension rejects them faster than
        # the loop below
        for k in [k for k in (group.narrowed(end_lo, end_hi, path, query) if narrow
                              else range(bisect.bisect_left(ends, end_lo), bisect.bisect_right(ends, end_hi)))
                  if durations[k] >= min_duration and first_start <= starts[k] <= last_start and traces[k] != trace]:
            start = starts[k]
            if not plain:
                number = numbers[k]
                ok = agree.get(number)
                if ok is None:
                    ok = agree[number] = _hints_agree(table[number], own)
                if not ok:
                    continue
            key = keys[k]
            if key != last_key:
                t = terms.get(key)
                if t is None:
                    t = terms[key] = _pair_terms(model, models, graph_costs, call_keys[key], s, False, k_scales)
                (o_med, o_reach, o_inv, o_inv_tail, o_log, o_log_tail, o_kink,
                 g_med, g_reach, g_inv, g_inv_tail, g_log, g_log_tail, g_kink, graph) = t
                last_key = key
            dx_o = abs((s_start - start) - o_med)
            dx_g = abs((ends[k] - s_end) - g_med)
            if dx_o > o_reach or dx_g > g_reach:
                continue
            # mixture_cost (gaps) of both gaps, inlined: this runs for every candidate pair
            x = o_log - (0.5 * dx_o * dx_o * o_inv / o_kink if dx_o < o_kink else (dx_o - 0.5 * o_kink) * o_inv)
            y = o_log_tail - dx_o * o_inv_tail
            cost = graph - (x + log1p(exp(y - x)) if x >= y else y + log1p(exp(x - y)))
            x = g_log - (0.5 * dx_g * dx_g * g_inv / g_kink if dx_g < g_kink else (dx_g - 0.5 * g_kink) * g_inv)
            y = g_log_tail - dx_g * g_inv_tail
            cost -= x + log1p(exp(y - x)) if x >= y else y + log1p(exp(x - y))
            scored.append((cost, len(scored), calls[k]))
    return scored


def _background(asynchronous: bool, config: EngineConfig) -> float:
    """-log density of a pair placed by chance: its gaps uniform over the ranges candidates are
    searched in (queue delay; or end gap and offset)."""
    if asynchronous:
        return math.log(config.max_queue_ns + config.max_offset_ns)
    return math.log(2 * config.max_offset_ns) + math.log(config.max_call_ns + config.max_offset_ns)


def _learn(model: GapModel, pairs: list[tuple[CallSpan, CallSpan]]) -> None:
    for caller, callee in pairs:
        offset, end_gap = _gaps_of(caller, callee)
        model.observe(caller.service, caller.name, callee.service, callee.name, offset, end_gap, caller.target)


def taught(pairs: Sequence[tuple[CallSpan, CallSpan]], model: GapModel | None = None) -> GapModel:
    """A gap model taught known (caller, callee) pairs, as if their propagation had worked. With
    `EngineConfig(passes=1)` the engine then assigns once under it, learning nothing first: the
    benchmark's reference for how much better the gap models could be learned (the truth's pairs
    teach them), apart from how much the evidence allows."""
    model = model if model is not None else GapModel()
    _learn(model, list(pairs))
    return model


def _working_copy(model: GapModel) -> GapModel:
    copy = GapModel(max_samples=model.max_samples, max_edges=model.max_edges,
                    min_edge_samples=model.min_edge_samples, min_scale_ns=model.min_scale_ns)
    for key, samples in model._edges.items():
        copy._edges[key] = type(samples)(samples, maxlen=samples.maxlen)
    for pair, samples in model._pairs.items():
        copy._pairs[pair] = type(samples)(samples, maxlen=samples.maxlen)
    for gkey, counts in model._graph.items():
        copy._graph[gkey] = counts.copy()
    for tkey, counts in model._targets.items():
        copy._targets[tkey] = counts.copy()
    for callee, keys in model._into.items():
        copy._into[callee] = set(keys)
    return copy


def reconstruct(spans: Sequence[CallSpan], model: GapModel | None = None,
                config: EngineConfig | None = None, emit_from: int | None = None,
                emit_until: int | None = None) -> Reconstruction:
    """Infer parent links for the orphans among `spans`. `model` (updated in place) carries what
    earlier windows learned; links are returned only for orphans starting in [emit_from,
    emit_until), so a caller can read a padded window and keep each orphan in exactly one window.

    Round 0 runs on a contiguous slice of at most `bootstrap_orphans` orphans with wide candidate
    windows, so that edges the model has not seen yet are found; later rounds run on every orphan
    with the windows the model has learned.

    The cycle collector is paused meanwhile: the engine builds hundreds of thousands of tuples and
    lists that form no reference cycles (reference counting frees them all), and each full pass of
    the collector walks every object of the process, the window's spans included: at load 8 those
    passes took 10-13% of the engine's CPU time. It is resumed on the way out, if it was running."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _reconstruct(spans, model, config, emit_from, emit_until)
    finally:
        if paused:
            gc.enable()


def _reconstruct(spans: Sequence[CallSpan], model: GapModel | None, config: EngineConfig | None,
                 emit_from: int | None, emit_until: int | None) -> Reconstruction:
    config = config or EngineConfig()
    model = model if model is not None else GapModel()
    orphans, index, received = _index(spans)
    exact, orphans, index = _exact(orphans, index, config)
    # pairs named by a shared id are as good as received ones for learning the gaps of their edges
    _learn(model, [*received, *exact])
    working = model
    if config.passes > 1 and orphans:
        middle = len(orphans) // 2
        half = config.bootstrap_orphans // 2
        sample = orphans[max(0, middle - half): middle + half]
        # Edges the model has not learned yet are seeded from the peaks of their gap histograms
        # (`seed`), then the slice is assigned and its confident links refit the model.
        working = _working_copy(model)
        _seed_from(working, sample, index, config, [o for o in orphans if o.kind == ASYNC_CALLEE])
        working = _refit(model, sample, _solve(sample, index, working, config, with_confidence=False)[0])
    parents: list[CallSpan | None] = [None] * len(orphans)
    confidences: list[float] = [0.0] * len(orphans)
    for round_ in range(1, max(2, config.passes)):
        last = round_ >= config.passes - 1
        parents, confidences = _solve(orphans, index, working, config, with_confidence=last)
        if not last:
            working = _refit(model, orphans, parents)
    links: list[InferredLink] = []
    decided = [*zip(orphans, parents, confidences, strict=True), *((s, p, EXACT_CONFIDENCE) for p, s in exact)]
    for s, p, conf in decided:
        if p is None:
            continue
        if emit_from is not None and s.start < emit_from:
            continue
        if emit_until is not None and s.start >= emit_until:
            continue
        links.append(InferredLink(s.trace_id, s.span_id, p.trace_id, p.span_id, conf, s.service, p.service,
                                  s.start))
    links = _without_cycles(links)
    model.decay()
    _learn(model, [(p, s) for s, p, conf in zip(orphans, parents, confidences, strict=True)
                   if p is not None and conf >= config.learn_confidence])
    return Reconstruction(links=links, orphans=len(orphans) + len(exact),
                          with_candidates=sum(1 for p in parents if p is not None) + len(exact),
                          received_calls=len(received))


def _seed_from(model: GapModel, orphans: list[CallSpan], index: _Index, config: EngineConfig,
               consumers: list[CallSpan]) -> None:
    """Seed unlearned edges from a sample of the synchronous `orphans` and from every one of the
    window's `consumers`: a consumer's search stops at a budget of candidates, and a queue's delays
    spread its true pairs thinly over a wide range, so its peak stands out of the chance pairs only
    with many orphans (a call's end gap is sharp: a few hundred orphans show it)."""
    pairs: dict[tuple[str, str, str, str], list[tuple[float, float, str | None]]] = {}
    asynchronous: set[tuple[str, str, str, str]] = set()
    orphans_on: dict[tuple[str, str, str, str], int] = {}
    coverage: dict[tuple[str, str, str, str], list[tuple[float, float, int]]] = {}
    step = max(1, len(orphans) // config.seed_orphans)
    for s in [o for o in orphans[::step] if o.kind != ASYNC_CALLEE] + consumers:
        if model.window(s.service, s.name, s.kind == ASYNC_CALLEE, config.max_scales) is not None:
            continue  # already learned
        # per caller operation of this orphan: its edge's list of pairs (one look-up per pair)
        lists: dict[tuple[str, str], list[tuple[float, float, str | None]]] = {}
        hop = s.kind == ASYNC_CALLEE
        before = {edge: len(found) for edge, found in pairs.items()} if hop else {}
        if not hop:
            # the calls' lists read directly (the search's (group, position) pairs), and each
            # caller key's edge list looked up once per orphan
            s_start, s_end = s.start, s.end
            per_key: dict[int, list[tuple[float, float, str | None]]] = {}

            def pairs_of(number: int, s: CallSpan = s,
                         lists: dict[tuple[str, str], list[tuple[float, float, str | None]]] = lists,
                         per_key: dict[int, list[tuple[float, float, str | None]]] = per_key,
                         ) -> list[tuple[float, float, str | None]]:
                """The list of pairs of the edge from caller key `number` into `s` (counted once)."""
                known = per_key.get(number)
                if known is None:
                    service, name, _ = index.call_keys[number]
                    known = lists.get((service, name))
                    if known is None:
                        edge = (service, name, s.service, s.name)
                        orphans_on[edge] = orphans_on.get(edge, 0) + 1
                        known = lists[(service, name)] = pairs.setdefault(edge, [])
                    per_key[number] = known
                return known

            for group, positions in _call_positions(s, index, config):
                starts, ends, keys, target = group.starts, group.ends, group.keys, group.target
                if group.one_key >= 0:   # the common case: one caller operation per target
                    pairs_of(group.one_key).extend([(float(s_start - starts[k]), float(ends[k] - s_end), target)
                                                    for k in positions])
                    continue
                last_number = -1
                into: list[tuple[float, float, str | None]] = []
                for k in positions:
                    number = keys[k]
                    if number != last_number:
                        last_number = number
                        into = pairs_of(number)
                    into.append((float(s_start - starts[k]), float(ends[k] - s_end), target))
            continue
        for c in _producers(s, index, config, None, None):
            found = lists.get((c.service, c.name))
            if found is None:
                edge = (c.service, c.name, s.service, s.name)
                orphans_on[edge] = orphans_on.get(edge, 0) + 1
                found = lists[(c.service, c.name)] = pairs.setdefault(edge, [])
                asynchronous.add(edge)
            found.append((float(s.start - c.end), 0.0, c.target))
        # A queue's candidates are searched nearest-first within a budget: the delays this
        # orphan's search covered, per edge, tell the seed where chance pairs pile up. The two
        # extremes mark the range and leave the histogram: the pairs between them are spread
        # evenly over it by chance, the extremes are not (they sit at its ends by definition).
        for (service, name), found in lists.items():
            edge = (service, name, s.service, s.name)
            first = before.get(edge, 0)
            mine = sorted(found[first:], key=operator.itemgetter(0))
            if len(mine) < 3:
                del found[first:]
                continue
            found[first:] = mine[1:-1]
            coverage.setdefault(edge, []).append((mine[0][0], mine[-1][0], len(mine) - 2))
    seed(model, pairs, asynchronous, config.max_queue_ns, 2 * config.max_offset_ns, orphans_on, coverage)


def _refit(model: GapModel, orphans: list[CallSpan], parents: list[CallSpan | None]) -> GapModel:
    """The persistent model plus this round's confident links: the next round's model."""
    working = _working_copy(model)
    # Every link of the round, not only the confident ones: refitting on those alone would keep
    # the pairs that fit the current model and narrow it further, however wide the true gaps are.
    # The robust fit (median, mean absolute deviation) absorbs the round's wrong links.
    _learn(working, [(p, s) for s, p in zip(orphans, parents, strict=True) if p is not None])
    return working


def _without_cycles(links: list[InferredLink]) -> list[InferredLink]:
    """Drop the least confident link of any cycle of fragments (a trace cannot be its own ancestor)."""
    root: dict[str, str] = {}

    def find(t: str) -> str:
        while root.get(t, t) != t:
            root[t] = root.get(root[t], root[t])
            t = root[t]
        return t

    kept: list[InferredLink] = []
    for link in sorted(links, key=lambda k: -k.confidence):
        a, b = find(link.child_trace_id), find(link.parent_trace_id)
        if a == b:
            continue
        root[a] = b
        kept.append(link)
    kept.sort(key=lambda k: k.child_start)
    return kept


def fcfs_baseline(spans: Sequence[CallSpan], config: EngineConfig | None = None) -> list[InferredLink]:
    """First come, first served: each orphan, in start order, takes the earliest-started free call
    that could have caused it. What a timing-only tool without a global view does."""
    config = config or EngineConfig()
    orphans, index, _ = _index(spans)
    taken: set[tuple[str, str]] = set()
    links: list[InferredLink] = []
    for s in orphans:
        cands = _candidates(s, index, config)
        free = [c for c in cands if (c.trace_id, c.span_id) not in taken]
        if not free:
            continue
        c = min(free, key=lambda x: x.start)
        taken.add((c.trace_id, c.span_id))
        links.append(InferredLink(s.trace_id, s.span_id, c.trace_id, c.span_id, 1.0, s.service, c.service, s.start))
    return links
