"""`tracehouse store check` and `tracehouse store repair`: what the backend set aside, and fixing it.

The backend never stops for a span it cannot store (ADR 12): such spans go to DATA/deadletter with
the reason, and spans acknowledged before a crash wait in DATA/spool until the next start stores
them. `check` reports both; `repair` stores the spool's backlog and tries the dead-lettered spans
again. Both work on the data directory itself, so no backend may be running on it for `repair`.
"""

from __future__ import annotations

from pathlib import Path

import click

from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import running_backend_url
from tracehouse.receiver.maintenance import StoreHealth
from tracehouse.settings import Settings


def _settings(data: Path | None) -> Settings:
    settings = Settings.from_env()
    return settings.with_overrides(data_dir=data) if data is not None else settings


def _report(health: StoreHealth) -> None:
    click.echo(f"data directory: {health.data_dir}")
    if health.replayed_spans:
        click.echo(f"stored {health.replayed_spans:,} span(s) from the spool")
    if health.restored_spans:
        click.echo(f"stored {health.restored_spans:,} dead-lettered span(s)")
    if health.discarded:
        click.echo(f"deleted {health.discarded} dead-letter entr{'y' if health.discarded == 1 else 'ies'}")
    click.echo(f"spool backlog: {health.backlog_bytes:,} bytes of acknowledged spans not yet in the store"
               if health.backlog_bytes else "spool backlog: none")
    if not health.dead_letter:
        click.echo("dead letter: none")
    for entry in health.dead_letter:
        what = f"{entry.spans} span(s)" if entry.spans >= 0 else "1 undecodable record"
        click.echo(f"dead letter: {entry.path.name}: {what}, {entry.time}: {entry.reason}")
    for error in health.errors:
        click.echo(f"still failing: {error}", err=True)


_data = click.option("--data", type=click.Path(path_type=Path, file_okay=False),
                     help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")


@click.group()
def store() -> None:
    """Check and repair a data directory: the spool's backlog and dead-lettered spans."""


@store.command()
@_data
@click.pass_context
def check(ctx: click.Context, data: Path | None) -> None:
    """Report spans waiting in the spool and spans set aside (exit 1 if there are any)."""
    health = runtime(ctx).store_health(_settings(data), repair=False)
    _report(health)
    ctx.exit(0 if health.ok else 1)


@store.command()
@_data
@click.option("--discard", is_flag=True, help="Delete dead-letter entries that still cannot be stored.")
@click.pass_context
def repair(ctx: click.Context, data: Path | None, discard: bool) -> None:
    """Store the spool's backlog and retry dead-lettered spans (stop the backend on DATA first)."""
    settings = _settings(data)
    url = running_backend_url(settings.data_dir)
    if url:
        raise click.ClickException(f"a backend is running on {settings.data_dir} ({url}); stop it first "
                                   "(it replays the spool by itself on start)")
    health = runtime(ctx).store_health(settings, repair=True, discard=discard)
    _report(health)
    ctx.exit(0 if health.ok else 1)
