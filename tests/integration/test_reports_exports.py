"""The readings exports over a real registry and chDB, read back from their XLSX with openpyxl cell by cell:
4.3.7 «Выгрузка показаний за месяц» (monthly_readings), 4.3.8 «Выгрузка по объекту за дату» (building_day)
and 4.3.12 «Реестр показаний ИПУ МКД» (apartment_register). Every expected number is worked out by hand
from the archive rows stored here (the arithmetic is in the comments).

The seeded building (tests.cloud_data, Europe/Moscow): «ул. Тестовая, 1», building meter 307T0001
(KARAT-307: channels heat Q, hot water V, cold water V; hour and day archives), apartment 1 (50 m², 2
residents, account TEST-0001, 223T0001) and apartment 2 (70 m², 3 residents, TEST-0002, 223T0002); the
223s have channels heat Q, hot water V, cold water V. A month record keyed by the start of the reporting
period reads the counter at its end; a day record keyed by day D reads it at the end of D.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cloud.reports import readings as rd
from cloud.reports.table import MISSING_MARK
from cloud.services.container import Services
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.periods import local_to_utc
from protocol.vocabulary import ArchiveKind
from tests import support_register as sr
from tests import support_reports as support

MONTH, DAY, HOUR = ArchiveKind.MONTH, ArchiveKind.DAY, ArchiveKind.HOUR
WRAP = catalogue.model("KARAT-Compact-2-223").counter("Q").modulus  # type: ignore[union-attr]  # 4294.967296 Gcal
d = datetime
M = MISSING_MARK
PARTIAL = '0.000"*"'


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> support.World:
    return support.world(Registry(tmp_path / "registry.db"), clickhouse)


def _premise(w: support.World, number: str) -> int:
    return w.registry.one("SELECT id FROM premises WHERE building_id = ? AND number = ?", w.seeded.building_id,
                          number)["id"]


def approx(values: list) -> list:
    return [pytest.approx(v, abs=1e-9) if isinstance(v, float) else v for v in values]


# --- 4.3.7 ------------------------------------------------------------------------------------------------


def _monthly_world(w: support.World) -> None:
    """December 2025 for every meter of the company:
    - «ул. Абрикосовая, 5» (a second building of the company), premise 1, 926W0002 (cold water): 7.125
    - 307T0001 (building meter, hour and day archives): heat day record Dec 31 = 309.0; hot water day record
      Dec 31 = 1500.0; cold water has no day record, its hour record of Dec 31 23:00 = 2100.0
    - 223T0001 (reporting day 1): heat month record keyed Dec 1 = 13.25; its water channels have none: –*
    - 223T0002 (reporting day 15: the period closes Jan 15): heat keyed Dec 15 = 22.5, hot water 4.0, cold –*
    - 926W0004 (premise 2) decommissioned Dec 20 12:00 with the recorded final reading 3.5: 3.5 of Dec 20
    - 941T0001 (premise 3, two tariffs, CT ratio 2): total 1000.0 x 2 = 2000.0, T1 600.0 x 2 = 1200.0, T2 –*
    - 926W0001 (premise 10): 55.5 (sorted after premise 3: 10 > 3 as numbers)
    Left out: 926W0003 decommissioned Nov 20 (before the month), 926W0005 never commissioned, and the
    other company's 307X0001 (its record is stored under its own company)."""
    reg, seeded = w.registry, w.seeded
    sr.set_archives(reg, ("223T0001", "307T0001"), "hour, day, month, integral")
    sr.set_archives(reg, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p3 = sr.add_premise(reg, seeded.building_id, "3")
    sr.add_meter(reg, seeded.building_id, p3, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    p10 = sr.add_premise(reg, seeded.building_id, "10")
    sr.add_meter(reg, seeded.building_id, p10, "926W0001", model="KARAT-926LW")
    sr.add_meter(reg, seeded.building_id, p10, "926W0003", model="KARAT-926LW")
    support.set_lifecycle(reg, "926W0003", decommissioned=d(2025, 11, 20))
    sr.add_meter(reg, seeded.building_id, p10, "926W0005", model="KARAT-926LW")
    support.set_lifecycle(reg, "926W0005", status="commissioning")
    sr.add_meter(reg, seeded.building_id, _premise(w, "2"), "926W0004", model="KARAT-926LW")
    support.set_lifecycle(reg, "926W0004", decommissioned=d(2025, 12, 20, 12), final={"1:V": 3.5})
    b2 = support.add_building(reg, seeded.company_id, "ул. Абрикосовая, 5")
    sr.add_meter(reg, b2, sr.add_premise(reg, b2, "1"), "926W0002", model="KARAT-926LW")
    sr.store(w.clickhouse, seeded.company_id, [
        sr.record("926W0002", MONTH, d(2025, 12, 1), 7.125, 1, "V"),
        sr.record("307T0001", DAY, d(2025, 12, 31), 309.0),
        sr.record("307T0001", DAY, d(2025, 12, 31), 1500.0, 2, "V"),
        sr.record("307T0001", HOUR, d(2025, 12, 31, 23), 2100.0, 3, "V"),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0002", MONTH, d(2025, 12, 15), 22.5),
        sr.record("223T0002", MONTH, d(2025, 12, 15), 4.0, 2, "V"),
        sr.record("941T0001", MONTH, d(2025, 12, 1), 1000.0, 1, "E"),
        sr.record("941T0001", MONTH, d(2025, 12, 1), 600.0, 2, "E"),
        sr.record("926W0001", MONTH, d(2025, 12, 1), 55.5, 1, "V"),
        sr.record("926W0003", MONTH, d(2025, 12, 1), 99.0, 1, "V"),  # after its decommissioning: not its own
    ])
    sr.store(w.clickhouse, w.registry.one("SELECT company_id FROM buildings WHERE id = ?",
                                          seeded.other_building_id)["company_id"],
             [sr.record("307X0001", DAY, d(2025, 12, 31), 1.0)])


async def test_monthly_readings_cell_by_cell(world: support.World) -> None:
    _monthly_world(world)
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "monthly_readings", {"month": "2025-12"})
    sheets = support.sheets(report)
    assert list(sheets) == ["Показания"]
    header, rows = support.table(sheets["Показания"], "Адрес")
    assert header == ["Адрес", "Номер помещения", "Лицевой счёт", "Номер прибора учёта", "Модель", "ИПУ/ОДПУ",
                      "Электроэнергия Т1 (день), кВт·ч", "Электроэнергия Т2 (ночь), кВт·ч",
                      "Электроэнергия всего, кВт·ч", "ХВС, м³", "ГВС, м³", "Тепловая энергия, Гкал", "Газ, м³",
                      "Дата снятия показаний"]
    jan1, jan15 = d(2026, 1, 1), d(2026, 1, 15)
    assert [support.values(r) for r in rows] == [approx(v) for v in [
        ["ул. Абрикосовая, 5", "1", None, "926W0002", "KARAT-926LW", "ИПУ", None, None, None, 7.125, None, None,
         None, jan1],
        ["ул. Тестовая, 1", None, None, "307T0001", "KARAT-307", "ОДПУ", None, None, None, 2100.0, 1500.0, 309.0,
         None, jan1],
        ["ул. Тестовая, 1", "1", "TEST-0001", "223T0001", "KARAT-Compact-2-223", "ИПУ", None, None, None, M, M,
         13.25, None, jan1],
        ["ул. Тестовая, 1", "2", "TEST-0002", "223T0002", "KARAT-Compact-2-223", "ИПУ", None, None, None, M, 4.0,
         22.5, None, jan15],
        ["ул. Тестовая, 1", "2", "TEST-0002", "926W0004", "KARAT-926LW", "ИПУ", None, None, None, 3.5, None, None,
         None, d(2025, 12, 20)],
        ["ул. Тестовая, 1", "3", None, "941T0001", "KARAT-941LW", "ИПУ", 1200.0, M, 2000.0, None, None, None,
         None, jan1],
        ["ул. Тестовая, 1", "10", None, "926W0001", "KARAT-926LW", "ИПУ", None, None, None, 55.5, None, None,
         None, jan1],
    ]]
    # numbers are numbers, dates dates, the missing mark text
    heat_1 = rows[2][11]
    assert (heat_1.type, heat_1.format) == ("n", "0.000")
    assert rows[2][9].type == "s"
    assert rows[2][13].type == "d"
    assert rows[2][13].format == "DD.MM.YYYY"
    # the JSON form has the same rows (a new report: the file's rows are a generator, consumed by the writer)
    again = await world.services.reports.report(disp, "monthly_readings", {"month": "2025-12"})
    js = again.as_json()["sheets"][0]["rows"]
    assert len(js) == 7
    assert js[5][6:9] == [pytest.approx(1200.0), {"missing": True}, pytest.approx(2000.0)]
    assert js[3][-1] == "2026-01-15"


async def test_monthly_readings_parameters_and_scope(world: support.World) -> None:
    disp = await support.token(world, "disp")
    with pytest.raises(InvalidInput, match="month"):
        await world.services.reports.report(disp, "monthly_readings", {"month": "2026-13"})
    admin = await support.token(world, "admin")
    with pytest.raises(NotFound):
        await world.services.reports.report(admin, "monthly_readings", {"month": "2025-12"})
    # the other company sees only its own building meter
    stranger = await support.token(world, "stranger")
    report = await world.services.reports.report(stranger, "monthly_readings", {"month": "2025-12"})
    assert [r[3] for r in report.sheets[0].materialised()] == ["307X0001"]
    # default: last month (the clock says 2026-01-14)
    report = await world.services.reports.report(disp, "monthly_readings", {})
    assert report.parameters["month"] == d(2025, 12, 1).date()


# --- 4.3.12 -----------------------------------------------------------------------------------------------


def _register_world(w: support.World) -> None:
    """December 2025 (day 1): from Dec 1 00:00 to Jan 1 00:00 local.
    - 223T0001: month records keyed Nov 1 = 11.5 (reading at Dec 1), Dec 1 = 13.25 (at Jan 1): 1.75
    - 223T0002 (reporting day 15: Dec 1 and Jan 1 are no month boundary of it, its day records give them):
      day Nov 30 = 21.0; Dec 31 missing: end –*, consumption –*
    - premise 5 (ЛС-5, 45.5 m², 3 residents), 223T0005: Nov 1 = WRAP − 0.1, Dec 1 = 0.2: 0.1 + 0.2 = 0.3
    - premise 6 (ЛС-6, 61.2 m², 4 residents), 223T0006: Nov 1 = 5.0, Dec 1 = 1.5, a reset recorded from
      Dec 10 (final 7.0, initial 0.0): (7.0 − 5.0) + (1.5 − 0.0) = 3.5
    - premise 3, 941T0001 (CT ratio 2): Nov 1 total 900, T1 550, T2 350; Dec 1 total 1000, T1 600, T2 missing
    Heat total: 1.75 + 0.3 + 3.5 = 5.55, partial (223T0002 unknown)."""
    reg, seeded = w.registry, w.seeded
    sr.set_archives(reg, ("223T0001",), "hour, day, month, integral")
    sr.set_archives(reg, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p5, p6, p3 = (sr.add_premise(reg, seeded.building_id, n) for n in ("5", "6", "3"))
    support.set_premise(reg, p5, "ЛС-5", 45.5, 3)
    support.set_premise(reg, p6, "ЛС-6", 61.2, 4)
    sr.add_meter(reg, seeded.building_id, p5, "223T0005")
    sr.add_meter(reg, seeded.building_id, p6, "223T0006")
    support.add_break(reg, "223T0006", 1, "Q", d(2025, 12, 10), 7.0, 0.0)
    sr.add_meter(reg, seeded.building_id, p3, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    sr.store(w.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 11, 1), 11.5), sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0002", DAY, d(2025, 11, 30), 21.0),
        sr.record("223T0005", MONTH, d(2025, 11, 1), WRAP - 0.1), sr.record("223T0005", MONTH, d(2025, 12, 1), 0.2),
        sr.record("223T0006", MONTH, d(2025, 11, 1), 5.0), sr.record("223T0006", MONTH, d(2025, 12, 1), 1.5),
        sr.record("941T0001", MONTH, d(2025, 11, 1), 900.0, 1, "E"),
        sr.record("941T0001", MONTH, d(2025, 11, 1), 550.0, 2, "E"),
        sr.record("941T0001", MONTH, d(2025, 11, 1), 350.0, 3, "E"),
        sr.record("941T0001", MONTH, d(2025, 12, 1), 1000.0, 1, "E"),
        sr.record("941T0001", MONTH, d(2025, 12, 1), 600.0, 2, "E"),
    ])


