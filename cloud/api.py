"""The JSON API under /api, served by the same server as the UI (FastAPI under NiceGUI).

For now: a health probe and the local read-only SQL endpoint behind `domuchet sql`, which
accepts only loopback callers holding the token the cloud wrote to its data directory.
Errors are JSON objects with a code and a message.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cloud.storage.clickhouse import ClickHouse, QueryError, ReadOnlyViolation


class SqlRequest(BaseModel):
    sql: str


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": code, "message": message})


def _cell(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


def router(clickhouse: ClickHouse, local_token: str) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.get("/health")
    async def health() -> dict:
        rows = await clickhouse.query("SELECT count() FROM {db}.archive")
        return {"status": "ok", "archive_rows": rows[0][0]}

    @api.post("/local/sql", response_model=None)
    async def local_sql(body: SqlRequest, request: Request,
                        x_local_token: str = Header(default="")) -> dict | JSONResponse:
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1") or not hmac.compare_digest(x_local_token, local_token):
            return _error(403, "forbidden", "the SQL endpoint is for `domuchet sql` on this machine only")
        try:
            columns, rows = await clickhouse.read_only(body.sql)
        except ReadOnlyViolation as exc:
            return _error(400, "read_only", str(exc))
        except QueryError as exc:
            return _error(400, "query_error", str(exc))
        return {"columns": columns, "rows": [[_cell(v) for v in row] for row in rows]}

    return api
