"""Assembles a running backend from its parts. The only module that names a concrete store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracehouse.settings import Settings

if TYPE_CHECKING:
    # Imported where used: `tracehouse up` must bind its receivers before DuckDB, pyarrow and the
    # query layer are loaded (app/server.py), and every other command pays for them only if it uses them.
    from tracehouse.query.service import QueryService
    from tracehouse.receiver import maintenance
    from tracehouse.store import Store


def open_store(settings: Settings, read_only: bool = False) -> Store:
    from tracehouse.stores.duckdb import DuckDBStore

    return DuckDBStore(settings.store_path, memory_limit=settings.store_memory_limit, read_only=read_only,
                       sql_memory_bytes=settings.sql_memory_bytes)


class Wiring:
    """The CLI's Runtime. Start-up failures become one clear line (click.ClickException), not a traceback."""

    def serve(self, settings: Settings) -> None:
        # Imported here: the server pulls in grpc and uvicorn, which commands such as `tracehouse sql`
        # never use. The server loads the store, the API and the UI itself, after its ports serve.
        from tracehouse.app.server import BackendServer, PortInUseError, StartupError
        try:
            server = BackendServer(settings, lambda: open_store(settings))
        except StartupError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            replayed = server.recover()
            ports = server.bind()
        except (PortInUseError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        if replayed:
            click.echo(f"replaying {replayed:,} bytes of acknowledged spans from the spool in the background",
                       err=True)
        try:
            server.serve(ports)
        except StartupError as exc:
            raise click.ClickException(str(exc)) from exc

    def open_query_service(self, settings: Settings, read_only: bool = True) -> QueryService:
        from tracehouse.query.service import QueryService
        from tracehouse.store import StoreError

        self._replay_backlog(settings)
        try:
            return QueryService(open_store(settings, read_only=read_only), settings)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc

    def _replay_backlog(self, settings: Settings) -> None:
        """Store what the spool holds beyond the store (a backend that crashed), before reading, so
        a command never shows a store that silently misses acknowledged spans."""
        from tracehouse.receiver import maintenance
        from tracehouse.store import StoreError

        if not maintenance.backlog_bytes(settings.data_dir) or not settings.store_path.exists():
            return
        try:
            store = open_store(settings)
        except StoreError as exc:
            click.echo(f"warning: the spool in {settings.data_dir} holds acknowledged spans that are not in the "
                       f"store yet, and they cannot be stored now ({exc}); `tracehouse up` stores them", err=True)
            return
        try:
            replayed = maintenance.replay_spool(store, settings.data_dir)
        finally:
            store.close()
        click.echo(f"stored {replayed:,} acknowledged span(s) left in the spool by a backend that stopped "
                   "before storing them", err=True)

    def store_health(self, settings: Settings, repair: bool, discard: bool = False) -> maintenance.StoreHealth:
        from tracehouse.receiver import maintenance
        from tracehouse.store import StoreError

        if not repair:
            return maintenance.inspect(settings.data_dir)
        try:
            store = open_store(settings)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            return maintenance.repair(store, settings.data_dir, discard)
        finally:
            store.close()
