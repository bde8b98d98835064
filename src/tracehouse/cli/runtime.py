"""What the CLI needs from app wiring, without importing it (the CLI sits below the wiring layer).

`tracehouse.app.entry` builds a `Runtime` and passes it to the click group as `ctx.obj`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import click

from tracehouse.settings import Settings

if TYPE_CHECKING:
    # Not at run time: `tracehouse up` loads the query layer only after its receivers serve.
    from tracehouse.query.migrate import MigrationResult
    from tracehouse.query.service import QueryService
    from tracehouse.receiver.maintenance import StoreHealth


class Runtime(Protocol):
    def serve(self, settings: Settings) -> None:
        """Run the backend (receivers, ingest pipeline, query API and UI) until SIGINT/SIGTERM."""
        ...

    def schema_statements(self, settings: Settings, replicated: bool = True) -> list[str]:
        """The DDL of the store `settings` name (ClickHouse: without connecting to it)."""
        ...

    def migrate(self, from_dir: Path, to_url: str, progress: Callable[[int, int], None]) -> MigrationResult:
        """Copy the embedded store in `from_dir` into the store at `to_url`."""
        ...

    def open_query_service(self, settings: Settings, read_only: bool = True) -> QueryService:
        """Open the store in `settings.data_dir` directly (no server) behind a query service. Spans
        still in the spool (acknowledged before a crash) are stored first, or a warning says so."""
        ...

    def store_health(self, settings: Settings, repair: bool, discard: bool = False) -> StoreHealth:
        """`tracehouse store check` (repair=False, read-only) and `tracehouse store repair`."""
        ...


def runtime(ctx: click.Context) -> Runtime:
    obj = ctx.find_root().obj
    if obj is None:
        raise click.UsageError("tracehouse was started without its app wiring; run the `tracehouse` command")
    return obj  # type: ignore[no-any-return]
