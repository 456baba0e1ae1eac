"""Shared set-up of the UI tests: a seeded registry and ClickHouse database that
tests/ui/ui_main.py opens (through DU_TEST_* variables), and logging in as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data

PATIENCE = 100  # should_see retries, 0.1 s apart


@pytest.fixture(autouse=True)
def patient_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """``should_see`` waits up to 10 s instead of NiceGUI's 0.3 s: a login's memory-hard password
    hash and a page's chDB queries take seconds on a loaded two-core machine, and the 0.3 s
    default made the login tests fail there now and then. A passing check returns at once."""
    original = User.should_see

    async def should_see(self: User, *args, retries: int = PATIENCE, **kwargs) -> None:
        await original(self, *args, retries=retries, **kwargs)
    monkeypatch.setattr(User, "should_see", should_see)


@pytest.fixture
def ui_registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.db")


@pytest.fixture
def seeded(ui_registry: Registry, clickhouse: ClickHouse, chdb_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> cloud_data.Seeded:
    ids = cloud_data.seed(ui_registry, clickhouse)
    monkeypatch.setenv("DU_TEST_CHDB_DSN", f"chdb://{chdb_path}")
    monkeypatch.setenv("DU_TEST_CHDB_DATABASE", clickhouse.database)
    monkeypatch.setenv("DU_TEST_REGISTRY", str(ui_registry.path))
    return ids


async def login(user: User, login: str, password: str) -> None:
    await user.open("/login")
    user.find("Логин").type(login)
    user.find("Пароль").type(password)
    user.find("Войти").click()
