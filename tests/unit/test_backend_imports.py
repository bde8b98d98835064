"""What the backend process (`tracehouse up`) imports: the CLI loads a command's module only when that
command runs, so the other commands' clients (httpx, rich, psutil; ~10 MB of resident set) stay out."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import click
from tracehouse.cli.main import cli
up = cli.get_command(click.Context(cli), "up")
assert up is not None and up.name == "up"
import tracehouse.app.server   # what Wiring.serve imports to run the backend
print(sorted(m for m in ("httpx", "rich", "psutil", "tracehouse.cli.sql_cmd") if m in sys.modules))
"""


def test_running_up_imports_no_other_command_or_its_clients() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_command_still_loads_and_is_listed() -> None:
    import click

    from tracehouse.cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
    assert cli.get_command(ctx, "nope") is None
