"""`tracehouse migrate --from DIR --to clickhouse://...`: move an embedded store's spans to ClickHouse."""

from __future__ import annotations

from pathlib import Path

import click

from tracehouse.cli.runtime import runtime


@click.command()
@click.option("--from", "from_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Data directory of the embedded store (stop its backend first).")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The ClickHouse store: clickhouse://HOST:8123/DB[?cluster=NAME] (created if missing).")
@click.pass_context
def migrate(ctx: click.Context, from_dir: Path, to_url: str) -> None:
    """Copy every span of the embedded store in DIR into a ClickHouse store.

    Spans already in the target are skipped, so an interrupted migration is run again to finish it.
    The embedded store is only read. Then start `tracehouse up --store URL`.
    """
    if not to_url.lower().startswith("clickhouse://"):
        raise click.UsageError(f"--to must be a clickhouse:// URL, got {to_url!r}")

    def progress(read: int, stored: int) -> None:
        click.echo(f"\r{read:,} spans read, {stored:,} stored", nl=False, err=True)

    result = runtime(ctx).migrate(from_dir, to_url, progress)
    click.echo("", err=True)
    click.echo(f"migrated {result.read:,} spans from {from_dir} to {to_url}: {result.stored:,} stored, "
               f"{result.read - result.stored:,} already there")
