"""Every setting of the tracehouse backend, in one place.

Each setting has one environment variable and (for `tracehouse up`) one CLI flag. A test checks that
every setting here is documented in docs/configuration.md, so this module and the docs cannot drift.
The FBaaS example services are configured by the standard OpenTelemetry variables instead (they know
nothing of tracehouse); those are documented in the same file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class SettingError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


def parse_size(text: str) -> int:
    """Parse '10GB', '512MiB' or a plain number of bytes. '0' means no limit."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).upper() not in _SIZE_UNITS:
        raise SettingError(f"not a size: {text!r} (examples: 500MB, 10GB, 2GiB)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).upper()])


def format_size(size: int) -> str:
    """The shortest exact spelling parse_size reads back: '10GB', '128MiB', or a number of bytes."""
    for unit in ("TB", "TiB", "GB", "GiB", "MB", "MiB", "KB", "KiB"):
        scale = _SIZE_UNITS[unit.upper()]
        if size and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def parse_retention(text: str) -> int:
    """Parse '7d', '12h', '30m', '2w' or a number of seconds. '0' means keep forever."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not m:
        raise SettingError(f"not a duration: {text!r} (examples: 7d, 12h, 30m)")
    return int(float(m.group(1)) * _DURATION_UNITS.get(m.group(2) or "s", 1))


def _meta(env: str, flag: str | None, doc: str) -> dict[str, Any]:
    return {"env": env, "flag": flag, "doc": doc}


@dataclass(frozen=True)
class Settings:
    """The backend's settings. Build with `Settings.from_env()`, then `.with_overrides()` for CLI flags."""

    data_dir: Path = field(default=Path(".tracehouse"), metadata=_meta(
        "TRACEHOUSE_DATA", "--data", "Directory holding the store (created if missing)."))
    host: str = field(default="127.0.0.1", metadata=_meta(
        "TRACEHOUSE_HOST", "--host", "Address every listener binds to. Loopback unless told otherwise."))
    otlp_grpc_port: int = field(default=4317, metadata=_meta(
        "TRACEHOUSE_OTLP_GRPC_PORT", "--otlp-grpc-port", "OTLP/gRPC receiver port (0 = pick a free one)."))
    otlp_http_port: int = field(default=4318, metadata=_meta(
        "TRACEHOUSE_OTLP_HTTP_PORT", "--otlp-http-port", "OTLP/HTTP receiver port (0 = pick a free one)."))
    query_port: int = field(default=16686, metadata=_meta(
        "TRACEHOUSE_QUERY_PORT", "--query-port", "Query API and web UI port (0 = pick a free one)."))
    retention_seconds: int = field(default=7 * 86400, metadata=_meta(
        "TRACEHOUSE_RETENTION", "--retention",
        "Delete spans older than this (7d, 12h, ...). 0 keeps everything."))
    max_size_bytes: int = field(default=10 * 10**9, metadata=_meta(
        "TRACEHOUSE_MAX_SIZE", "--max-size",
        "Delete the oldest spans while the store is larger than this (10GB, 500MB, ...). 0 = no cap."))
    max_body_bytes: int = field(default=64 * 2**20, metadata=_meta(
        "TRACEHOUSE_MAX_BODY", "--max-body",
        "Largest OTLP request accepted, measured after decompression (413 beyond it)."))
    queue_max_spans: int = field(default=262_144, metadata=_meta(
        "TRACEHOUSE_QUEUE_MAX_SPANS", "--queue-max-spans",
        "Spans acknowledged but not yet in the store before receivers answer 503/UNAVAILABLE. "
        "They wait as spool positions: memory holds at most two batches of decoded spans."))
    batch_max_spans: int = field(default=0, metadata=_meta(
        "TRACEHOUSE_BATCH_MAX_SPANS", "--batch-max-spans",
        "Spans written to the store in one commit under load (0 = the size the store writes "
        "most cheaply: 61,440, one row group of the DuckDB store). Capped at --queue-max-spans."))
    decode_workers: int = field(default=1, metadata=_meta(
        "TRACEHOUSE_DECODE_WORKERS", "--decode-workers",
        "1 = turn received protobuf into columns in a worker process, 0 = in the main process "
        "(less memory, less throughput)."))
    store_memory_limit: str = field(default="128MB", metadata=_meta(
        "TRACEHOUSE_STORE_MEMORY", "--store-memory", "Memory the embedded store may use for its caches."))
    sql_timeout_seconds: float = field(default=10.0, metadata=_meta(
        "TRACEHOUSE_SQL_TIMEOUT", "--sql-timeout", "Time limit of one query from the SQL console or API."))
    sql_max_rows: int = field(default=10_000, metadata=_meta(
        "TRACEHOUSE_SQL_MAX_ROWS", "--sql-max-rows", "Row cap of one SQL console result (truncation is flagged)."))
    sql_memory_bytes: int = field(default=512 * 2**20, metadata=_meta(
        "TRACEHOUSE_SQL_MEMORY", "--sql-memory",
        "Hard memory cap of one query from the SQL console or API: it runs in a process of its own and "
        "is stopped at the cap, apart from the store's memory (docs/sql.md)."))
    retention_interval_seconds: float = field(default=60.0, metadata=_meta(
        "TRACEHOUSE_RETENTION_INTERVAL", None, "How often the background retention pass runs."))
    sampling_file: Path | None = field(default=None, metadata=_meta(
        "TRACEHOUSE_SAMPLING", "--sampling",
        "A YAML policy file: turns tail sampling on (off by default) and sets the strategies served "
        "to SDKs at /api/sampling. See docs/sampling.md."))
    disk_reserve_bytes: int = field(default=128 * 2**20, metadata=_meta(
        "TRACEHOUSE_DISK_RESERVE", "--disk-reserve",
        "Free space kept on the data directory's disk: below it receivers answer 503/UNAVAILABLE "
        "(retryable) instead of spooling, so the store can still commit and retention still delete. "
        "0 = none."))
    queue_max_bytes: int = field(default=128 * 2**20, metadata=_meta(
        "TRACEHOUSE_QUEUE_MAX_BYTES", "--queue-max-bytes",
        "Spool bytes acknowledged but not yet in the store before receivers answer 503/UNAVAILABLE "
        "(alongside --queue-max-spans). 0 = no byte cap."))
    attribute_value_max_bytes: int = field(default=2**20, metadata=_meta(
        "TRACEHOUSE_ATTRIBUTE_VALUE_MAX", "--attribute-value-max",
        "Longer attribute values (strings, bytes) are truncated to this many bytes and the span "
        "flagged (tracehouse.truncated_attributes), as SDKs' attribute value length limits do."))
    span_max_bytes: int = field(default=4 * 2**20, metadata=_meta(
        "TRACEHOUSE_SPAN_MAX", "--span-max",
        "A span larger than this (serialized, after truncation) is refused with OTLP partial success."))
    span_events_max: int = field(default=1024, metadata=_meta(
        "TRACEHOUSE_SPAN_EVENTS_MAX", "--span-events-max",
        "Events kept per span; the rest are dropped and counted (dropped_events_count, "
        "tracehouse.dropped_events)."))
    shutdown_timeout_seconds: float = field(default=20.0, metadata=_meta(
        "TRACEHOUSE_SHUTDOWN_TIMEOUT", "--shutdown-timeout",
        "On SIGTERM/Ctrl-C, how long to keep storing acknowledged spans (or retrying a store that "
        "cannot write) before exiting; what is left stays in the spool for the next start."))
    span_links_max: int = field(default=1024, metadata=_meta(
        "TRACEHOUSE_SPAN_LINKS_MAX", "--span-links-max",
        "Links kept per span; the rest are dropped and counted (dropped_links_count, tracehouse.dropped_links)."))
    reconstruct: bool = field(default=False, metadata=_meta(
        "TRACEHOUSE_RECONSTRUCT", "--reconstruct",
        "1 = rebuild cross-service links where propagation is broken, continuously (`tracehouse up "
        "--reconstruct`; docs/reconstruction.md)."))
    reconstruct_delay_seconds: float = field(default=30.0, metadata=_meta(
        "TRACEHOUSE_RECONSTRUCT_DELAY", None,
        "Continuous reconstruction waits this long for a request's spans to arrive before linking them."))
    reconstruct_interval_seconds: float = field(default=10.0, metadata=_meta(
        "TRACEHOUSE_RECONSTRUCT_INTERVAL", None, "How often continuous reconstruction runs."))
    # ---- Access control (docs/security.md). Tokens never appear in repr() or logs.
    ingest_token: str = field(default="", repr=False, metadata=_meta(
        "TRACEHOUSE_INGEST_TOKEN", "--ingest-token",
        "Bearer token OTLP clients must send (HTTP `Authorization: Bearer ...`, gRPC metadata `authorization`). "
        "Empty = no token. Prefer --ingest-token-file: flags are visible to other local users."))
    ingest_token_file: str = field(default="", metadata=_meta(
        "TRACEHOUSE_INGEST_TOKEN_FILE", "--ingest-token-file",
        "File holding ingest tokens, one per line (any one is accepted; # starts a comment)."))
    query_token: str = field(default="", repr=False, metadata=_meta(
        "TRACEHOUSE_QUERY_TOKEN", "--query-token",
        "Bearer token for the query API and UI (the UI asks for it once and keeps a cookie). Also what "
        "`tracehouse sql/export/doctor/analyze --url` and `tracehouse.connect` send. Empty = no token."))
    query_token_file: str = field(default="", metadata=_meta(
        "TRACEHOUSE_QUERY_TOKEN_FILE", "--query-token-file",
        "File holding query tokens, one per line (any one is accepted; # starts a comment)."))
    tls_cert_file: str = field(default="", metadata=_meta(
        "TRACEHOUSE_TLS_CERT", "--tls-cert",
        "PEM certificate (chain) served on all three ports; with --tls-key turns on TLS. For clients, the "
        "certificate to trust when it is self-signed."))
    tls_key_file: str = field(default="", metadata=_meta(
        "TRACEHOUSE_TLS_KEY", "--tls-key", "PEM private key of --tls-cert."))
    allowed_hosts: str = field(default="", metadata=_meta(
        "TRACEHOUSE_ALLOWED_HOSTS", "--allowed-hosts",
        "Extra names accepted in the HTTP Host header of a port without a token, comma-separated (loopback "
        "names, IP addresses and the bound name always are); `*` turns the DNS-rebinding check off."))
    insecure: bool = field(default=False, metadata=_meta(
        "TRACEHOUSE_INSECURE", "--insecure",
        "Allow a non-loopback --host without both tokens. Anyone who reaches the ports can then send, "
        "read and query traces."))
    store_url: str = field(default="", metadata=_meta(
        "TRACEHOUSE_STORE", "--store",
        "Where spans are stored: empty = the embedded DuckDB store in --data; "
        "clickhouse://HOST:8123/DB[?cluster=NAME] = a ClickHouse server or cluster (docs/clickhouse.md). "
        "The spool stays in --data either way."))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, raw, f.metadata["env"])
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply CLI values (None means 'not given'); strings are parsed like environment values."""
        values: dict[str, Any] = {}
        by_name = {f.name: f for f in fields(self)}
        for name, value in overrides.items():
            if value is None:
                continue
            if isinstance(value, str) and name != "host":
                value = _convert(name, value, by_name[name].metadata["flag"] or name)
            values[name] = value
        return replace(self, **values)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "tracehouse.duckdb"


# Settings given as sizes ('10GB', '128MiB'): parsed by parse_size, shown by format_size.
SIZE_SETTINGS = ("max_size_bytes", "disk_reserve_bytes", "queue_max_bytes", "attribute_value_max_bytes",
                 "span_max_bytes", "sql_memory_bytes")


def _convert(name: str, raw: str, source: str) -> Any:
    try:
        if name in ("data_dir", "sampling_file"):
            return Path(raw)
        if name == "host":
            return raw
        if name == "store_url":
            url = raw.strip()
            if url and not url.lower().startswith("clickhouse://"):
                raise ValueError(f"{url!r} is not a store URL (expected clickhouse://HOST:8123/DB[?cluster=NAME])")
            return url
        if name == "retention_seconds":
            return parse_retention(raw)
        if name in SIZE_SETTINGS:
            return parse_size(raw)
        if name == "store_memory_limit":
            parse_size(raw)
            return raw
        if name in ("sql_timeout_seconds", "retention_interval_seconds", "shutdown_timeout_seconds"):
            return float(raw)
        if name in ("reconstruct", "insecure"):
            return _boolean(raw)
        if name in ("reconstruct_delay_seconds", "reconstruct_interval_seconds"):
            value_f = float(raw)
            if value_f <= 0:
                raise ValueError("must be a positive number of seconds")
            return value_f
        if name in _TEXT_SETTINGS:
            return raw.strip()
        value = int(raw)
        if value < 0:
            raise ValueError("must not be negative")
        if name == "decode_workers" and value > 1:
            # The decode thread hands over one chunk at a time: a second worker would sit idle.
            raise ValueError("must be 0 or 1")
        return value
    except (ValueError, SettingError) as exc:
        raise SettingError(f"{source}: {exc}") from exc


_TEXT_SETTINGS = ("ingest_token", "ingest_token_file", "query_token", "query_token_file", "tls_cert_file",
                  "tls_key_file", "allowed_hosts")


def _boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {raw!r} (use true or false)")


def documented_settings() -> list[tuple[str, str | None, str]]:
    """(environment variable, CLI flag, description) of every setting, for docs and --help."""
    return [(f.metadata["env"], f.metadata["flag"], f.metadata["doc"]) for f in fields(Settings)]


# ---- The run file: how a CLI finds the backend that serves a data directory.
RUN_FILE_NAME = "server.json"


def run_file(data_dir: Path) -> Path:
    """`tracehouse up` writes its pid and addresses here while it runs, and removes it on exit."""
    return data_dir / RUN_FILE_NAME
