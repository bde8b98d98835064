"""`tracehouse demo` (owned by the FBaaS work)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Start the backend and FBaaS, send 1..15, and report where the time went."""
    raise click.ClickException("not implemented yet")
