"""`tracehouse up` on a data directory written by schema version 1 (resource attributes in every
span row) upgrades the store in place and serves its spans, old and new, with their resources."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from .conftest import BackendFactory
from .otlp_requests import fbaas_request

SCHEMA_V1 = Path(__file__).parent.parent / "fixtures" / "store_schema_v1.sql"


def _version_1_store(path: Path, spans: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_V1.read_text())
    con.execute("INSERT INTO tracehouse_meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO span_data SELECT unhex(md5((i // 4)::VARCHAR)), unhex(md5(i::VARCHAR)[1:16]), NULL, NULL, "
        "['hub', 'fizzer'][i % 2 + 1], 'GET', 'SERVER', make_timestamp_ns($now - 1000000000 + i), 1000, 'OK', NULL, "
        "json_object('n', i)::VARIANT, "
        "json_object('service.name', ['hub', 'fizzer'][i % 2 + 1], 'service.version', '0.9')::VARIANT, "
        "NULL, NULL, 'scope', '1' FROM range($spans) r(i)",
        {"now": time.time_ns(), "spans": spans})
    con.close()


def test_a_version_1_store_is_upgraded_and_served(backend: BackendFactory, tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    _version_1_store(data / "tracehouse.duckdb", spans=1000)
    b = backend(data_dir=data)
    assert "from schema version 1 to 2" in b.log()
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
    # The upgrade happened once: the next start finds version 2 and says nothing of it.
    again = backend(data_dir=data)
    assert "schema version" not in again.log()
    assert again.span_count() == 1000 + len(built.span_ids)
