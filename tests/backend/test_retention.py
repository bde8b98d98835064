"""Retention in a running backend: spans past --retention disappear, spans within it stay; --max-size
trims the oldest spans first and keeps the newest. TRACEHOUSE_RETENTION_INTERVAL makes the passes
frequent. Data is loaded with retention off, then the backend is restarted with the limit, so the test
knows every span was stored before it checks which ones go."""

from __future__ import annotations

import time

from tracehouse.stores.duckdb import DuckDBStore

from .conftest import Backend, BackendFactory, wait_for
from .otlp_requests import fbaas_request

FAST = {"TRACEHOUSE_RETENTION_INTERVAL": "0.2"}
MINUTE = 60 * 10**9


def _stable_count(server: Backend, passes: float = 1.5) -> int:
    """The span count once retention has stopped changing it for `passes` seconds (several passes)."""
    last: list[int] = [-1]
    since = [time.monotonic()]

    def settled() -> bool:
        count = server.span_count()
        if count != last[0]:
            last[0], since[0] = count, time.monotonic()
        return time.monotonic() - since[0] >= passes

    wait_for(settled, 60, "retention to settle", interval=0.1)
    return last[0]


def test_spans_older_than_retention_disappear(backend: BackendFactory) -> None:
    loader = backend("--retention", "0")
    now = time.time_ns()
    old = fbaas_request(30, start_ns=now - 120 * MINUTE)
    recent = fbaas_request(30, start_ns=now)
    straddling = fbaas_request(1, start_ns=now - 120 * MINUTE)
    hub = straddling.request.resource_spans[0].scope_spans[0].spans
    hub[2].start_time_unix_nano = now                 # one span of an old trace is recent
    hub[2].end_time_unix_nano = now + 1000
    for built in (old, recent, straddling):
        loader.send(built)
    loader.wait_stored(old.span_ids + recent.span_ids + straddling.span_ids)
    assert loader.stop() == 0

    server = backend("--retention", "30m", env=FAST, data_dir=loader.data_dir)
    wait_for(lambda: not server.stored_of(old.span_ids), 30, "spans older than 30 minutes to be deleted")
    server.wait_stored(recent.span_ids)
    assert server.stored_of(straddling.span_ids) == {hub[2].span_id.hex(): 1}
    assert server.sql("SELECT trace_id, span_count FROM traces WHERE trace_id IN :t",
                      t=old.trace_ids + straddling.trace_ids) == [[straddling.trace_ids[0], 1]]
    # New spans within the limit are kept across passes.
    fresh = fbaas_request(5)
    server.send(fresh)
    server.wait_stored(fresh.span_ids)
    assert _stable_count(server) == len(recent.span_ids) + 1 + len(fresh.span_ids)
    assert server.stop() == 0


def test_max_size_trims_the_oldest_spans_and_keeps_the_newest(backend: BackendFactory) -> None:
    loader = backend("--retention", "0", "--max-size", "0")
    start = time.time_ns() - 60 * MINUTE
    batches = []
    for minute in range(20):   # 20 minutes of traffic, 2,000 spans a minute, oldest first
        built = fbaas_request(400, start_ns=start + minute * MINUTE, spacing_ns=10**6, pad_bytes=200)
        loader.send(built)
        batches.append(built)
    everything = [sid for b in batches for sid in b.span_ids]
    loader.wait_stored(everything)
    assert loader.stop() == 0
    # The cap is 70% of the size as the store measures it (live spans, what --max-size bounds).
    reader = DuckDBStore(loader.data_dir / "tracehouse.duckdb", read_only=True)
    used = reader.size_bytes()
    reader.close()

    cap = int(used * 0.7)
    server = backend("--retention", "0", "--max-size", str(cap), env=FAST, data_dir=loader.data_dir)
    wait_for(lambda: server.span_count() < len(everything), 30, "the store to be trimmed")
    remaining = _stable_count(server)
    assert 0 < remaining < len(everything)
    # The newest minute is untouched, and whatever was deleted is older than whatever is left.
    server.wait_stored(batches[-1].span_ids)
    kept = set(server.stored_span_ids())
    order = {sid: i for i, sid in enumerate(everything)}  # sent oldest first, start times ascending
    deleted = [sid for sid in everything if sid not in kept]
    assert deleted, "nothing was trimmed"
    assert max(order[s] for s in deleted) < min(order[s] for s in everything if s in kept)
    # Spans arriving after the trim are not deleted by the next passes.
    fresh = fbaas_request(5)
    server.send(fresh)
    server.wait_stored(fresh.span_ids)
    assert _stable_count(server) >= len(fresh.span_ids)
    server.wait_stored(fresh.span_ids)
    assert server.stop() == 0
