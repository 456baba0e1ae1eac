"""The demo's residents' app (cloud.seed.seed_demo_residents): a registered resident of apartment 1 who
can sign in, one published notice they see, and a fresh activation code for apartment 2 each start (the
earlier unused one stops working), with nothing seeded twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.seed import DEMO_RESIDENT, seed_demo_residents
from cloud.services.container import Services
from cloud.services.models import InvalidInput
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data


async def test_seeded_once_and_a_new_code_each_start(clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    today = datetime.now(UTC).date()
    first = seed_demo_residents(registry, seeded.building_id, today)
    second = seed_demo_residents(registry, seeded.building_id, today)
    assert first != second
    assert registry.one("SELECT count(*) AS n FROM residents")["n"] == 1
    assert registry.one("SELECT count(*) AS n FROM notices")["n"] == 1

    app = Services.create(registry, clickhouse).resident_app
    session = await app.login(DEMO_RESIDENT[0], DEMO_RESIDENT[2])
    assert [p.number for p in session.home.premises] == ["1"]
    assert [n.title for n in await app.notices_for(session.token)] == ["Плановое отключение горячей воды"]
    with pytest.raises(InvalidInput, match="expired"):  # the first start's code was replaced
        await app.register(first, "new@example.ru", "Новый Жилец", "", "new-pass-12")
    registered = await app.register(second, "new@example.ru", "Новый Жилец", "", "new-pass-12")
    assert [p.number for p in registered.home.premises] == ["2"]
