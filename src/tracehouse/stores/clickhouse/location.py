"""`clickhouse://HOST[:PORT]/DATABASE[?cluster=NAME&user=U&password=P]`: where a ClickHouse store lives."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from tracehouse.store import StoreError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_HTTP_PORT = 8123


@dataclass(frozen=True)
class ClickHouseLocation:
    host: str
    port: int
    database: str
    cluster: str | None = None
    user: str = "default"
    password: str = ""

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        suffix = f"?cluster={self.cluster}" if self.cluster else ""
        return f"clickhouse://{self.host}:{self.port}/{self.database}{suffix}"


def is_clickhouse_url(text: str) -> bool:
    return text.strip().lower().startswith("clickhouse://")


def parse_location(text: str) -> ClickHouseLocation:
    """Parse a store URL; a malformed one is a StoreError that shows the expected form."""
    form = "expected clickhouse://HOST[:PORT]/DATABASE[?cluster=NAME]"
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme.lower() != "clickhouse" or not parts.hostname:
        raise StoreError(f"not a ClickHouse store URL: {text!r} ({form})")
    database = parts.path.strip("/") or "tracehouse"
    if not _NAME.fullmatch(database):
        raise StoreError(f"database name {database!r} must be letters, digits and underscores ({form})")
    query = urllib.parse.parse_qs(parts.query)
    unknown = set(query) - {"cluster", "user", "password"}
    if unknown:
        raise StoreError(f"unknown option(s) {', '.join(sorted(unknown))} in {text!r} ({form})")
    cluster = query.get("cluster", [None])[0]
    if cluster is not None and not _NAME.fullmatch(cluster):
        raise StoreError(f"cluster name {cluster!r} must be letters, digits and underscores")
    try:
        port = parts.port or DEFAULT_HTTP_PORT
    except ValueError as exc:
        raise StoreError(f"bad port in {text!r} ({form})") from exc
    return ClickHouseLocation(
        host=parts.hostname, port=port, database=database, cluster=cluster,
        user=urllib.parse.unquote(parts.username or query.get("user", ["default"])[0]),
        password=urllib.parse.unquote(parts.password or query.get("password", [""])[0]))
