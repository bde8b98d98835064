"""`tracehouse up --store clickhouse://...`: the whole backend on a local ClickHouse 18.16 server.

OTLP in, the Jaeger v1 and v3 APIs, search, the service map, SQL, retention and the size cap, and the
spool's guarantees: a tracehouse instance killed with kill -9 under load replays its spool into
ClickHouse with no span stored twice; ClickHouse itself killed with kill -9 under load makes the
receivers answer 503 once the spool's queue is full, and every acknowledged span is stored once the
server is back.
"""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.backend.conftest import Backend, BackendFactory, wait_for
from tests.backend.load import Load
from tests.backend.otlp_requests import fbaas_request
from tests.sampling.generated import GenTrace, gen_trace
from tests.sampling.otlp import otlp_request

from tracehouse.stores.clickhouse import ClickHouseStore, parse_location

MINUTE = 60 * 10**9
# Bounds for waits on conditions, sized for a machine at a load average of 10-20: they only cost
# time when something is wrong.
START = 180.0      # a backend or a server starting
PROGRESS = 120.0   # load making progress; retention and the size cap passing
STORED = 240.0     # acknowledged spans reaching the store
pytestmark = pytest.mark.timeout(900)   # a test may wait several of these: past pytest's default 300 s
FAST_RETENTION = {"TRACEHOUSE_RETENTION_INTERVAL": "0.2"}


def store_url(server: ClickHouseServer, database: str | None = None) -> str:
    return f"clickhouse://127.0.0.1:{server.http_port}/{database or 'e2e_' + uuid.uuid4().hex[:12]}"


def test_up_on_clickhouse_serves_the_jaeger_apis(backend: BackendFactory, clickhouse_server: ClickHouseServer) -> None:
    url = store_url(clickhouse_server)
    server = backend("--store", url, start_timeout=START)
    sent = fbaas_request(20)
    server.send(sent)
    server.send(sent)                                    # a client retry: stored once
    server.wait_stored(sent.span_ids, timeout=STORED)
    api = httpx.Client(base_url=server.query_url, timeout=30)

    assert api.get("/api/services").json()["data"] == ["buzzer", "fizzer", "hub"]
    found = api.get("/api/traces", params={"service": "fizzer", "limit": 50, "lookback": "1h"}).json()["data"]
    assert sorted(t["traceID"] for t in found) == sorted(sent.trace_ids)
    one = sent.trace_ids[3]
    trace = api.get(f"/api/traces/{one}").json()["data"][0]
    assert trace["traceID"] == one and len(trace["spans"]) == 5
    assert {p["serviceName"] for p in trace["processes"].values()} == {"hub", "fizzer", "buzzer"}
    now_ms = time.time_ns() // 10**6

    def calls() -> list[tuple[str, str, int]]:
        links = api.get("/api/dependencies", params={"endTs": now_ms + 60_000, "lookback": 3_600_000}).json()["data"]
        return sorted((d["parent"], d["child"], d["callCount"]) for d in links)

    # The calls are derived from a batch's spans just after its INSERT: a reader can see the spans a
    # moment before their calls (seen once in a full run), so the service map is waited for.
    wait_for(lambda: calls() == [("hub", "buzzer", 20), ("hub", "fizzer", 20)], PROGRESS,
             f"the service map of the stored spans (before the wait: {calls()})")
    v3 = api.get(f"/api/v3/traces/{one}").json()
    assert sum(len(ss["spans"]) for rs in v3["result"]["resourceSpans"] for ss in rs["scopeSpans"]) == 5
    assert api.get("/api/v3/services").json() == {"services": ["buzzer", "fizzer", "hub"]}
    assert server.sql("SELECT count(*) FROM traces WHERE trace_id IN :t", t=sent.trace_ids) == [[20]]
    refused = api.post("/api/sql", json={"sql": "SELECT * FROM file('/etc/passwd', 'CSV', 'l String')"})
    assert refused.status_code == 400 and refused.json()["kind"] == "refused"
    assert server.stop(timeout=START) == 0


