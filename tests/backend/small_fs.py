"""A small filesystem for disk-full tests: a tmpfs mounted by the test (we run as root in dev and
CI), always unmounted afterwards. Without the right to mount, the test fails loudly rather than skip."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def small_filesystem(path: Path, mebibytes: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mebibytes}m", "tmpfs", str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"cannot mount a {mebibytes} MiB tmpfs at {path} (the disk-full tests need root): "
                           f"{result.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path, leave_bytes: int = 0, name: str = "ballast") -> Path:
    """Write a ballast file until the filesystem has at most `leave_bytes` free; returns its path."""
    import os
    ballast = directory / name
    with ballast.open("ab") as f:
        while True:
            st = os.statvfs(directory)
            free = st.f_bavail * st.f_frsize
            if free <= leave_bytes:
                break
            try:
                f.write(b"\0" * min(2**20, max(4096, free - leave_bytes)))
                f.flush()
            except OSError:
                break
    return ballast
