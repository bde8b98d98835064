"""Users' SQL in a process of its own (issue 14, ADR 19): what it costs and what it holds.

- Latency of the console's own example queries (store.sql_examples) on a store of synthetic traces,
  p50 of several runs each: in-process on the store's instance (the design before ADR 19, the
  sandbox's run_user_sql on a cursor) against the process per query, with the snapshot current
  and with the store changed before each query (a new snapshot each time).
- Hostile SQL at the default caps (512 MiB, 10 s): how each query ended and how long it took, the
  peak RSS of this process (the store's, i.e. the backend's) and of the query processes, while a
  writer commits a batch every 50 ms; commits failed.

    python -m bench.run sqlguard
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

import psutil

from tracehouse.analytics import synthetic
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.sandbox import run_user_sql

HOSTILE = {
    "range(2e9) sized from the data": "SELECT len(range(count(*) * 0 + 2000000000)) FROM spans",
    "repeat sized by the data": "SELECT length(repeat(span_name, 2000000000 // length(span_name))) FROM spans "
                                "LIMIT 1",
    "4-way cross join": "SELECT count(*) FROM spans a, spans b, spans c, spans d WHERE a.span_name < b.span_name",
    "string_agg over a cross join": "SELECT length(string_agg(a.attributes::VARCHAR || b.attributes::VARCHAR, ',')) "
                                    "FROM spans a, spans b",
    "recursive doubling string": "WITH RECURSIVE r(s, i) AS (SELECT 'x', 0 UNION ALL SELECT s || s, i + 1 FROM r "
                                 "WHERE i < 40) SELECT max(length(s)) FROM r",
    "recursive CTE without end": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                                 "SELECT count(*) FROM r",
    "list_distinct of 10M": "SELECT len(list_distinct(range(n * 5000))) FROM (SELECT count(*) AS n FROM spans)",
}


class _Peaks:
    """Peak RSS of this process and, separately, of its descendants (the SQL processes)."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self.own = self.start = self._me.memory_info().rss
        self.children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.own = max(self.own, self._me.memory_info().rss)
            total = 0
            for child in self._me.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    total = max(total, child.memory_info().rss)
            self.children = max(self.children, total)
            self._stop.wait(0.01)

    def __enter__(self) -> _Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _p50(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def run(traces: int = 20_000, runs: int = 7) -> dict[str, Any]:
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[str, Any] = {"latency_ms": {}, "hostile": {}}
    with tempfile.TemporaryDirectory(prefix="th-bench-sqlguard-") as tmp:
        store = DuckDBStore(Path(tmp) / "store.duckdb", memory_limit="128MB")
        for batch in synthetic.generate(synthetic.funnel(), traces):
            store.write_spans(batch)
        store.checkpoint()
        spans = store.span_count()
        print(f"store: {spans:,} spans, {(Path(tmp) / 'store.duckdb').stat().st_size / 2**20:.1f} MiB", flush=True)
        examples = [(e.title, e.sql) for e in store.sql_examples()][:6]
        extra = iter(range(10**6))

        def changed() -> None:
            for batch in synthetic.generate(synthetic.funnel(), 5, seed=1000 + next(extra)):
                store.write_spans(batch)

        print(f"{'query':<44} {'in-process':>11} {'process':>9} {'changed':>9}  (p50 ms of {runs})")
        ratios = []
        for title, sql in examples:
            store.run_sql(sql, 10_000, 60)  # the fork server started, the snapshot current

            def before(sql: str = sql) -> None:
                cursor = store._new_cursor()
                try:
                    run_user_sql(cursor, sql, 10_000, 60)
                finally:
                    cursor.close()

            old = _p50(before, runs)
            new = _p50(lambda sql=sql: store.run_sql(sql, 10_000, 60), runs)
            fresh = _p50(lambda sql=sql: (changed(), store.run_sql(sql, 10_000, 60)), runs)
            ratios.append(new / old)
            results["latency_ms"][title] = {"in_process": old, "process": new, "changed_store": fresh}
            print(f"{title[:44]:<44} {old:>11.1f} {new:>9.1f} {fresh:>9.1f}", flush=True)
        print(f"median ratio process / in-process: {median(ratios):.2f}x")

        stop = threading.Event()
        commits = [0]
        failures: list[str] = []

        def writer() -> None:
            while not stop.is_set():
                for batch in synthetic.generate(synthetic.funnel(), 10, seed=5000 + commits[0]):
                    try:
                        store.write_spans(batch)
                    except Exception as exc:  # every failure is a finding
                        failures.append(str(exc)[:200])
                    commits[0] += 1
                stop.wait(0.05)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        print(f"\n{'hostile query (512 MiB, 10 s)':<34} {'ended as':<16} {'seconds':>8}")
        with _Peaks() as peaks:
            for name, sql in HOSTILE.items():
                started = time.perf_counter()
                try:
                    store.run_sql(sql, 100, 10.0)
                    outcome = "ANSWERED"
                except Exception as exc:
                    outcome = type(exc).__name__
                elapsed = time.perf_counter() - started
                results["hostile"][name] = {"outcome": outcome, "seconds": elapsed}
                print(f"{name:<34} {outcome:<16} {elapsed:>8.2f}", flush=True)
        stop.set()
        thread.join(60)
        store.close()
    results.update({"backend_rss_before_mib": peaks.start / 2**20, "backend_peak_rss_mib": peaks.own / 2**20,
                    "sql_process_peak_rss_mib": peaks.children / 2**20,
                    "commits": commits[0], "commit_failures": len(failures)})
    print(f"peak RSS: store's process {peaks.own / 2**20:.0f} MiB ({peaks.start / 2**20:.0f} MiB before the "
          f"hostile queries), largest query process "
          f"{peaks.children / 2**20:.0f} MiB; {commits[0]} commits meanwhile, {len(failures)} failed")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return results
