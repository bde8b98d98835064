"""Keeping pandas out of the backend process (`tracehouse up`).

pyarrow imports pandas on its first `pa.array()` call, and DuckDB's Python module on demand, only
to recognise its objects. The backend never hands either library a DataFrame, and pandas costs it
~50 MB of resident set (measured; ADR 7 and ADR 8). It is installed in the same environment for
users' notebooks (`tracehouse.connect(...).sql(...).df()`), so it is refused here rather than left
out of the install.

numpy was kept out too until the analyses measured many traces at once with it (the one trace
duration over a sample, ADR 13); since then the backend loads it (~11 MiB; ADR 8, amendment).
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

KEPT_OUT = ("pandas",)


class _KeepOut(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if fullname.partition(".")[0] in KEPT_OUT:
            raise ModuleNotFoundError(f"{fullname} is kept out of tracehouse's backend process", name=fullname)


def keep_pandas_out() -> None:
    """Make `import pandas` fail in this process, so that pyarrow and DuckDB treat it as absent.
    Call it before pyarrow is imported, and only in the backend process.

    A finder rather than `sys.modules[name] = None`: pyarrow's compiled import takes that None for
    the module.
    """
    loaded = [name for name in KEPT_OUT if name in sys.modules]
    if loaded:
        raise RuntimeError(f"{', '.join(loaded)} already imported: keep_pandas_out() comes too late")
    if not any(isinstance(f, _KeepOut) for f in sys.meta_path):
        sys.meta_path.insert(0, _KeepOut())
