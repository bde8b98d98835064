"""The ClickHouse store: the store contract on a ClickHouse server or cluster (see docs/clickhouse.md)."""

from tracehouse.stores.clickhouse.location import ClickHouseLocation, is_clickhouse_url, parse_location
from tracehouse.stores.clickhouse.schema import Layout, statements
from tracehouse.stores.clickhouse.store import ClickHouseStore


def clickhouse_ddl(location: ClickHouseLocation, replicated: bool = True) -> list[str]:
    """Every statement the store runs to create itself at `location` (replicated tables on a cluster
    unless `replicated` is False), for `tracehouse schema --print`."""
    return statements(Layout(location.database, location.cluster), replicated)


__all__ = ["ClickHouseLocation", "ClickHouseStore", "clickhouse_ddl", "is_clickhouse_url", "parse_location"]
