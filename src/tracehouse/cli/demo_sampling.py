"""`tracehouse demo --sampling`: the same load twice, first stored whole, then through a tail-sampling
policy that keeps errors, slow requests and 5% of the rest. It prints what each policy kept and
dropped, the real requests the kept traces stand for, and whether the doctor's answer changed.

Between the two loads the backend is restarted on the same data directory and ports with
`--sampling`; the FBaaS services keep running (their exporters reconnect).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from tracehouse.analytics.report import Report
from tracehouse.cli.analyze_cmd import fetch_remote
from tracehouse.cli.demo_cmd import DEMO_NUMBERS, SPANS_PER_TRACE, Child, DemoError, child_env, wait_healthy
from tracehouse.cli.send_cmd import send_numbers

DEMO_POLICY = """\
# tracehouse demo --sampling: keep errors, slow requests and 5% of the rest.
decision: {wait_after_root: 1s, max_wait: 10s, check_every: 200ms}
policies:
  - {name: errors, error: true}
  - {name: slow, latency: {over_p99: true, min_samples: 20}}
  - {name: rest-5pc, probabilistic: {percent: 5}}
"""
LOAD_ROUNDS = 10          # the demo's 1..15, ten times: 150 requests per load
CONCURRENCY = 5


def _send_load(hub_url: str, traffic: str) -> tuple[int, int, int]:
    start = time.time_ns()
    send_numbers(hub_url, list(DEMO_NUMBERS) * LOAD_ROUNDS, concurrency=CONCURRENCY, traffic=traffic)
    return start, time.time_ns(), len(DEMO_NUMBERS) * LOAD_ROUNDS


def _stored_spans(client: httpx.Client, query_url: str, start: int, end: int) -> int:
    response = client.post(f"{query_url}/api/sql", json={
        "sql": "SELECT count(*) FROM spans WHERE trace_id IN (SELECT trace_id FROM spans WHERE parent_span_id "
               "IS NULL AND service_name = 'hub' AND epoch_ns(start_time) BETWEEN $1 AND $2)",
        "params": [start, end]})
    response.raise_for_status()
    return int(response.json()["rows"][0][0])


def _minutes(client: httpx.Client, query_url: str) -> dict[str, Any]:
    response = client.get(f"{query_url}/api/sampling/minutes", params={"lookback": "1h"})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _answers(report: Report) -> dict[str, str]:
    """The doctor's answers: its verdict (first cause, or that nothing stands out) and its first
    finding on where requests wait (the report's context)."""
    first: dict[str, str] = {}
    if report.findings:
        first["Suspected causes"] = str(report.findings[0])
    context = report.params.get("context")
    if context and context.get("findings"):
        first[str(context["title"])] = str(context["findings"][0])
    return first


def _names(finding: str) -> str:
    """What a finding names, without its figures (which sampling changes by design)."""
    return re.sub(r"\d[\d.,]*", "#", finding)


def run_sampling_demo(console: Console, children: list[Child], backend: Child, up_args: list[str], data: Path,
                      logs: Path, hub_url: str, query_url: str) -> None:
    console.print()
    console.rule("Tail sampling")
    requests_per_load = len(DEMO_NUMBERS) * LOAD_ROUNDS
    console.print(f"Sending {requests_per_load} requests, stored whole …")
    with httpx.Client(timeout=30.0) as client:
        a_start, a_end, sent = _send_load(hub_url, "demo-unsampled")
        expected = sent * SPANS_PER_TRACE
        _wait(lambda: _stored_spans(client, query_url, a_start, a_end) >= expected, 30)
        truth = fetch_remote(query_url, "doctor", {"start": str(a_start / 1e9), "end": str(time.time())})

        policy = logs / "demo-sampling.yaml"
        policy.write_text(DEMO_POLICY)
        console.print(f"Restarting the backend with --sampling {policy} (errors, slow requests, 5% of the rest) …")
        backend.terminate()
        backend.wait_or_kill(10)
        sampled_backend = Child("backend", [sys.executable, "-m", "tracehouse", "up", *up_args,
                                            "--sampling", str(policy)], child_env({}), logs / "backend-sampling.log")
        children[children.index(backend)] = sampled_backend
        wait_healthy(sampled_backend, f"{query_url}/healthz", timeout=60)

        console.print(f"Sending the same {requests_per_load} requests through the policy …")
        b_start, b_end, _ = _send_load(hub_url, "demo-sampled")
        decided = _wait(lambda: (lambda m: m["held_spans"] == 0 and sum(
            x["kept_traces"] + x["dropped_traces"] for x in m["minutes"]) >= requests_per_load)(
                _minutes(client, query_url)), 60)
        if not decided:
            raise DemoError(f"the sampled requests were not all decided within 60 s; see {logs}")
        minutes = _minutes(client, query_url)["minutes"]
        sampled = fetch_remote(query_url, "doctor", {"start": str(b_start / 1e9), "end": str(time.time())})
    del b_end
    per_policy: dict[str, list[float]] = {}
    for m in minutes:
        row = per_policy.setdefault(m["policy"], [0, 0, 0, 0, 0.0])
        row[0] += m["kept_traces"]
        row[1] += m["dropped_traces"]
        row[2] += m["kept_spans"]
        row[3] += m["dropped_spans"]
        row[4] += m["kept_weight"]
    table = Table(show_edge=False)
    for name in ("policy", "kept traces", "dropped traces", "kept spans", "dropped spans", "stand for"):
        table.add_column(name, justify="left" if name == "policy" else "right")
    for name, (kt, dt, ks, ds, w) in sorted(per_policy.items()):
        table.add_row(name, f"{kt:,.0f}", f"{dt:,.0f}", f"{ks:,.0f}", f"{ds:,.0f}", f"{w:,.0f}")
    console.print(table)
    kept = sum(r[0] for r in per_policy.values())
    stand_for = sum(r[4] for r in per_policy.values())
    console.print(f"Kept {kept:,.0f} of {requests_per_load} traces ({kept / requests_per_load:.0%}); by their "
                  f"weights they stand for {stand_for:,.0f} requests.")
    whole, kept_only = _answers(truth), _answers(sampled)
    same = [t for t in whole if t in kept_only and _names(whole[t]) == _names(kept_only[t])]
    console.print("Doctor, stored whole against sampled (first finding of each topic; figures aside):")
    for topic in whole:
        verdict = "same" if topic in same else "DIFFERENT"
        console.print(f"  [{verdict}] {topic}: {whole[topic]}", markup=False)
        if topic not in same:
            console.print(f"      sampled: {kept_only.get(topic, 'no finding')}", markup=False)
    if len(same) == len(whole):
        console.print("[bold]The doctor's answer is unchanged[/] by sampling.")
    else:
        console.print(f"[yellow]The doctor's answer changed under sampling[/] in {len(whole) - len(same)} of "
                      f"{len(whole)} topics (above).")
