"""The one shape every analysis returns: a few plain-language findings and a table.

The CLI prints it (table or JSON), the HTTP API sends `to_json()`, the UI draws that JSON, and the
CLI with --url rebuilds it with `from_json`: all three show the same numbers because they show the
same object.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Column kinds: how a value is shown. Values themselves are plain JSON numbers and strings.
TEXT, COUNT, MS, PERCENT, TRACE = "text", "count", "ms", "percent", "trace"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = TEXT


@dataclass
class Report:
    analysis: str
    title: str
    findings: list[str]
    columns: list[Column]
    rows: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(analysis=data["analysis"], title=data["title"], findings=list(data["findings"]),
                   columns=[Column(**c) for c in data["columns"]], rows=list(data["rows"]),
                   params=dict(data.get("params", {})), notes=list(data.get("notes", [])))


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == MS:
        return f"{value:,.1f}"
    if kind == PERCENT:
        return f"{value:.1f}%"
    if kind == COUNT:
        return f"{int(value):,}"
    return str(value)


def render_text(report: Report, max_width: int = 60) -> str:
    """A readable plain-text rendering: title, findings, then an aligned table."""
    lines = [report.title, "=" * len(report.title)]
    lines += [f"* {f}" for f in report.findings]
    # Multi-line values (a route's tree) are shown below the table, each under its row's number,
    # and the table cell holds the number and the first line.
    blocks = [c for c in report.columns if c.kind == TEXT and any("\n" in str(r.get(c.key) or "") for r in report.rows)]
    if report.rows:
        lines.append("")
        header = [c.title for c in report.columns]
        body = []
        for number, row in enumerate(report.rows, 1):
            cells = []
            for c in report.columns:
                text = format_value(row.get(c.key), c.kind)
                if c is blocks[0] if blocks else False:
                    text = f"#{number} " + text.split("\n", 1)[0]
                elif c in blocks:  # its first line that is not indented (a diff's first change)
                    firsts = [t for t in text.splitlines() if t and not t[0].isspace()]
                    text = " ".join((firsts or [text.split("\n", 1)[0]])[0].split()) + (
                        f" (and {len(firsts) - 1} more)" if len(firsts) > 1 else "")
                cells.append(text if len(text) <= max_width else text[: max_width - 1] + "…")
            body.append(cells)
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
        numeric = [c.kind in (COUNT, MS, PERCENT) for c in report.columns]

        def fmt(cells: list[str]) -> str:
            return "  ".join(cell.rjust(w) if num else cell.ljust(w)
                             for cell, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

        lines.append(fmt(header))
        lines.append("  ".join("-" * w for w in widths))
        lines += [fmt(r) for r in body]
        for number, row in enumerate(report.rows, 1) if blocks else ():
            lines += ["", f"#{number}"]
            for c in blocks:
                lines.append(f"  {c.title}:")
                lines += ["    " + line for line in format_value(row.get(c.key), c.kind).splitlines()]
    else:
        lines.append("")
        lines.append("(no traces matched)")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
