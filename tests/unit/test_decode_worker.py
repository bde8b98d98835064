"""The decode worker process: same rows as decoding in-process, replaced when it dies, gone on close,
and free of pyarrow, numpy and pandas (~45 MB of resident set; ADR 8)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from bench.fbaas_shape import RequestFactory

from tracehouse.otlp.prepare import prepare_protobuf
from tracehouse.receiver.decoder import BatchDecoder


def _payloads(count: int, spans: int = 40) -> list[bytes]:
    factory = RequestFactory(spans)
    return [prepare_protobuf(factory.next_body()).payload for _ in range(count)]


@pytest.fixture
def worker_decoder() -> Iterator[BatchDecoder]:
    decoder = BatchDecoder(workers=1)
    yield decoder
    decoder.close()


def test_the_worker_decodes_the_same_table_as_the_backend_would(worker_decoder: BatchDecoder) -> None:
    payloads = _payloads(3)
    table, rejected, message = worker_decoder.decode(payloads)
    expected, _, _ = BatchDecoder(workers=0).decode(payloads)
    assert table is not None and expected is not None
    assert table.num_rows == 120 and (rejected, message) == (0, "")
    assert table.equals(expected)


def test_payloads_without_spans_give_no_table(worker_decoder: BatchDecoder) -> None:
    assert worker_decoder.decode([]) == (None, 0, "")


def test_a_killed_worker_is_replaced_and_the_chunk_still_decoded(worker_decoder: BatchDecoder) -> None:
    first = worker_decoder.worker_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    table, _, _ = worker_decoder.decode(_payloads(2))
    assert table is not None and table.num_rows == 80
    assert worker_decoder.worker_pid not in (None, first)
    assert not psutil.pid_exists(first)   # reaped, not left a zombie


def test_close_stops_the_worker() -> None:
    decoder = BatchDecoder(workers=1)
    pid = decoder.worker_pid
    assert pid is not None
    decoder.close()
    assert not psutil.pid_exists(pid)


def test_the_worker_never_loads_pyarrow_numpy_or_pandas(worker_decoder: BatchDecoder) -> None:
    # All three are installed (pandas as a dev dependency); without them this test would prove
    # nothing, so their absence fails here.
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    worker_decoder.decode(_payloads(2))
    pid = worker_decoder.worker_pid
    assert pid is not None
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "/orjson/" in maps and "/google/" in maps   # what it does load: the walk's libraries
    for package in ("pyarrow", "numpy", "pandas"):
        assert f"/{package}/" not in maps, package
