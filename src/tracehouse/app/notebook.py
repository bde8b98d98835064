"""`tracehouse.connect(data_dir_or_url)`: tracehouse from a notebook.

    th = tracehouse.connect(".tracehouse")            # the store itself (read-only)
    th = tracehouse.connect("http://127.0.0.1:16686")  # a running backend
    th = tracehouse.connect("https://traces.example:16686", token="...")  # one with a query token
    th = tracehouse.connect("clickhouse://ch1:8123/tracehouse")  # a ClickHouse store, directly
    th.sql("SELECT * FROM traces LIMIT 5").df()        # pandas; .pl() polars; .arrow() Arrow
    th.analyze("latency", what_if="fizzer=-50%")       # any analysis, as a Report
    th.spans(since="1h").arrow()                       # the spans of a window

SQL goes through the same sandbox as the console (read-only, row cap, time limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from tracehouse.analytics.causes import Diagnosis
from tracehouse.analytics.report import Report
from tracehouse.app.wiring import open_store
from tracehouse.cli.target import http_options
from tracehouse.query.analyses import Analyses, Params
from tracehouse.query.service import QueryService
from tracehouse.query.values import json_value
from tracehouse.settings import Settings


@dataclass
class Result:
    """A query result that converts to Arrow, pandas or polars."""

    table: pa.Table
    truncated: bool = False

    def arrow(self) -> pa.Table:
        return self.table

    def df(self) -> Any:
        """As a pandas DataFrame (needs pandas)."""
        return self.table.to_pandas()

    def pl(self) -> Any:
        """As a polars DataFrame (needs polars)."""
        import polars

        return polars.from_arrow(self.table)

    def __len__(self) -> int:
        return int(self.table.num_rows)


def _params(kwargs: dict[str, Any]) -> Params:
    params: dict[str, str | list[str]] = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key == "attributes":
            params["attr"] = [f"{k}={v}" for k, v in dict(value).items()]
        else:
            params[key] = str(value)
    return params


def _rows_table(columns: list[str], rows: list[list[Any]] | list[tuple[Any, ...]]) -> pa.Table:
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)}) if columns else pa.table({})


class LocalConnection:
    """Reads the store in a data directory directly (read-only; stop the backend first)."""

    def __init__(self, data_dir: Path, store_url: str | None = None) -> None:
        settings = Settings.from_env().with_overrides(data_dir=data_dir, store_url=store_url)
        self._service = QueryService(open_store(settings, read_only=True), settings)

    def sql(self, query: str, max_rows: int | None = None) -> Result:
        result = self._service.run_sql(query, max_rows)
        return Result(_rows_table(result.columns, [[json_value(v) for v in r] for r in result.rows]),
                      result.truncated)

    def analyze(self, name: str, **kwargs: Any) -> Report:
        return Analyses(self._service.store).run(name, _params(kwargs))

    def spans(self, **kwargs: Any) -> Result:
        return Result(Analyses(self._service.store).export_spans(_params(kwargs)))

    def diagnose(self, **kwargs: Any) -> Diagnosis:
        """doctor's ranked causes: `th.diagnose(since="15m", baseline="1h").causes[0].summary`."""
        return Diagnosis.from_json(self.analyze("doctor", **kwargs).params["diagnosis"])

    def close(self) -> None:
        self._service.close()

    def __enter__(self) -> LocalConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteConnection:
    """Talks to a running backend's HTTP API (the same endpoints as the UI)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        # The token and certificate the CLI would use (TRACEHOUSE_QUERY_TOKEN[_FILE], TRACEHOUSE_TLS_CERT).
        options = http_options()
        if token:
            options["headers"] = {"Authorization": f"Bearer {token}"}
        self._http = httpx.Client(base_url=self.url, timeout=300.0, **options)

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise RuntimeError(f"tracehouse at {self.url}: {message}")
        return response

    def sql(self, query: str, max_rows: int | None = None) -> Result:
        body: dict[str, Any] = {"sql": query} | ({"max_rows": max_rows} if max_rows else {})
        data = self._check(self._http.post("/api/sql", json=body)).json()
        return Result(_rows_table(data["columns"], data["rows"]), bool(data["truncated"]))

    def analyze(self, name: str, **kwargs: Any) -> Report:
        return Report.from_json(self._check(self._http.get(f"/api/analyze/{name}", params=_query(kwargs))).json())

    def diagnose(self, **kwargs: Any) -> Diagnosis:
        """doctor's ranked causes, as LocalConnection.diagnose."""
        return Diagnosis.from_json(self.analyze("doctor", **kwargs).params["diagnosis"])

    def spans(self, **kwargs: Any) -> Result:
        content = self._check(self._http.get("/api/export/spans", params=_query(kwargs))).content
        return Result(pa.ipc.open_stream(content).read_all())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _query(kwargs: dict[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    return [(k, v) for k, vs in _params(kwargs).items() for v in ([vs] if isinstance(vs, str) else vs)]


def connect(data_dir_or_url: str | Path, token: str | None = None) -> LocalConnection | RemoteConnection:
    """Open a data directory (read-only), a ClickHouse store at a clickhouse:// URL, or connect to a
    backend at an http(s):// URL, with its query token if it has one (`token=`, else
    TRACEHOUSE_QUERY_TOKEN or TRACEHOUSE_QUERY_TOKEN_FILE)."""
    text = str(data_dir_or_url)
    if text.startswith(("http://", "https://")):
        return RemoteConnection(text, token)
    if text.lower().startswith("clickhouse://"):
        return LocalConnection(Path("."), store_url=text)
    return LocalConnection(Path(text))
