"""POST /api/sql: the SQL console's engine over HTTP (also what `tracehouse sql --url` calls)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracehouse.query.service import QueryService
from tracehouse.query.values import json_value
from tracehouse.store import SqlMemoryError, SqlRefusedError, SqlTimeoutError, StoreError


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, description="One read-only SELECT statement.")
    max_rows: int | None = Field(default=None, ge=1, description="Row cap (the server's cap if larger).")
    timeout_seconds: float | None = Field(default=None, gt=0, description="Time limit (the server's if larger).")
    params: list[str | int | float | bool | None] = Field(
        default_factory=list, description="Values bound to the query's ? or $1 placeholders.")


def router(service: QueryService) -> APIRouter:
    api = APIRouter()

    @api.post("/api/sql")
    def run_sql(body: SqlRequest, request: Request) -> JSONResponse:
        try:
            result = service.run_sql(body.sql, body.max_rows, body.timeout_seconds, body.params)
        except SqlRefusedError as exc:
            return JSONResponse({"error": str(exc), "kind": "refused"}, status_code=400)
        except SqlTimeoutError as exc:
            return JSONResponse({"error": str(exc), "kind": "timeout"}, status_code=408)
        except SqlMemoryError as exc:
            return JSONResponse({"error": str(exc), "kind": "memory"}, status_code=400)
        except StoreError as exc:
            return JSONResponse({"error": str(exc), "kind": "error"}, status_code=400)
        return JSONResponse({
            "columns": result.columns,
            "types": result.types,
            "rows": [[json_value(v) for v in row] for row in result.rows],
            "truncated": result.truncated,
            "elapsed_ms": round(result.elapsed_ms, 3),
        })

    return api
