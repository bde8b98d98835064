"""An analysis against a baseline in time (`--baseline 1h`, `--baseline-start/--baseline-end`):
the same analysis run on the baseline, each row joined to its counterpart, and rows ranked by how
much they changed. Rows with no counterpart are new (their baseline figures are null)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracehouse.analytics.report import Column, Report


def against_baseline(window: Report, baseline: Report, key: Sequence[str], figures: Sequence[str],
                     how: str, limit: int | None = None, label_keys: Sequence[str] | None = None,
                     rank: tuple[Column, Callable[[dict[str, Any]], float | None]] | None = None) -> Report:
    """`window` with, for each figure, the baseline's value and the change, ranked by the change of
    the first figure (largest increase first); the first `limit` rows (None: all). A row is named in
    the finding by the first line of its `label_keys` values (default: the key). `rank`: a column
    and how to compute it from a joined row, to rank by instead of the first figure's change."""
    base_rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in baseline.rows:  # rows come busiest first: a repeated key keeps its busiest row
        base_rows.setdefault(tuple(r.get(k) for k in key), r)
    rows: list[dict[str, Any]] = []
    for r in window.rows:
        b = base_rows.get(tuple(r.get(k) for k in key))
        row = dict(r)
        for f in figures:
            before = b.get(f) if b is not None else None
            row[f"baseline_{f}"] = before
            row[f"change_{f}"] = (r[f] - before) if before is not None and r.get(f) is not None else None
        rows.append(row)
    first = f"change_{figures[0]}"
    if rank is not None:
        for row in rows:
            row[rank[0].key] = rank[1](row)
    order = rank[0].key if rank is not None else first
    rows.sort(key=lambda r: (r[order] is None, -(r[order] or 0.0)))
    if limit is not None:
        rows = rows[:limit]
    kinds = {c.key: c for c in window.columns}
    extra = [rank[0]] if rank is not None else []
    for f in figures:
        column = kinds[f]
        extra += [Column(f"baseline_{f}", f"baseline {column.title}", column.kind),
                  Column(f"change_{f}", f"change {column.title}", column.kind)]
    findings = []
    if rows and rows[0][order] is not None and rows[0][first] is not None:
        top = rows[0]
        label = " ".join(str(top[k]).splitlines()[0] for k in label_keys or key if top.get(k))
        title = kinds[figures[0]].title
        findings.append(f"Largest change against the baseline: {label}, {title} {top[f'baseline_{figures[0]}']:,.1f}"
                        f" -> {top[figures[0]]:,.1f}.")
    new = sum(1 for r in rows if r[first] is None)
    notes = [f"baseline: {how}"] + ([f"{new} rows have no counterpart in the baseline (new)"] if new else [])
    return Report(window.analysis, f"{window.title}, against the baseline", findings + window.findings,
                  window.columns + extra, rows, params=window.params | {"baseline": how},
                  notes=window.notes + notes)
