"""`tracehouse export` of 200,000 spans at the store's default memory (128 MB) once failed with
"narrow the time window or raise --store-memory"; it now runs a slice of start times at a time and
streams, from the store file and from a running backend's API alike, every span once, in order.
Tested at a quarter of the scale, 50,000 spans in 32 MB, which failed the same way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bench.fbaas_shape import RequestFactory

from tracehouse.otlp.columns import decode_payloads
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import PYTHON, clean_env

try:
    from tests.api.live_server import serve
except ModuleNotFoundError:  # tests/ is not a package: it is on sys.path itself
    from api.live_server import serve  # type: ignore[no-redef]

SPANS = 50_000
MEMORY = "32MB"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("export") / "data"
    store = DuckDBStore(data / "tracehouse.duckdb", memory_limit=MEMORY)
    factory = RequestFactory(500)
    for _ in range(SPANS // 10_000):
        table, _, _ = decode_payloads([factory.next_body() for _ in range(20)])
        assert table is not None
        store.write_spans(table)
    store.close()
    return data


def _check(table: pa.Table) -> None:
    assert table.num_rows == SPANS
    assert len(set(table.column("span_id").to_pylist())) == SPANS
    starts = table.column("start_time_unix_nano").to_pylist()
    assert starts == sorted(starts)


def test_export_from_the_store_file_at_the_default_memory(data_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run([PYTHON, "-m", "tracehouse", "export", "--data", str(data_dir), "--since", "1h",
                             "--parquet", str(tmp_path / "out")], capture_output=True, text=True,
                            env=clean_env({"TRACEHOUSE_STORE_MEMORY": MEMORY}), timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert f"wrote {SPANS:,} spans" in result.stdout
    _check(pq.read_table(tmp_path / "out" / "spans.parquet"))


def test_export_streamed_by_the_api(data_dir: Path) -> None:
    store = DuckDBStore(data_dir / "tracehouse.duckdb", memory_limit=MEMORY, read_only=True)
    try:
        with serve(store) as url:
            response = httpx.get(f"{url}/api/export/spans", params={"since": "1h"}, timeout=600)
            assert response.status_code == 200, response.text[:300]
            _check(pa.ipc.open_stream(response.content).read_all())
    finally:
        store.close()
