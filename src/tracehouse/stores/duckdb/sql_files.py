"""SQL lives in .sql files beside this module; this loads them once by name.

A line `-- include: NAME` is replaced by the text of sql/NAME.sql, so a piece of SQL that several
statements share (the definition of a trace summary) is written once.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"^-- include: (\S+)[ \t]*$", re.MULTILINE)


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. sql("write/insert_spans"), with its includes expanded."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda m: sql(m.group(1)).rstrip("\n"), text)
