"""glibc malloc settings for the backend and its decode worker: memory returned when freed (ADR 12).

Measured under overload with 1.1 MB requests (bench overload, heavy shape), the backend's resident
set was ~135 MiB of mapped libraries, ~150 MiB held by DuckDB (its own jemalloc; bounded by
--store-memory), and ~150 MiB of glibc malloc heap of which only ~100 MiB was in use: the rest was
freed memory glibc kept. Two of glibc's defaults keep it:

- one malloc arena per thread that allocates, up to 8 per core: the gRPC, uvicorn, sync, decode
  and commit threads each grew an arena, and memory freed in one cannot serve another;
- a dynamic mmap threshold: once a block of >128 KiB allocated with mmap is freed, the threshold
  rises to its size (up to 32 MiB), so later request bodies, spool payloads and decoded column
  buffers come from the arenas, where freeing them leaves holes rather than returning the pages.

So each process sets, before it starts its threads: at most ARENA_MAX arenas, a fixed mmap
threshold of MMAP_THRESHOLD_BYTES (every buffer that large is its own mapping, unmapped when
freed), and a trim threshold of TRIM_THRESHOLD_BYTES (free memory at the top of a heap past that
goes back to the kernel). malloc_trim after each commit was tried as well and gave nothing more
(ADR 12, decision 11), so it is not called.

mallopt is called in the process itself rather than through MALLOC_* environment variables, so a
backend started any way (the CLI, a service manager, a test) gets them; the decode worker calls it
first thing too. On a libc without mallopt (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

# Two arenas for two cores: the threads that allocate concurrently without the GIL (gRPC's C core,
# DuckDB uses its own allocator) contend little; one arena per thread held freed memory apart.
ARENA_MAX = 2
# Request bodies (up to --max-body), spool payloads, decoded column buffers and Arrow tables passed
# from the decode worker are all far larger; Python's own objects and gRPC's small buffers are not.
MMAP_THRESHOLD_BYTES = 256 * 2**10
TRIM_THRESHOLD_BYTES = 1 * 2**20


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "mallopt"):
        return None
    return libc


_LIBC = _libc()


def configure() -> bool:
    """Apply the settings above to this process; call before starting threads. True if applied."""
    if _LIBC is None:
        return False
    applied = all(_LIBC.mallopt(param, value) == 1 for param, value in (
        (_M_ARENA_MAX, ARENA_MAX), (_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)))
    if not applied:
        log.warning("mallopt refused a setting; the process keeps glibc's defaults for it")
    return applied
