"""Hostile SQL against a running backend under ingest (issue 14, ADR 19).

`SELECT len(range(1000000000))` once ran 81 s on the backend and took it to 20 GB; user queries
shared the writer's 128 MB, so ingest commits failed and were retried. Now each query runs in a
process of its own: the backend itself must not grow, every query must be answered within its time
limit with a clear error, and every acknowledged span must be stored with no commit failing.
"""

from __future__ import annotations

import time

import httpx

from .conftest import BackendFactory, PeakRss, wait_for
from .load import Load

TIME_LIMIT = 4.0
HOSTILE = [
    "SELECT sum(len(range(n * n))) FROM (SELECT count(*) + 50000 AS n FROM spans)",
    "SELECT length(repeat(span_name, 2000000000 // length(span_name))) FROM spans LIMIT 1",
    "SELECT count(*) FROM spans a, spans b, spans c, spans d WHERE a.span_name || b.span_name || c.span_name "
    "< d.span_name",
    "SELECT length(string_agg(a.attributes::VARCHAR || b.attributes::VARCHAR, ',')) FROM spans a, spans b",
    "WITH RECURSIVE r(s, i) AS (SELECT 'x', 0 UNION ALL SELECT s || s, i + 1 FROM r WHERE i < 40) "
    "SELECT max(length(s)) FROM r",
]


def test_hostile_sql_leaves_the_backend_and_ingest_alone(backend: BackendFactory) -> None:
    server = backend("--sql-memory", "256MiB", "--sql-timeout", str(TIME_LIMIT))
    with Load(server, http_threads=1, grpc_threads=0, traces_per_request=10) as load:
        wait_for(lambda: load.acked_requests >= 20, 60, "the first acknowledged requests")
        with PeakRss(server.pid, interval=0.01) as rss:
            for sql in HOSTILE:
                started = time.perf_counter()
                response = httpx.post(f"{server.query_url}/api/sql", json={"sql": sql}, timeout=60)
                elapsed = time.perf_counter() - started
                body = response.json()
                assert response.status_code in (400, 408), (sql, response.status_code, body)
                assert body["kind"] in ("timeout", "memory"), (sql, body)
                assert elapsed < TIME_LIMIT + 3, f"{sql}: answered after {elapsed:.1f} s"
    assert not load.errors, load.errors[:3]
    # The backend's own process (the SQL runs in a child) stays at its usual size.
    assert rss.growth < 100 * 2**20, f"the backend grew by {rss.growth / 2**20:.0f} MiB under hostile SQL"
    server.wait_stored(load.acked, timeout=120)
    log = server.log()
    assert "commit of" not in log and "set aside" not in log, log[-2000:]
    assert server.alive()
