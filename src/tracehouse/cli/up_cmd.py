"""`tracehouse up`: run the backend. Its flags are generated from tracehouse.settings, the one list."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from tracehouse.access import AccessConfigError, exposure_problem, is_loopback, load_tokens
from tracehouse.cli.runtime import runtime
from tracehouse.settings import SIZE_SETTINGS, SettingError, Settings, format_size

_DEFAULTS = Settings()


def _default_text(name: str) -> str:
    if name in SIZE_SETTINGS:
        return format_size(getattr(_DEFAULTS, name))
    shown = {"retention_seconds": "7d", "max_body_bytes": "64MiB", "sampling_file": "off"}
    return shown.get(name, str(getattr(_DEFAULTS, name))) or "none"


def _settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for f in reversed(fields(Settings)):
        flag = f.metadata["flag"]
        if flag is None:
            continue
        help_text = f"{f.metadata['doc']} [default {_default_text(f.name)}; env {f.metadata['env']}]"
        if f.type in (bool, "bool"):
            # default=None: a flag not given leaves the environment's value alone.
            command = click.option(flag, f.name, is_flag=True, default=None, help=help_text)(command)
            continue
        command = click.option(flag, f.name, metavar="VALUE", help=help_text)(command)
    return command


@click.command()
@_settings_options
@click.pass_context
def up(ctx: click.Context, /, **options: str | bool | None) -> None:
    """Run the backend: OTLP in on gRPC and HTTP, the store, the query API and the UI.

    Every port binds to 127.0.0.1 unless --host says otherwise; port 0 picks a free one. Another
    address needs --ingest-token-file and --query-token-file (or --insecure); add --tls-cert and
    --tls-key for TLS on all three ports (docs/security.md). Stops cleanly on Ctrl-C or SIGTERM:
    every acknowledged span is already committed.
    """
    try:
        settings = Settings.from_env().with_overrides(**options)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc
    check_access(settings)
    runtime(ctx).serve(settings)


def check_access(settings: Settings) -> None:
    """Refuse, before anything binds, a token or certificate file that cannot be used, and a
    non-loopback --host without tokens (unless --insecure)."""
    try:
        ingest = load_tokens(settings.ingest_token, settings.ingest_token_file, "--ingest-token",
                             "--ingest-token-file")
        query = load_tokens(settings.query_token, settings.query_token_file, "--query-token", "--query-token-file")
    except AccessConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    _check_tls(settings)
    problem = exposure_problem(settings.host, bool(ingest), bool(query))
    if problem and not settings.insecure:
        raise click.UsageError(problem)
    if problem:
        click.echo(f"warning: --insecure: {problem.split(':')[0].replace('refusing to listen', 'listening')}",
                   err=True)
    if not is_loopback(settings.host) and not settings.tls_cert_file:
        click.echo("warning: no TLS (--tls-cert/--tls-key): tokens and traces cross the network in clear text",
                   err=True)


def _check_tls(settings: Settings) -> None:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if not cert and not key:
        return
    if not (cert and key):
        raise click.UsageError("TLS needs both --tls-cert and --tls-key (TRACEHOUSE_TLS_CERT, TRACEHOUSE_TLS_KEY)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(Path(cert).expanduser(), Path(key).expanduser())
    except (OSError, ssl.SSLError) as exc:
        raise click.UsageError(f"--tls-cert {cert} / --tls-key {key}: cannot be used: {exc}") from exc
