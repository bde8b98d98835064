"""Assembles a running backend from its parts. The only module that names a concrete store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracehouse.settings import Settings

if TYPE_CHECKING:
    # Imported where used: `tracehouse up` must bind its receivers before DuckDB, pyarrow and the
    # query layer are loaded (app/server.py), and every other command pays for them only if it uses them.
    from tracehouse.query.migrate import MigrationResult
    from tracehouse.query.service import QueryService
    from tracehouse.receiver import maintenance
    from tracehouse.store import Store


def open_store(settings: Settings, read_only: bool = False) -> Store:
    if settings.store_url:
        from tracehouse.stores.clickhouse import ClickHouseStore, parse_location

        # --sql-memory bounds each user query (tracehouse sql) as on DuckDB, here through ClickHouse's own
        # per-query max_memory_usage; the server manages its own caches, so --store-memory does not apply.
        return ClickHouseStore(parse_location(settings.store_url), read_only=read_only,
                               sql_memory_bytes=settings.sql_memory_bytes)
    from tracehouse.stores.duckdb import DuckDBStore

    # A copy of the store for users' SQL must leave --disk-reserve free: that room belongs to ingest.
    return DuckDBStore(settings.store_path, memory_limit=settings.store_memory_limit, read_only=read_only,
                       sql_memory_bytes=settings.sql_memory_bytes, disk_reserve_bytes=settings.disk_reserve_bytes)


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

    def schema_statements(self, settings: Settings, replicated: bool = True) -> list[str]:
        """The DDL of the store `settings` name, without connecting to it (for a DBA)."""
        from tracehouse.store import StoreError
        from tracehouse.stores.clickhouse import clickhouse_ddl, parse_location
        from tracehouse.stores.duckdb import duckdb_schema_sql

        if settings.store_url:
            try:
                return clickhouse_ddl(parse_location(settings.store_url), replicated)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from exc
        return [duckdb_schema_sql()]

    def migrate(self, from_dir: Path, to_url: str, progress: Callable[[int, int], None]) -> MigrationResult:
        """Copy the embedded store in `from_dir` into the ClickHouse store at `to_url`."""
        from tracehouse.query.migrate import copy_spans
        from tracehouse.store import StoreError
        from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
        from tracehouse.stores.duckdb import DuckDBStore

        path = Settings(data_dir=from_dir).store_path
        if not path.exists():
            raise click.ClickException(f"no tracehouse store in {from_dir} (expected {path})")
        try:
            source = DuckDBStore(path, read_only=True)
        except StoreError as exc:
            raise click.ClickException(f"{exc} (stop the backend that serves {from_dir} first)") from exc
        try:
            target = ClickHouseStore(parse_location(to_url))
        except StoreError as exc:
            source.close()
            raise click.ClickException(str(exc)) from exc
        try:
            [(first, last, count)] = source.run_sql(
                "SELECT epoch_ns(min(start_time)), epoch_ns(max(start_time)), count(*) FROM spans", 1, 3600).rows
            return copy_spans(source, target, int(first or 0), int(last or 0), int(count), progress)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            target.close()
            source.close()

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

        if not maintenance.backlog_bytes(settings.data_dir) or not (settings.store_url or settings.store_path.exists()):
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
