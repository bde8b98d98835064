"""Keeping numpy and pandas out of the backend process (`tracehouse up`).

pyarrow imports numpy with itself when it is installed, and pandas on its first `pa.array()` call,
only to recognise their objects; DuckDB's Python module imports them the same way, on demand. The
backend never hands either library such an object, and they cost it ~11 MiB of resident set for
numpy and ~50 MB for pandas (measured; ADR 7 and ADR 8). Both are installed in the same environment
for users' notebooks (`tracehouse.connect(...).sql(...).df()`), so they are refused here rather than
left out of the install.

The analyses the backend serves measure many traces at once with pyarrow.compute and plain Python
(analytics/trace_time.py), not numpy: numpy was loaded for them for a while, and given back (ADR 8,
second amendment).
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

KEPT_OUT = ("numpy", "pandas")


class _KeepOut(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if fullname.partition(".")[0] in KEPT_OUT:
            raise ModuleNotFoundError(f"{fullname} is kept out of tracehouse's backend process", name=fullname)


def keep_numpy_and_pandas_out() -> None:
    """Make `import numpy` and `import pandas` fail in this process, so that pyarrow and DuckDB treat
    them as absent. Call it before pyarrow is imported, and only in the backend process: pyarrow
    decides at its own import whether numpy exists, so refusing it later would not take it out.

    A finder rather than `sys.modules[name] = None`: pyarrow's compiled import takes that None for
    the module.
    """
    loaded = [name for name in KEPT_OUT if name in sys.modules]
    if loaded:
        raise RuntimeError(f"{', '.join(loaded)} already imported: keep_numpy_and_pandas_out() comes too late")
    if not any(isinstance(f, _KeepOut) for f in sys.meta_path):
        sys.meta_path.insert(0, _KeepOut())
