"""Policy files the tail-sampling store tests share (tests/sampling/test_tail_store.py on DuckDB,
tests/store_conformance/test_sampling_hold.py on every store), so both test the same decisions."""

from __future__ import annotations

# Errors always; the rest at 10% (weight 10). A trace is decided 2 s after its root arrived, or
# after 30 s without one, or at 500 spans.
ERRORS_AND_TEN_PERCENT = """
decision: {wait_after_root: 2s, max_wait: 30s, max_trace_spans: 500, decision_cache: 10m}
policies:
  - {name: errors, error: true}
  - {name: base, probabilistic: {percent: 10}}
"""
# Every trace kept, decided as soon as its root arrived.
KEEP_ALL_AT_ONCE = "policies: [{always: true}]\ndecision: {wait_after_root: 0s}"