async def test_apartment_register_heat_by_hand(world: support.World) -> None:
    _register_world(world)
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "apartment_register", {
        "building": str(world.seeded.building_id), "month": "2025-12", "resource": "heat"})
    sheet = support.sheets(report)["Реестр показаний ИПУ"]
    header, rows = support.table(sheet, "Лицевой счёт")
    assert header == ["Лицевой счёт", "Номер помещения", "Общая площадь, м²", "Проживающих, чел.",
                      "Номер прибора учёта", "Показание на 01.12.2025, Гкал", "Показание на 01.01.2026, Гкал",
                      "Расход, Гкал"]
    assert [support.values(r) for r in rows] == [approx(v) for v in [
        ["TEST-0001", "1", 50.0, 2, "223T0001", 11.5, 13.25, 1.75],
        ["TEST-0002", "2", 70.0, 3, "223T0002", 21.0, M, M],
        ["ЛС-5", "5", 45.5, 3, "223T0005", WRAP - 0.1, 0.2, 0.3],  # across the wrap
        ["ЛС-6", "6", 61.2, 4, "223T0006", 5.0, 1.5, 3.5],  # across the recorded reset
        ["Итого", None, None, None, None, None, None, 5.55],
    ]]
    total = rows[-1][-1]
    assert (total.type, total.format) == ("n", PARTIAL)  # a partial sum: the known part, marked *
    assert rows[0][-1].type == "n"
    assert rows[0][3].type == "n"
    assert report.as_json()["sheets"][0]["totals"][-1] == {"value": pytest.approx(5.55), "partial": True}