def test_retention_and_size_cap_on_clickhouse(backend: BackendFactory, clickhouse_server: ClickHouseServer) -> None:
    url = store_url(clickhouse_server)
    loader = backend("--store", url, "--retention", "0", "--max-size", "0", start_timeout=START)
    now = time.time_ns()
    old = fbaas_request(30, start_ns=now - 120 * MINUTE)
    recent = [fbaas_request(100, start_ns=now - (60 - k) * MINUTE, spacing_ns=10**6) for k in range(10)]
    loader.send(old)
    for built in recent:
        loader.send(built)
    everything = old.span_ids + [s for b in recent for s in b.span_ids]
    loader.wait_stored(everything, timeout=STORED)
    assert loader.stop(timeout=START) == 0

    # Retention: spans older than 90 minutes go, the rest stay.
    server = backend("--store", url, "--retention", "90m", "--max-size", "0", env=FAST_RETENTION,
                     data_dir=loader.data_dir, start_timeout=START)
    wait_for(lambda: not server.stored_of(old.span_ids), PROGRESS, "spans older than 90 minutes to be deleted")
    server.wait_stored([s for b in recent for s in b.span_ids], timeout=STORED)
    assert server.stop(timeout=START) == 0

    # Size cap: the oldest spans go until the store fits; the newest trace stays whole.
    store = ClickHouseStore(parse_location(url))
    size = store.size_bytes()
    store.close()
    cap = int(size * 0.6)
    capped = backend("--store", url, "--retention", "0", "--max-size", str(cap), env=FAST_RETENTION,
                     data_dir=loader.data_dir, start_timeout=START)
    wait_for(lambda: not capped.stored_of(recent[0].span_ids), PROGRESS, "the oldest spans to be trimmed")
    capped.wait_stored(recent[-1].span_ids, timeout=STORED)
    store = ClickHouseStore(parse_location(url))
    assert store.size_bytes() <= cap
    store.close()
    assert capped.stop(timeout=START) == 0


def test_kill_9_of_tracehouse_under_load_replays_its_spool_once(backend: BackendFactory,
                                                               clickhouse_server: ClickHouseServer) -> None:
    url = store_url(clickhouse_server)
    first = backend("--store", url, start_timeout=START)
    with Load(first, http_threads=2, grpc_threads=1, traces_per_request=40) as load:
        wait_for(lambda: load.acked_requests >= 30, PROGRESS, "30 acknowledged requests")
        first.kill9()
    acked = list(load.acked)
    assert acked
    second = backend("--store", url, data_dir=first.data_dir, start_timeout=START)
    second.wait_stored(acked, timeout=STORED)           # every acknowledged span, each once
    assert max(second.stored_span_ids().values()) == 1
    assert second.stop(timeout=START) == 0


