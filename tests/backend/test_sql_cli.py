"""`tracehouse sql`: through the running backend that serves --data (its HTTP API, since the backend
holds the store's lock), and straight from the store file once the backend is stopped; the same
answer both ways, in --format json, csv and table."""

from __future__ import annotations

import csv
import io
import json
import subprocess

from .conftest import PYTHON, BackendFactory, clean_env
from .otlp_requests import fbaas_request

QUERY = ("SELECT service_name, span_kind, count(*) AS spans, min(duration_ns) AS shortest "
         "FROM spans GROUP BY ALL ORDER BY service_name, span_kind")
EXPECTED = [
    {"service_name": "buzzer", "span_kind": "SERVER", "spans": 3, "shortest": 400_000},
    {"service_name": "fizzer", "span_kind": "SERVER", "spans": 3, "shortest": 400_000},
    {"service_name": "hub", "span_kind": "CLIENT", "spans": 6, "shortest": 600_000},
    {"service_name": "hub", "span_kind": "SERVER", "spans": 3, "shortest": 900_000},
]


def tracehouse_sql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tracehouse", "sql", *args], capture_output=True, text=True,
                          env=clean_env(), timeout=120, check=False)


def check_formats(data_dir: str, everything: bool) -> None:
    as_json = tracehouse_sql("--data", data_dir, "--format", "json", QUERY)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == EXPECTED

    as_csv = tracehouse_sql("--data", data_dir, "--format", "csv", QUERY)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["service_name", "span_kind", "spans", "shortest"]
    assert rows[1:] == [[str(v) for v in row.values()] for row in EXPECTED]
    if not everything:
        return

    table = tracehouse_sql("--data", data_dir, QUERY)
    assert table.returncode == 0, table.stderr
    for row in EXPECTED:
        assert str(row["service_name"]) in table.stdout and str(row["shortest"]) in table.stdout
    assert "4 row(s)" in table.stderr

    refused = tracehouse_sql("--data", data_dir, "DELETE FROM span_data")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert "refused" in refused.stderr.lower()

    truncated = tracehouse_sql("--data", data_dir, "--format", "json", "--max-rows", "2", QUERY)
    assert truncated.returncode == 0, truncated.stderr
    assert json.loads(truncated.stdout) == EXPECTED[:2]
    assert "truncated" in truncated.stderr


def test_sql_through_the_running_backend_then_on_the_stopped_store(backend: BackendFactory) -> None:
    server = backend()
    built = fbaas_request(3)
    server.send(built)
    server.wait_stored(built.span_ids)
    check_formats(str(server.data_dir), everything=True)   # the backend holds the store: this goes over HTTP
    by_url = tracehouse_sql("--url", server.query_url, "--format", "json", QUERY)
    assert by_url.returncode == 0 and json.loads(by_url.stdout) == EXPECTED
    assert server.alive()

    assert server.stop() == 0
    assert not (server.data_dir / "server.json").exists()
    check_formats(str(server.data_dir), everything=False)  # no backend: the store file is opened read-only


def test_sql_with_no_store_says_so(backend: BackendFactory, tmp_path: object) -> None:
    result = tracehouse_sql("--data", str(tmp_path), "SELECT 1")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "no tracehouse store" in result.stderr