async def test_apartment_register_electricity_tariffs(world: support.World) -> None:
    _register_world(world)
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "apartment_register", {
        "building": str(world.seeded.building_id), "month": "2025-12", "resource": "electricity", "day": "1"})
    header, rows = support.table(support.sheets(report)["Реестр показаний ИПУ"], "Лицевой счёт")
    assert header[5:] == ["Тариф", "Показание на 01.12.2025, кВт·ч", "Показание на 01.01.2026, кВт·ч",
                          "Расход, кВт·ч"]
    # x CT ratio 2: T1 550 -> 600 = 1100 -> 1200, 100; T2 350 -> ? = 700 -> –*; total 900 -> 1000 = 1800 -> 2000, 200
    assert [support.values(r) for r in rows] == [approx(v) for v in [
        [None, "3", 40.0, 1, "941T0001", "Т1 (день)", 1100.0, 1200.0, 100.0],
        [None, "3", 40.0, 1, "941T0001", "Т2 (ночь)", 700.0, M, M],
        [None, "3", 40.0, 1, "941T0001", "всего", 1800.0, 2000.0, 200.0],
        ["Итого Т1 (день)", None, None, None, None, "Т1 (день)", None, None, 100.0],
        ["Итого Т2 (ночь)", None, None, None, None, "Т2 (ночь)", None, None, M],
        ["Итого всего", None, None, None, None, "всего", None, None, 200.0],
    ]]
    assert rows[-1][-1].format == "0.000"  # complete: no mark


