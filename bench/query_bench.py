"""Query latency on a 10M-span store (2M FBaaS-shaped traces over the last 24 h) — through the store,
and through the HTTP API for the Jaeger UI's search (/api/v3/trace-summaries) and Monitor tab
(/api/metrics/latencies) — and the UI's time to draw a 10,000-span trace in Chromium.

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
import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA, SortOrder, TraceQuery
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.resources import resource_id
from tracehouse.stores.duckdb.sql_files import sql

GENERATOR_VERSION = 3   # 2: store schema version 2 (resources in resource_data); 3: schema version 3
TRACES = 2_000_000
CHUNK_TRACES = 250_000
STORE_DIR = Path("artifacts/bench/query-store")
NS_PER_DAY = 86_400 * 10**9
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

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
    ($resource_ids::UBIGINT[])[list_position($services, s.service)],
    CASE WHEN t.err AND s.k = 4 THEN json_array(json_object('time_unix_nano', t.t0, 'name', 'exception',
        'attributes', json_object('exception.type', 'ValueError', 'exception.message', 'no buzz',
        'exception.stacktrace', 'Traceback (most recent call last):
  File "buzzer.py", line 12, in buzz
ValueError: no buzz')))::VARIANT END,
    NULL,
    'opentelemetry.instrumentation.fastapi', '0.66b1',
    1, NULL, NULL, NULL
FROM traces t CROSS JOIN shape s
ORDER BY t.i, s.k
"""

SERVICES = ["hub", "fizzer", "buzzer"]


def _resources() -> list[tuple[int, str]]:
    """(resource_id, JSON text) of each service's resource, the ids as the store computes them."""
    texts = [json.dumps({"service.name": service, "service.version": "1.0.0", "host.name": "laptop",
                         "telemetry.sdk.language": "python"}) for service in SERVICES]
    return [(resource_id(text), text) for text in texts]


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
    resources = _resources()
    try:
        con.executemany("INSERT INTO resource_data VALUES (?, ?::JSON::VARIANT)", [list(r) for r in resources])
        for first in range(0, traces, CHUNK_TRACES):
            last = min(first + CHUNK_TRACES, traces)
            con.execute(_GENERATE, {"first": first, "last": last, "t0": now - NS_PER_DAY,
                                    "step": NS_PER_DAY // traces, "services": SERVICES,
                                    "resource_ids": [rid for rid, _ in resources]})
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
        figures.update(jaeger_figures(store, now, runs))
        return figures
    finally:
        store.close()


