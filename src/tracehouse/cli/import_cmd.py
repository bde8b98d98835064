"""`tracehouse import FILE|DIR ...`: load trace files into the store, kept past its retention.

Old traces — yesterday's incident, a benchmark recorded last year, the OTLP specification's example
from 2018 — are older than the retention window, so the receivers refuse them (partial success) rather
than store them only for retention to delete them a minute later. Import keeps them: each file's
traces are pinned until deleted, or for --retention from now. Through the backend serving --data (or
the one at --url) when one runs, else straight into the store file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import data_option, resolve_target, url_option
from tracehouse.query.importer import SUFFIXES, ImportFormatError, keep_until
from tracehouse.query.service import QueryService
from tracehouse.settings import SettingError
from tracehouse.store import StoreError


def _files(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise click.ClickException(f"{path} holds no trace files ({', '.join(SUFFIXES)})")
            yield from found
        else:
            yield path


def _remote(url: str, body: bytes, retention: str) -> dict[str, Any]:
    try:
        response = httpx.post(f"{url}/api/import", params={"retention": retention}, content=body, timeout=600.0)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the backend at {url}: {exc}") from exc
    try:
        result: dict[str, Any] = response.json()
    except ValueError:
        result = {"error": f"HTTP {response.status_code}: {response.text[:300]}"}
    if response.status_code != 200:
        raise click.ClickException(str(result.get("error", f"HTTP {response.status_code}")))
    return result


def _local(service: QueryService, body: bytes, until: int | None) -> dict[str, Any]:
    try:
        r = service.import_file(body, until)
    except ImportFormatError as exc:
        raise click.ClickException(f"cannot import this file: {exc}") from exc
    return {"received": r.received, "stored": r.stored, "rejected": r.rejected, "message": r.message,
            "traces": r.traces, "format": r.format}


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--retention", default="forever", show_default=True, metavar="DURATION",
              help="How long the imported traces are kept: 'forever' (until deleted) or a duration from now "
                   "(7d, 12h, 30m). The store's own --retention does not apply to them.")
@click.pass_context
def import_(ctx: click.Context, paths: tuple[Path, ...], retention: str, data: Path | None, url: str | None) -> None:
    """Load OTLP-JSON, OTLP protobuf or Jaeger JSON trace files (or every such file under DIR).

    Analyse them afterwards over their own time window, e.g.
    `tracehouse analyze paths --start 2018-12-13T14:00:00Z --end 2018-12-13T15:00:00Z`.
    """
    try:
        until = keep_until(retention)
    except SettingError as exc:
        raise click.BadParameter(f"{exc} (or 'forever')", param_hint="--retention") from exc
    target = resolve_target(data, url)
    service = None if target.url else runtime(ctx).open_query_service(target.settings, read_only=False)
    kept = "until deleted" if until is None else "until " + dt.datetime.fromtimestamp(
        until / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    totals = [0, 0, 0]
    try:
        for path in _files(paths):
            body = path.read_bytes()
            try:
                result = _remote(str(target.url), body, retention) if service is None else _local(service, body, until)
            except click.ClickException as exc:
                raise click.ClickException(f"{path}: {exc.message}") from exc
            stored, received, rejected = int(result["stored"]), int(result["received"]), int(result["rejected"])
            totals = [totals[0] + stored, totals[1] + received, totals[2] + rejected]
            line = f"{path}: {stored:,} new span(s) of {received:,} in {result['traces']} trace(s) ({result['format']})"
            if rejected:
                line += f"; {result['message']}"
            click.echo(line)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if service is not None:
            service.close()
    click.echo(f"imported {totals[0]:,} new span(s), kept {kept}" + (f"; {totals[2]:,} rejected" if totals[2] else ""))


for _option in (data_option(), url_option()):
    import_.params.append(_option)
