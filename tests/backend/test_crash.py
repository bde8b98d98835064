"""Crash safety: kill -9 during sustained load, restart on the same data directory, and every span
that was acknowledged (200 / OK) is stored, exactly once; then a clean stop loses nothing either."""

from __future__ import annotations

import time

from .conftest import BackendFactory, wait_for
from .load import Load
from .otlp_requests import fbaas_request


def test_kill_9_under_load_loses_no_acknowledged_span(backend: BackendFactory) -> None:
    first = backend()
    with Load(first, http_threads=3, grpc_threads=1, traces_per_request=40) as load:
        # Let a good number of requests be acknowledged, then kill mid-stream.
        wait_for(lambda: load.acked_requests >= 40, 60, "40 acknowledged requests")
        first.kill9()
        killed_at = time.monotonic()
    assert time.monotonic() - killed_at < 30, "the load threads did not notice the backend had died"
    acked = list(load.acked)
    assert acked
    assert {o for o in load.outcomes if not o.endswith("(connection)")} <= {
        "http 200", "http 503", "http failed", "grpc OK", "grpc UNAVAILABLE"}, load.outcomes

    second = backend(data_dir=first.data_dir)   # must reopen cleanly: store, WAL and any spool
    second.wait_stored(acked, timeout=60)        # every acknowledged span, each once
    # Spans whose requests were cut off may or may not be there, but never twice.
    assert max(second.stored_span_ids().values()) == 1
    # The restarted backend takes new spans, and a clean stop keeps them too.
    more = fbaas_request(20)
    second.send(more)
    assert second.stop() == 0
    assert not (first.data_dir / "server.json").exists()

    third = backend(data_dir=first.data_dir)
    third.wait_stored(acked + more.span_ids)
    assert third.stop() == 0
