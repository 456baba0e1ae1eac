"""The balance reports over a real registry and chDB, read back from their XLSX with openpyxl cell by cell:
4.3.3 «Баланс по МКД» (building_balance), 4.3.2 «Балансировка потребления э/э» (phase_balance) and 4.3.9
«Карточка учета показаний» (meter_card). Every expected number is worked out by hand from the archive
rows stored here (the arithmetic is in the comments), never copied from what the code produced.

The seeded building (tests.cloud_data, Europe/Moscow, now 2026-01-14 12:00 UTC): building meter 307T0001
(KARAT-307: hour and day archives, no month one), apartment 1 (50 m², 2 residents, 223T0001) and
apartment 2 (70 m², 3 residents, 223T0002); a second company's building must stay out of reach.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cloud.services.balance_groups import GroupDraft
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.vocabulary import Resource
from tests import support_register as sr
from tests import support_reports_balance as support

MONTH, DAY = sr.MONTH, sr.DAY
WRAP = catalogue.model("KARAT-Compact-2-223").counter("Q").modulus  # type: ignore[union-attr]  # 4294.967296 Gcal
d = datetime


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> support.World:
    return support.norms_world(Registry(tmp_path / "registry.db"), clickhouse)


def _heat_months(world: support.World) -> None:
    """Monthly heat archives (month records keyed by the start of the reporting period read the counter at
    its end; the 307's months come from its day records of the last day of each month):
    - apartment 1, 223T0001 (reporting day 1): Oct 10.0, Nov 11.5, Dec 13.25 -> Nov 1.5, Dec 1.75
    - apartment 2, 223T0002 (reporting day 15): Oct 20.0, Nov 22.0, Dec missing -> Nov 2.0, Dec –*
    - apartment 3 (40 m², 1 resident, account 300-3) with two meters:
      223T0003: Oct 5.0, Nov 5.4, Dec 5.9 -> Nov 0.4, Dec 0.5
      223T0004: Oct WRAP-0.1, Nov 0.2, Dec 0.5 -> Nov 0.1+0.2 = 0.3 (across the wrap), Dec 0.3
    - building meter 307T0001 day records: Oct 31 300.0, Nov 30 304.5, Dec 31 309.0 -> Nov 4.5, Dec 4.5
    No January record anywhere: January (still running) is –* for everyone."""
    registry, seeded = world.registry, world.seeded
    sr.set_archives(registry, ("223T0001", "307T0001"), "hour, day, month, integral")  # the 307 keeps no months
    sr.set_archives(registry, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p3 = sr.add_premise(registry, seeded.building_id, "3")
    with registry.connect() as db:
        db.execute("UPDATE premises SET account = '300-3' WHERE id = ?", (p3,))
    sr.add_meter(registry, seeded.building_id, p3, "223T0003")
    sr.add_meter(registry, seeded.building_id, p3, "223T0004")
    sr.store(world.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 10, 1), 10.0), sr.record("223T0001", MONTH, d(2025, 11, 1), 11.5),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0002", MONTH, d(2025, 10, 15), 20.0), sr.record("223T0002", MONTH, d(2025, 11, 15), 22.0),
        sr.record("223T0003", MONTH, d(2025, 10, 1), 5.0), sr.record("223T0003", MONTH, d(2025, 11, 1), 5.4),
        sr.record("223T0003", MONTH, d(2025, 12, 1), 5.9),
        sr.record("223T0004", MONTH, d(2025, 10, 1), WRAP - 0.1), sr.record("223T0004", MONTH, d(2025, 11, 1), 0.2),
        sr.record("223T0004", MONTH, d(2025, 12, 1), 0.5),
        sr.record("307T0001", DAY, d(2025, 10, 31), 300.0), sr.record("307T0001", DAY, d(2025, 11, 30), 304.5),
        sr.record("307T0001", DAY, d(2025, 12, 31), 309.0),
    ])


def _value(cell: tuple) -> object:
    value = cell[0]
    return pytest.approx(value, abs=1e-9) if isinstance(value, float) else value


async def test_building_balance_months_by_hand(world: support.World) -> None:
    _heat_months(world)
    disp = await support.token(world, "disp")
    await world.services.norms.set_norm(disp, "heat", 0.02)  # Gcal per m² per month
    report = await world.services.reports.report(disp, "building_balance", {
        "building": str(world.seeded.building_id), "resource": "heat", "first": "2025-09", "last": "2026-01"})
    sheets = support.workbook_rows(report)
    assert list(sheets) == ["По месяцам", "По помещениям"]
    header, rows = support.table(sheets["По месяцам"], "Месяц")
    assert header == ["Месяц", "Помещений с ИПУ", "Площадь помещений с ИПУ, м²", "ОДПУ, Гкал", "Σ ИПУ, Гкал",
                      "Норматив, Гкал", "ОДПУ/ИПУ", "ИПУ/норматив"]
    months = support.by_first(rows)
    # September: before the first archive (Oct 1) nothing was expected: every figure empty, no premise counted
    assert [c[0] for c in months["сентябрь 2025"]] == ["сентябрь 2025", 0, 0, None, None, None, None, None]
    # October: the readings that open it (end of September) were never stored: –* on both sides;
    # norm 50 + 70 + 40 = 160 m² x 0.02 = 3.2
    assert [_value(c) for c in months["октябрь 2025"]] == [
        "октябрь 2025", 3, 160, "–*", "–*", pytest.approx(3.2), None, None]
    # November: ИПУ 1.5 + 2.0 + 0.4 + 0.3 = 4.2, ОДПУ 4.5; 4.5 / 4.2 = 1.0714; 4.2 / 3.2 = 1.3125
    nov = months["ноябрь 2025"]
    assert [_value(c) for c in nov] == ["ноябрь 2025", 3, 160, pytest.approx(4.5), pytest.approx(4.2),
                                        pytest.approx(3.2), pytest.approx(1.0714), pytest.approx(1.3125)]
    assert nov[4][1] == "0.000"
    assert nov[3][1] == "0.000"
    # December: apartment 2 missing -> the known part 1.75 + 0.5 + 0.3 = 2.55 marked «*»; no ratios
    dec = months["декабрь 2025"]
    assert [_value(c) for c in dec] == ["декабрь 2025", 3, 160, pytest.approx(4.5), pytest.approx(2.55),
                                        pytest.approx(3.2), None, None]
    assert dec[4][1] == '0.000"*"'
    # January: nothing has closed yet
    assert [_value(c) for c in months["январь 2026"]] == ["январь 2026", 3, 160, "–*", "–*", pytest.approx(3.2),
                                                          None, None]
    # totals: ОДПУ 4.5 + 4.5 = 9.0 and ИПУ 4.2 + 2.55 = 6.75, both partial; norm 4 x 3.2 = 12.8 (September none)
    total = months["Итого"]
    assert [_value(c) for c in total] == ["Итого", None, None, pytest.approx(9.0), pytest.approx(6.75),
                                          None, None, None]
    assert total[3][1] == '0.000"*"'
    assert total[4][1] == '0.000"*"'


async def test_building_balance_premises_and_a_building_norm(world: support.World) -> None:
    _heat_months(world)
    disp = await support.token(world, "disp")
    await world.services.norms.set_norm(disp, "heat", 0.02)
    await world.services.norms.set_norm(disp, "heat", 0.025, world.seeded.building_id)  # the building's own wins
    report = await world.services.reports.report(disp, "building_balance", {
        "building": str(world.seeded.building_id), "resource": "heat", "first": "2025-11", "last": "2025-12"})
    sheets = support.workbook_rows(report)
    assert [row[0][0] for row in sheets["По месяцам"][:4]] == [
        "Баланс по МКД: тепловая энергия", "Объект: ул. Тестовая, 1, Казань", "Период: ноябрь 2025 — декабрь 2025",
        "Норматив: 0,025 Гкал на м² площади в месяц (свой для объекта)"]
    _, rows = support.table(sheets["По месяцам"], "Месяц")
    months = support.by_first(rows)
    # norm 160 m² x 0.025 = 4.0 a month; November 4.2 / 4.0 = 1.05
    assert _value(months["ноябрь 2025"][5]) == pytest.approx(4.0)
    assert _value(months["ноябрь 2025"][7]) == pytest.approx(1.05)
    header, rows = support.table(sheets["По помещениям"], "Помещение")
    assert header == ["Помещение", "Лицевой счёт", "Площадь, м²", "Жильцов", "Приборы (ИПУ)", "ИПУ за период, Гкал",
                      "Норматив за период, Гкал", "ИПУ/норматив"]
    premises = support.by_first(rows)
    # apartment 1: 1.5 + 1.75 = 3.25; norm 50 x 0.025 x 2 months = 2.5; 3.25 / 2.5 = 1.3
    assert [_value(c) for c in premises["1"]] == ["1", "TEST-0001", 50, 2, "223T0001", pytest.approx(3.25),
                                                 pytest.approx(2.5), pytest.approx(1.3)]
    # apartment 2: 2.0 known, December missing -> 2.0*; norm 70 x 0.025 x 2 = 3.5; no ratio
    assert [_value(c) for c in premises["2"]] == ["2", "TEST-0002", 70, 3, "223T0002", pytest.approx(2.0),
                                                 pytest.approx(3.5), None]
    assert premises["2"][5][1] == '0.000"*"'
    # apartment 3, two meters summed: (0.4 + 0.3) + (0.5 + 0.3) = 1.5; norm 40 x 0.025 x 2 = 2.0; 0.75
    assert [_value(c) for c in premises["3"]] == ["3", "300-3", 40, 1, "223T0003, 223T0004", pytest.approx(1.5),
                                                 pytest.approx(2.0), pytest.approx(0.75)]
    # totals: 160 m², 6 residents, 3.25 + 2.0 + 1.5 = 6.75*, norm 2.5 + 3.5 + 2.0 = 8.0
    assert [_value(c) for c in premises["Итого"]] == ["Итого", None, 160, 6, None, pytest.approx(6.75),
                                                     pytest.approx(8.0), None]


async def test_building_balance_signs_residents_norm_and_no_norm(world: support.World) -> None:
    """Cold water per resident; apartment 2's meter excluded from the balance (4.6.5): it leaves the sum, and
    its residents leave the norm. Without a norm the norm columns stay empty."""
    registry, seeded = world.registry, world.seeded
    sr.set_archives(registry, ("223T0001", "223T0002"), "hour, day, month, integral")
    # channel 3 is cold water (V): 223T0001 Nov 1.0 -> Dec 4.0 = 3.0 m³ in December; 223T0002 Nov 2 -> Dec 9 = 7
    sr.store(world.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 11, 1), 1.0, 3, "V"),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 4.0, 3, "V"),
        sr.record("223T0002", MONTH, d(2025, 11, 1), 2.0, 3, "V"),
        sr.record("223T0002", MONTH, d(2025, 12, 1), 9.0, 3, "V"),
    ])
    disp = await support.token(world, "disp")
    ids = sr.meter_ids(registry)
    raw = {"building": str(seeded.building_id), "resource": "cold_water", "first": "2025-12", "last": "2025-12"}
    report = await world.services.reports.report(disp, "building_balance", raw)
    _, rows = support.table(support.workbook_rows(report)["По месяцам"], "Месяц")
    # both meters: 3.0 + 7.0 = 10.0 m³; the 307's cold-water channel 3 has no archive: ОДПУ –*; no norm: empty
    assert [_value(c) for c in rows[0]] == ["декабрь 2025", 2, 5, "–*", pytest.approx(10.0), None, None, None]
    await world.services.balance.set_balance_signs(disp, seeded.building_id, [(ids["223T0002"], "excluded")])
    await world.services.norms.set_norm(disp, "cold_water", 4.5)  # m³ per resident per month
    report = await world.services.reports.report(disp, "building_balance", raw)
    _, rows = support.table(support.workbook_rows(report)["По месяцам"], "Месяц")
    # apartment 1 alone: 3.0 m³; norm 2 residents x 4.5 = 9.0; 3.0 / 9.0 = 0.3333
    assert [_value(c) for c in rows[0]] == ["декабрь 2025", 1, 2, "–*", pytest.approx(3.0), pytest.approx(9.0),
                                            None, pytest.approx(0.3333)]


async def test_building_balance_parameters_and_scope(world: support.World) -> None:
    disp = await support.token(world, "disp")
    reports = world.services.reports
    raw = {"building": str(world.seeded.building_id), "resource": "heat", "first": "2025-11", "last": "2025-12"}
    with pytest.raises(InvalidInput, match="first"):
        await reports.report(disp, "building_balance", {**raw, "first": "2026-01", "last": "2025-12"})
    with pytest.raises(InvalidInput, match="last: a period of at most 24 months"):
        await reports.report(disp, "building_balance", {**raw, "first": "2023-01", "last": "2025-01"})
    with pytest.raises(InvalidInput, match="last: 2026-02 is after the current month"):
        await reports.report(disp, "building_balance", {**raw, "last": "2026-02"})
    with pytest.raises(InvalidInput, match="resource"):
        await reports.report(disp, "building_balance", {**raw, "resource": "steam"})
    with pytest.raises(InvalidInput, match="first: a month as YYYY-MM"):
        await reports.report(disp, "building_balance", {**raw, "first": "2025-13"})
    with pytest.raises(NotFound):  # another company's building
        await reports.report(disp, "building_balance", {**raw, "building": str(world.seeded.other_building_id)})
    with pytest.raises(NotFound):  # an administrator makes no reports
        await reports.report(await support.token(world, "admin"), "building_balance", raw)


# --- 4.3.2 phase balance ----------------------------------------------------------------------------

E_WRAP = catalogue.model("KARAT-941LW").counter("E").modulus  # type: ignore[union-attr]  # 4294967.296 kWh


async def _phase_group(world: support.World, disp: str) -> int:
    """A group «Ввод 1» of electricity: root 941B0001 (building meter, no data) and four apartment meters
    on phases A, B, C and none, with day records of their total channel (the counter at the end of the day):
    - A 941A0001: Jan 9 100, Jan 10 110, Jan 11 121, Jan 12 130 -> 10, 11, 9
    - B 941A0002: Jan 9 200, Jan 10 212, Jan 11 222, Jan 12 missing -> 12, 10, –*
    - C 941A0003 across the register's wrap: Jan 9 W-20, Jan 10 W-12, Jan 11 W-4, Jan 12 5 -> 8, 8, 4+5 = 9
    - no phase 941A0004: Jan 9 10, Jan 10 11, Jan 11 12.5, Jan 12 14 -> 1, 1.5, 1.5"""
    registry, seeded = world.registry, world.seeded
    p3 = sr.add_premise(registry, seeded.building_id, "3")
    premises = {r["number"]: r["id"] for r in registry.all("SELECT id, number FROM premises WHERE building_id = ?",
                                                            seeded.building_id)}
    root = sr.add_meter(registry, seeded.building_id, None, "941B0001", model="KARAT-941LW")
    members = []
    for serial, premise, phase in (("941A0001", "1", "A"), ("941A0002", "2", "B"), ("941A0003", "3", "C"),
                                   ("941A0004", "3", None)):
        meter = sr.add_meter(registry, seeded.building_id, p3 if premise == "3" else premises[premise], serial,
                             model="KARAT-941LW")
        with registry.connect() as db:
            db.execute("UPDATE meters SET phase = ? WHERE id = ?", (phase, meter))
        members.append((meter, "+"))
    values = {"941A0001": (100, 110, 121, 130), "941A0002": (200, 212, 222, None),
              "941A0003": (E_WRAP - 20, E_WRAP - 12, E_WRAP - 4, 5), "941A0004": (10, 11, 12.5, 14)}
    sr.store(world.clickhouse, seeded.company_id, [
        sr.record(serial, DAY, d(2026, 1, 9 + i), v, 1, "E")
        for serial, series in values.items() for i, v in enumerate(series) if v is not None])
    group = await world.services.balance_groups.create(disp, seeded.building_id, GroupDraft(
        "Ввод 1", Resource.ELECTRICITY, root, tuple(members)))
    return group.id


async def test_phase_balance_days_by_hand(world: support.World) -> None:
    disp = await support.token(world, "disp")
    group = await _phase_group(world, disp)
    raw = {"building": str(world.seeded.building_id), "group": str(group), "first": "2026-01-10",
           "last": "2026-01-12"}
    sheets = support.workbook_rows(await world.services.reports.report(disp, "phase_balance", raw))
    header, rows = support.table(sheets["По суткам"], "Дата")
    assert header == ["Дата", "Фаза A, кВт·ч", "Фаза B, кВт·ч", "Фаза C, кВт·ч", "Σ фаз A+B+C, кВт·ч",
                      "Фаза не указана, кВт·ч", "Доля фазы A, %", "Доля фазы B, %", "Доля фазы C, %",
                      "Отклонение фазы A от среднего, %", "Отклонение фазы B от среднего, %",
                      "Отклонение фазы C от среднего, %", "Небаланс max−min, кВт·ч", "Небаланс от среднего, %"]
    jan10, jan11, jan12, total = rows
    assert jan10[0][0] == datetime(2026, 1, 10)
    assert jan10[0][1] == "DD.MM.YYYY"
    # Jan 10: A 10, B 12, C 8 = 30, mean 10: shares 10/30 = 33.33 %, 40 %, 26.67 %; deviations 0, +20, -20 %;
    # imbalance 12 - 8 = 4 kWh = 40 % of the mean; no phase: 1
    assert [_value(c) for c in jan10[1:]] == [pytest.approx(x) for x in (
        10, 12, 8, 30, 1, 33.33, 40.0, 26.67, 0.0, 20.0, -20.0, 4, 40.0)]
    # Jan 11: A 11, B 10, C 8 = 29, mean 9.6667: 37.93 / 34.48 / 27.59 %; 13.79 / 3.45 / -17.24 %; 3 kWh, 31.03 %
    assert [_value(c) for c in jan11[1:]] == [pytest.approx(x) for x in (
        11, 10, 8, 29, 1.5, 37.93, 34.48, 27.59, 13.79, 3.45, -17.24, 3, 31.03)]
    # Jan 12: B has no closing reading: –*; the sum is the known 9 + 9 = 18 marked «*»; nothing else
    assert [_value(c) for c in jan12[1:]] == [pytest.approx(9), "–*", pytest.approx(9), pytest.approx(18),
                                               pytest.approx(1.5), None, None, None, None, None, None, None, None]
    assert jan12[4][1] == '0.000"*"'
    # the period: A 30, B 22* (12 + 10, Jan 12 missing), C 25, sum 77*, no phase 4; no shares
    assert [_value(c) for c in total] == ["За период", pytest.approx(30), pytest.approx(22), pytest.approx(25),
                                          pytest.approx(77), pytest.approx(4), *([None] * 8)]
    assert total[2][1] == '0.000"*"'
    _, meters = support.table(sheets["Приборы группы"], "Прибор")
    assert [[_value(c) for c in row] for row in meters] == [
        ["941A0001", "1", "A", "+", pytest.approx(30)], ["941A0002", "2", "B", "+", pytest.approx(22)],
        ["941A0003", "3", "C", "+", pytest.approx(25)], ["941A0004", "3", "фаза не указана", "+", pytest.approx(4)]]
    assert meters[1][4][1] == '0.000"*"'
    # Jan 10-11: A 21, B 22, C 16 = 59, mean 19.6667: 35.59 / 37.29 / 27.12 %; 6.78 / 11.86 / -18.64 %; 6 kWh, 30.51 %
    sheets = support.workbook_rows(await world.services.reports.report(
        disp, "phase_balance", {**raw, "last": "2026-01-11"}))
    _, rows = support.table(sheets["По суткам"], "Дата")
    assert [_value(c) for c in rows[-1][1:]] == [pytest.approx(x) for x in (
        21, 22, 16, 59, 2.5, 35.59, 37.29, 27.12, 6.78, 11.86, -18.64, 6, 30.51)]


async def test_phase_balance_parameters_and_scope(world: support.World) -> None:
    disp = await support.token(world, "disp")
    group = await _phase_group(world, disp)
    ids = sr.meter_ids(world.registry)
    heat = await world.services.balance_groups.create(disp, world.seeded.building_id, GroupDraft(
        "Тепло", Resource.HEAT, ids["307T0001"], ((ids["223T0001"], "+"),)))
    reports = world.services.reports
    raw = {"building": str(world.seeded.building_id), "group": str(group), "first": "2026-01-10",
           "last": "2026-01-12"}
    with pytest.raises(InvalidInput, match="first: 2026-01-12 is after last 2026-01-10"):
        await reports.report(disp, "phase_balance", {**raw, "first": "2026-01-12", "last": "2026-01-10"})
    with pytest.raises(InvalidInput, match="last: a period of at most 366 days"):
        await reports.report(disp, "phase_balance", {**raw, "first": "2024-01-10"})
    with pytest.raises(InvalidInput, match="last: 2026-01-15 is after today"):
        await reports.report(disp, "phase_balance", {**raw, "last": "2026-01-15"})
    with pytest.raises(InvalidInput, match="group: «Тепло» balances heat"):
        await reports.report(disp, "phase_balance", {**raw, "group": str(heat.id)})
    with pytest.raises(NotFound):  # the group is not of that building
        await reports.report(disp, "phase_balance", {**raw, "building": str(world.seeded.other_building_id)})
    stranger = await support.token(world, "stranger")
    with pytest.raises(NotFound):  # another company's group
        await reports.report(stranger, "phase_balance", {
            **raw, "building": str(world.seeded.other_building_id)})
    with pytest.raises(NotFound):
        await reports.report(await support.token(world, "admin"), "phase_balance", raw)


# --- 4.3.9 the building meter's card ---------------------------------------------------------------------

V_WRAP = catalogue.model("KARAT-307").counter("V").modulus  # type: ignore[union-attr]  # 4294967.296 m³


def _card_archives(world: support.World) -> None:
    """Day records of 307T0001 (integral: the counters at the end of the day, T1/T2 the day's means):
    channel 1 (heat)   Nov 30: Q 150, V1 500, V2 495   Dec 31: Q 176.04, V1 800 (V2 missing)
                       Jan 9: Q 200, V1 1000, V2 990   Jan 10: Q 200.84, V1 1010, V2 999.5, T1 70.5, T2 45.25
                       Jan 11: no record at all       Jan 12: Q 202.5, V1 1030, V2 1018, T1 68, T2 44
    channel 2 (hot water V, across the wrap): Nov 30 W-10, Dec 31 20, Jan 9 W-1.5, Jan 10 W-0.5, Jan 11 0.75,
                       Jan 12 2.0"""
    registry, seeded = world.registry, world.seeded
    sr.set_archives(registry, ("307T0001",), "hour, day, month, integral")  # the 307 keeps hours and days
    with registry.connect() as db:
        db.execute("UPDATE meters SET verified_on = '2024-05-20', next_verification_on = '2028-05-20' "
                   "WHERE serial = '307T0001'")
    heat = {d(2025, 11, 30): {"Q": 150.0, "V1": 500.0, "V2": 495.0}, d(2025, 12, 31): {"Q": 176.04, "V1": 800.0},
            d(2026, 1, 9): {"Q": 200.0, "V1": 1000.0, "V2": 990.0},
            d(2026, 1, 10): {"Q": 200.84, "V1": 1010.0, "V2": 999.5, "T1": 70.5, "T2": 45.25},
            d(2026, 1, 12): {"Q": 202.5, "V1": 1030.0, "V2": 1018.0, "T1": 68.0, "T2": 44.0}}
    hot = {d(2025, 11, 30): V_WRAP - 10, d(2025, 12, 31): 20.0, d(2026, 1, 9): V_WRAP - 1.5,
           d(2026, 1, 10): V_WRAP - 0.5, d(2026, 1, 11): 0.75, d(2026, 1, 12): 2.0}
    sr.store(world.clickhouse, seeded.company_id,
             [sr.record("307T0001", DAY, day, v, 1, p) for day, values in heat.items() for p, v in values.items()]
             + [sr.record("307T0001", DAY, day, v, 2, "V") for day, v in hot.items()])


async def test_meter_card_heat_and_hot_water_by_hand(world: support.World) -> None:
    _card_archives(world)
    disp = await support.token(world, "disp")
    ids = sr.meter_ids(world.registry)
    raw = {"building": str(world.seeded.building_id), "meter": str(ids["307T0001"]), "first": "2026-01-10",
           "last": "2026-01-12", "mode": "heat_and_hot_water"}
    sheets = support.workbook_rows(await world.services.reports.report(disp, "meter_card", raw))
    assert list(sheets) == ["Регистрация", "Характеристики", "Суточные значения", "Работа прибора", "Интегральные",
                            "Итоги"]
    _, rows = support.table(sheets["Регистрация"], "Параметр")
    registration = {row[0][0]: row[1][0] for row in rows}
    assert registration["Адрес объекта"] == "ул. Тестовая, 1"
    assert registration["Город"] == "Казань"
    assert registration["Заводской номер прибора"] == "307T0001"
    assert registration["Модель"] == "Вычислитель КАРАТ-307 (KARAT-307)"
    assert registration["Дата поверки"] == datetime(2024, 5, 20)
    assert registration["Дата следующей поверки"] == datetime(2028, 5, 20)
    assert registration["Отчётный день месяца"] == 1
    assert registration["Коммуникатор"] == "Modbus TCP 127.0.0.1:5020 #1"
    _, rows = support.table(sheets["Характеристики"], "Канал")
    assert [[c[0] for c in row] for row in rows] == [
        [1, "Тепловая энергия", 1, "Q (Гкал), V1 (м³), V2 (м³), T1 (°C), T2 (°C)", None, None],
        [2, "Горячее водоснабжение", 1, "V (м³)", None, None]]

    daily = sheets["Суточные значения"]
    header, rows = support.table(daily, "Дата")
    groups = [c[0] for c in daily[daily.index(next(r for r in daily if r and r[0][0] == "Дата")) - 1]]
    assert groups[1] == "Канал 1: Тепловая энергия"
    assert groups[6] == "Канал 2: Горячее водоснабжение"
    assert header == ["Дата", "Q, тепловая энергия, Гкал", "V1, объём подачи, м³", "V2, объём обратки, м³",
                      "T1, температура подачи, °C", "T2, температура обратки, °C", "V, объём, м³"]
    jan10, jan11, jan12, total = rows
    # Jan 10: Q 200.84 - 200 = 0.84, V1 1010 - 1000 = 10, V2 999.5 - 990 = 9.5, the means 70.5 / 45.25,
    # hot water across the wrap: (W - 0.5) - (W - 1.5) = 1.0
    assert [_value(c) for c in jan10[1:]] == [pytest.approx(x) for x in (0.84, 10.0, 9.5, 70.5, 45.25, 1.0)]
    # Jan 11: no heat record: every heat value –*; hot water 0.5 to the wrap + 0.75 = 1.25
    assert [_value(c) for c in jan11[1:]] == ["–*", "–*", "–*", "–*", "–*", pytest.approx(1.25)]
    # Jan 12: the counters' opening (Jan 11) is missing: –*; its own means are there; hot water 2.0 - 0.75 = 1.25
    assert [_value(c) for c in jan12[1:]] == ["–*", "–*", "–*", pytest.approx(68.0), pytest.approx(44.0),
                                               pytest.approx(1.25)]
    assert jan10[4][1] == "0.00"  # temperatures with two decimals
    # totals: the known days 0.84*, 10*, 9.5*; no total of temperatures; hot water 1 + 1.25 + 1.25 = 3.5
    assert [_value(c) for c in total] == ["Итого", pytest.approx(0.84), pytest.approx(10.0), pytest.approx(9.5),
                                          None, None, pytest.approx(3.5)]
    assert [c[1] for c in total[1:4]] == ['0.000"*"'] * 3
    assert total[6][1] == "0.000"

    _, rows = support.table(sheets["Работа прибора"], "Канал")
    # heat: Q known on Jan 10 only of 3 expected days; hot water all 3
    assert [[c[0] for c in row] for row in rows] == [["Канал 1: Тепловая энергия", 1, 3, "прибор не ведёт"],
                                                     ["Канал 2: Горячее водоснабжение", 3, 3, "прибор не ведёт"]]
    assert ["Событий прибора за период: 0"] in [[c[0] for c in row if c[0]] for row in sheets["Работа прибора"]]

    header, rows = support.table(sheets["Интегральные"], "Канал")
    # the previous month is December 2025 (reporting day 1): from 01.12.2025 00:00 (the day record of Nov 30)
    # to 01.01.2026 00:00 (that of Dec 31)
    assert header[3:] == ["На начало (01.12.2025 00:00)", "На конец (01.01.2026 00:00)", "Разность"]
    assert [[_value(c) for c in row] for row in rows] == [
        ["Канал 1: Тепловая энергия", "Q, тепловая энергия", "Гкал", 150.0, pytest.approx(176.04),
         pytest.approx(26.04)],
        ["Канал 1: Тепловая энергия", "V1, объём подачи", "м³", 500.0, 800.0, pytest.approx(300.0)],
        ["Канал 1: Тепловая энергия", "V2, объём обратки", "м³", 495.0, "–*", None],
        # (20 + 10) across the wrap
        ["Канал 2: Горячее водоснабжение", "V, объём", "м³", pytest.approx(V_WRAP - 10), 20.0, pytest.approx(30.0)]]
    _, rows = support.table(sheets["Итоги"], "Канал")
    assert [[_value(c) for c in row] for row in rows] == [
        ["Канал 1: Тепловая энергия", "Q, тепловая энергия", "Гкал", pytest.approx(0.84)],
        ["Канал 1: Тепловая энергия", "V1, объём подачи", "м³", pytest.approx(10.0)],
        ["Канал 1: Тепловая энергия", "V2, объём обратки", "м³", pytest.approx(9.5)],
        ["Канал 2: Горячее водоснабжение", "V, объём", "м³", pytest.approx(3.5)]]
    assert rows[0][3][1] == '0.000"*"'


async def test_meter_card_one_resource_and_refusals(world: support.World) -> None:
    _card_archives(world)
    disp = await support.token(world, "disp")
    sr.add_meter(world.registry, world.seeded.building_id, None, "941B0001", model="KARAT-941LW")
    ids = sr.meter_ids(world.registry)
    raw = {"building": str(world.seeded.building_id), "meter": str(ids["307T0001"]), "first": "2026-01-10",
           "last": "2026-01-12", "resource": "hot_water"}
    reports = world.services.reports
    sheets = support.workbook_rows(await reports.report(disp, "meter_card", raw))
    header, rows = support.table(sheets["Суточные значения"], "Дата")
    assert header == ["Дата", "V, объём, м³"]
    assert [_value(row[1]) for row in rows] == [pytest.approx(x) for x in (1.0, 1.25, 1.25, 3.5)]
    with pytest.raises(InvalidInput, match="meter: 223T0001 is an apartment meter"):
        await reports.report(disp, "meter_card", {**raw, "meter": str(ids["223T0001"])})
    with pytest.raises(InvalidInput, match="resource: meter 307T0001 does not measure electricity"):
        await reports.report(disp, "meter_card", {**raw, "resource": "electricity"})
    with pytest.raises(InvalidInput, match="mode: meter 941B0001 measures neither heat nor hot water"):
        await reports.report(disp, "meter_card", {**raw, "meter": str(ids["941B0001"]), "mode": "heat_and_hot_water"})
    with pytest.raises(InvalidInput, match="mode: one of"):
        await reports.report(disp, "meter_card", {**raw, "mode": "water"})
    with pytest.raises(InvalidInput, match="first: 2026-01-12 is after last"):
        await reports.report(disp, "meter_card", {**raw, "first": "2026-01-12", "last": "2026-01-10"})
    with pytest.raises(NotFound):  # another company's meter
        await reports.report(disp, "meter_card", {**raw, "meter": str(ids["307X0001"])})
    with pytest.raises(NotFound):  # a meter of this company in another building is not the building's
        await reports.report(await support.token(world, "stranger"), "meter_card", {
            **raw, "building": str(world.seeded.other_building_id)})
    with pytest.raises(NotFound):
        await reports.report(await support.token(world, "admin"), "meter_card", raw)


async def test_building_balance_in_the_background_and_as_json(world: support.World) -> None:
    """The same report as a background job's file and as JSON rows: the partial and missing cells keep their marks."""
    _heat_months(world)
    disp = await support.token(world, "disp")
    raw = {"building": str(world.seeded.building_id), "resource": "heat", "first": "2025-12", "last": "2026-01"}
    job = await world.services.reports.start(disp, "building_balance", raw)
    done = await world.services.reports.wait(disp, job.id)
    assert (done.state, done.error) == ("done", None)
    path, _ = await world.services.reports.job_file(disp, job.id)
    assert path.stat().st_size > 0
    data = (await world.services.reports.report(disp, "building_balance", raw)).as_json()
    december, january = data["sheets"][0]["rows"]
    # December: ОДПУ 4.5; ИПУ the known 1.75 + 0.5 + 0.3 = 2.55 of four meters; January nothing yet
    assert december[3] == pytest.approx(4.5)
    assert december[4] == {"value": pytest.approx(2.55), "partial": True}
    assert january[3:5] == [{"missing": True}, {"missing": True}]
