"""Services that several test directories share, started once per test session and only when a test
asks for them: a local ClickHouse server (Debian's 18.16) and chDB (in-process modern ClickHouse)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.clickhouse_local import ClickHouseServer, Cluster, server_available

from tracehouse.stores.clickhouse.chdb_transport import ChdbTransport

# A server (or ZooKeeper) starting on a machine at a load average of 10-20 can take well over the
# usual few seconds; the bound only costs time when it fails.
START_TIMEOUT = 180.0


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """One clickhouse-server on free loopback ports, its files in a temporary directory."""
    if not server_available():
        pytest.fail("clickhouse-server is not installed: `make apt` installs it (Debian's clickhouse-server)")
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"))
    server.start(START_TIMEOUT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """2 shards x 2 replicas on ZooKeeper, all on free loopback ports, named `tracehouse`."""
    if not server_available():
        pytest.fail("clickhouse-server is not installed: `make apt` installs it (Debian's clickhouse-server)")
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start(START_TIMEOUT)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def chdb_transport(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbTransport]:
    """One chDB session for the test session (chDB keeps one engine per process)."""
    transport = ChdbTransport(Path(tmp_path_factory.mktemp("chdb")) / "data")
    yield transport
    transport.close()
