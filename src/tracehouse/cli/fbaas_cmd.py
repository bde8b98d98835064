"""`tracehouse fbaas hub|fizzer|buzzer` (owned by the FBaaS work)."""

from __future__ import annotations

import click


@click.group()
def fbaas() -> None:
    """Run one FBaaS service (hub, fizzer or buzzer) in this process."""
