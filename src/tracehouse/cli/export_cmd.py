"""`tracehouse export --parquet DIR`: the spans of a time window as a Parquet file, for notebooks and
other tools. The store cannot write files itself (its external access is off on purpose), so the
spans come back as Arrow and pyarrow writes them."""

from __future__ import annotations

from pathlib import Path

import click
import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from tracehouse.cli.analyze_cmd import base_params, common_options
from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import resolve_target
from tracehouse.query.analyses import Analyses, AnalysisError, Params
from tracehouse.store import StoreError


def fetch_spans(ctx: click.Context, params: Params, data: Path | None, url: str | None) -> pa.Table:
    target = resolve_target(data, url)
    if target.url:
        query: list[tuple[str, str | int | float | bool | None]] = [
            (k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs)]
        try:
            response = httpx.get(f"{target.url}/api/export/spans", params=query, timeout=600.0, **target.http)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach the backend at {target.url}: {exc}") from exc
        if response.status_code != 200:
            raise click.ClickException(str(response.json().get("error", f"HTTP {response.status_code}")))
        return pa.ipc.open_stream(response.content).read_all()
    service = runtime(ctx).open_query_service(target.settings, read_only=True)
    try:
        return Analyses(service.store).export_spans(params)
    except (AnalysisError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.close()


@click.command()
@common_options
@click.option("--parquet", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory to write spans.parquet into (created if missing).")
@click.option("--service", help="Only traces with a span of this service.")
@click.option("--operation", help="Only traces with a span of this operation.")
@click.pass_context
def export(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
           end: str | None, attrs: tuple[str, ...], out_dir: Path, service: str | None, operation: str | None) -> None:
    """Export the spans of a time window to DIR/spans.parquet (model.SPAN_ROW_SCHEMA columns)."""
    params = base_params(since, start, end, attrs, service=service, operation=operation)
    table = fetch_spans(ctx, params, data, url)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "spans.parquet"
    pq.write_table(table, path, compression="zstd")
    click.echo(f"wrote {table.num_rows:,} spans to {path}")
