"""`tracehouse schema --print`: the DDL tracehouse runs to create its store, to hand to a DBA."""

from __future__ import annotations

import click

from tracehouse.cli.runtime import runtime
from tracehouse.settings import SettingError, Settings


@click.command()
@click.option("--print", "print_", is_flag=True, required=True, help="Print the DDL (the only action).")
@click.option("--store", "store_url", metavar="URL",
              help="The store: clickhouse://HOST:8123/DB[?cluster=NAME] [env TRACEHOUSE_STORE]; "
                   "none = the embedded DuckDB store.")
@click.option("--replicated/--not-replicated", default=True, show_default=True,
              help="On a cluster: ReplicatedReplacingMergeTree (shards with replicas on ZooKeeper) or "
                   "plain ReplacingMergeTree (one replica per shard).")
@click.pass_context
def schema(ctx: click.Context, print_: bool, store_url: str | None, replicated: bool) -> None:
    """Print the statements that create the store's tables and views, in order, without connecting.

    \b
    Examples:
      tracehouse schema --print --store clickhouse://ch1:8123/tracehouse?cluster=traces
      tracehouse schema --print            (the embedded DuckDB store)
    """
    try:
        settings = Settings.from_env().with_overrides(store_url=store_url)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from exc
    for statement in runtime(ctx).schema_statements(settings, replicated):
        click.echo(statement.rstrip().rstrip(";") + ";\n")
