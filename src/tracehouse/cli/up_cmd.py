"""`tracehouse up`."""

from __future__ import annotations

import click


@click.command()
def up() -> None:
    """Run the backend."""