def test_clickhouse_killed_under_load_then_back(backend: BackendFactory, tmp_path: Path) -> None:
    """kill -9 of the ClickHouse server: receivers keep acknowledging into the spool while the queue
    has room, then answer 503 / UNAVAILABLE; once the server is back on the same files, every
    acknowledged span is stored, each once, and ingest resumes without a restart of tracehouse."""
    clickhouse = ClickHouseServer(tmp_path / "clickhouse")
    clickhouse.start(timeout=START)
    try:
        url = store_url(clickhouse)
        server = backend("--store", url, "--queue-max-spans", "4000", start_timeout=START)
        with Load(server, http_threads=2, grpc_threads=1, traces_per_request=20) as warm:
            wait_for(lambda: warm.acked_requests >= 10, PROGRESS, "10 acknowledged requests")
        # The queue is empty before the server dies (everything acknowledged so far is stored), so
        # the spool has room for ~35 requests after it: they must be acknowledged, not refused.
        # Under a load that outpaces a slow store, the queue could otherwise be full at the kill.
        server.wait_stored(warm.acked, timeout=STORED)
        with Load(server, http_threads=2, grpc_threads=1, traces_per_request=20) as load:
            clickhouse.kill()     # while requests arrive and the writer may be mid-insert
            acked_at_kill = load.acked_requests
            wait_for(lambda: load.count("http 503") + load.count("grpc UNAVAILABLE") >= 5, PROGRESS,
                     "receivers to refuse once the queue is full")
        assert load.acked_requests > acked_at_kill, "nothing was acknowledged into the spool while it had room"
        acked = warm.acked + load.acked
        clickhouse.start(timeout=START)
        server.wait_stored(acked, timeout=STORED)
        assert max(server.stored_span_ids().values()) == 1
        more = fbaas_request(5)
        server.send(more)
        server.wait_stored(more.span_ids, timeout=STORED)
        assert server.stop(timeout=START) == 0
    finally:
        clickhouse.stop()


@pytest.mark.parametrize("url", ["clickhouse://", "clickhouse://127.0.0.1:1/db?shards=2", "mysql://x/y"])
def test_a_bad_store_url_is_one_clear_error(backend: BackendFactory, url: str) -> None:
    failure = backend.fails("--store", url)
    assert failure.returncode != 0
    assert "Traceback" not in failure.stderr
    assert "clickhouse://" in failure.stderr


