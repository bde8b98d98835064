"""Real backends for the sampling tests (the fixture of tests/backend)."""

from tests.backend.conftest import backend

__all__ = ["backend"]