async def test_apartment_register_parameters_and_scope(world: support.World) -> None:
    disp = await support.token(world, "disp")
    svc = world.services.reports
    base = {"building": str(world.seeded.building_id), "month": "2025-12", "resource": "heat"}
    with pytest.raises(InvalidInput, match="month"):
        await svc.report(disp, "apartment_register", {**base, "month": "2026-13"})
    with pytest.raises(InvalidInput, match="day"):
        await svc.report(disp, "apartment_register", {**base, "day": "29"})
    with pytest.raises(NotFound):
        await svc.report(disp, "apartment_register", {**base, "building": "99999"})
    with pytest.raises(NotFound):
        await svc.report(disp, "apartment_register", {**base, "building": str(world.seeded.other_building_id)})
    admin = await support.token(world, "admin")
    with pytest.raises(NotFound):
        await svc.report(admin, "apartment_register", base)


# --- 4.3.8 ------------------------------------------------------------------------------------------------


def _day_world(w: support.World) -> None:
    """2026-01-11 from day records (each keyed by day D reads the counter at the end of D):
    - 307T0001 heat: Jan 10 100.84, Jan 11 101.68: 0.84; its water channels have nothing: –*
    - premise 1: 223T0001 heat Jan 10 100.24, Jan 11 100.48: 0.24; a second meter 223T0007 Jan 10 5.0,
      Jan 11 missing: the premise's heat is 0.24 partial; water (both meters) –*
    - premise 2: 223T0002 Jan 10 100.48, Jan 11 missing: heat –*
    - premise 3: 941T0001 (CT 2) total 1010 -> 1012.5, T1 605 -> 606, T2 405 -> 406.5:
      total 2.5 x 2 = 5.0, T1 1 x 2 = 2.0, T2 1.5 x 2 = 3.0"""
    reg, seeded = w.registry, w.seeded
    sr.set_archives(reg, ("223T0001", "223T0002"), "hour, day, month, integral")
    sr.set_archives(reg, ("307T0001",), "hour, day, integral")
    sr.add_meter(reg, seeded.building_id, _premise(w, "1"), "223T0007")
    p3 = sr.add_premise(reg, seeded.building_id, "3")
    sr.add_meter(reg, seeded.building_id, p3, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    sr.store(w.clickhouse, seeded.company_id, [
        sr.record("307T0001", DAY, d(2026, 1, 10), 100.84), sr.record("307T0001", DAY, d(2026, 1, 11), 101.68),
        sr.record("223T0001", DAY, d(2026, 1, 10), 100.24), sr.record("223T0001", DAY, d(2026, 1, 11), 100.48),
        sr.record("223T0002", DAY, d(2026, 1, 10), 100.48),
        sr.record("223T0007", DAY, d(2026, 1, 10), 5.0),
        sr.record("941T0001", DAY, d(2026, 1, 10), 1010.0, 1, "E"),
        sr.record("941T0001", DAY, d(2026, 1, 11), 1012.5, 1, "E"),
        sr.record("941T0001", DAY, d(2026, 1, 10), 605.0, 2, "E"),
        sr.record("941T0001", DAY, d(2026, 1, 11), 606.0, 2, "E"),
        sr.record("941T0001", DAY, d(2026, 1, 10), 405.0, 3, "E"),
        sr.record("941T0001", DAY, d(2026, 1, 11), 406.5, 3, "E"),
    ])


async def test_building_day_by_hand(world: support.World) -> None:
    _day_world(world)
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "building_day", {
        "building": str(world.seeded.building_id), "day": "2026-01-11"})
    sheets = support.sheets(report)
    assert list(sheets) == ["Потребление за сутки", "Показания на конец суток"]
    header, rows = support.table(sheets["Потребление за сутки"], "Помещение")
    assert header == ["Помещение", "Лицевой счёт", "Электроэнергия Т1 (день), кВт·ч",
                      "Электроэнергия Т2 (ночь), кВт·ч", "Электроэнергия всего, кВт·ч", "ХВС, м³", "ГВС, м³",
                      "Тепловая энергия, Гкал"]
    assert [support.values(r) for r in rows] == [approx(v) for v in [
        ["ОДПУ (общедомовые приборы учёта)", None, None, None, None, M, M, 0.84],
        ["1", "TEST-0001", None, None, None, M, M, 0.24],
        ["2", "TEST-0002", None, None, None, M, M, M],
        ["3", None, 2.0, 3.0, 5.0, None, None, None],
        ["Итого по помещениям", None, 2.0, 3.0, 5.0, M, M, 0.24],  # premises only: 0.24 known, partial
    ]]
    assert rows[1][7].format == PARTIAL
    assert rows[1][7].type == "n"
    assert rows[-1][7].format == PARTIAL
    assert rows[3][4].format == "0.000"
    # readings at the end of the day (Jan 12 00:00): day records, else the hour record of Jan 11 23:00
    header, rows = support.table(sheets["Показания на конец суток"], "Помещение")
    assert header[-1] == "Дата и время показаний"
    end = d(2026, 1, 12)
    assert [support.values(r) for r in rows] == [approx(v) for v in [
        ["ОДПУ (общедомовые приборы учёта)", "307T0001", "KARAT-307", "ОДПУ", None, None, None, M, M, 101.68, None,
         end],
        ["1", "223T0001", "KARAT-Compact-2-223", "ИПУ", None, None, None, M, M, 100.48, None, end],
        ["1", "223T0007", "KARAT-Compact-2-223", "ИПУ", None, None, None, M, M, M, None, end],
        ["2", "223T0002", "KARAT-Compact-2-223", "ИПУ", None, None, None, M, M, M, None, end],  # Jan 11 23:00 lost
        ["3", "941T0001", "KARAT-941LW", "ИПУ", 1212.0, 813.0, 2025.0, None, None, None, None, end],
    ]]
    js = report.as_json()["sheets"][0]
    assert js["totals"][-1] == {"value": pytest.approx(0.24), "partial": True}
    assert js["rows"][2][-1] == {"missing": True}


