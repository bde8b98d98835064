"""`tracehouse up` on a data directory written by schema version 1 (resource attributes in every
span row) upgrades the store in place and serves its spans, old and new, with their resources."""

from __future__ import annotations

from pathlib import Path

import orjson
from tests.store_reads.fixture_store import version_1_store

from .conftest import BackendFactory
from .otlp_requests import fbaas_request


def test_a_version_1_store_is_upgraded_and_served(backend: BackendFactory, tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    services = [("hub", "fizzer")[i % 2] for i in range(1000)]
    version_1_store(data / "tracehouse.duckdb",
                    [orjson.dumps({"service.name": s, "service.version": "0.9"}).decode() for s in services])
    b = backend(data_dir=data)
    assert "from schema version 1 to 3" in b.log()
    assert b.span_count() == 1000
    rows = b.sql("SELECT resource_attributes['service.name']::VARCHAR AS s, "
                 "resource_attributes['service.version']::VARCHAR, count(*), sum(attributes['n']::BIGINT) "
                 "FROM spans GROUP BY ALL ORDER BY s")
    assert rows == [["fizzer", "0.9", 500, sum(range(1, 1000, 2))], ["hub", "0.9", 500, sum(range(0, 1000, 2))]]
    built = fbaas_request(traces=3)
    b.send(built)
    b.wait_stored(built.span_ids)
    assert b.span_count() == 1000 + len(built.span_ids)
    b.stop()
    # The upgrade happened once: the next start finds the current version and says nothing of it.
    again = backend(data_dir=data)
    assert "schema version" not in again.log()
    assert again.span_count() == 1000 + len(built.span_ids)
