"""How consumption cells read (manual 4.1.5): ``–*`` when nothing is known, the known part of
several meters marked ``*``, ``!`` where an implausible increment was left out; and a premise of
two meters, one of them missing, seen as a user sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.ingest import archive_rows
from cloud.services.models import Figure, TariffSeries
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data
from tests.ui.conftest import login
from ui import widgets


def test_cells_by_the_manual() -> None:
    assert widgets.figure_text(Figure(None, expected=1, known=0), "Gcal") == "–*"  # the sole meter is missing
    assert widgets.figure_text(Figure(1.77, expected=2, known=1), "Gcal") == "1,770*"  # one of two is missing
    assert widgets.figure_text(Figure(0.84, expected=1, known=1), "Gcal") == "0,840"
    assert widgets.figure_text(Figure(None, expected=1, known=0, suspect=1), "Gcal") == "–!"  # left out, suspect
    assert widgets.figure_text(Figure(0.5, expected=2, known=1, suspect=1), "Gcal") == "0,500!"
    assert widgets.figure_text(Figure(0.5, expected=3, known=1, suspect=1), "Gcal") == "0,500*!"
    assert widgets.figure_text(Figure(None, expected=0, known=0), "Gcal") == "—"  # no meter in service then


def test_tariff_columns_one_per_zone() -> None:
    series = (TariffSeries("T1", (Figure(320.0, 1, 1),)), TariffSeries("T2", (Figure(None, 1, 0),)))
    columns = widgets.tariff_columns(series, "t_", "∆E")
    assert [c["label"] for c in columns] == ["∆E T1 (день)", "∆E T2 (ночь)"]  # manual: day and night tariffs
    assert widgets.tariff_cells(series, 0, "t_", "kWh") == {"t_T1": "320,00", "t_T2": "–*"}


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_premise_of_two_meters_shows_the_known_part(seeded, ui_registry: Registry, user: User,
                                                           clickhouse: ClickHouse) -> None:
    # a second heat meter in apartment 2, +0.01 Gcal/h, complete; the first one's reading at the
    # end of Jan 11 is missing (tests/cloud_data.py)
    with ui_registry.connect() as db:
        premise = db.execute("SELECT premise_id, building_id FROM meters WHERE serial = '223T0002'").fetchone()
        meter = db.execute("INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, "
                           "communicator, archives) VALUES (?, ?, ?, '223T0009', 'KARAT-Compact-2-223', "
                           "'individual', 'test', 'hour, integral')",
                           (seeded.company_id, premise["building_id"], premise["premise_id"])).lastrowid
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, 1, 'heat', 'Q')",
                   (meter,))
    tz = zone(cloud_data.TZ)
    records = []
    for h in range(cloud_data.HOURS):
        start = int(local_to_utc(cloud_data.START_LOCAL + timedelta(hours=h), tz).timestamp())
        records.append(ArchiveRecord("223T0009", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                     {"Q": round(50 + 0.01 * (h + 1), 6)}))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 9, tuple(records)), seeded.company_id), "test:9")

    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open(f"/premises/{premise['premise_id']}?resource=heat&granularity=day&period=2026-01-01")
    table = user.find(marker="consumption-table").elements.pop()
    assert isinstance(table, ui.table)
    rows = {r["key"][:10]: r["value"] for r in table.rows}
    # Jan 11: the new meter's 24 x 0.01 = 0.24 is known, the other meter's day is not: «0,240*»
    assert rows["2026-01-11"] == "0,240*"
    assert rows["2026-01-12"] == "0,240*"  # the other meter's opening reading is the missing one
    assert rows["2026-01-10"] == "–*"  # no reading at the start of Jan 10 for either
    await user.should_see("Архив: часовые")  # days are derived from the hourly archives
