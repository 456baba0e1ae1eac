"""The /api/v1 router in process for service tests: an httpx client over the real app, and an
integration token of a seeded user."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from cloud.api import install_error_handlers, router
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


@contextlib.asynccontextmanager
async def api_client(services: Services, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router(clickhouse, "local-secret", services))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def api_token(services: Services, registry: Registry, session: str, login: str) -> dict[str, str]:
    """The Authorization header of an API token ``login`` made for themself (``session``: their sign-in)."""
    user_id = registry.one("SELECT id FROM users WHERE login = ?", login)["id"]
    created = await services.api_tokens.create(session, user_id, f"{login} integration")
    return {"Authorization": f"Bearer {created.token}"}
