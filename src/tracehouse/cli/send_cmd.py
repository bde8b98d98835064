"""`tracehouse send` (owned by the FBaaS work)."""

from __future__ import annotations

import click


@click.command()
def send() -> None:
    """Send numbers to the FBaaS hub, as the talk's loop does."""
    raise click.ClickException("not implemented yet")
