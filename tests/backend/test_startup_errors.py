"""`tracehouse up` refuses to start with one clear line, never a traceback, and never harms a store.

Each case: non-zero exit, stderr is a single `Error: ...` line that names the problem (the port, the
directory, the schema version), and whatever was on disk is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from .conftest import BackendFactory, Failure


def assert_one_clear_line(failure: Failure, *expected: str) -> str:
    assert failure.returncode != 0
    assert "Traceback" not in failure.stderr and "Traceback" not in failure.stdout
    lines = [line for line in failure.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{failure.stderr}"
    line = lines[0]
    assert line.startswith("Error: ")
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    return line


def digest(directory: Path) -> dict[str, str]:
    """File name -> sha256 of every file in `directory` (the store, and its WAL if it has one)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port held by a listening socket of this process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("flag", ["--otlp-grpc-port", "--otlp-http-port", "--query-port"])
def test_port_in_use(backend: BackendFactory, busy_port: int, flag: str) -> None:
    failure = backend.fails(flag, str(busy_port))
    assert_one_clear_line(failure, f"port {busy_port}", "already in use", flag)


def test_data_directory_under_a_regular_file(backend: BackendFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    failure = backend.fails(data_dir=blocker / "data")
    assert_one_clear_line(failure, str(blocker / "data"), "Not a directory")
    assert blocker.read_text() == "not a directory"


def test_data_directory_not_writable(backend: BackendFactory) -> None:
    # We run as root, so chmod cannot make a directory unwritable; /proc/self is, even for root.
    failure = backend.fails(data_dir="/proc/self")
    assert_one_clear_line(failure, "/proc/self", "not writable")


def _store_with_schema(path: Path, version: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE tracehouse_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.execute("INSERT INTO tracehouse_meta VALUES ('schema_version', ?)", [version])
    con.execute("CREATE TABLE span_data (trace_id BLOB, payload VARCHAR)")
    con.execute("INSERT INTO span_data SELECT random()::VARCHAR::BLOB, repeat('x', 100) FROM range(1000)")
    con.close()


def test_store_of_an_incompatible_schema_version_is_refused_untouched(backend: BackendFactory,
                                                                     tmp_path: Path) -> None:
    data = tmp_path / "old-store"
    data.mkdir()
    _store_with_schema(data / "tracehouse.duckdb", "999")
    before = digest(data)
    failure = backend.fails(data_dir=data)
    assert_one_clear_line(failure, "schema version 999", "untouched")
    assert digest(data) == before
    # Refusing it twice changes nothing either (no WAL, no lock file, no upgrade left behind).
    assert backend.fails(data_dir=data).returncode != 0
    assert digest(data) == before


def test_a_file_that_is_not_a_store_is_refused_untouched(backend: BackendFactory, tmp_path: Path) -> None:
    other = tmp_path / "other-duckdb"
    other.mkdir()
    con = duckdb.connect(str(other / "tracehouse.duckdb"))
    con.execute("CREATE TABLE customers AS SELECT range AS id FROM range(100)")
    con.close()
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "tracehouse.duckdb").write_bytes(b"this is not a database\n" * 500)
    for data, expected in ((other, "not a tracehouse store"), (garbage, "not a valid DuckDB database")):
        before = digest(data)
        assert_one_clear_line(backend.fails(data_dir=data), str(data / "tracehouse.duckdb"), expected)
        assert digest(data) == before


def test_a_store_held_by_a_running_backend_is_refused(backend: BackendFactory) -> None:
    first = backend()
    failure = backend.fails(data_dir=first.data_dir)
    line = assert_one_clear_line(failure, str(first.data_dir / "tracehouse.duckdb"))
    assert "lock" in line.lower()
    assert first.healthy()
    assert first.stop() == 0
