"""`tracehouse sql`."""

from __future__ import annotations

import click


@click.command()
def sql() -> None:
    """Run a read-only SQL query."""
