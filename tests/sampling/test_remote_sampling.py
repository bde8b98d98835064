"""Remote sampling for SDKs: /api/sampling?service= answers in Jaeger's strategies format from the
policy file, OpenTelemetry JS's Jaeger remote sampler (a real SDK sampler) follows it, and the
adaptive mode moves a busy service's probability towards the target rate."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.conftest import Backend, BackendFactory
from tests.backend.otlp_requests import PROTOBUF

from .generated import gen_trace
from .otlp import otlp_request, rows_of

JS_DIR = Path(__file__).resolve().parent / "js"
REMOTE = """
remote:
  default: {percent: 50}
  services:
    hub: {percent: 20, operations: {"GET /healthz": 0.0, "POST /pay": 1.0}}
    buzzer: {traces_per_second: 5}
    all-in: {percent: 100}
"""


def strategy(backend: Backend, service: str) -> dict[str, Any]:
    response = httpx.get(f"{backend.query_url}/api/sampling", params={"service": service}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_strategies_in_jaegers_format(backend: BackendFactory, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(REMOTE)
    b = backend("--sampling", str(policy))
    assert strategy(b, "hub") == {
        "strategyType": "PROBABILISTIC",
        "probabilisticSampling": {"samplingRate": 0.2},
        "operationSampling": {
            "defaultSamplingProbability": 0.2,
            "defaultLowerBoundTracesPerSecond": 0.0,
            "perOperationStrategies": [
                {"operation": "GET /healthz", "probabilisticSampling": {"samplingRate": 0.0}},
                {"operation": "POST /pay", "probabilisticSampling": {"samplingRate": 1.0}},
            ],
            "defaultUpperBoundTracesPerSecond": 0.0,
        },
    }
    assert strategy(b, "buzzer") == {"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 5}}
    assert strategy(b, "unlisted") == {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.5}}
    missing = httpx.get(f"{b.query_url}/api/sampling", timeout=10)
    assert missing.status_code == 400
    # A remote-only file turns no tail sampling on: every trace received is stored.
    rng = random.Random(3)
    traces = [gen_trace(rng, start_ns=time.time_ns()) for _ in range(20)]
    response = httpx.post(b.traces_url, content=otlp_request(rows_of(traces)), headers={"Content-Type": PROTOBUF})
    assert response.status_code == 200
    b.wait_stored([r["span_id"].hex() for r in rows_of(traces)])


def test_without_a_policy_file_sdks_are_told_to_keep_everything(backend: BackendFactory) -> None:
    b = backend()
    assert strategy(b, "any") == {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}


def test_opentelemetry_js_remote_sampler_follows_the_strategy(backend: BackendFactory, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is missing: `make test` installs it (Makefile apt target)"
    assert (JS_DIR / "node_modules" / "@opentelemetry" / "sampler-jaeger-remote").is_dir(), \
        "tests/sampling/js/node_modules is missing: `make test` runs npm ci there"
    policy = tmp_path / "p.yaml"
    policy.write_text(REMOTE)
    b = backend("--sampling", str(policy))

    def run(service: str, *ops: str) -> dict[str, int]:
        out = subprocess.run([node, "follow.mjs", f"{b.query_url}/api", service, "4000", *ops], cwd=JS_DIR,
                             capture_output=True, text=True, timeout=60, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert "sampler=ParentBased" in result["sampler"], result   # it fetched the backend's strategy
        counts: dict[str, int] = result["counts"]
        return counts

    hub = run("hub", "GET /", "GET /healthz", "POST /pay")
    assert 600 < hub["GET /"] < 1000            # 20% of 4000, per the service default
    assert hub["GET /healthz"] == 0             # per-operation override
    assert hub["POST /pay"] == 4000
    assert run("all-in", "GET /")["GET /"] == 4000
    assert 1700 < run("unlisted", "GET /")["GET /"] < 2300    # the file's default: 50%


def test_adaptive_mode_moves_busy_services_towards_the_target(backend: BackendFactory, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("remote: {default: {percent: 100}, adaptive: {traces_per_second: 2, window: 1m}}\n")
    b = backend("--sampling", str(policy))
    rng = random.Random(4)
    now = time.time_ns()
    busy = [gen_trace(rng, root_service="busy", spans=1, start_ns=now - 30 * 10**9) for _ in range(600)]
    quiet = [gen_trace(rng, root_service="quiet", spans=1, start_ns=now - 30 * 10**9) for _ in range(30)]
    response = httpx.post(b.traces_url, content=otlp_request(rows_of(busy + quiet)),
                          headers={"Content-Type": PROTOBUF})
    assert response.status_code == 200
    b.wait_stored([r["span_id"].hex() for r in rows_of(busy + quiet)])
    busy_rate = strategy(b, "busy")["probabilisticSampling"]["samplingRate"]
    # 600 traces in the 1-minute window = 10/s, sampled at 1.0 so far: 2/10 = 0.2.
    assert busy_rate == pytest.approx(0.2, rel=0.05)
    assert strategy(b, "quiet")["probabilisticSampling"]["samplingRate"] == 1.0
    assert strategy(b, "never-seen")["probabilisticSampling"]["samplingRate"] == 1.0