async def test_building_day_scope(world: support.World) -> None:
    svc = world.services.reports
    disp, admin = await support.token(world, "disp"), await support.token(world, "admin")
    with pytest.raises(NotFound):
        await svc.report(disp, "building_day", {"building": str(world.seeded.other_building_id), "day": "2026-01-11"})
    with pytest.raises(NotFound):
        await svc.report(admin, "building_day", {"building": str(world.seeded.building_id), "day": "2026-01-11"})
    with pytest.raises(InvalidInput, match="day"):
        await svc.report(disp, "building_day", {"building": str(world.seeded.building_id), "day": "2026-02-30"})


# --- readings.py: the readings every export stands on -----------------------------------------------------


def _readings_world(w: support.World) -> dict[str, rd.Placed]:
    """Records around 2026-01-01 00:00 local (each the counter at the end of its period):
    - 223T0001 (month archives): month keyed Dec 1 = 13.25, and a day record of Dec 31 = 13.3
    - 223T0002 (reporting day 15): day Dec 31 = 30.0 (Jan 1 is no month boundary of it), month keyed Dec 15 = 31.0
    - 223T0003 (reporting day 15) in premise 3: month keyed Dec 1 (the edge keys months by the 1st) = 8.0
    - 307T0001: cold water (channel 3) only in the hour record of Dec 31 23:00 = 2100.0
    - 941T0001 (CT 2): total month keyed Dec 1 = 1000.0
    - 926W0001 commissioned Dec 10 10:00 (initial 2.0), decommissioned Dec 20 12:00 (final 3.5); records
      of Nov 30 (day, 1.0) and Dec 31 (day, 9.0) are outside its service: not its readings
    - 926W0006: day Jan 10 = 1.0, Jan 11 = 1.5, hour Jan 12 05:00 = 1.6
    - 926W0007 decommissioned Dec 20 12:00 with no final reading: day Dec 19 = 3.2, Dec 25 = 9.0"""
    reg, seeded = w.registry, w.seeded
    sr.set_archives(reg, ("223T0001",), "hour, day, month, integral")
    sr.set_archives(reg, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p3 = sr.add_premise(reg, seeded.building_id, "3")
    sr.add_meter(reg, seeded.building_id, p3, "223T0003", reporting_day=15)
    sr.add_meter(reg, seeded.building_id, p3, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    for serial in ("926W0001", "926W0006", "926W0007"):
        sr.add_meter(reg, seeded.building_id, p3, serial, model="KARAT-926LW")
    support.set_lifecycle(reg, "926W0001", commissioned=d(2025, 12, 10, 10), decommissioned=d(2025, 12, 20, 12),
                          initial={"1:V": 2.0}, final={"1:V": 3.5})
    support.set_lifecycle(reg, "926W0007", decommissioned=d(2025, 12, 20, 12))
    sr.store(w.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25), sr.record("223T0001", DAY, d(2025, 12, 31), 13.3),
        sr.record("223T0002", DAY, d(2025, 12, 31), 30.0), sr.record("223T0002", MONTH, d(2025, 12, 15), 31.0),
        sr.record("223T0003", MONTH, d(2025, 12, 1), 8.0),
        sr.record("307T0001", HOUR, d(2025, 12, 31, 23), 2100.0, 3, "V"),
        sr.record("941T0001", MONTH, d(2025, 12, 1), 1000.0, 1, "E"),
        sr.record("926W0001", DAY, d(2025, 11, 30), 1.0, 1, "V"),
        sr.record("926W0001", DAY, d(2025, 12, 31), 9.0, 1, "V"),
        sr.record("926W0006", DAY, d(2026, 1, 10), 1.0, 1, "V"),
        sr.record("926W0006", DAY, d(2026, 1, 11), 1.5, 1, "V"),
        sr.record("926W0006", HOUR, d(2026, 1, 12, 5), 1.6, 1, "V"),
        sr.record("926W0007", DAY, d(2025, 12, 19), 3.2, 1, "V"),
        sr.record("926W0007", DAY, d(2025, 12, 25), 9.0, 1, "V"),
    ])
    return {p.meter.serial: p for p in rd.company_meters(reg, seeded.company_id)}


