"""Assembles a running backend from its parts. The only module that names a concrete store."""

from __future__ import annotations

import contextlib

import click

from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import Store, StoreError
from tracehouse.stores.duckdb import DuckDBStore


def open_store(settings: Settings, read_only: bool = False) -> Store:
    return DuckDBStore(settings.store_path, memory_limit=settings.store_memory_limit, read_only=read_only)


class Wiring:
    """The CLI's Runtime. Start-up failures become one clear line (click.ClickException), not a traceback."""

    def serve(self, settings: Settings) -> None:
        # Imported here: the server pulls in grpc, uvicorn and the API (~0.7 s of start-up) that
        # commands such as `tracehouse sql` never use.
        from tracehouse.app.server import BackendServer, PortInUseError
        try:
            store = open_store(settings)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        from tracehouse.receiver.sampling.policy_file import PolicyError
        try:
            server = BackendServer(settings, store)
        except PolicyError as exc:
            with contextlib.suppress(Exception):
                store.close()
            raise click.ClickException(str(exc)) from exc
        try:
            replayed = server.recover()
            ports = server.bind()
        except (PortInUseError, OSError, StoreError) as exc:
            with contextlib.suppress(Exception):
                store.close()
            raise click.ClickException(str(exc)) from exc
        if replayed:
            click.echo(f"recovered {replayed} acknowledged span(s) from the spool", err=True)
        server.announce(ports)
        server.serve(ports)

    def open_query_service(self, settings: Settings, read_only: bool = True) -> QueryService:
        try:
            return QueryService(open_store(settings, read_only=read_only), settings)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
