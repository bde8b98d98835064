"""ClickHouse tests reuse the backend tests' process fixtures: real `tracehouse up` processes."""

from __future__ import annotations

from tests.backend.conftest import backend

__all__ = ["backend"]
