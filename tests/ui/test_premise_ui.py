"""The premise page (manual 4.1.6) as a user sees it (NiceGUI's simulated user over the real services,
registry and chDB): the outdoor temperature of the building's nearest station on a second axis, a
note saying why when there is none, and the hatched «оценка» of a short gap on the chart only (the
table keeps «–*», the total only the known days); administrators get no page."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.ingest import archive_rows
from cloud.services.weather import Observation, register_station, store_observations
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from simulators.world import outdoor_temperature
from tests import cloud_data
from tests.ui.conftest import login

TZ = zone(cloud_data.TZ)
SEED = 7
URL = "/premises/{id}?resource=heat&granularity=day&period=2026-01-01"


def _registry() -> Registry:
    return Registry(Path(os.environ["DU_TEST_REGISTRY"]))


def _premise(number: str) -> int:
    return _registry().one("SELECT id FROM premises WHERE number = ?", number)["id"]


def _record(local: datetime, value: float) -> ArchiveRecord:
    start = int(local_to_utc(local, TZ).timestamp())
    return ArchiveRecord("223T0002", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"Q": value},
                         received_at=start + 60.0)


def _gap_around(clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> None:
    """Apartment 2 (0.02 Gcal/h, reading 100 + 0.02 * (h + 1) at the end of hour h from 2026-01-10 00:00,
    the reading of 2026-01-11 23:00 missing) gets its opening reading (100.0 at the end of 2026-01-09)
    and a 13th at 0.05 Gcal/h. So by day: the 10th 100.48 - 100.0 = 0.48; the 11th and 12th missing
    (the reading between them never came); the 13th 24 * 0.05 = 1.2."""
    records = [_record(datetime(2026, 1, 9, 23), 100.0)]
    records += [_record(datetime(2026, 1, 13, k), round(100 + 0.02 * 72 + 0.05 * (k + 1), 6)) for k in range(24)]
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 7, tuple(records)), seeded.company_id), "test:7")


def _station(clickhouse: ClickHouse, building_id: int) -> None:
    registry = _registry()
    registry.write("UPDATE buildings SET latitude = 55.80, longitude = 49.10 WHERE id = ?", building_id)
    register_station(registry, "SIM-MSK", "Москва", 55.75, 37.62)
    register_station(registry, "SIM-KZN", "Казань", 55.79, 49.12)
    hours = [datetime(2026, 1, 9, tzinfo=UTC) + timedelta(hours=k) for k in range(6 * 24)]
    for code, seed in (("SIM-KZN", SEED), ("SIM-MSK", SEED + 1)):
        asyncio.run(store_observations(clickhouse, code, [Observation(h, outdoor_temperature(h, seed)) for h in hours],
                                       datetime(2026, 1, 14, tzinfo=UTC)))


def _day_mean(day: datetime) -> float:
    start = local_to_utc(day, TZ)
    return round(sum(outdoor_temperature(start + timedelta(hours=k), SEED) for k in range(24)) / 24, 1)


def _chart(user: User) -> dict:
    chart = user.find(marker="consumption-chart").elements.pop()
    assert isinstance(chart, ui.echart)
    return chart.options


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_temperature_and_a_bounded_estimate_on_the_chart_only(seeded, user: User,
                                                                    clickhouse: ClickHouse) -> None:
    _gap_around(clickhouse, seeded)
    await asyncio.to_thread(_station, clickhouse, seeded.building_id)
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open(URL.format(id=_premise("2")))
    await user.should_see("Потребление ресурса по помещению")
    await user.should_see("Температура наружного воздуха — метеостанция «Казань»")  # ~1.7 km, not Moscow
    await user.should_see(marker="estimate-note")
    options = _chart(user)
    series = {s["name"]: s for s in options["series"]}
    # the days shown: the 9th (its last hour's reading opens the 10th; nothing before it: missing, at the
    # edge, so never estimated) to the 13th. The gap of two days between 0.48 (10th) and 1.2 (13th):
    # step (1.2 - 0.48) / 3 = 0.24 -> 0.72, 0.96
    assert series["оценка"]["data"] == [None, None, 0.72, 0.96, None]
    assert series["оценка"]["itemStyle"]["borderType"] == "dashed"
    assert "decal" in series["оценка"]["itemStyle"]  # hatched
    temperature = series["Температура наружного воздуха"]
    assert temperature["yAxisIndex"] == 1
    assert options["yAxis"][1]["name"] == "°C"
    assert temperature["data"][1] == _day_mean(datetime(2026, 1, 10))
    # the table and the total keep the gap: «–*», and 0.48 + 1.2 = 1.68 of the known days only
    table = user.find(marker="consumption-table").elements.pop()
    assert isinstance(table, ui.table)
    rows = {r["key"][:10]: r["value"] for r in table.rows}
    assert (rows["2026-01-10"], rows["2026-01-11"], rows["2026-01-12"]) == ("0,480", "–*", "–*")
    await user.should_see("1,680")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_no_temperature_without_coordinates_says_why(seeded, user: User) -> None:
    await login(user, "reader", "reader-pass")  # a reader sees the page (there is nothing to edit on it)
    await user.should_see("ул. Тестовая, 1")
    await user.open(URL.format(id=_premise("1")))
    await user.should_see("Температура наружного воздуха не показана: у дома не заданы координаты")
    names = [s["name"] for s in _chart(user)["series"]]
    assert "Температура наружного воздуха" not in names
    assert "оценка" not in names  # apartment 1 has no gap between known days
    await user.should_not_see(marker="estimate-note")
    # a month with nothing stored says so instead of a blank chart
    await user.open(f"/premises/{_premise('1')}?resource=heat&granularity=day&period=2025-06-01")
    await user.should_see("Нет данных за выбранный период.")
    await user.should_not_see(marker="consumption-chart")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_gets_no_premise_page(seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Выйти")
    await user.open(URL.format(id=_premise("1")))
    await user.should_see("Нет доступа")
    await user.should_not_see("Потребление ресурса по помещению")
