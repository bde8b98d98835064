"""`tracehouse up`: run the backend. Its flags are generated from tracehouse.settings, the one list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import click

from tracehouse.cli.runtime import runtime
from tracehouse.settings import SettingError, Settings

_DEFAULTS = Settings()


def _default_text(name: str) -> str:
    shown = {"retention_seconds": "7d", "max_size_bytes": "10GB", "max_body_bytes": "64MiB",
             "sampling_file": "off",
             "disk_reserve_bytes": "128MiB", "queue_max_bytes": "128MiB", "attribute_value_max_bytes": "1MiB",
             "span_max_bytes": "4MiB"}
    return shown.get(name, str(getattr(_DEFAULTS, name)))


def _settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for f in reversed(fields(Settings)):
        flag = f.metadata["flag"]
        if flag is None:
            continue
        help_text = f"{f.metadata['doc']} [default {_default_text(f.name)}; env {f.metadata['env']}]"
        command = click.option(flag, f.name, metavar="VALUE", help=help_text)(command)
    return command


@click.command()
@_settings_options
@click.option("--reconstruct", "reconstruct", is_flag=True, default=None,
              help="Rebuild cross-service links where trace propagation is broken, continuously "
                   "(docs/reconstruction.md) [env TRACEHOUSE_RECONSTRUCT].")
@click.pass_context
def up(ctx: click.Context, /, **options: str | bool | None) -> None:
    """Run the backend: OTLP in on gRPC and HTTP, the store, the query API and the UI.

    Every port binds to 127.0.0.1 unless --host says otherwise; port 0 picks a free one. Stops
    cleanly on Ctrl-C or SIGTERM: every acknowledged span is already committed.
    """
    try:
        settings = Settings.from_env().with_overrides(**options)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc
    runtime(ctx).serve(settings)
