"""`tracehouse up --sampling FILE` end to end: real backend processes, OTLP over HTTP.

- kept and dropped as the policy says, traces split across requests decided once, late spans
  following the decision;
- kill -9 while spans wait for their decision: nothing acknowledged is lost, and after the restart
  those traces are decided as if nothing had happened;
- the per-minute counts the UI shows; a bad policy file refused at start with a clear error.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
from tests.backend.conftest import Backend, BackendFactory, wait_for
from tests.backend.otlp_requests import PROTOBUF

from .generated import GenTrace, gen_trace
from .otlp import otlp_request, rows_of

POLICY = """
decision: {wait_after_root: 1s, max_wait: 20s, check_every: 200ms}
policies:
  - {name: errors, error: true}
  - {name: slow, latency: {over: 300ms}}
  - {name: base, probabilistic: {percent: 10}}
drop:
  - {name: health, root: {operation: GET /healthz}}
"""


def post(backend: Backend, rows: list[dict[str, Any]]) -> None:
    response = httpx.post(backend.traces_url, content=otlp_request(rows), headers={"Content-Type": PROTOBUF},
                          timeout=30)
    assert response.status_code == 200, response.text


def minutes(backend: Backend) -> dict[str, Any]:
    response = httpx.get(f"{backend.query_url}/api/sampling/minutes", params={"lookback": "1h"}, timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def nothing_held(backend: Backend) -> bool:
    body = minutes(backend)
    return body["held_spans"] == 0


def stored_per_trace(backend: Backend) -> dict[str, int]:
    rows = backend.sql("SELECT trace_id, count(*) FROM spans GROUP BY trace_id", max_rows=1_000_000)
    return {tid: int(n) for tid, n in rows}


def decisions(backend: Backend) -> dict[str, tuple[bool, float, str]]:
    rows = backend.sql("SELECT lower(hex(trace_id)), kept, weight, policy FROM sampling_decision",
                       max_rows=1_000_000)
    seen: dict[str, tuple[bool, float, str]] = {}
    for tid, kept, weight, policy in rows:
        assert tid not in seen, f"trace {tid} decided twice"
        seen[tid] = (bool(kept), float(weight), str(policy))
    return seen


def workload(rng: random.Random, n: int) -> tuple[list[GenTrace], list[GenTrace], list[GenTrace], list[GenTrace]]:
    now = time.time_ns()
    errors = [gen_trace(rng, error=True, spans=6, start_ns=now) for _ in range(n // 10)]
    slow = [gen_trace(rng, duration_ms=800, spans=6, start_ns=now) for _ in range(n // 10)]
    health = [gen_trace(rng, error=True, root_operation="GET /healthz", spans=2, start_ns=now) for _ in range(n // 20)]
    rest = [gen_trace(rng, duration_ms=20, spans=6, start_ns=now) for _ in range(n)]
    return errors, slow, health, rest


def policy_file(tmp_path: Path, text: str = POLICY) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def test_policies_keep_and_drop_whole_traces_split_and_late_spans_decided_once(
        backend: BackendFactory, tmp_path: Path) -> None:
    b = backend("--sampling", policy_file(tmp_path))
    rng = random.Random(11)
    errors, slow, health, rest = workload(rng, 400)
    everything = errors + slow + health + rest
    # Every trace split across two requests: children first, the root (with the error, for
    # half of the error traces) a moment later.
    post(b, [r for t in everything for r in t.rows[1:]])
    post(b, [t.rows[0] for t in everything])
    wait_for(lambda: nothing_held(b) and len(decisions(b)) == len(everything), 30, "every trace decided")
    stored = stored_per_trace(b)
    decided = decisions(b)
    for t in errors + slow:
        assert stored.get(t.trace_id.hex()) == len(t.rows)
    assert decided[errors[0].trace_id.hex()] == (True, 1.0, "errors")
    assert decided[slow[0].trace_id.hex()] == (True, 1.0, "slow")
    assert not any(t.trace_id.hex() in stored for t in health)
    assert {decided[t.trace_id.hex()] for t in health} == {(False, 0.0, "health")}
    kept_rest = [t for t in rest if t.trace_id.hex() in stored]
    assert all(stored[t.trace_id.hex()] == 6 for t in kept_rest)
    assert 10 <= len(kept_rest) <= 80
    assert all(decided[t.trace_id.hex()] == (True, 10.0, "base") for t in kept_rest)
    # Late spans: one more span per trace, after the decision. They follow it.
    late = [dict(t.rows[-1], span_id=rng.randbytes(8)) for t in everything]
    post(b, late)
    kept_ids = {t.trace_id.hex() for t in errors + slow + kept_rest}
    # Acknowledged is spooled, not yet held: wait for the kept traces' late spans to be stored too.
    kept_total = sum(len(t.rows) + 1 for t in errors + slow + kept_rest)
    wait_for(lambda: nothing_held(b) and sum(stored_per_trace(b).values()) == kept_total, 30, "late spans decided")
    stored = stored_per_trace(b)
    assert set(stored) == kept_ids
    assert all(stored[t.trace_id.hex()] == len(t.rows) + 1 for t in errors + slow + kept_rest)
    assert len(decisions(b)) == len(everything)
    # What the UI shows: per policy, kept and dropped.
    per_policy: dict[str, list[int]] = {}
    for m in minutes(b)["minutes"]:
        counts = per_policy.setdefault(m["policy"], [0, 0])
        counts[0] += m["kept_traces"]
        counts[1] += m["dropped_traces"]
    assert per_policy["errors"] == [len(errors), 0]
    assert per_policy["health"] == [0, len(health)]
    assert per_policy["base"][0] == len(kept_rest)
    assert per_policy["base"][0] + per_policy["base"][1] == len(rest)


def test_kill_9_while_spans_wait_loses_nothing_and_they_are_decided_after_restart(
        backend: BackendFactory, tmp_path: Path) -> None:
    waiting = POLICY.replace("wait_after_root: 1s", "wait_after_root: 4s")
    flags = ("--sampling", policy_file(tmp_path, waiting))
    first = backend(*flags)
    rng = random.Random(12)
    errors, slow, health, rest = workload(rng, 300)
    everything = errors + slow + health + rest
    post(first, rows_of(everything))       # acknowledged: durable in the spool
    wait_for(lambda: minutes(first)["held_traces"] == len(everything), 10, "the spans to be held")
    assert decisions(first) == {}
    first.kill9()
    second = backend(*flags, data_dir=first.data_dir)
    wait_for(lambda: nothing_held(second) and len(decisions(second)) == len(everything), 30,
             "the held traces to be decided after the restart")
    stored = stored_per_trace(second)
    for t in errors + slow:
        assert stored.get(t.trace_id.hex()) == len(t.rows)
    decided = decisions(second)
    assert all(decided[t.trace_id.hex()][0] == (t.trace_id.hex() in stored) for t in rest)
    assert all(n == 6 for tid, n in stored.items() if tid in {t.trace_id.hex() for t in rest})
    assert second.stop() == 0


def test_a_bad_policy_file_is_refused_at_start(backend: BackendFactory, tmp_path: Path) -> None:
    bad = policy_file(tmp_path, "policies: [{name: x, latency: {over: soon}}]")
    failure = backend.fails("--sampling", bad)
    assert failure.returncode != 0
    assert "not a duration: 'soon'" in failure.stderr and "policy.yaml" in failure.stderr
    missing = backend.fails("--sampling", str(tmp_path / "nope.yaml"))
    assert missing.returncode != 0 and "cannot read the sampling policy file" in missing.stderr


def test_analyses_over_sampled_data_say_so_and_estimate_real_counts(backend: BackendFactory, tmp_path: Path) -> None:
    b = backend("--sampling", policy_file(tmp_path))
    rng = random.Random(13)
    now = time.time_ns()
    traces = [gen_trace(rng, spans=1, root_service="api", root_operation="GET /x", duration_ms=10,
                        error=rng.random() < 0.06, start_ns=now) for _ in range(3000)]
    true_errors = sum(1 for t in traces if t.rows[0]["status_code"] == 2)
    for i in range(0, len(traces), 500):
        post(b, rows_of(traces[i:i + 500]))
    wait_for(lambda: nothing_held(b) and len(decisions(b)) == len(traces), 30, "every trace decided")
    response = httpx.get(f"{b.query_url}/api/analyze/errors", params={"lookback": "1h"}, timeout=60)
    assert response.status_code == 200, response.text
    report = response.json()
    row = next(r for r in report["rows"] if r["service"] == "api" and r["operation"] == "GET /x")
    stored_rate = row["error_rate"]
    assert stored_rate > 25           # errors are all kept, the rest at 10%: the stored rate is skewed
    assert row["est_errors"] == true_errors
    true_rate = 100 * true_errors / len(traces)
    assert abs(row["est_error_rate"] - true_rate) < 1.5, (row, true_rate)
    assert any(n.startswith("sampled data:") for n in report["notes"])
    latency = httpx.get(f"{b.query_url}/api/analyze/latency", params={"lookback": "1h"}, timeout=60).json()
    assert abs(latency["params"]["estimated_requests"] - len(traces)) < 4 * (len(traces) * 0.9 / 0.1) ** 0.5
