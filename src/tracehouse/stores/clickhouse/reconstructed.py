"""AnalysisFilter.reconstructed on ClickHouse (store/analytics_contract.py; main's ADR 17, and ADR 18's
amendment for the reconstructed modes). `received` reads the spans as stored. Without inferred
links, `include` and `exclude` are `received` and `only` selects nothing, as in the embedded store.
With links:
- `exclude` is a trace-id filter added to every analysis' {narrowing}: the traces the console's
  reconstructed_traces view lists (sql/schema/reconstructed_traces_view.sql) are left out, from the
  summaries, the index and the span table alike.
- `include` and `only` read the window's spans as reconstruction joins them
  (sql/analytics/_reconstructed_spans.sql) wherever the analysis reads the span table or the search
  index: the store renders the analysis with JOINED in their place, and `substituted` puts the
  subquery there, drops the FINAL after it (the subquery reads with FINAL) and turns a PREWHERE
  (which only tables take) into a WHERE. The selection then reads spans, not the summaries.
- Exports hand back the spans as stored: `include` is `received`, `only` the exclusion turned round.
"""

from __future__ import annotations

import re

from tracehouse.store import AnalysisFilter

# Where an analysis rendered for joined spans reads them (the span table's and the index's names).
JOINED = "__tracehouse_joined_spans__"
# A PREWHERE clause and the WHERE that follows it at the same indentation (every analysis file
# writes them so): the subquery takes no PREWHERE.
_PREWHERE = re.compile(r"(\n[ \t]*)PREWHERE (.*?)\1WHERE ", re.DOTALL)


def joins(flt: AnalysisFilter, live_links: int, as_stored: bool = False) -> bool:
    """Whether the analysis reads the spans as reconstruction joins them."""
    return flt.reconstructed in ("include", "only") and bool(live_links) and not as_stored


def substituted(text: str, joined: str) -> str:
    """An analysis rendered with JOINED for the span table and the index, with `joined` (the rendered
    _reconstructed_spans.sql) in each place, each its own alias."""
    text = text.replace(f"{JOINED} FINAL", JOINED)
    text = _PREWHERE.sub(lambda m: f"{m[1]}WHERE ({m[2]}{m[1]}) AND ", text)
    pieces = text.split(JOINED)
    out = [pieces[0]]
    for n, piece in enumerate(pieces[1:], 1):
        out += [joined.strip().replace("AS joined_spans", f"AS joined_spans_{n}"), piece]
    return "".join(out)


def narrowing_sql(flt: AnalysisFilter, live_links: int, as_stored: bool = False) -> str | None:
    """The SQL file added to the analyses' {narrowing} for the filter's mode, or None (the spans as
    stored, or joined: `joins`). `as_stored` (exports): select by the mode, never join."""
    mode = flt.reconstructed
    if mode == "received" or (mode in ("include", "exclude") and not live_links) or (mode == "include" and as_stored):
        return None
    if mode == "only" and not live_links:
        return "analytics/_reconstructed_none"
    if mode == "exclude":
        return "analytics/_reconstructed_exclude"
    if mode == "only" and as_stored:
        return "analytics/_reconstructed_only_stored"
    return None
