"""Reconstruction against a store: read a window's call spans, infer, replace the window's links.

`Reconstructor.run(start, end)` walks [start, end) in windows of `window_ns`, each read with
`pad_ns` on both sides (a call straddling a window edge is seen whole) and each orphan linked in
exactly one window. The gap model carries over from window to window, so memory is bounded by one
window's spans plus the model's fixed-size samples, whatever the range. Reruns replace a window's
links, so running twice leaves the same links, and spans are never written.

`ContinuousReconstruction` is the backend's `--reconstruct` thread: every `interval` seconds it
reconstructs what became older than `delay` seconds since its last pass, so a link appears at most
about delay + interval + one pass after its spans arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import orjson
import pyarrow as pa

from tracehouse.analytics.reconstruct.calls import CALLEES, CallSpan, hints
from tracehouse.analytics.reconstruct.engine import METHOD, EngineConfig, InferredLink, reconstruct
from tracehouse.analytics.reconstruct.gaps import GapModel
from tracehouse.store import INFERRED_LINK_SCHEMA, InferredLinkStore, StoreError

log = logging.getLogger(__name__)
SECOND = 1_000_000_000


@dataclass
class RunReport:
    windows: int = 0
    spans: int = 0
    orphans: int = 0
    linked: int = 0
    received_calls: int = 0
    confident: int = 0        # links with confidence >= 0.9
    seconds: float = 0.0

    def add(self, other: RunReport) -> None:
        for name in ("windows", "spans", "orphans", "linked", "received_calls", "confident"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds


def call_spans_from_table(table: pa.Table) -> list[CallSpan]:
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    out: list[CallSpan] = []
    for i in range(table.num_rows):
        kind = cols["span_kind"][i]
        text = cols["attributes"][i]
        attrs = orjson.loads(text) if text else {}
        out.append(CallSpan(cols["trace_id"][i], cols["span_id"][i], cols["parent_span_id"][i] or None,
                            cols["service_name"][i], cols["span_name"][i], kind,
                            cols["start_time_unix_nano"][i], cols["end_time_unix_nano"][i],
                            *hints(kind, attrs if isinstance(attrs, dict) else {})))
    return out


def links_table(links: list[InferredLink]) -> pa.Table:
    return pa.table({
        "child_trace_id": [k.child_trace_id for k in links],
        "child_span_id": [k.child_span_id for k in links],
        "child_start_time_unix_nano": [k.child_start for k in links],
        "parent_trace_id": [k.parent_trace_id for k in links],
        "parent_span_id": [k.parent_span_id for k in links],
        "confidence": [k.confidence for k in links],
        "method": [METHOD] * len(links),
        "child_service": [k.child_service for k in links],
        "parent_service": [k.parent_service for k in links],
    }, schema=INFERRED_LINK_SCHEMA)


class Reconstructor:
    def __init__(self, store: InferredLinkStore, config: EngineConfig | None = None,
                 window_ns: int = 60 * SECOND, pad_ns: int = 10 * SECOND) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.window_ns = window_ns
        self.pad_ns = pad_ns
        self.model = GapModel()

    def run_window(self, start: int, end: int) -> RunReport:
        began = time.perf_counter()
        spans = call_spans_from_table(self.store.call_spans(start - self.pad_ns, end + self.pad_ns))
        result = reconstruct(spans, self.model, self.config, emit_from=start, emit_until=end)
        self.store.replace_inferred_links(start, end, links_table(result.links))
        orphans = sum(1 for s in spans if start <= s.start < end and s.kind in CALLEES and not s.parent_span_id)
        return RunReport(windows=1, spans=len(spans), orphans=orphans,
                         linked=len(result.links), received_calls=result.received_calls,
                         confident=sum(1 for k in result.links if k.confidence >= 0.9),
                         seconds=time.perf_counter() - began)

    def run(self, start: int, end: int) -> RunReport:
        report = RunReport()
        t = start
        while t < end:
            report.add(self.run_window(t, min(end, t + self.window_ns)))
            t += self.window_ns
        return report


class ContinuousReconstruction:
    """The backend's background reconstruction (`tracehouse up --reconstruct`)."""

    def __init__(self, store: InferredLinkStore, interval_seconds: float, delay_seconds: float,
                 config: EngineConfig | None = None) -> None:
        self.interval = interval_seconds
        self.delay_ns = int(delay_seconds * SECOND)
        # windows no longer than a pass: each pass handles what became old enough since the last
        self.reconstructor = Reconstructor(store, config, window_ns=max(int(interval_seconds * SECOND), SECOND),
                                           pad_ns=max(self.delay_ns, 5 * SECOND))
        self.done_until: int | None = None
        self.total = RunReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconstruct", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def pass_once(self, now_ns: int | None = None) -> RunReport:
        now = time.time_ns() if now_ns is None else now_ns
        until = now - self.delay_ns
        if self.done_until is None:
            # start with the last few windows, not the whole history (`tracehouse reconstruct` does that)
            self.done_until = until - 5 * self.reconstructor.window_ns
        if until <= self.done_until:
            return RunReport()
        report = self.reconstructor.run(self.done_until, until)
        self.done_until = until
        self.total.add(report)
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = self.pass_once()
                if report.linked:
                    log.info("reconstruct: %d links (%d confident) among %d orphans in %.2fs",
                             report.linked, report.confident, report.orphans, report.seconds)
            except StoreError as exc:
                log.warning("reconstruct pass skipped, retried next time: %s", exc)
            except Exception:
                log.exception("reconstruct pass failed; retried next time")
