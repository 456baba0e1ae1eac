"""The running cloud keeps its state to itself and its pages out of other sites' frames: every
file under the data directory is its owner's only, nothing lands in the working directory, every
answer carries the security headers, the cookie lives as long as a session, and /docs needs no
internet."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud_process import CloudProcess, get, start_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    from domuchet import natsserver
    from tests.conftest import free_port
    root = tmp_path_factory.mktemp("web-security")
    settings = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    nats = natsserver.start(settings, root / "nats", root / "nats.log", new_session=False, auth=False)
    try:
        # sessions of 12 h: the cookie must say 12 x 3600 = 43,200 s (NiceGUI's default was 14 days)
        with start_cloud(settings.url, root, "session_hours = 12\n") as running:
            status, _, _ = get(running.url + "/login")  # a browser's first visit: NiceGUI stores its id
            assert status == 200
            yield running
    finally:
        nats.terminate()
        nats.wait(timeout=10)


def test_no_state_in_the_working_directory_and_all_of_it_owner_only(cloud: CloudProcess) -> None:
    # NiceGUI used to write ./.nicegui here, but only once a page stores something (a sign-in): a
    # GET alone writes nothing, so this line also held before the fix. The browser test
    # (tests/e2e/test_browser_demo.py) signs in and finds the storage under the data directory.
    assert list(cloud.cwd.iterdir()) == []
    checked = 0
    for path in [cloud.data_dir, *cloud.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        assert mode & 0o077 == 0, f"{path} is mode {oct(mode)}: others may read it"
        checked += 1
    cloud_dir = cloud.data_dir / "cloud"
    for name in ("registry.db", "storage-secret", "local-api.json"):
        assert stat.S_IMODE((cloud_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((cloud_dir / "clickhouse").stat().st_mode) == 0o700
    assert checked > 10


@pytest.mark.parametrize("path", ["/login", "/api/health", "/api/v1/me", "/no/such/page", "/openapi.json",
                                  "/docs", "/api-docs-static/swagger-ui.css"])
def test_every_answer_carries_the_security_headers(cloud: CloudProcess, path: str) -> None:
    _status, headers, _body = get(cloud.url + path)
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_session_cookie_lives_as_long_as_a_session(cloud: CloudProcess) -> None:
    _status, headers, _body = get(cloud.url + "/login")
    cookie = headers["set-cookie"]
    assert "Max-Age=43200" in cookie  # session_hours = 12 in the fixture: 12 x 3600 s
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_the_api_docs_need_no_internet(cloud: CloudProcess) -> None:
    status, _headers, body = get(cloud.url + "/docs")
    page = body.decode()
    assert status == 200
    assert "https://" not in page.replace("https://fastapi.tiangolo.com", "")  # no CDN asset
    assets = re.findall(r"""(?:src|href)=["']?(/[^"' >]+)""", page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert get(cloud.url + asset)[0] == 200, asset
    status, _headers, body = get(cloud.url + "/redoc")
    assert status == 200
    assert "https://" not in body.decode()


def test_an_old_data_directory_is_closed_to_others(tmp_path: Path) -> None:
    from domuchet.cloud_process import restrict
    old = tmp_path / "data"
    (old / "clickhouse").mkdir(parents=True)
    (old / "registry.db").write_text("x")
    (old / "registry.db").chmod(0o644)
    (old / "clickhouse").chmod(0o755)
    import os
    before = os.umask(0o022)
    try:
        restrict(old)
        assert stat.S_IMODE((old / "registry.db").stat().st_mode) == 0o600
        assert stat.S_IMODE((old / "clickhouse").stat().st_mode) == 0o700
        assert stat.S_IMODE(old.stat().st_mode) == 0o700
    finally:
        os.umask(before)


async def test_an_unhandled_error_is_answered_with_the_headers_too() -> None:
    import httpx
    from fastapi import FastAPI

    from cloud.web_security import SecurityHeaders

    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(SecurityHeaders)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["x-frame-options"] == "DENY"  # Starlette's own 500 came from outside the middleware
    assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_an_unknown_page_is_a_russian_404_and_the_api_keeps_json(cloud: CloudProcess) -> None:
    status, headers, body = get(cloud.url + "/no/such/page")
    assert status == 404
    assert headers["content-type"].startswith("text/html")
    assert "Страница не найдена" in body.decode()
    status, headers, body = get(cloud.url + "/api/v1/no-such-thing")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert b'"code":"not_found"' in body.replace(b" ", b"")
