"""`tracehouse sampling simulate FILE --since 1h`: stored traces replayed through a policy file, through
a running backend's API and on the store file itself, with the same figures."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.backend.conftest import BackendFactory, clean_env
from tests.backend.otlp_requests import PROTOBUF

from .generated import gen_trace
from .otlp import otlp_request, rows_of

POLICY = """
policies:
  - {name: errors, error: true}
  - {name: slow, latency: {over: 500ms}}
  - {name: base, probabilistic: {percent: 5}}
drop:
  - {name: health, root: {operation: GET /healthz}}
"""


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracehouse", "sampling", "simulate", *args], capture_output=True,
                          text=True, timeout=120, env=clean_env(), check=False)


def test_simulate_reports_what_a_policy_would_keep(backend: BackendFactory, tmp_path: Path) -> None:
    b = backend()
    rng = random.Random(21)
    now = time.time_ns()
    errors = [gen_trace(rng, error=True, spans=4, start_ns=now) for _ in range(40)]
    slow = [gen_trace(rng, duration_ms=900, spans=4, start_ns=now) for _ in range(30)]
    health = [gen_trace(rng, root_operation="GET /healthz", spans=1, start_ns=now) for _ in range(50)]
    rest = [gen_trace(rng, duration_ms=20, spans=4, start_ns=now) for _ in range(1000)]
    old = [gen_trace(rng, error=True, spans=4, start_ns=now - 3 * 3600 * 10**9) for _ in range(10)]
    everything = errors + slow + health + rest + old
    response = httpx.post(b.traces_url, content=otlp_request(rows_of(everything)), headers={"Content-Type": PROTOBUF})
    assert response.status_code == 200
    b.wait_stored([r["span_id"].hex() for r in rows_of(everything)])
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)

    live = simulate(str(policy), "--since", "1h", "--data", str(b.data_dir), "--format", "json")
    assert live.returncode == 0, live.stderr
    result = json.loads(live.stdout)
    assert result["total"]["traces"] == 1120               # the 3-hour-old traces are outside the window
    assert result["total"]["errors"] == 40 and result["kept"]["errors"] == 40
    kept_rest = result["per_policy"]["base"]["kept"]
    assert result["kept"]["traces"] == 40 + 30 + kept_rest
    assert 20 <= kept_rest <= 85
    assert result["per_policy"]["health"] == {"kept": 0, "dropped": 50}
    assert result["per_policy"]["slow"] == {"kept": 30, "dropped": 0}
    assert result["kept"]["spans"] == 4 * result["kept"]["traces"]
    assert 0 < result["kept"]["bytes"] < result["total"]["bytes"]
    assert abs(result["estimated_traces"] - 1070) < 4 * (1000 * 0.95 / 0.05) ** 0.5
    # Nothing was changed: every trace is still stored.
    assert b.span_count() == sum(len(t.rows) for t in everything)

    table = simulate(str(policy), "--since", "1h", "--data", str(b.data_dir))
    assert table.returncode == 0, table.stderr
    assert "traces with errors" in table.stdout and "40" in table.stdout

    assert b.stop() == 0     # no backend: the store file itself, read-only
    offline = simulate(str(policy), "--since", "1h", "--data", str(b.data_dir), "--format", "json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["kept"] == result["kept"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: [{name: x, latency: {over: quickly}}]")
    refused = simulate(str(bad), "--data", str(b.data_dir))
    assert refused.returncode != 0 and "not a duration: 'quickly'" in refused.stderr
