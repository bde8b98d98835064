"""Assembles a running backend from its parts. The only module that names a concrete store."""

from __future__ import annotations

from tracehouse.query.service import QueryService
from tracehouse.settings import Settings


class Wiring:
    def serve(self, settings: Settings) -> None:
        raise NotImplementedError

    def open_query_service(self, settings: Settings, read_only: bool = True) -> QueryService:
        raise NotImplementedError
