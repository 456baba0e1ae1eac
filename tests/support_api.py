"""The /api/v1 router in process for service tests: an httpx client over the real app, and an
integration token of a seeded user."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from cloud.api import install_error_handlers, router
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


class _Current:
    """The services (or ClickHouse) of the test that runs now, for an app built once per process:
    building the /api router (pydantic's schemas of 200 routes) took 4-5 s, which every API test
    paid in its setup. The router keeps ``services.accounting`` and the like when it is built, so
    what it gets is a forwarder per attribute, which looks the object up on each use."""

    def __init__(self, holder: dict[str, object], key: str, path: tuple[str, ...] = ()) -> None:
        self._holder, self._key, self._path = holder, key, path

    def _target(self) -> object:
        obj = self._holder[self._key]
        for name in self._path:
            obj = getattr(obj, name)
        return obj

    def __getattr__(self, name: str) -> object:
        if not self._path:  # services.accounting at build time: forward, looked up when used
            return _Current(self._holder, self._key, (name,))
        return getattr(self._target(), name)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._target()(*args, **kwargs)  # type: ignore[operator]


_NOW: dict[str, object] = {}
_APP: list[FastAPI] = []


def shared_app(services: Services, clickhouse: ClickHouse) -> FastAPI:
    """The /api app (with NiceGUI's HTML 404 for other paths) serving ``services`` and
    ``clickhouse`` until the next call: built once per test process."""
    _NOW["services"], _NOW["clickhouse"] = services, clickhouse
    if not _APP:
        app = FastAPI()

        @app.exception_handler(404)  # as NiceGUI does for its pages: /api must still answer JSON
        async def page_not_found(_request, _exc) -> HTMLResponse:
            return HTMLResponse("<h1>page not found</h1>", status_code=404)

        install_error_handlers(app)
        app.include_router(router(_Current(_NOW, "clickhouse"), "local-secret",  # type: ignore[arg-type]
                                  _Current(_NOW, "services")))  # type: ignore[arg-type]
        _APP.append(app)
    return _APP[0]


@contextlib.asynccontextmanager
async def api_client(services: Services, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    app = shared_app(services, clickhouse)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def api_token(services: Services, registry: Registry, session: str, login: str) -> dict[str, str]:
    """The Authorization header of an API token ``login`` made for themself (``session``: their sign-in)."""
    user_id = registry.one("SELECT id FROM users WHERE login = ?", login)["id"]
    created = await services.api_tokens.create(session, user_id, f"{login} integration")
    return {"Authorization": f"Bearer {created.token}"}