def jaeger_figures(store: DuckDBStore, now: int, runs: int) -> dict[str, Any]:
    """The Jaeger UI's own requests over HTTP, against a query API served in this process: its search
    (/api/v3/trace-summaries, last hour, 20 results) and its Monitor tab (/api/metrics/latencies with
    the tab's defaults: last hour, 60 s step, 10 min rate window, server spans)."""
    import datetime as dt
    import socket

    import httpx
    import uvicorn

    from tracehouse.api.app import create_app
    from tracehouse.query.service import QueryService
    from tracehouse.settings import Settings

    def rfc3339(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(QueryService(store, Settings())), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    services = ("hub", "fizzer", "buzzer")
    window = {"query.startTimeMin": rfc3339(now - 3600 * 10**9), "query.startTimeMax": rfc3339(now + 10**9)}
    monitor = {"endTs": str(now // 10**6), "lookback": "3600000", "step": "60000", "ratePer": "600000",
               "spanKind": "server"}
    figures: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=120) as client:
            def get(path: str, params: dict[str, str]) -> None:
                response = client.get(path, params=params)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")

            figures["v3_trace_summaries_1h_20"] = _latency(lambda i: get("/api/v3/trace-summaries", {
                **window, "query.serviceName": services[i % 3], "query.searchDepth": "20"}), runs)
            figures["v3_trace_summaries_1h_min_duration_20"] = _latency(lambda i: get("/api/v3/trace-summaries", {
                **window, "query.serviceName": services[i % 3], "query.durationMin": f"{100 + i}ms",
                "query.searchDepth": "20"}), runs)
            figures["metrics_latencies_1h"] = _latency(lambda i: get("/api/metrics/latencies", {
                **monitor, "service": services[i % 3], "quantile": ("0.95", "0.75", "0.5")[i % 3]}),
                max(5, runs // 5))
            figures["metrics_latencies_1h_by_operation"] = _latency(lambda i: get("/api/metrics/latencies", {
                **monitor, "service": services[i % 3], "quantile": "0.95", "groupByOperation": "true"}),
                max(5, runs // 5))
            figures["metrics_calls_1h"] = _latency(lambda i: get("/api/metrics/calls", {
                **monitor, "service": services[i % 3]}), max(5, runs // 5))
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    return figures


def _wide_trace(spans: int, trace_id: bytes, start_ns: int) -> pa.Table:
    """One trace of `spans` spans: a 4-ary call tree, children inside their parents."""
    parent_of = [-1] + [(i - 1) // 4 for i in range(1, spans)]
    depth = [0] * spans
    for i in range(1, spans):
        depth[i] = depth[parent_of[i]] + 1
    ids = [i.to_bytes(8, "big") for i in range(1, spans + 1)]
    services = [("edge", "router", "worker", "db")[min(d, 3)] for d in depth]
    return pa.table({
        "trace_id": [trace_id] * spans,
        "span_id": ids,
        "parent_span_id": [None if p < 0 else ids[p] for p in parent_of],
        "trace_state": [None] * spans,
        "service_name": services,
        "span_name": [f"op-{i % 17}" for i in range(spans)],
        "span_kind": [2 if i == 0 else 1 for i in range(spans)],
        "start_time_unix_nano": [start_ns + i * 100 for i in range(spans)],
        "end_time_unix_nano": [start_ns + i * 100 + 5_000 + spans * 100 // (depth[i] + 1) ** 2
                               for i in range(spans)],
        "status_code": [2 if i % 997 == 5 else 0 for i in range(spans)],
        "status_message": [None] * spans,
        "attributes": [json.dumps({"i": i, "http.route": "/x/{id}"}) for i in range(spans)],
        "resource_attributes": [json.dumps({"service.name": s}) for s in services],
        "events": [None] * spans,
        "links": [None] * spans,
        "scope_name": ["bench"] * spans,
        "scope_version": ["1"] * spans,
        "flags": [0x101] * spans,
        "scope_attributes": [None] * spans,
        "scope_schema_url": [None] * spans,
        "resource_schema_url": [None] * spans,
    }, schema=SPAN_BATCH_SCHEMA)


def ui_figures(spans: int = 10_000, runs: int = 5) -> dict[str, Any]:
    """Milliseconds from navigation to the first screen of a `spans`-span trace view, measured by the
    page itself (performance mark "trace-drawn"), in Debian's headless Chromium; modules cached."""
    import socket
    import tempfile

    import uvicorn
    from playwright.sync_api import sync_playwright

    from tracehouse.api.app import create_app
    from tracehouse.query.service import QueryService
    from tracehouse.settings import Settings

    trace_id = bytes.fromhex("cd" * 16)
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "ui.duckdb")
        store.write_spans(_wide_trace(spans, trace_id, time.time_ns() - 60 * 10**9))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        server = uvicorn.Server(uvicorn.Config(create_app(QueryService(store, Settings())), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/trace/{trace_id.hex()}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                times = []
                for _ in range(runs + 1):
                    page.goto(url)
                    page.wait_for_selector("body[data-trace-drawn='true']", timeout=30_000)
                    times.append(page.evaluate("() => performance.getEntriesByName('trace-drawn')[0].startTime"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()
            store.close()
    warm = sorted(times[1:])
    return {"trace_view_10k_spans_drawn_ms": {"first": round(times[0]), "p50": round(statistics.median(warm)),
                                               "max": round(warm[-1])}}


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
    _print(result)
    return result


TARGETS_P50_MS = {"trace_by_id": 30, "search_service_minduration_longest_20": 150,
                  "v3_trace_summaries_1h_20": 150, "v3_trace_summaries_1h_min_duration_20": 150,
                  "metrics_latencies_1h": 500, "metrics_latencies_1h_by_operation": 500}


def _print(result: dict[str, Any]) -> None:
    figures = result["query"]
    print(f"Query latency on a store of {figures['spans']:,} spans (warm cache, medians of repeated runs):")
    for name, value in figures.items():
        if not isinstance(value, dict):
            continue
        target = TARGETS_P50_MS.get(name)
        met = "met" if target and value["p50_ms"] <= target else "NOT met"
        verdict = f"  (target p50 <= {target} ms: {met})" if target else ""
        print(f"  {name:40s} p50 {value['p50_ms']:8.1f} ms  p99 {value['p99_ms']:8.1f} ms{verdict}")
    ui = result["ui"].get("trace_view_10k_spans_drawn_ms")
    if ui:
        print(f"  UI: a 10,000-span trace drawn in Chromium: p50 {ui['p50']} ms (first, cold: {ui['first']} ms, "
              f"max {ui['max']} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=TRACES)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args.traces, args.runs), indent=2))


if __name__ == "__main__":
    main()
