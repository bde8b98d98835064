"""tracehouse: OTLP in, DuckDB store, Jaeger-compatible API and UI, and analyses beyond the trace view."""
