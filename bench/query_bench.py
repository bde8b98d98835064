"""Query latency on a 10M-span store (2M FBaaS-shaped traces over the last 24 h), and the UI's time to
draw a 10,000-span trace in Chromium.

The store is generated with DuckDB SQL straight into span_data (not through OTLP: this measures
reads), then summarised once with the store's own rebuild statement. It is cached under
artifacts/bench/ and reused while its generator version and size match.

Run alone: `python -m bench.query_bench [--spans-per-run N]`; `run()` returns the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from tracehouse.model import SortOrder, TraceQuery
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.sql_files import sql

GENERATOR_VERSION = 1
TRACES = 2_000_000
CHUNK_TRACES = 250_000
STORE_DIR = Path("artifacts/bench/query-store")
NS_PER_DAY = 86_400 * 10**9

# One FBaaS request: hub SERVER -> hub CLIENT -> fizzer SERVER, hub CLIENT -> buzzer SERVER. About 1 in
# 100 traces has a slow fizzer, 1 in 200 a slow buzzer, 1 in 100 a failing buzzer (with an exception).
_GENERATE = """
INSERT INTO span_data
WITH traces AS (
    SELECT i,
        unhex(md5(i::VARCHAR)) AS trace_id,
        $t0::BIGINT + i * $step::BIGINT AS t0,
        (1000000 + (hash(i, 1) % 4000000)::BIGINT) * (CASE WHEN hash(i, 2) % 100 = 0 THEN 40 ELSE 1 END) AS fd,
        (1000000 + (hash(i, 3) % 4000000)::BIGINT) * (CASE WHEN hash(i, 4) % 200 = 0 THEN 60 ELSE 1 END) AS bd,
        hash(i, 5) % 100 = 0 AS err,
        (1 + hash(i, 6) % 15)::BIGINT AS n
    FROM range($first, $last) r(i)
),
shape(k, parent_k, service, name, kind) AS (VALUES
    (0, NULL, 'hub', 'GET /fizzbuzz/{n}', 'SERVER'),
    (1, 0, 'hub', 'GET', 'CLIENT'),
    (2, 1, 'fizzer', 'GET /fizz/{n}', 'SERVER'),
    (3, 0, 'hub', 'GET', 'CLIENT'),
    (4, 3, 'buzzer', 'GET /buzz/{n}', 'SERVER')
)
SELECT
    t.trace_id,
    unhex(substr(md5(t.i::VARCHAR || '/' || s.k), 1, 16)),
    CASE WHEN s.parent_k IS NOT NULL THEN unhex(substr(md5(t.i::VARCHAR || '/' || s.parent_k), 1, 16)) END,
    NULL, s.service, s.name, s.kind::span_kind_t,
    make_timestamp_ns(t.t0 + CASE s.k WHEN 0 THEN 0 WHEN 1 THEN 100000 WHEN 2 THEN 200000
                                     WHEN 3 THEN 200000 + t.fd ELSE 300000 + t.fd END),
    CASE s.k WHEN 0 THEN t.fd + t.bd + 500000 WHEN 1 THEN t.fd + 50000 WHEN 2 THEN t.fd - 100000
             WHEN 3 THEN t.bd + 50000 ELSE t.bd - 100000 END,
    (CASE WHEN t.err AND s.k IN (0, 3, 4) THEN 'ERROR' ELSE 'UNSET' END)::status_code_t,
    CASE WHEN t.err AND s.k IN (0, 3, 4) THEN 'buzz failed' END,
    json_object('http.request.method', 'GET', 'url.path', replace(s.name, '{n}', t.n::VARCHAR),
        'http.response.status_code', CASE WHEN t.err THEN 500 ELSE 200 END, 'server.address', s.service,
        'server.port', 8000 + s.k, 'fbaas.n', t.n, 'network.protocol.version', '1.1',
        'user_agent.original', 'python-httpx/0.28.1')::VARIANT,
    json_object('service.name', s.service, 'service.version', '1.0.0', 'host.name', 'laptop',
        'telemetry.sdk.language', 'python')::VARIANT,
    CASE WHEN t.err AND s.k = 4 THEN json_array(json_object('time_unix_nano', t.t0, 'name', 'exception',
        'attributes', json_object('exception.type', 'ValueError', 'exception.message', 'no buzz',
        'exception.stacktrace', 'Traceback (most recent call last):
  File "buzzer.py", line 12, in buzz
ValueError: no buzz')))::VARIANT END,
    NULL,
    'opentelemetry.instrumentation.fastapi', '0.66b1'
FROM traces t CROSS JOIN shape s
ORDER BY t.i, s.k
"""


def build_store(directory: Path = STORE_DIR, traces: int = TRACES, log: Callable[[str], None] = print) -> Path:
    """The cached benchmark store, generated when missing or stale. Its newest trace started at the
    moment of generation; the figures below query relative to that moment, so a cached store gives
    the same work on every run."""
    path = directory / "store.duckdb"
    stamp = directory / "generated.json"
    wanted = {"version": GENERATOR_VERSION, "traces": traces}
    if path.exists() and stamp.exists():
        info = json.loads(stamp.read_text())
        if {k: info.get(k) for k in wanted} == wanted:
            return path
    directory.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal"), stamp):
        stale.unlink(missing_ok=True)
    DuckDBStore(path).close()  # creates the schema
    now = time.time_ns()
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    try:
        for first in range(0, traces, CHUNK_TRACES):
            last = min(first + CHUNK_TRACES, traces)
            con.execute(_GENERATE, {"first": first, "last": last, "t0": now - NS_PER_DAY,
                                    "step": NS_PER_DAY // traces})
            log(f"  generated {last * 5:,} spans ({time.perf_counter() - started:.0f} s)")
        con.execute(sql("write/rebuild_trace_summary"))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    stamp.write_text(json.dumps({**wanted, "now_unix_nano": now}))
    log(f"  store ready in {time.perf_counter() - started:.0f} s")
    return path


def _latency(fn: Callable[[int], object], runs: int) -> dict[str, float]:
    fn(0)  # warm the cache: the figures are for a store that is in use
    times = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i + 1)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1)}


def query_figures(path: Path, runs: int = 50) -> dict[str, Any]:
    info = json.loads((path.parent / "generated.json").read_text())
    now = int(info["now_unix_nano"])
    store = DuckDBStore(path, read_only=True)
    try:
        ids = [r.trace_id for r in store.find_traces(TraceQuery(limit=runs + 1, sort=SortOrder.LONGEST))]
        figures: dict[str, Any] = {"spans": store.span_count()}
        figures["trace_by_id"] = _latency(lambda i: store.get_spans([ids[i % len(ids)]]), runs)
        figures["search_service_minduration_longest_20"] = _latency(
            lambda i: store.find_traces(TraceQuery(
                service=("hub", "fizzer", "buzzer")[i % 3], duration_min_ns=(50 + i) * 10**6,
                limit=20, sort=SortOrder.LONGEST)), runs)
        figures["search_recent_20_no_service"] = _latency(
            lambda i: store.find_traces(TraceQuery(limit=20)), runs)
        figures["search_attribute_1h"] = _latency(
            lambda i: store.find_traces(TraceQuery(
                service="buzzer", attributes={"http.response.status_code": "500"},
                start_time_min_ns=now - 3600 * 10**9, limit=20)), max(5, runs // 5))
        figures["dependencies_24h"] = _latency(
            lambda i: store.dependencies(now - NS_PER_DAY, now + 1), max(5, runs // 10))
        return figures
    finally:
        store.close()


def ui_figures(spans: int = 10_000) -> dict[str, Any]:
    """Milliseconds from navigation to a drawn 10,000-span trace view (see tests/ui/ui_timing.py)."""
    from tests.ui.ui_timing import time_trace_draw  # test helpers own the browser and server set-up

    return {"trace_view_10k_spans_drawn_ms": time_trace_draw(spans)}


def run(traces: int = TRACES, runs: int = 50) -> dict[str, Any]:
    path = build_store(traces=traces)
    figures = query_figures(path, runs)
    result: dict[str, Any] = {"query": figures}
    thread_result: dict[str, Any] = {}

    # Playwright's sync API refuses to run inside an asyncio loop; a plain thread has none.
    def ui() -> None:
        thread_result.update(ui_figures())

    worker = threading.Thread(target=ui)
    worker.start()
    worker.join()
    result["ui"] = thread_result
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=TRACES)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args.traces, args.runs), indent=2))


if __name__ == "__main__":
    main()
