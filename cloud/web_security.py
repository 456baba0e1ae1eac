"""What every HTTP answer of the cloud carries, and the API docs served without a CDN.

``SecurityHeaders`` is a plain ASGI middleware (no buffering, so the UI's websocket and
streamed answers pass untouched) that adds to every response, pages, /api, static files and
errors alike: no framing by other sites (X-Frame-Options and CSP frame-ancestors: clickjacking),
no MIME sniffing, and the Referer only to our own origin. The CSP names frame-ancestors only:
a script-src would have to allow NiceGUI's inline Vue templates and would protect little.

``install_api_docs`` serves Swagger UI and ReDoc from the files the fastapi-offline package
ships, so /docs works on a machine without internet (FastAPI's own pages load them from a CDN).
Its routes are added before NiceGUI adds FastAPI's, so ours answer /docs and /redoc.
Tests: tests/integration/test_web_security.py.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = {
    b"x-frame-options": b"DENY",
    b"content-security-policy": b"frame-ancestors 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in HEADERS.items() if k not in present)]
            await send(message)
        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette answers an unhandled error from its outermost middleware, outside this
            # one: answer the 500 here, with the headers, and let the error go on to be logged
            if not started:
                await with_headers({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await with_headers({"type": "http.response.body", "body": b"Internal Server Error"})
            raise


DOCS_STATIC = "/api-docs-static"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def install_api_docs(app: FastAPI, title: str, openapi_url: str = "/openapi.json") -> None:
    """Serve /docs (Swagger UI) and /redoc from local assets under ``DOCS_STATIC``."""
    app.mount(DOCS_STATIC, StaticFiles(directory=_ASSETS), name="api-docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=title,
                                   swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_STATIC}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=title, redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_STATIC}/favicon.png", with_google_fonts=False)
