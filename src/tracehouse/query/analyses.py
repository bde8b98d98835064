"""The analyses beyond the trace view, for the API, the UI and the CLI.

`Analyses.run(name, params)` takes the same string parameters whether they come from CLI options
or HTTP query parameters, so every front end computes with the same inputs:

  since=1h | start=ISO/unix seconds, end=...   the time window (default: everything stored)
  service, operation                           keep traces with such a span (origins: the target)
  attr=key=value (repeatable)                  keep traces carrying that attribute value
  slowest=5%, min_duration=250ms, errors=true  the selection (paths, compare)
  what_if=SERVICE[:OPERATION]=-100ms|-50%      latency's what-if
  sample=3000                                  traces whose critical paths are computed (latency),
                                               or whose calls are grouped (origins; default 20000),
                                               or whose routes are grouped (paths; default 10000),
                                               or examined on each side (doctor; default 2000)
  reconstructed=received|include|exclude|only  traces joined by inferred links: read as received
                                               (the default: fragments apart), read whole, left
                                               out, or alone, read whole (AnalysisFilter); every
                                               report says which, in params and a note
  baseline=1h | baseline_start=TIME, baseline_end=TIME
                                               what the window is compared with (doctor, and every
                                               analysis whose rows are then ranked by their change;
                                               doctor's default: the period of the window's length
                                               before it)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import pyarrow as pa

from tracehouse.analytics.against import against_baseline
from tracehouse.analytics.bubbleup import MAX_ROWS as COMPARE_ROWS
from tracehouse.analytics.bubbleup import analyze_compare
from tracehouse.analytics.causes import Diagnosis
from tracehouse.analytics.doctor import DEFAULT_SAMPLE as DOCTOR_SAMPLE
from tracehouse.analytics.doctor import BaselineSpec, plan, run_doctor
from tracehouse.analytics.doctor import doctor as doctor_analysis
from tracehouse.analytics.errors import analyze_errors
from tracehouse.analytics.latency import DEFAULT_SAMPLE, analyze_latency
from tracehouse.analytics.origins import DEFAULT_SAMPLE as ORIGINS_SAMPLE
from tracehouse.analytics.origins import analyze_origins
from tracehouse.analytics.parsing import (
    ParseError,
    WhatIf,
    parse_attribute,
    parse_duration_ns,
    parse_fraction,
    parse_time_ns,
    parse_what_if,
)
from tracehouse.analytics.report import PERCENT, Column, Report
from tracehouse.analytics.routes import DEFAULT_SAMPLE as PATHS_SAMPLE
from tracehouse.analytics.routes import analyze_paths
from tracehouse.query.reconstructed import JoinedSpanReader
from tracehouse.store import (
    AnalysisFilter,
    AnalyticsReader,
    InferredLinkStore,
    Selection,
    SpanReader,
    StoreError,
)

NAMES = ("paths", "origins", "latency", "compare", "errors", "doctor")
# Analyses that take a baseline: the row key and the figures compared (the first ranks the rows).
AGAINST: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "paths": (("route_key",), ("p95_ms", "share", "error_rate")),
    "latency": (("service", "operation"), ("p95_ms", "share")),
    "errors": (("service", "operation", "version"), ("error_rate",)),
    "origins": (("entry", "chain", "operation"), ("share",)),
    # compare: how much more over-represented in the selection a value is than it was in the baseline.
    "compare": (("attribute", "scope"), ("difference", "selected_pct")),
}
# compare against a baseline ranks by how much more a value marks the selection than it did in the
# baseline, counting only over-representation: a value that marked slow traces before is habitual
# (discounted), one that was under-represented before gains nothing for it. A value never seen in the
# baseline had no over-representation there.
COMPARE_RANK = (Column("excess", "excess over baseline", PERCENT),
                lambda r: r["difference"] - max(r["baseline_difference"] or 0.0, 0.0))
# How a row is named in the finding when its key is not readable (a route's key is a hash).
AGAINST_LABEL = {"paths": ("route", "vs_usual")}
Params = Mapping[str, str | Sequence[str]]


class AnalysisError(ValueError):
    """The request cannot be analysed as given (bad or missing parameter); the message says why."""


def _one(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value or None
    return value[-1] if value else None


def _many(params: Params, key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _sample(params: Params) -> int | None:
    sample = _one(params, "sample")
    if not sample:
        return None
    try:
        size = int(sample)
    except ValueError as exc:
        raise AnalysisError(f"sample is a number of traces, got {sample!r}") from exc
    if size < 1:
        raise AnalysisError(f"sample is a number of traces (at least 1), got {sample!r}")
    return size


def parse_filter(params: Params, now_ns: int | None = None, *, target_is_service: bool = False) -> AnalysisFilter:
    """The AnalysisFilter described by string parameters (see the module docstring)."""
    start = end = None
    since = _one(params, "since")
    if since:
        now = time.time_ns() if now_ns is None else now_ns
        start, end = now - parse_duration_ns(since), None
    if _one(params, "start"):
        start = parse_time_ns(_one(params, "start") or "")
    if _one(params, "end"):
        end = parse_time_ns(_one(params, "end") or "")
    attributes = dict(parse_attribute(a) for a in _many(params, "attr"))
    try:
        return AnalysisFilter(start_ns=start, end_ns=end,
                              service=None if target_is_service else _one(params, "service"),
                              operation=None if target_is_service else _one(params, "operation"),
                              attributes=attributes,
                              reconstructed=(_one(params, "reconstructed") or "received").lower())
    except ValueError as exc:
        raise AnalysisError(str(exc)) from exc


def parse_baseline(params: Params) -> BaselineSpec:
    """The baseline doctor compares the window with: baseline_start/baseline_end, or baseline=1h
    (that long before the window), or neither (doctor's default)."""
    start, end, length = _one(params, "baseline_start"), _one(params, "baseline_end"), _one(params, "baseline")
    if length and (start or end):
        raise AnalysisError("give either baseline (a length before the window) or baseline_start/baseline_end")
    if end and not start:
        raise AnalysisError("baseline_end needs baseline_start")
    spec = BaselineSpec(start_ns=parse_time_ns(start) if start else None,
                        end_ns=parse_time_ns(end) if end else None,
                        length_ns=parse_duration_ns(length) if length else None)
    if spec.start_ns is not None and spec.end_ns is not None and spec.end_ns <= spec.start_ns:
        raise AnalysisError("the baseline ends before it starts")
    return spec


def parse_selection(params: Params, default_slowest: float | None = 0.05) -> Selection:
    slowest, min_duration = _one(params, "slowest"), _one(params, "min_duration")
    errors = (_one(params, "errors") or "").lower() in ("1", "true", "yes")
    try:
        if errors:
            return Selection(errors=True)
        if min_duration:
            return Selection(min_duration_ns=parse_duration_ns(min_duration))
        if slowest:
            return Selection(slowest_fraction=parse_fraction(slowest))
        return Selection(slowest_fraction=default_slowest)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from exc


class _Reader(AnalyticsReader, SpanReader):
    """What the analyses need from a store: its analytics reads and its span reads."""


class Analyses:
    def __init__(self, store: object) -> None:
        if not isinstance(store, AnalyticsReader) or not isinstance(store, SpanReader):
            raise StoreError("this store cannot run analyses (it does not implement AnalyticsReader)")
        self._store: _Reader = store  # type: ignore[assignment]

    # ---- typed entry points (what notebooks call)
    def paths(self, flt: AnalysisFilter, slowest_fraction: float | None = None, sample: int | None = None) -> Report:
        # Routes are drawn from example traces: whole, fragments joined, when reconstructed traces are read whole.
        examples = JoinedSpanReader(self._store) if flt.reconstructed in ("include", "only") else self._store
        return analyze_paths(self._store, examples, flt, slowest_fraction, sample)

    def origins(self, flt: AnalysisFilter, service: str, operation: str | None = None,
                sample: int = ORIGINS_SAMPLE) -> Report:
        return analyze_origins(self._store, flt, service, operation, sample)

    def latency(self, flt: AnalysisFilter, what_if: WhatIf | None = None, sample: int = DEFAULT_SAMPLE) -> Report:
        return analyze_latency(self._store, flt, what_if, sample)

    def compare(self, flt: AnalysisFilter, selection: Selection, max_rows: int | None = COMPARE_ROWS) -> Report:
        return analyze_compare(self._store, flt, selection, max_rows=max_rows)

    def errors(self, flt: AnalysisFilter) -> Report:
        return analyze_errors(self._store, flt)

    def diagnose(self, flt: AnalysisFilter, baseline: BaselineSpec | None = None,
                 sample: int = DOCTOR_SAMPLE) -> Diagnosis:
        """What changed in the window against the baseline: the ranked causes (analytics.diagnosis)."""
        return run_doctor(self._store, flt, baseline, sample)

    def export_spans(self, params: Params) -> pa.Table:
        """The spans of the traces the string parameters select (model.SPAN_ROW_SCHEMA)."""
        try:
            return self._store.export_spans(parse_filter(params))
        except ParseError as exc:
            raise AnalysisError(str(exc)) from exc

    def export_span_batches(self, params: Params) -> Iterator[pa.RecordBatch]:
        """export_spans a bounded slice at a time (model.SPAN_ROW_SCHEMA batches, by start time)."""
        try:
            flt = parse_filter(params)
        except ParseError as exc:
            raise AnalysisError(str(exc)) from exc
        return self._store.export_span_batches(flt)

    def doctor(self, flt: AnalysisFilter, baseline: BaselineSpec | None = None,
               sample: int = DOCTOR_SAMPLE) -> Report:
        """The diagnosis as a Report (causes as rows, the whole Diagnosis in params['diagnosis']),
        with the window's critical path as context."""
        return doctor_analysis(self._store, flt, baseline, sample)

    # ---- the string-parameter entry point shared by the CLI and the HTTP API
    def run(self, name: str, params: Params) -> Report:
        runner: dict[str, Callable[[Params], Report]] = {
            "paths": self._run_paths, "origins": self._run_origins, "latency": self._run_latency,
            "compare": self._run_compare, "errors": lambda p: self.errors(parse_filter(p)),
            "doctor": lambda p: self.doctor(parse_filter(p), parse_baseline(p), _sample(p) or DOCTOR_SAMPLE),
        }
        if name not in runner:
            raise AnalysisError(f"no analysis named {name!r}; there are: {', '.join(NAMES)}")
        try:
            if name in AGAINST and any(_one(params, k) for k in ("baseline", "baseline_start", "baseline_end")):
                report = self._against(name, params, runner[name])
            else:
                report = runner[name](params)
        except ParseError as exc:
            raise AnalysisError(str(exc)) from exc
        request = {k: _many(params, k) if k == "attr" else _one(params, k) for k in params}
        mode = parse_filter(params).reconstructed
        report.params = {"request": request} | report.params | {"reconstructed": mode}
        report.notes = [*report.notes, self.reconstructed_note(mode)]
        return report

    def reconstructed_note(self, mode: str) -> str:
        """What the report did with reconstructed traces, in words (every report carries it)."""
        links = self._store.inferred_link_stats()[0] if isinstance(self._store, InferredLinkStore) else 0
        if not links:
            return (f"reconstructed traces: none (no inferred links stored; reconstructed={mode} changes "
                    "nothing)" if mode != "only" else "reconstructed traces: only, and there are none "
                    "(no inferred links stored)")
        said = {"received": "as received: fragments counted as traces of their own, not joined "
                            "(reconstructed=include joins them, exclude leaves them out)",
                "include": "included: fragments joined by inferred links are read as whole traces",
                "exclude": "left out: traces joined by inferred links are not counted",
                "only": "only: just the traces joined by inferred links, read whole"}[mode]
        return f"reconstructed traces: {said} ({links:,} inferred links stored; reconstructed={mode})"

    def _against(self, name: str, params: Params, runner: Callable[[Params], Report]) -> Report:
        """The report of `name` for the window, joined to the same analysis over the baseline (each
        run once: the window's report is not also computed over the parameters as given)."""
        window, baseline, how, _ = plan(self._store, parse_filter(params), parse_baseline(params))
        if window is None or baseline is None:
            return runner(params)
        def bounds(flt: AnalysisFilter) -> dict[str, str]:
            return {"start": str((flt.start_ns or 0) / 1e9), "end": str((flt.end_ns or 0) / 1e9)}
        rest = {k: v for k, v in params.items() if k not in ("since", "start", "end", "baseline", "baseline_start",
                                                             "baseline_end")}
        key, figures = AGAINST[name]
        limit, rank = None, None
        if name == "compare":  # every value on both sides, ranked by the change, then cut
            runner, limit, rank = (lambda p: self.compare(parse_filter(p), parse_selection(p), None)), COMPARE_ROWS, \
                COMPARE_RANK
        return against_baseline(runner({**rest, **bounds(window)}), runner({**rest, **bounds(baseline)}), key,
                                figures, how, limit, AGAINST_LABEL.get(name), rank)

    def _run_paths(self, p: Params) -> Report:
        slowest = _one(p, "slowest")
        return self.paths(parse_filter(p), parse_fraction(slowest) if slowest else None,
                          _sample(p) or PATHS_SAMPLE)

    def _run_origins(self, p: Params) -> Report:
        service = _one(p, "service")
        if not service:
            raise AnalysisError("origins needs a service: the one whose callers you want to see")
        return self.origins(parse_filter(p, target_is_service=True), service, _one(p, "operation"),
                            _sample(p) or ORIGINS_SAMPLE)

    def _run_latency(self, p: Params) -> Report:
        what_if = _one(p, "what_if")
        return self.latency(parse_filter(p), parse_what_if(what_if) if what_if else None,
                            _sample(p) or DEFAULT_SAMPLE)

    def _run_compare(self, p: Params) -> Report:
        return self.compare(parse_filter(p), parse_selection(p))
