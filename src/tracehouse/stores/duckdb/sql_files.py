"""SQL lives in .sql files beside this module; this loads them once by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. sql("write/insert_spans")."""
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
