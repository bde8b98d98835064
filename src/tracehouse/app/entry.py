"""The console-script entry point: the CLI with the app wiring plugged in."""

from __future__ import annotations

from tracehouse.app.wiring import Wiring
from tracehouse.cli.main import cli


def main() -> None:
    cli(obj=Wiring(), prog_name="tracehouse")
