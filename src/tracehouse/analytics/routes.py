"""`analyze paths`: which routes requests take, and which routes the slowest requests take."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.analytics.report import COUNT, MS, PERCENT, TEXT, TRACE, Column, Report
from tracehouse.analytics.trace_time import dictionary_codes, slow_threshold, trace_times
from tracehouse.store import AnalysisFilter, AnalyticsReader

MAX_ROUTES = 50
# Past this many selected traces, paths groups a fixed sample of about this many (the store's
# trace_sample: the same every time) and says so in a note. Each trace is measured by the one trace
# duration (trace_time.trace_times), over its spans in Python: 50,000 traces of the last hour at
# 1M traces / 11M spans cost ~1.2 s of CPU to read and ~0.6 s to place, a side; 10,000 about a
# fifth of that (bench/scale_bench.py), with the same leading routes.
DEFAULT_SAMPLE = 10_000
UNSAMPLED = 2**31 - 1   # "every trace", to a store's trace_sample


# A route is shown as a short tree: identical sibling calls folded ("x6"), at most this many lines
# (the rest summed up in one), each label at most this long; and, for every route but the usual
# one of its entry point, as a diff against that usual route.
MAX_TREE_LINES = 12
MAX_LABEL = 80

# One line of a route's tree: its depth, 'service:operation', and how many identical calls it stands for.
Line = tuple[int, str, int]


def route_lines(spans: pa.Table) -> list[Line]:
    """One trace's call tree as (depth, 'service:operation', count) lines in tree order; identical
    siblings fold into one line with a count, so a route reads the same whatever the order calls
    were made in."""
    rows = spans.select(["span_id", "parent_span_id", "service_name", "span_name"]).to_pylist()
    ids = {r["span_id"] for r in rows}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        parent = r["parent_span_id"] if r["parent_span_id"] in ids else None
        children[parent].append(r)

    def lines(parent: str | None, depth: int) -> list[Line]:
        rendered = [(f"{c['service_name']}:{c['span_name']}", tuple(lines(c["span_id"], depth + 1)))
                    for c in children[parent]]
        folded = Counter(rendered)
        out: list[Line] = []
        for (label, sub), n in sorted(folded.items()):
            out.append((depth, label, n))
            out.extend(sub)
        return out

    return lines(None, 0)


def _label(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _show(line: Line, mark: str = "") -> str:
    depth, label, n = line
    return mark + "  " * depth + _label(label) + (f" x{n}" if n > 1 else "")


def _cut(shown: list[str], hidden_calls: int = 0) -> str:
    """At most MAX_TREE_LINES lines; what does not fit is counted in a last line."""
    if len(shown) > MAX_TREE_LINES:
        hidden_calls += len(shown) - (MAX_TREE_LINES - 1)
        shown = shown[:MAX_TREE_LINES - 1]
    if hidden_calls:
        shown = [*shown, f"… {hidden_calls} more lines"]
    return "\n".join(shown)


def route_tree(lines: list[Line]) -> str:
    """The route as a short indented tree (see MAX_TREE_LINES)."""
    return _cut([_show(line) for line in lines])


def route_text(spans: pa.Table) -> str:
    """One trace's route as a short tree (route_lines, cut at MAX_TREE_LINES)."""
    return route_tree(route_lines(spans))


