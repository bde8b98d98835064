"""AnalysisFilter.reconstructed on ClickHouse (store/analytics_contract.py; main's ADR 17, and ADR 18's
amendment for the reconstructed modes). `received` reads the spans as stored. Without inferred
links, `include` and `exclude` are `received` and `only` selects nothing, as in the embedded store.
With links, `exclude` is a trace-id filter added to every analysis' {narrowing}: the traces the
console's reconstructed_traces view lists (sql/schema/reconstructed_traces_view.sql) are left out,
from the summaries, the index and the span table alike. Exports hand back the spans as stored, so
there `include` is `received` and `only` is the same filter, turned round. The analyses of `include`
and `only`, which must read a fragment's spans under the trace it was joined to, are refused while
the store has links."""

from __future__ import annotations

from tracehouse.store import AnalysisFilter, StoreError


def narrowing_sql(flt: AnalysisFilter, live_links: int, as_stored: bool = False) -> str | None:
    """The SQL file added to the analyses' {narrowing} for the filter's mode, or None (the spans as
    stored). `as_stored` (exports): select by the mode, never join. Raises for the modes that join
    fragments while the store has links to join."""
    mode = flt.reconstructed
    if mode == "received" or (mode in ("include", "exclude") and not live_links) or (mode == "include" and as_stored):
        return None
    if mode == "only" and not live_links:
        return "analytics/_reconstructed_none"
    if mode == "exclude":
        return "analytics/_reconstructed_exclude"
    if mode == "only" and as_stored:
        return "analytics/_reconstructed_only_stored"
    raise StoreError(f"analyses over reconstructed traces joined to their parents (reconstructed={mode}) do not "
                     "run on a ClickHouse store yet: use reconstructed=received or exclude (docs/clickhouse.md)")
