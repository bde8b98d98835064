"""The console-script entry point: the CLI with the app wiring plugged in."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["up"]:
        # This process becomes the backend: refuse numpy and pandas before anything imports pyarrow.
        from tracehouse.app.lean import keep_numpy_and_pandas_out
        from tracehouse.receiver import allocator

        keep_numpy_and_pandas_out()
        allocator.configure()   # before any thread starts: glibc arenas and mmap threshold (ADR 12)
    from tracehouse.app.wiring import Wiring
    from tracehouse.cli.main import cli

    cli(obj=Wiring(), prog_name="tracehouse")
