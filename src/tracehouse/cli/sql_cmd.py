"""`tracehouse sql`: one read-only query, through a running backend or straight from the store."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import Target, resolve_target
from tracehouse.query.values import json_value
from tracehouse.settings import SettingError
from tracehouse.store import StoreError


def _fetch_remote(url: str, query: str, max_rows: int | None, http: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"sql": query}
    if max_rows:
        payload["max_rows"] = max_rows
    try:
        response = httpx.post(f"{url}/api/sql", json=payload, timeout=120.0, **http)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the backend at {url}: {exc}") from exc
    body: dict[str, Any] = response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else {"error": response.text}
    if response.status_code != 200:
        raise click.ClickException(str(body.get("error", f"HTTP {response.status_code}")))
    return body


def _fetch_local(ctx: click.Context, settings: Any, query: str, max_rows: int | None) -> dict[str, Any]:
    service = runtime(ctx).open_query_service(settings, read_only=True)
    try:
        result = service.run_sql(query, max_rows)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.close()
    return {"columns": result.columns, "types": result.types, "truncated": result.truncated,
            "rows": [[json_value(v) for v in row] for row in result.rows]}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _print(result: dict[str, Any], fmt: str) -> None:
    columns: list[str] = result["columns"]
    rows: list[list[Any]] = result["rows"]
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        click.echo(out.getvalue(), nl=False)
    else:
        table = Table(*columns, show_lines=False, header_style="bold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)
        click.echo(f"{len(rows)} row(s)", err=True)
    if result.get("truncated"):
        click.echo(f"warning: result truncated to {len(rows)} rows (the row cap)", err=True)


@click.command()
@click.argument("query")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")
@click.option("--url", metavar="URL", help="Query a running backend at this address instead.")
@click.option("--store", "store_url", metavar="URL",
              help="Query this ClickHouse store directly: clickhouse://HOST:8123/DB[?cluster=NAME] "
                   "[env TRACEHOUSE_STORE].")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--max-rows", type=int, help="Row cap (the server's cap applies if smaller).")
@click.pass_context
def sql(ctx: click.Context, query: str, data: Path | None, url: str | None, store_url: str | None, fmt: str,
        max_rows: int | None) -> None:
    """Run one read-only SQL QUERY over the store (use '-' to read it from stdin).

    Tables and views: spans, traces, edges (docs/schema.md). Attributes read as
    attributes['http.status_code'] and compare as their type. Goes through the running backend
    that serves --data when there is one, otherwise opens the store read-only.

    \b
    Examples:
      tracehouse sql "SELECT service_name, count(*) FROM spans GROUP BY ALL"
      tracehouse sql --format json "SELECT * FROM traces ORDER BY duration_ns DESC LIMIT 5"
    """
    if query == "-":
        query = sys.stdin.read()
    target = resolve_target(data, url)
    if store_url:   # a ClickHouse store is a server of its own: no backend in between
        try:
            target = Target(url=None, settings=target.settings.with_overrides(store_url=store_url))
        except SettingError as exc:
            raise click.UsageError(str(exc)) from exc
    result = (_fetch_remote(target.url, query, max_rows, target.http) if target.url
              else _fetch_local(ctx, target.settings, query, max_rows))
    _print(result, fmt)
