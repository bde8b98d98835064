"""`tracehouse export --parquet DIR`: the spans of a time window as a Parquet file, for notebooks and
other tools. The store cannot write files itself (its external access is off on purpose), so the
spans come back as Arrow and pyarrow writes them, a slice at a time: an export of any size works
at the store's default memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from tracehouse.cli.analyze_cmd import base_params, common_options
from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import resolve_target
from tracehouse.model import SPAN_ROW_SCHEMA
from tracehouse.query.analyses import Analyses, AnalysisError, Params
from tracehouse.store import StoreError


def span_batches(ctx: click.Context, params: Params, data: Path | None, url: str | None) -> Iterator[pa.RecordBatch]:
    """The selected spans as Arrow batches (model.SPAN_ROW_SCHEMA), from the backend or the store."""
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
        yield from pa.ipc.open_stream(response.content)
        return
    service = runtime(ctx).open_query_service(target.settings, read_only=True)
    try:
        yield from Analyses(service.store).export_span_batches(params)
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
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "spans.parquet"
    rows = 0
    with pq.ParquetWriter(path, SPAN_ROW_SCHEMA, compression="zstd") as writer:
        for batch in span_batches(ctx, params, data, url):
            writer.write_batch(batch)
            rows += batch.num_rows
    click.echo(f"wrote {rows:,} spans to {path}")
