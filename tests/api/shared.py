"""The helpers tests/api shares with tests/store_reads and tests/ui, importable whether or not
tests/ is itself a package (pytest puts either the repository or tests/ on sys.path)."""

from __future__ import annotations

try:
    from tests.store_reads import fixture_store
except ModuleNotFoundError:  # tests/ is not a package: it is on sys.path itself
    from store_reads import fixture_store  # type: ignore[no-redef]

ERROR_XSS = fixture_store.ERROR_XSS
OK = fixture_store.OK
SLOW = fixture_store.SLOW
XSS = fixture_store.XSS
fixture_body = fixture_store.fixture_body
make_fixture_store = fixture_store.fixture_store
wide_trace_batch = fixture_store.wide_trace_batch
batch_of = fixture_store.batch_of
fixture_names = fixture_store.ALL
write = fixture_store.write
