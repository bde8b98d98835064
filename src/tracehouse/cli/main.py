"""The `tracehouse` command group. Each command lives in its own module and is registered here."""

from __future__ import annotations

import click

from tracehouse.cli.analyze_cmd import analyze
from tracehouse.cli.demo_cmd import demo
from tracehouse.cli.doctor_cmd import doctor
from tracehouse.cli.export_cmd import export
from tracehouse.cli.fbaas_cmd import fbaas
from tracehouse.cli.send_cmd import send
from tracehouse.cli.sql_cmd import sql
from tracehouse.cli.up_cmd import up


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tracehouse")
def cli() -> None:
    """tracehouse: a tracing backend on your laptop.

    OTLP in (gRPC and HTTP), an embedded DuckDB store, a Jaeger-compatible API and web UI, SQL over
    your traces, and FBaaS (FizzBuzz as a Service), the example system from "Implementing
    Distributed Tracing" (PyCascades 2023).

    Start with `tracehouse demo`.
    """


for command in (up, sql, demo, send, fbaas, analyze, doctor, export):
    cli.add_command(command)
