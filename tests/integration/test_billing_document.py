"""The billing document (manual 4.4.1) over a real registry and chDB, opened with openpyxl: sheet names,
header rows cell by cell, readings with 7 decimals, period and dates as text, T1/T2 of a two-tariff
meter times its CT ratio, and «Ошибки» with the reasons, the last known reading and the months in a
row without one worked out by hand. Nothing is filled in: a meter without a reading is only in «Ошибки».

The building (tests.cloud_data, Europe/Moscow), month December 2025 (the default: NOW is 2026-01-14),
every reporting day 1, so the closing is 2026-01-01 00:00 local:
- ОДПУ 307T0001 (heat, KARAT-307, no monthly archive): day record of 2025-12-31 = 176.04 → Т1 176.04.
- кв. 1, 223T0001 (heat and cold water channels), ЛС 100-1, ГИС «ГИС-1»: month records of December:
  heat 47.123456, cold water 12.5 → two rows, one per communal resource.
- кв. 2, 223T0002, ЛС 100-2, ГИС «ГИС-2»: the only record is the day of 2025-09-30 (60.0, the September
  closing 2025-10-01); the October, November and December closings have no archive → «Ошибки», 3 months,
  last reading 01.10.2025.
- кв. 3, 223T0003, ЛС 100-3, no ГИС number: month record 11.77 and day record of 12-31 → «Ошибки»,
  0 months, last reading 01.01.2026.
- кв. 4, 941T0001 (2 zones, CT 2), ЛС 100-4, ГИС «ГИС-Э»: day records of 12-31: T1 608.0, T2 404.5 →
  Т1 1216.0, Т2 809.0, Т3 empty.
- кв. 5, 223T0005, no personal account, ГИС «ГИС-5», month record 5.5 → «Ошибки», 0 months.
- кв. 6, 223T0006, ЛС 100-6, ГИС «ГИС-6», commissioned 2025-11-10 UTC, no archive: the December and
  November closings (2026-01-01, 2025-12-01) have none, the October closing (2025-11-01) is before it
  was commissioned → 2 months; no reading ever → no date.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from cloud.billing import document
from cloud.reports.service import xlsx_in_memory
from cloud.services.container import Services
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests import support_billing_document as support
from tests import support_register as sr

D = datetime
IPU_HEADER = ["Адрес", "Номер помещения", "Лицевой счёт", "Номер ПУ в ГИС ЖКХ", "Заводской номер ПУ",
              "Коммунальный ресурс", "Период", "Показание Т1", "Показание Т2", "Показание Т3",
              "Дата снятия показаний", "Фактическое показание"]
ODPU_HEADER = ["Адрес", "Номер ПУ в ГИС ЖКХ", "Заводской номер ПУ", "Коммунальный ресурс", "Период",
               "Показание Т1", "Показание Т2", "Показание Т3", "Дата снятия показаний", "Фактическое показание"]
ERROR_HEADER = ["Адрес", "Номер помещения", "Лицевой счёт", "Номер ПУ в ГИС ЖКХ", "Заводской номер ПУ",
                "Коммунальный ресурс", "Причина", "Дата последнего показания", "Месяцев подряд без показаний"]
ADDRESS = "ул. Тестовая, 1"


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, Registry]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    support.billing_world(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, seeded, registry


def _rows(ws: Worksheet) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


async def _workbook(services: Services, raw: dict[str, str], login: str = "disp"):
    token = (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
    report = await services.reports.report(token, "billing_document", raw)
    return load_workbook(io.BytesIO(xlsx_in_memory(report)))


async def test_the_document_cell_by_cell(world) -> None:
    services, _, _ = world
    wb = await _workbook(services, {})  # month: last_month = 2025-12
    assert wb.sheetnames == ["Импорт показаний ИПУ", "Импорт показаний ОДПУ", "Ошибки"]

    ipu = wb["Импорт показаний ИПУ"]
    rows = _rows(ipu)
    assert rows[0] == IPU_HEADER
    assert rows[1:] == [
        [ADDRESS, "1", "100-1", "ГИС-1", "223T0001", "Тепловая энергия", "12.2025", 47.123456, None, None,
         "01.01.2026", "да"],
        [ADDRESS, "1", "100-1", "ГИС-1", "223T0001", "Холодная вода", "12.2025", 12.5, None, None,
         "01.01.2026", "да"],
        [ADDRESS, "4", "100-4", "ГИС-Э", "941T0001", "Электрическая энергия", "12.2025", 1216.0, 809.0, None,
         "01.01.2026", "да"],  # 608.0 × 2 and 404.5 × 2; the total channel (1012.5) is not a zone
    ]
    for col in "HIJ":  # every reading cell shows 7 decimals, even the empty Т3's neighbours
        for r in (2, 3, 4):
            cell = ipu[f"{col}{r}"]
            if cell.value is not None:
                assert cell.number_format == "0.0000000"
                assert cell.data_type == "n"
    for col in "GK":  # period and date: text, as the template wants
        assert ipu[f"{col}2"].data_type == "s"

    odpu = _rows(wb["Импорт показаний ОДПУ"])
    assert odpu[0] == ODPU_HEADER
    assert odpu[1:] == [[ADDRESS, "ГИС-ОДПУ", "307T0001", "Тепловая энергия", "12.2025", 176.04, None, None,
                         "01.01.2026", "да"]]
    assert wb["Импорт показаний ОДПУ"]["F2"].number_format == "0.0000000"

    errors = _rows(wb["Ошибки"])
    assert errors[0] == ERROR_HEADER
    assert errors[1:] == [
        [ADDRESS, "2", "100-2", "ГИС-2", "223T0002", "Тепловая энергия",
         "нет показания на конец расчётного периода (нет архива прибора)", "01.10.2025", 3],
        [ADDRESS, "3", "100-3", None, "223T0003", "Тепловая энергия", "нет номера прибора учёта в ГИС ЖКХ",
         "01.01.2026", 0],
        [ADDRESS, "5", None, "ГИС-5", "223T0005", "Тепловая энергия", "нет лицевого счёта помещения",
         "01.01.2026", 0],  # its reading at the closing (the month record) is its last
        [ADDRESS, "6", "100-6", "ГИС-6", "223T0006", "Тепловая энергия",
         "нет показания на конец расчётного периода (нет архива прибора)", None, 2],
    ]
    # nothing invented: the meters in «Ошибки» are in neither import sheet
    listed = {r[4] for r in rows[1:]} | {r[2] for r in odpu[1:]}
    assert listed.isdisjoint({r[4] for r in errors[1:]})


async def test_a_later_reporting_day_is_not_guessed(world) -> None:
    """223T0001 with reporting day 15: its December period closes 2026-01-15, after NOW (01-14)."""
    services, _, registry = world
    sr.set_archives(registry, ("223T0001",), "hour, day, month, integral", reporting_day=15)
    wb = await _workbook(services, {"month": "2025-12"})
    assert "223T0001" not in {r[4] for r in _rows(wb["Импорт показаний ИПУ"])}
    row = next(r for r in _rows(wb["Ошибки"]) if r[4] == "223T0001")
    # December's closing (2026-01-15) is not reached: skipped; the 11 closings before it (2025-12-15 back
    # to 2025-02-15) have no record (its month record keyed 2025-12-01 is no period of a 15th) → 11
    assert row[6] == "расчётный период прибора ещё не закончился: показание будет на 15.01.2026"
    assert row[8] == 11


async def test_one_building_and_scope(world) -> None:
    services, seeded, _ = world
    wb = await _workbook(services, {"month": "2025-12", "building": str(seeded.building_id)})
    assert len(_rows(wb["Импорт показаний ИПУ"])) == 4
    with pytest.raises(NotFound):
        await _workbook(services, {"building": str(seeded.other_building_id)})
    with pytest.raises(NotFound):
        await _workbook(services, {}, login="admin")
    with pytest.raises(InvalidInput, match="month"):
        await _workbook(services, {"month": "2026-02"})
    with pytest.raises(InvalidInput, match="month"):
        await _workbook(services, {"month": "12.2025"})
    wb = await _workbook(services, {}, login="reader")  # a reader reads
    assert len(_rows(wb["Ошибки"])) == 5


async def test_made_in_the_background(world) -> None:
    services, _, _ = world
    token = (await services.auth.login("disp", "disp-pass")).token
    job = await services.reports.start(token, "billing_document", {"month": "2025-12"})
    done = await services.reports.wait(token, job.id)
    assert done.state == "done", done.error
    path, name = await services.reports.job_file(token, job.id)
    assert name == "billing_document_2025-12.xlsx"
    wb = load_workbook(path)
    assert [len(_rows(wb[s])) - 1 for s in wb.sheetnames] == [3, 1, 4]
    summary = document.summarise(path, first=2)
    assert (summary.ipu, summary.odpu, summary.errors) == (3, 1, 4)
    assert summary.first_errors == (
        (ADDRESS, "2", "223T0002", "нет показания на конец расчётного периода (нет архива прибора)"),
        (ADDRESS, "3", "223T0003", "нет номера прибора учёта в ГИС ЖКХ"))


async def test_a_meter_decommissioned_in_the_month_is_named(world) -> None:
    """223T0007 in кв. 7, decommissioned 2025-12-20 00:00 UTC (03:00 local), its day record of 12-18 = 9.25:
    in service in December but with no closing reading → «Ошибки», last reading 19.12.2025 (the end of the
    18th), months in a row 0 (not in service at the closing: nothing is missing)."""
    services, seeded, registry = world
    p7 = sr.add_premise(registry, seeded.building_id, "7")
    m7 = sr.add_meter(registry, seeded.building_id, p7, "223T0007")
    with registry.connect() as db:
        db.execute("UPDATE premises SET account = '100-7' WHERE id = ?", (p7,))
        db.execute("UPDATE meters SET gis_number = 'ГИС-7', decommissioned_at = '2025-12-20T00:00:00+00:00' "
                   "WHERE id = ?", (m7,))
        db.execute("DELETE FROM meter_channels WHERE meter_id = ? AND resource <> 'heat'", (m7,))
    sr.store(services.accounting.ch, seeded.company_id, [sr.record("223T0007", sr.DAY, D(2025, 12, 18), 9.25)])
    wb = await _workbook(services, {"month": "2025-12"})
    row = next(r for r in _rows(wb["Ошибки"]) if r[4] == "223T0007")
    assert row == [ADDRESS, "7", "100-7", "ГИС-7", "223T0007", "Тепловая энергия",
                   "прибор выведен из эксплуатации 20.12.2025, до конца расчётного периода: его конечное показание "
                   "в документ не входит", "19.12.2025", 0]
    # November: it closed (2025-12-01) in service, with no archive → a missing reading, not a decommissioning
    wb = await _workbook(services, {"month": "2025-11"})
    row = next(r for r in _rows(wb["Ошибки"]) if r[4] == "223T0007")
    assert row[6] == "нет показания на конец расчётного периода (нет архива прибора)"