def _keyed(lines: list[Line]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Each line keyed by its path from the root, with its index and count. A path element is the
    line's label; siblings with the same label (a CLIENT span per callee: 'web:GET') are told apart
    by the labels of their own children ('web:GET[cart:GET /cart]'), then by occurrence."""
    children: dict[int, list[int]] = defaultdict(list)
    stack: list[int] = []
    for i, (depth, _, _) in enumerate(lines):
        del stack[depth:]
        children[stack[-1] if stack else -1].append(i)
        stack.append(i)
    keyed: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(parent: int, path: tuple[str, ...]) -> None:
        kids = children.get(parent, [])
        labels = Counter(lines[k][1] for k in kids)
        seen: Counter[str] = Counter()
        for k in kids:
            element = lines[k][1]
            if labels[element] > 1:
                element += "[" + ",".join(lines[g][1] for g in children.get(k, [])) + "]"
            seen[element] += 1
            if seen[element] > 1:
                element += f"#{seen[element]}"
            keyed[(*path, element)] = (k, lines[k][2])
            walk(k, (*path, element))

    walk(-1, ())
    return keyed


def route_diff(lines: list[Line], usual: list[Line]) -> list[str]:
    """The route against the usual one, as tree lines marked '+' (calls only this route makes, or
    makes more often: 'x6, usually x1'), '-' (usual calls it does not make), with unmarked
    ancestors for context. Empty when the two are the same."""
    mine, theirs = _keyed(lines), _keyed(usual)
    changed: dict[tuple[str, ...], str] = {}
    context: set[tuple[str, ...]] = set()
    for key, (i, n) in mine.items():
        if key not in theirs:
            changed[key] = _show(lines[i], "+ ")
        elif theirs[key][1] != n:
            changed[key] = _show(lines[i], "~ ") + f" (usually x{theirs[key][1]})"
            context |= {k for k in mine if len(k) == len(key) + 1 and k[:-1] == key}  # what it calls
    for key, (i, _) in theirs.items():
        if key not in mine:
            changed[key] = _show(usual[i], "- ")
    if not changed:
        return []
    # Tree order over both routes: by the path of each line's positions.
    position = {**{k: i for k, (i, _) in theirs.items()}, **{k: i for k, (i, _) in mine.items()}}
    wanted = set(changed) | context | {key[:n] for key in changed for n in range(1, len(key))}
    shown = []
    for key in sorted(wanted, key=lambda k: tuple(position.get(k[:n], 0) for n in range(1, len(k) + 1))):
        if key in changed:
            shown.append(changed[key])
        else:
            line = lines[mine[key][0]] if key in mine else usual[theirs[key][0]]
            shown.append(_show(line, "  "))
    return shown


def _summary(diff: list[str], limit: int = 3) -> str:
    """A diff's changes in a short phrase, for sentences."""
    marked = [d.strip() for d in diff if d[:1] in "+-~"]
    marked = [m[:2] + " ".join(m[2:].split()) for m in marked]
    text = "; ".join(marked[:limit])
    return text + (f"; and {len(marked) - limit} more changes" if len(marked) > limit else "")


_MASK = 2**64 - 1


def _label_hash(label: str) -> int:
    """A stable 64-bit hash of a 'service:operation' (the same in every process, so a route's key
    is too)."""
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


def _name(names: pa.Array, code: int) -> object:
    """The value of a dictionary code (None for -1: a null)."""
    return names[code].as_py() if code >= 0 else None


def _mix(parent: int, child: int) -> int:
    """One call's hash from its two labels' (uint64, wrapping): not symmetric, not linear, so the
    sum over a trace's calls tells routes apart."""
    h = ((parent * 0x9E3779B97F4A7C15) & _MASK) ^ child
    h ^= h >> 31
    h = (h * 0xBF58476D1CE4E5B9) & _MASK
    return h ^ (h >> 29)


def _quantile(ordered: Sequence[int], q: float) -> float:
    """Linear interpolation between closest ranks of sorted values (DuckDB's quantile_cont)."""
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    low, high = float(ordered[below]), float(ordered[above])
    return low + (high - low) * (position - below)


def route_rows(spans: pa.Table, slowest_fraction: float | None) -> tuple[list[dict[str, Any]], int | None]:
    """The routes of the traces in `spans` (trace_sample's columns), busiest first, with each
    trace measured by the one trace duration (trace_time.trace_times), and the slow threshold.

    A trace's route is the multiset of its calls: for every span, (its parent's service:operation,
    its own); a span whose parent is not among the spans pairs with nothing. Its key is the sum of
    the calls' hashes (mod 2^64), which does not depend on span order. Rows: route_key, traces,
    error_traces, p50_ns, p95_ns, p99_ns, slow_traces (at or above the threshold: see
    `slow_threshold`), example_trace_id (the route's slowest trace; ties: the largest id, as trace_sample orders
    traces by id)."""
    times = trace_times(spans)
    count = len(times.trace_ids)
    if count == 0:
        return [], None
    # A hash per distinct 'service:operation', and per distinct call (a few hundred, not one per span).
    counted = spans.select(["service_name", "span_name"]).take(times.span_rows)
    services, service_names = dictionary_codes(counted.column("service_name"))
    names, span_names = dictionary_codes(counted.column("span_name"))
    width = len(span_names) + 1     # codes + 1: 0 is a null
    labels, pairs = dictionary_codes(pc.add(pc.multiply(pc.fill_null(pc.add(services, 1), 0), width),
                                            pc.fill_null(pc.add(names, 1), 0)))
    label_hashes = [_label_hash(f"{_name(service_names, p // width - 1)}:{_name(span_names, p % width - 1)}")
                    for p in pairs.to_pylist()]
    parent = pa.array(times.span_parent, pa.int64())
    parent_labels = pc.fill_null(pc.take(labels, pc.if_else(pc.less(parent, 0), None, parent)), -1)
    calls, distinct_calls = dictionary_codes(pc.add(pc.multiply(parent_labels, len(label_hashes)), labels))
    call_hashes = [_mix(label_hashes[c // len(label_hashes)] if c >= 0 else 0, label_hashes[c % len(label_hashes)])
                   for c in distinct_calls.to_pylist()]
    route = [0] * count
    for t, c in zip(times.span_trace, calls.to_pylist(), strict=True):
        route[t] += call_hashes[c]
    route = [r & _MASK for r in route]
    duration = times.duration_ns
    threshold = slow_threshold(duration, slowest_fraction) if slowest_fraction is not None else None
    members: dict[int, list[int]] = defaultdict(list)
    for t, key in enumerate(route):
        members[key].append(t)
    rows: list[dict[str, Any]] = []
    for key in sorted(members):
        traces = members[key]
        # By duration, then order of first appearance: the last is the example.
        traces.sort(key=lambda t: (duration[t], t))
        ordered = [duration[t] for t in traces]
        rows.append({
            "route_key": str(key), "traces": len(traces), "error_traces": sum(times.failed[t] for t in traces),
            "p50_ns": _quantile(ordered, 0.50), "p95_ns": _quantile(ordered, 0.95), "p99_ns": _quantile(ordered, 0.99),
            "slow_traces": sum(d >= threshold for d in ordered) if threshold is not None else 0,
            "slow_threshold_ns": threshold, "example_trace_id": times.trace_ids[traces[-1]]})
    rows.sort(key=lambda r: (-int(r["traces"]), str(r["route_key"])))
    return rows, threshold


class SpanSource(Protocol):
    """Where the example traces' spans come from (a store, or one that joins reconstructed traces)."""

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        ...


def analyze_paths(reader: AnalyticsReader, spans: SpanSource, flt: AnalysisFilter,
                  slowest_fraction: float | None = None, sample: int | None = None) -> Report:
    """Routes of the selected traces; with `sample`, of a fixed sample of about that many (the
    store's choice, the same every time), which the report's notes state."""
    spans_read = reader.trace_sample(flt, sample if sample is not None else UNSAMPLED)
    every_route, threshold = route_rows(spans_read, slowest_fraction)
    sampled = sum(int(r["traces"]) for r in every_route)
    # The sample holds every selected trace unless it is full (then count them).
    selected = reader.count_traces(flt) if sampled and sample is not None and sampled >= sample else sampled
    rows = every_route[:MAX_ROUTES]
    total = sum(int(r["traces"]) for r in every_route)
    total_slow = sum(int(r["slow_traces"]) for r in every_route)
    examples = [r["example_trace_id"] for r in rows]
    example_spans = spans.get_spans(examples) if examples else None
    out = []
    trees: list[list[Line]] = []
    for r in rows:
        lines: list[Line] = []
        if example_spans is not None:
            mask = pa.compute.equal(example_spans.column("trace_id"), r["example_trace_id"])
            lines = route_lines(example_spans.filter(mask))
        trees.append(lines)
    # The usual route of each entry point: its busiest (rows come busiest first).
    usual: dict[str, int] = {}
    for i, lines in enumerate(trees):
        usual.setdefault(lines[0][1] if lines else "", i)
    for r, lines in zip(rows, trees, strict=True):
        entry = lines[0][1] if lines else ""
        base = usual[entry]
        if trees[base] is lines:
            diff = f"(the usual route of {_label(entry)})"
        else:
            diff = _cut(route_diff(lines, trees[base])) or "(the same calls as the usual route)"
        share = 100 * r["traces"] / total if total else 0.0
        row: dict[str, Any] = {
            "route": route_tree(lines), "vs_usual": diff, "route_key": r["route_key"],
            "traces": r["traces"], "share": share,
            "p50_ms": r["p50_ns"] / 1e6, "p95_ms": r["p95_ns"] / 1e6, "p99_ms": r["p99_ns"] / 1e6,
            "error_rate": 100 * r["error_traces"] / r["traces"], "example_trace_id": r["example_trace_id"],
        }
        if slowest_fraction is not None:
            row["slow_share"] = 100 * r["slow_traces"] / total_slow if total_slow else 0.0
            row["difference"] = row["slow_share"] - share
        out.append(row)
    columns = [Column("route", "route", TEXT), Column("vs_usual", "against the usual route", TEXT),
               Column("traces", "traces", COUNT), Column("share", "share", PERCENT)]
    findings: list[str] = []
    if slowest_fraction is not None:
        out.sort(key=lambda r: -r["difference"])
        columns += [Column("slow_share", f"share of slowest {slowest_fraction * 100:g}%", PERCENT),
                    Column("difference", "difference", PERCENT)]
        if out and threshold is not None:
            top = out[0]
            findings.append(
                f"The slowest {slowest_fraction * 100:g}% of requests (at least {threshold / 1e6:,.1f} ms) took "
                f"route {_sentence(top)} {top['slow_share']:.0f}% of the time, against "
                f"{top['share']:.0f}% for all requests.")
    elif out:
        findings.append(f"{len(every_route)} routes over {total:,} traces; the most common, "
                        f"{_sentence(out[0])}, carries {out[0]['share']:.0f}% of them.")
    columns += [Column("p50_ms", "p50 ms", MS), Column("p95_ms", "p95 ms", MS), Column("p99_ms", "p99 ms", MS),
                Column("error_rate", "errors", PERCENT), Column("example_trace_id", "example trace", TRACE)]
    notes = [f"showing the first {MAX_ROUTES} of {len(every_route)} routes"] if len(every_route) > MAX_ROUTES else []
    if total < selected:
        notes.append(f"routes of a fixed sample of {total:,} of the {selected:,} traces "
                     f"(the same sample every time; sample={sample})")
    return Report("paths", "Routes", findings, columns, out, notes=notes)


def _sentence(row: dict[str, Any]) -> str:
    """A route named in a sentence: its entry point, and how it differs from that entry point's usual
    route (at most three changes), never the whole tree."""
    entry = row["route"].splitlines()[0] if row["route"] else "?"
    diff = row["vs_usual"]
    if diff.startswith("("):
        return f"[{entry}, the usual route]" if diff.startswith("(the usual") else f"[{entry}]"
    return f"[{entry}, the usual route with {_summary(diff.splitlines())}]"
