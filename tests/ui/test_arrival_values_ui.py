"""The table of archive parameter values on the data-arrival page (manual 4.2.3) as a user sees it
(NiceGUI's simulated user over the real services, registry and chDB): the building meter's
parameters per period as stored, «–*» where nothing came, the meter number linking to its page,
a message icon whose click shows the device's and the archive's messages; the view chosen by
the toggle; readers look, administrators get no page."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.ingest import archive_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data
from tests.ui.conftest import login

TZ = zone(cloud_data.TZ)
URL = "/monitoring/data?kind=hour&period=2026-01-10&resource=heat"


def _add_rows(clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> None:
    """The building meter's V1 of 00:00 and 01:00 (the latter flagged by the device), an apartment
    meter's magnet event at 05:30."""
    def record(hour: int, value: float, quality: int = 0) -> ArchiveRecord:
        start = int(local_to_utc(datetime(2026, 1, 10, hour), TZ).timestamp())
        return ArchiveRecord("307T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"V1": value}, quality=quality,
                             received_at=start + 60.0)
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 9, (record(0, 1200.5), record(
        1, 1201.25, Quality.DEVICE_FLAGGED))), seeded.company_id), "test:9")
    clickhouse.client.insert(
        f"{clickhouse.database}.device_events",
        [(seeded.company_id, "test", 1, "223T0001", local_to_utc(datetime(2026, 1, 10, 5, 30), TZ), "interference",
          "alarm", "device", '{"event_code": "0x0201"}')],
        column_names=("company", "site", "id", "meter", "at", "code", "severity", "source", "detail"))


def _table(user: User) -> ui.table:
    table = user.find(marker="arrival-values").elements.pop()
    assert isinstance(table, ui.table)
    return table


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_values_table_with_messages(seeded, user: User, clickhouse: ClickHouse) -> None:
    _add_rows(clickhouse, seeded)
    await login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open(URL + "&role=common&view=values")
    await user.should_see("Значения параметров архива по приборам учёта")
    table = _table(user)
    labels = [c["label"] for c in table.columns]
    # the ОДПУ's heat input: Q V1 V2 T1 T2 with their units, as the device keeps them (readings)
    assert labels[3:8] == ["Q, Гкал", "V1, м³", "V2, м³", "T1, °C", "T2, °C"]
    rows = table.rows
    assert len(rows) == 24  # the building meter's 24 hours of the 10th
    first, second = rows[0], rows[1]
    # 307T0001 reads 100 + 0.035 * (h + 1): 100.035 at 00:00; V1 1200.5; V2 never came: «–*», not 0
    assert (first["serial"], first["href"], first["v1:Q"], first["v1:V1"], first["v1:V2"]) == (
        "307T0001", f"/meters/{_meter_id('307T0001')}", "100,035", "1\u00a0200,500", "–*")
    assert (first["messages"], second["messages"]) == (0, 1)  # 01:00 carries the device's flag
    await user.should_see("Значения — как их хранит архив прибора")

    user.find(marker="arrival-values").trigger("messages", second["id"])
    await user.should_see("Прибор отметил период (неисправность датчика, отключение питания)")
    await user.should_see("307T0001 · 10.01.2026 01:00")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_the_view_toggle_and_apartment_meters(seeded, user: User, clickhouse: ClickHouse) -> None:
    _add_rows(clickhouse, seeded)
    await login(user, "reader", "reader-pass")  # readers look; no backfill button in either view
    await user.should_see("Мониторинг")
    await user.open(URL + "&role=individual")
    await user.should_see(marker="arrival-table")
    toggle = user.find(marker="arrival-view").elements.pop()
    assert isinstance(toggle, ui.toggle)
    toggle.set_value("values")
    await user.should_see("Значения параметров архива по приборам учёта")
    rows = _table(user).rows
    assert {r["serial"] for r in rows} == {"223T0001", "223T0002"}  # ИПУ: Q only
    assert [c["label"] for c in _table(user).columns][3:-1] == ["Q, Гкал"]
    magnet = next(r for r in rows if r["serial"] == "223T0001" and r["period"].endswith("05:00"))
    assert magnet["messages"] == 1
    assert magnet["icon"] == "report"  # an alarm
    user.find(marker="arrival-values").trigger("messages", magnet["id"])
    await user.should_see("Магнит у датчика")
    await user.should_not_see(marker="arrival-backfill")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_gets_no_values(seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Выйти")
    await user.open(URL + "&view=values")
    await user.should_see("Нет доступа")
    await user.should_not_see("Значения параметров архива по приборам учёта")


def _meter_id(serial: str) -> int:
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    return registry.one("SELECT id FROM meters WHERE serial = ?", serial)["id"]