async def test_readings_at_from_month_day_and_hour_records(world: support.World) -> None:
    placed = _readings_world(world)
    jan1 = d(2026, 1, 1)

    async def at(serial: str, boundary: datetime) -> dict[int, rd.Reading]:
        p = placed[serial]
        got = await rd.readings_at(world.clickhouse, world.seeded.company_id, [(p.meter, boundary, p.tz)])
        return {channel: reading for (meter, channel), reading in got.items() if meter == p.meter.id}

    # the month record wins over the day record of the same boundary; channels 2 and 3 have none: absent
    assert (await at("223T0001", jan1)) == {1: rd.Reading(13.25, jan1, MONTH)}
    # reporting day 15: Jan 1 from the day record, Jan 15 from the month record keyed Dec 15
    assert (await at("223T0002", jan1)) == {1: rd.Reading(30.0, jan1, DAY)}
    assert (await at("223T0002", d(2026, 1, 15))) == {1: rd.Reading(31.0, d(2026, 1, 15), MONTH)}
    # a month record keyed by the 1st (as the edge keys it) is the same record
    assert (await at("223T0003", d(2026, 1, 15))) == {1: rd.Reading(8.0, d(2026, 1, 15), MONTH)}
    assert (await at("307T0001", jan1)) == {3: rd.Reading(2100.0, jan1, HOUR)}
    assert (await at("941T0001", jan1)) == {1: rd.Reading(2000.0, jan1, MONTH)}  # 1000 x CT 2
    # the recorded readings at commissioning and decommissioning; nothing outside the service period
    assert (await at("926W0001", d(2025, 12, 10, 10))) == {1: rd.Reading(2.0, d(2025, 12, 10, 10), None)}
    assert (await at("926W0001", d(2025, 12, 20, 12))) == {1: rd.Reading(3.5, d(2025, 12, 20, 12), None)}
    assert (await at("926W0001", d(2025, 12, 1))) == {}
    assert (await at("926W0001", jan1)) == {}
    # all at once: one call, each meter its own boundary
    together = await rd.readings_at(world.clickhouse, world.seeded.company_id, [
        (placed[s].meter, b, placed[s].tz) for s, b in (("223T0001", jan1), ("223T0002", d(2026, 1, 15)))])
    assert {k[0]: v.value for k, v in together.items()} == {placed["223T0001"].meter.id: 13.25,
                                                          placed["223T0002"].meter.id: 31.0}


