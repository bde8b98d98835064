"""tracehouse: OTLP in, DuckDB store, Jaeger-compatible API and UI, and analyses beyond the trace view."""

from typing import Any

__all__ = ["connect"]


def __getattr__(name: str) -> Any:
    # Lazy: `import tracehouse` stays cheap (no DuckDB, no pandas) until a notebook asks for connect.
    if name == "connect":
        from tracehouse.app.notebook import connect

        return connect
    raise AttributeError(f"module 'tracehouse' has no attribute {name!r}")
