"""The `tracehouse` command group. Each command lives in its own module, imported only when run.

Lazily, as in Click's "Lazily Loading Subcommands": `tracehouse up` is the backend process, and the
other commands' clients (httpx, rich, psutil) cost it ~10 MB of resident set it would never use.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of the click command
COMMANDS = {
    "analyze": "tracehouse.cli.analyze_cmd:analyze",
    "demo": "tracehouse.cli.demo_cmd:demo",
    "doctor": "tracehouse.cli.doctor_cmd:doctor",
    "export": "tracehouse.cli.export_cmd:export",
    "fbaas": "tracehouse.cli.fbaas_cmd:fbaas",
    "import": "tracehouse.cli.import_cmd:import_",
    "sampling": "tracehouse.cli.sampling_cmd:sampling",
    "reconstruct": "tracehouse.cli.reconstruct_cmd:reconstruct",
    "send": "tracehouse.cli.send_cmd:send",
    "sql": "tracehouse.cli.sql_cmd:sql",
    "store": "tracehouse.cli.store_cmd:store",
    "up": "tracehouse.cli.up_cmd:up",
    "migrate": "tracehouse.cli.migrate_cmd:migrate",
    "schema": "tracehouse.cli.schema_cmd:schema",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tracehouse")
def cli() -> None:
    """tracehouse: a tracing backend on your laptop.

    OTLP in (gRPC and HTTP), an embedded DuckDB store, a Jaeger-compatible API and web UI, SQL over
    your traces, and FBaaS (FizzBuzz as a Service), the example system from "Implementing
    Distributed Tracing" (PyCascades 2023).

    Start with `tracehouse demo`.
    """
