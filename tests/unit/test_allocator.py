"""glibc malloc in the backend and the decode worker gives back what is freed (ADR 12, receiver/allocator.py).

Under overload the backend's threads each allocate request bodies, spool payloads and decoded
buffers of hundreds of KiB next to small objects that outlive them. With glibc's defaults (an arena
per thread, a dynamic mmap threshold) the freed buffers stay resident as holes in the arenas: the
backend held ~50 MiB of freed heap at its peak. The scenario below is that pattern in a fresh
process, with and without `allocator.configure()`, compared in the same run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = """
import sys, threading
if sys.argv[1] == "configured":
    from tracehouse.receiver import allocator
    assert allocator.configure()

def anon():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon")) * 1024

kept = []
# The backend's threads live side by side (gRPC, uvicorn, decode, commit): all four exist and
# allocate at once, so each is given its own arena, whatever the scheduler does.
together = threading.Barrier(4)

def receive():
    held = []
    together.wait()
    for _ in range(30):
        held.append(bytearray(600_000))   # a request body or a decoded column buffer
        kept.append(bytearray(2_000))     # something small that outlives it
    together.wait()
    held.clear()

# A server has freed a large buffer before: with glibc's dynamic threshold that raises the mmap
# threshold past 600 KB, so later buffers of that size come from the arenas. Done here once so the
# scenario does not depend on which thread happens to free first.
warm = bytearray(700_000)
del warm

before = anon()
threads = [threading.Thread(target=receive) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(anon() - before)
"""


def _retained(mode: str) -> int:
    """Bytes still resident after 4 threads freed 72 MB of buffers (2 KB objects each kept)."""
    out = subprocess.run([sys.executable, "-c", SCENARIO, mode], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parent, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_freed_buffers_go_back_to_the_kernel() -> None:
    default = _retained("default")
    configured = _retained("configured")
    # The small objects kept (240 of 2 KB) are ~0.5 MB; everything else was freed.
    assert configured < 8 * 2**20, f"configured: {configured / 2**20:.1f} MiB still resident"
    # The scenario is meaningful: glibc's defaults keep much of the freed memory.
    assert default > configured + 16 * 2**20, (default / 2**20, configured / 2**20)


def test_the_backend_and_the_decode_worker_configure_malloc_before_starting_threads() -> None:
    """Both processes call it first thing: the backend's entry point for `up`, and the worker's main."""
    import inspect

    from tracehouse.app import entry
    from tracehouse.receiver import decode_worker

    assert "allocator.configure()" in inspect.getsource(entry.main)
    assert "allocator.configure()" in inspect.getsource(decode_worker.main)