def test_imported_old_traces_are_pinned_on_clickhouse(backend: BackendFactory, clickhouse_server: ClickHouseServer,
                                                      tmp_path: Path) -> None:
    """`tracehouse import` through a backend on ClickHouse: a year-old trace is pinned, so the
    retention passes (every 0.2 s, 7 days) keep it."""
    import subprocess

    from tests.backend.conftest import PYTHON, clean_env

    server = backend("--store", store_url(clickhouse_server), env=FAST_RETENTION, start_timeout=START)
    old = fbaas_request(2, start_ns=time.time_ns() - 365 * 86400 * 10**9)
    (tmp_path / "old.pb").write_bytes(old.request.SerializeToString())
    done = subprocess.run([PYTHON, "-m", "tracehouse", "import", str(tmp_path / "old.pb"), "--url", server.query_url],
                          env=clean_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "kept until deleted" in done.stdout
    server.wait_stored(old.span_ids, timeout=STORED)
    time.sleep(2.0)   # several retention passes
    assert server.span_count() == 10
    assert server.stop(timeout=START) == 0


SAMPLING_POLICY = """
decision: {wait_after_root: 1s, max_wait: 20s, check_every: 200ms}
policies:
  - {name: errors, error: true}
  - {name: base, probabilistic: {percent: 10}}
drop:
  - {name: health, root: {operation: GET /healthz}}
"""


def sampling_traffic(rng: random.Random, *, errors: int, health: int, rest: int,
                     rest_spans: int) -> tuple[list[GenTrace], list[GenTrace], list[GenTrace]]:
    """Traces for SAMPLING_POLICY, all starting now under the root service `checkout`: `errors` of
    4 spans with an error (kept by the errors policy), `health` health checks of 2 spans with an
    error (dropped by the drop rule, though the errors policy would keep them), and `rest` of
    `rest_spans` spans without one (left to the probabilistic policy)."""
    now = time.time_ns()
    failing = [gen_trace(rng, error=True, spans=4, root_service="checkout", start_ns=now) for _ in range(errors)]
    checks = [gen_trace(rng, error=True, spans=2, root_service="checkout", root_operation="GET /healthz",
                        start_ns=now) for _ in range(health)]
    others = [gen_trace(rng, spans=rest_spans, root_service="checkout", start_ns=now) for _ in range(rest)]
    return failing, checks, others


def post_split(server: Backend, traces: list[GenTrace]) -> None:
    """Sends the traces in two OTLP requests, every child span first and the roots a moment later,
    so each trace is held without its root for a while, as when its services report at different
    times, and is decided only once its root is in (`wait_after_root` counts from the root)."""
    for rows in ([r for t in traces for r in t.rows[1:]], [t.rows[0] for t in traces]):
        response = httpx.post(server.traces_url, content=otlp_request(rows),
                              headers={"Content-Type": "application/x-protobuf"}, timeout=30)
        assert response.status_code == 200, response.text


def test_tail_sampling_on_clickhouse_keeps_and_drops_whole_traces(
        backend: BackendFactory, clickhouse_server: ClickHouseServer, tmp_path: Path) -> None:
    """`tracehouse up --store clickhouse://... --sampling FILE`: spans wait in ClickHouse (ADR 20);
    kept traces are searchable through the API, dropped ones are not, and the Sampling page's API
    shows what each policy kept and dropped."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(SAMPLING_POLICY)
    server = backend("--store", store_url(clickhouse_server), "--sampling", str(policy), start_timeout=START)
    errors, health, rest = sampling_traffic(random.Random(21), errors=10, health=5, rest=150, rest_spans=4)
    everything = errors + health + rest
    post_split(server, everything)
    api = httpx.Client(base_url=server.query_url, timeout=30)

    def settled() -> dict[str, list[int]] | None:
        body = api.get("/api/sampling/minutes", params={"lookback": "1h"}).json()
        per_policy: dict[str, list[int]] = {}
        for m in body["minutes"]:
            counts = per_policy.setdefault(m["policy"], [0, 0, 0])
            counts[0] += m["kept_traces"]
            counts[1] += m["dropped_traces"]
            counts[2] += m["kept_spans"]
        done = body["held_spans"] == 0 and sum(c[0] + c[1] for c in per_policy.values()) == len(everything)
        return per_policy if done else None

    wait_for(lambda: settled() is not None, PROGRESS, "every trace decided")
    per_policy = settled()
    assert per_policy is not None
    assert per_policy["errors"] == [10, 0, 40]
    assert per_policy["health"] == [0, 5, 0]
    kept_rest = per_policy["base"][0]
    assert per_policy["base"][0] + per_policy["base"][1] == len(rest) and 3 <= kept_rest <= 40
    found = api.get("/api/traces", params={"service": "checkout", "limit": 1000, "lookback": "1h"}).json()["data"]
    found_ids = {t["traceID"] for t in found}
    assert {t.trace_id.hex() for t in errors} <= found_ids
    assert not {t.trace_id.hex() for t in health} & found_ids
    assert len(found_ids) == 10 + kept_rest
    assert all(len(t["spans"]) == 4 for t in found)
    assert api.get(f"/api/traces/{errors[0].trace_id.hex()}").json()["data"][0]["spans"]
    assert api.get(f"/api/traces/{health[0].trace_id.hex()}").status_code == 404
    # The weights the analyses use: kept by the 10% policy, each stands for 10 traces.
    report = api.get("/api/analyze/errors", params={"since": "1h"})
    assert report.status_code == 200, report.text
    assert any(n.startswith("sampled data") for n in report.json()["notes"]), report.json()["notes"]
    # The dry run replays the stored traces from ClickHouse: an errors-only policy keeps the 10.
    dry = api.post("/api/sampling/simulate", json={"policy": "policies: [{name: e, error: true}]", "since": "1h"})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["total"]["traces"], dry.json()["kept"]["traces"]) == (10 + kept_rest, 10)
    assert server.stop(timeout=START) == 0


def test_tail_sampling_on_clickhouse_after_kill_9_replays_the_spool_and_counts_each_trace_once(
        backend: BackendFactory, clickhouse_server: ClickHouseServer, tmp_path: Path) -> None:
    """kill -9 of a `tracehouse up --store clickhouse://... --sampling FILE` while its traces wait
    for their decision, at the worst moment: the spans are held in ClickHouse, but the spool has not
    yet recorded them as stored (the spool's `applied` mark is put back to before the requests, as a
    crash between the hold's INSERT and that mark leaves it). The restarted instance replays the
    spool, so every span is held twice; kept traces are visible once, span for span, through the
    Jaeger API, dropped ones stay dropped, and the per-minute counts count each trace once."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(SAMPLING_POLICY.replace("wait_after_root: 1s", "wait_after_root: 6s")
                      .replace("percent: 10", "percent: 30"))
    flags = ("--store", store_url(clickhouse_server), "--sampling", str(policy))
    first = backend(*flags, start_timeout=START)
    applied = first.data_dir / "spool" / "applied"
    before = applied.read_bytes() if applied.exists() else None
    errors, health, rest = sampling_traffic(random.Random(22), errors=8, health=4, rest=60, rest_spans=5)
    everything = errors + health + rest
    post_split(first, everything)
    spans = sum(len(t.rows) for t in everything)

    def sampling_state(server: Backend) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{server.query_url}/api/sampling/minutes", params={"lookback": "1h"},
                                         timeout=30).json()
        return body

    wait_for(lambda: sampling_state(first)["held_spans"] == spans and applied.exists()
             and applied.read_bytes() != before, PROGRESS, "the spans to be held and the spool marked")
    assert sampling_state(first)["minutes"] == [], "decided before the kill: raise wait_after_root"
    first.kill9()
    if before is None:
        applied.unlink()
    else:
        applied.write_bytes(before)
    second = backend(*flags, data_dir=first.data_dir, start_timeout=START)
    assert "replaying" in second.log(), second.log()[-2000:]
    # Held twice now (the replayed rows under new hold ids), 6 s before the replayed roots are due.
    wait_for(lambda: sampling_state(second)["held_spans"] == 2 * spans, 5, "the spool's replay to be held")

    def per_policy() -> dict[str, list[int]] | None:
        body = sampling_state(second)
        counts: dict[str, list[int]] = {}
        for m in body["minutes"]:
            c = counts.setdefault(m["policy"], [0, 0, 0, 0])
            for i, key in enumerate(("kept_traces", "dropped_traces", "kept_spans", "dropped_spans")):
                c[i] += m[key]
        decided = sum(c[0] + c[1] for c in counts.values())
        return counts if body["held_spans"] == 0 and decided >= len(everything) else None

    wait_for(lambda: per_policy() is not None, PROGRESS, "every trace decided after the restart")
    time.sleep(1)   # a second pass over doubly held rows would show up here
    counts = per_policy()
    assert counts is not None
    assert counts["errors"] == [8, 0, 32, 0]
    assert counts["health"] == [0, 4, 0, 8]
    kept_rest = counts["base"][0]
    assert counts["base"] == [kept_rest, 60 - kept_rest, 5 * kept_rest, 5 * (60 - kept_rest)]
    assert 1 <= kept_rest <= 40
    api = httpx.Client(base_url=second.query_url, timeout=30)
    found = api.get("/api/traces", params={"service": "checkout", "limit": 1000, "lookback": "1h"}).json()["data"]
    by_id = {t["traceID"]: t for t in found}
    assert len(found) == len(by_id) == 8 + kept_rest
    assert {t.trace_id.hex() for t in errors} <= by_id.keys()
    assert not {t.trace_id.hex() for t in health} & by_id.keys()
    for t in everything:
        tid = t.trace_id.hex()
        one = api.get(f"/api/traces/{tid}")
        if tid not in by_id:
            assert one.status_code == 404, (tid, one.text[:200])
            continue
        for trace in (by_id[tid], one.json()["data"][0]):
            span_ids = [s["spanID"] for s in trace["spans"]]
            assert sorted(span_ids) == sorted(sid.hex() for sid in t.span_ids), "a span missing or twice"
    assert second.stop(timeout=START) == 0
