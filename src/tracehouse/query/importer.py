"""Reading trace files for `tracehouse import`: OTLP-JSON (an ExportTraceServiceRequest or TracesData,
/api/v3's {"result": ...}, or JSON Lines of them, as the Collector's file exporter writes), OTLP
protobuf (ExportTraceServiceRequest or TracesData: the same bytes), and Jaeger JSON (what /api/traces
returns and the Jaeger UI downloads). Each becomes one batch in model.SPAN_BATCH_SCHEMA, through the
receiver's own decoders and validation, so imported spans are stored exactly as received ones."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.json import decode_json
from tracehouse.otlp.protobuf import decode_protobuf
from tracehouse.query.jaeger import JaegerFormatError, spans_from_jaeger
from tracehouse.query.otlp_json import traces_data
from tracehouse.query.trace_files import otlp_document
from tracehouse.settings import parse_retention

# File names `tracehouse import DIR` picks up.
SUFFIXES = (".json", ".jsonl", ".ndjson", ".pb", ".binpb", ".protobuf", ".otlp")


def keep_until(retention: str | None, now_ns: int | None = None) -> int | None:
    """When imported traces are released to retention, for a --retention value: None (kept until
    deleted) for `forever`, 0 or nothing; else now + the duration (7d, 12h, ...). Raises
    settings.SettingError for anything else."""
    if not retention or retention.strip().lower() in ("forever", "0"):
        return None
    return (time.time_ns() if now_ns is None else now_ns) + parse_retention(retention) * 10**9


class ImportFormatError(ValueError):
    """The file is none of the formats import reads; the message says why."""


@dataclass(frozen=True)
class ImportBatch:
    table: pa.Table | None     # None when the file holds no valid span
    rejected: int
    message: str
    format: str                # "otlp-json", "otlp-protobuf" or "jaeger-json"


def _json_documents(body: bytes) -> list[Any]:
    try:
        return [orjson.loads(body)]
    except orjson.JSONDecodeError:
        pass
    docs = []
    for number, line in enumerate(body.splitlines(), 1):
        if line.strip():
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ImportFormatError(f"line {number} is not JSON: {exc}") from exc
    return docs


def read_trace_file(body: bytes) -> ImportBatch:
    """The spans of one file's bytes. Invalid spans are counted in `rejected`, as the receivers do."""
    if body.lstrip()[:1] in (b"{", b"["):
        tables: list[pa.Table] = []
        rejected, messages, fmt = 0, [], "otlp-json"
        try:
            for doc in _json_documents(body):
                otlp = otlp_document(doc)
                if otlp is None:
                    fmt = "jaeger-json"
                    otlp = traces_data(spans_from_jaeger(doc))
                decoded = decode_json(orjson.dumps(otlp))
                tables.append(decoded.table)
                rejected += decoded.rejected
                if decoded.error_message:
                    messages.append(decoded.error_message)
        except (DecodeError, JaegerFormatError) as exc:
            raise ImportFormatError(str(exc)) from exc
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise ImportFormatError(f"neither OTLP-JSON nor Jaeger JSON: {exc}") from exc
        table = pa.concat_tables(tables) if tables else None
        return ImportBatch(table if table is not None and table.num_rows else None, rejected,
                           " ".join(messages), fmt)
    try:
        decoded = decode_protobuf(body)
    except DecodeError as exc:
        raise ImportFormatError(f"not JSON, and not an OTLP protobuf ExportTraceServiceRequest: {exc}") from exc
    return ImportBatch(decoded.table if decoded.table.num_rows else None, decoded.rejected, decoded.error_message,
                       "otlp-protobuf")
