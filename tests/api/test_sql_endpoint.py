"""POST /api/sql: bound parameters stay values, refusals are 400s with a reason, truncation is flagged."""

from __future__ import annotations

import httpx

# Served by both stores (tests/api/conftest.py).
STORE_KINDS = ("duckdb", "clickhouse")


def test_params_are_bound_not_spliced(client: httpx.Client) -> None:
    body = {"sql": "SELECT count(*) FROM spans WHERE service_name = $1", "params": ["fizzer"]}
    response = client.post("/api/sql", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["rows"][0][0] > 0
    hostile = {"sql": "SELECT count(*) FROM spans WHERE service_name = $1", "params": ["x' OR '1'='1"]}
    assert client.post("/api/sql", json=hostile).json()["rows"] == [[0]]


def test_a_write_is_refused_with_a_reason(client: httpx.Client) -> None:
    response = client.post("/api/sql", json={"sql": "DELETE FROM span_data"})
    assert response.status_code == 400
    assert response.json()["kind"] == "refused" and "DELETE" in response.json()["error"]
    assert client.post("/api/sql", json={"sql": "SELECT count(*) FROM spans"}).json()["rows"][0][0] > 0


FIFTY_ROWS = {"duckdb": "SELECT * FROM range(50)", "clickhouse": "SELECT number FROM system.numbers LIMIT 50"}


def test_truncation_is_flagged(client: httpx.Client, store_kind: str) -> None:
    result = client.post("/api/sql", json={"sql": FIFTY_ROWS[store_kind], "max_rows": 10}).json()
    assert len(result["rows"]) == 10 and result["truncated"] is True