async def test_readings_at_by_serial_ranges_and_chunks(world: support.World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large company is read by ranges of serials, a chunk at a time: the same readings as by lists."""
    placed = _readings_world(world)
    wanted = [(p.meter, d(2026, 1, 1), p.tz) for p in placed.values()]
    by_list = await rd.readings_at(world.clickhouse, world.seeded.company_id, wanted)
    monkeypatch.setattr(rd, "_BULK", 1)
    monkeypatch.setattr(rd, "_CHUNK", 2)
    assert await rd.readings_at(world.clickhouse, world.seeded.company_id, wanted) == by_list
    # 223T0001 13.25 (month), 223T0002 30.0 (day), 307T0001 ch3 2100.0 (hour), 941T0001 2000.0 (CT 2),
    # 926W0006 nothing at Jan 1; 926W0007 and 926W0001 out of service
    assert sorted(round(r.value, 6) for r in by_list.values()) == [13.25, 30.0, 2000.0, 2100.0]


async def test_latest_readings_newest_within_service(world: support.World) -> None:
    placed = _readings_world(world)

    async def latest(serial: str, as_of_local: datetime) -> dict[int, rd.Reading]:
        p = placed[serial]
        got = await rd.latest_readings(world.clickhouse, world.seeded.company_id, [(p.meter, p.tz)],
                                       local_to_utc(as_of_local, p.tz))
        return {channel: reading for (meter, channel), reading in got.items() if meter == p.meter.id}

    # the hour record of 05:00 ends at 06:00: newest at 06:00, not yet at 05:30 (then the day of Jan 11, ending 00:00)
    assert (await latest("926W0006", d(2026, 1, 12, 6))) == {1: rd.Reading(1.6, d(2026, 1, 12, 6), HOUR)}
    assert (await latest("926W0006", d(2026, 1, 12, 5, 30))) == {1: rd.Reading(1.5, d(2026, 1, 12), DAY)}
    # decommissioned Dec 20 12:00: its recorded final reading, never the record of Dec 31 after it
    assert (await latest("926W0001", d(2026, 1, 12))) == {1: rd.Reading(3.5, d(2025, 12, 20, 12), None)}
    # without a final reading: the newest record ending by then (Dec 19, ending Dec 20 00:00), not Dec 25's
    assert (await latest("926W0007", d(2026, 1, 12))) == {1: rd.Reading(3.2, d(2025, 12, 20), DAY)}


# --- the bench, tiny: its code runs; the export as a background job -------------------------------------


async def test_bench_reports_tiny_and_background_job(clickhouse: ClickHouse, tmp_path: Path) -> None:
    from bench import reports as bench_reports
    registry = Registry(tmp_path / "bench.db")
    company = bench_reports.register(registry, 2, 3)
    bench_reports.fill(clickhouse, company, 2, 3)
    result = await bench_reports.measure(registry, clickhouse, tmp_path)
    # 2 buildings x (3 apartments x 3 meters + 1 heat meter) = 20 rows, both ways
    assert (result["rows"], result["csv_rows"]) == (20, 20)
    services = Services.create(registry, clickhouse)
    token = (await services.auth.login(bench_reports.LOGIN, bench_reports.PASSWORD)).token
    job = await services.reports.start(token, "monthly_readings", {"month": "2025-12"})
    done = await services.reports.wait(token, job.id)
    assert (done.state, done.rows, done.progress) == ("done", 20, 1.0)
    path, name = await services.reports.job_file(token, job.id)
    assert name.startswith("monthly_readings")
    assert path.stat().st_size > 0
