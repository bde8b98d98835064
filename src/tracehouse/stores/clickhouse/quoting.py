"""Client-side quoting: ClickHouse 18.16 has no server-side query parameters, so every value that
goes into a statement is rendered here as a literal, by its Python type, and nowhere else.

Statements live in sql/*.sql with `{name}` placeholders; `render` fills them. A placeholder's value
is an `Identifier` (a table name the store chose: back-quoted), a `Raw` fragment the store built from
fixed text (never from user input), an `Array` of plain values, or a plain value: None, bool, int,
float, str, bytes, or a list/tuple of those (rendered as a tuple, for IN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_INCLUDE = re.compile(r"^-- include: (\S+)[ \t]*$", re.MULTILINE)
_COMMENT_LINE = re.compile(r"^[ \t]*--.*$", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


@dataclass(frozen=True)
class Identifier:
    name: str   # `table` or `database.table`

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(f"not a plain identifier: {self.name!r}")


@dataclass(frozen=True)
class Raw:
    text: str


@dataclass(frozen=True)
class Array:
    """Values rendered as an array literal, `[v1, v2, ...]`: ClickHouse parses an array of literals
    as one literal, much faster than a tuple of function calls such as `unhex('...')`."""
    values: tuple[object, ...]


def quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(value)]
        return repr(value)
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, bytes | bytearray):
        return f"unhex('{bytes(value).hex()}')"
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("an empty list cannot be rendered (IN () is not SQL); check for it first")
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise TypeError(f"cannot quote a {type(value).__name__}")


def _fragment(value: object) -> str:
    if isinstance(value, Array):
        return "[" + ", ".join(literal(v) for v in value.values) + "]"
    if isinstance(value, Identifier):
        return ".".join(f"`{part}`" for part in value.name.split("."))
    if isinstance(value, Raw):
        return value.text
    return literal(value)


def render(template: str, params: Mapping[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"no value for {{{name}}}")
        return _fragment(params[name])
    return _PLACEHOLDER.sub(fill, template)


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, with `-- include: NAME` lines expanded, and the placeholders of
    comment lines left unfilled (`{name}` becomes `name`): a value rendered into a comment would
    double a statement's size, and a string value holding a newline would end the comment."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    text = _INCLUDE.sub(lambda m: sql(m.group(1)).rstrip("\n"), text)
    return _COMMENT_LINE.sub(lambda m: _PLACEHOLDER.sub(r"\1", m.group(0)), text)


def statement(name: str, **params: object) -> str:
    return render(sql(name), params)
