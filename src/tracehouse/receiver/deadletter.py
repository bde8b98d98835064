"""The dead-letter directory: acknowledged spans the store refused, set aside with the reason.

A span that passed validation but still cannot be committed (a store bug, a limit nobody foresaw)
must not be retried forever, and must not block the spans behind it (ADR 12). The commit thread
splits a failing batch until the spans that fail are alone, and moves each of them here; the
decode thread does the same with a spooled record it cannot decode. Nothing here is lost:
`tracehouse store check` lists it and `tracehouse store repair` tries to store it again.

Layout: deadletter/<time ns>-<n>.arrow (spans as an Arrow IPC file in SPAN_BATCH_SCHEMA) or
.otlp (a spooled ExportTraceServiceRequest the decoder refused), each with a .json sidecar:
{"spans": n, "reason": "...", "time": "..."}. Files are written to a temporary name, synced,
then renamed, so a crash never leaves half an entry.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

DIRECTORY_NAME = "deadletter"


@dataclass(frozen=True)
class DeadLetterEntry:
    path: Path          # the .arrow or .otlp file
    spans: int          # -1: unknown (an undecodable record)
    reason: str
    time: str

    @property
    def kind(self) -> str:
        return "spans" if self.path.suffix == ".arrow" else "record"


def _sync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class DeadLetter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._n = itertools.count()

    def _name(self) -> str:
        return f"{time.time_ns()}-{next(self._n)}"

    def _put(self, data: bytes, suffix: str, spans: int, reason: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = self._name()
        path = self.directory / f"{name}{suffix}"
        _sync_write(path, data)
        meta = {"spans": spans, "reason": reason, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _sync_write(self.directory / f"{name}.json", json.dumps(meta).encode())
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def put_spans(self, table: pa.Table, reason: str) -> Path:
        import pyarrow as pa  # not at module level: the receivers load this module before pyarrow

        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return self._put(sink.getvalue().to_pybytes(), ".arrow", table.num_rows, reason)

    def put_record(self, payload: bytes, reason: str) -> Path:
        return self._put(payload, ".otlp", -1, reason)

    def entries(self) -> Iterator[DeadLetterEntry]:
        if not self.directory.is_dir():
            return
        for meta_path in sorted(self.directory.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            for suffix in (".arrow", ".otlp"):
                path = meta_path.with_suffix(suffix)
                if path.exists():
                    yield DeadLetterEntry(path, int(meta.get("spans", -1)), str(meta.get("reason", "")),
                                          str(meta.get("time", "")))

    @staticmethod
    def read_spans(entry: DeadLetterEntry) -> pa.Table:
        import pyarrow as pa

        with pa.memory_map(str(entry.path)) as source:
            return pa.ipc.open_file(source).read_all()

    @staticmethod
    def remove(entry: DeadLetterEntry) -> None:
        entry.path.unlink(missing_ok=True)
        entry.path.with_suffix(".json").unlink(missing_ok=True)
