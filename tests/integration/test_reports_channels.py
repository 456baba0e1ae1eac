"""The channel and verification reports over a real registry and chDB, written to XLSX and read back with
openpyxl cell by cell: 4.3.4 channel_changes, 4.3.6 channel_composition, 4.3.10 channel_verification,
4.3.11 meter_verification, 4.3.1 channel_verification_act. The rows are tests/support_reports_channels.py
(its docstring lists every meter with its dates); every expected figure below is worked out by hand from
them, never copied from the code's output. Today is 2026-01-14 in Moscow (cloud_data.NOW 12:00 UTC).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import support_reports_channels as support
from tests.support_reports_channels import body, sheet

d = datetime
A, B = "ул. Тестовая, 1", support.BUILDING_B


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> support.World:
    return await support.channels_world(Registry(tmp_path / "registry.db"), clickhouse)


# --- 4.3.4 ---------------------------------------------------------------------------------------------

async def test_changes_in_december_per_type_with_the_edge_days(world: support.World) -> None:
    rows = await sheet(world, "channel_changes", first="2025-12-01", last="2025-12-31")
    assert rows[0][0] == "Ведомость изменения состава измерительных каналов УУ"
    assert rows[1][0] == "Компания: УК Тест"
    assert rows[3][0] == "Период: 01.12.2025 – 31.12.2025"
    header, table = body(rows, "Адрес объекта")
    groups = rows[rows.index(header) - 1]
    assert groups == [None, "Отопление", None, None, "ГВС", None, None, "ХВС", None, None, "Электричество", None, None,
                      "Другое", None, None, "Узлы учёта", None]
    assert header[1:4] == ["ввод\\вывод", "введено, шт", "выведено, шт"]
    assert header[16:] == ["Индивидуальные узлы учёта, шт", "ОДУУ"]
    # buildings by address: «Вторая» before «Тестовая»
    # B: 307B0001 (heat, hot, cold) decommissioned 2025-12-10 12:00 -> 0\1 in each of its three types; no meter
    # left at the end of December: 0 individual nodes, no ОДУУ
    assert table[0] == [B, "0\\1", 0, 1, "0\\1", 0, 1, "0\\1", 0, 1, "0\\0", 0, 0, "0\\0", 0, 0, 0, "нет"]
    # A: hot water 926H0001 out 2025-12-31 23:00 and 926H0002 in at the same instant -> 1\1;
    # cold water 926C0001 in 2025-12-01 00:00 (the first instant: inside), 926C0003 out 2025-12-01 00:00 -> 1\1;
    # 926C0002 in 2025-11-30 23:59 (outside); electricity 941E0001 in 2026-01-01 00:00 (outside) -> 0\0;
    # gas 927G0001 in 2025-12-15 -> «другое» 1\0; heat: nothing changed -> 0\0.
    # Individual nodes at the end of 31.12: premises 1, 2, 3, 4, 5 (926H0002), 8 = 6 (6 is not yet, 7 is out);
    # the 307T0001 building meter: ОДУУ «да»
    assert table[1] == [A, "0\\0", 0, 0, "1\\1", 1, 1, "1\\1", 1, 1, "0\\0", 0, 0, "1\\0", 1, 0, 6, "да"]
    # totals: heat 0\1, hot 1\2, cold 1\2, electricity 0\0, other 1\0, nodes 0 + 6; ОДУУ are not counted
    assert table[2] == ["Итого", "0\\1", 0, 1, "1\\2", 1, 2, "1\\2", 1, 2, "0\\0", 0, 0, "1\\0", 1, 0, 6, None]
    assert len(table) == 3
    assert isinstance(table[1][5], int)  # the numbers are numbers, the notation text


async def test_changes_on_single_edge_days(world: support.World) -> None:
    b = world.ids.building_a
    # 30.11 alone: 926C0002 commissioned at 23:59 that day -> cold 1\0; the nodes at the end of 30.11:
    # premises 1, 2, 4, 5 (926H0001), 7 (926C0003 until 01.12 00:00) = 5
    _, table = body(await sheet(world, "channel_changes", first="2025-11-30", last="2025-11-30", building=b),
                    "Адрес объекта")
    assert table[0][7:10] == ["1\\0", 1, 0]
    assert table[0][16] == 5
    assert len(table) == 2  # the building and the totals
    # 01.01.2026 alone: 941E0001 commissioned at 00:00 -> electricity 1\0 (its T1 zone is no channel of its own)
    _, table = body(await sheet(world, "channel_changes", first="2026-01-01", last="2026-01-01", building=b),
                    "Адрес объекта")
    assert table[0][10:13] == ["1\\0", 1, 0]
    assert [table[0][i] for i in (2, 3, 5, 6, 8, 9, 14, 15)] == [0] * 8
    # 01.12 alone: the replacement on 31.12 23:00 is outside; 926C0001 in and 926C0003 out at 01.12 00:00
    _, table = body(await sheet(world, "channel_changes", first="2025-12-01", last="2025-12-01", building=b),
                    "Адрес объекта")
    assert table[0][4:10] == ["0\\0", 0, 0, "1\\1", 1, 1]


async def test_changes_parameters_and_scope(world: support.World) -> None:
    with pytest.raises(InvalidInput, match="first"):
        await sheet(world, "channel_changes", first="2025-12-31", last="2025-12-01")
    with pytest.raises(InvalidInput, match="last: required"):
        await sheet(world, "channel_changes", first="2025-12-01")
    with pytest.raises(NotFound):
        await sheet(world, "channel_changes", first="2025-12-01", last="2025-12-31", building=world.ids.other_building)
    with pytest.raises(NotFound):
        await sheet(world, "channel_changes", login="admin", first="2025-12-01", last="2025-12-31")
    # the other company sees its own building only
    _, table = body(await sheet(world, "channel_changes", login="stranger", first="2025-01-01", last="2025-12-31"),
                    "Адрес объекта")
    assert [r[0] for r in table] == ["ул. Чужая, 2", "Итого"]


# --- 4.3.6 ---------------------------------------------------------------------------------------------

async def test_composition_on_a_date_with_totals(world: support.World) -> None:
    rows = await sheet(world, "channel_composition", day="2025-12-10")
    assert rows[3][0] == "На дату: 10.12.2025"
    header, table = body(rows, "Адрес объекта")
    assert header == ["Адрес объекта", "Отопление, шт", "ГВС, шт", "ХВС, шт", "Электричество, шт", "Другое, шт",
                      "Всего каналов, шт", "Индивидуальные узлы учёта, шт", "ОДУУ"]
    # B: 307B0001 decommissioned 10.12 12:00: not in service at the end of the 10th
    assert table[0] == [B, 0, 0, 0, 0, 0, 0, 0, "нет"]
    # A at the end of 10.12: 307T0001 (heat, hot, cold), 223T0001 and 223T0002 (heat, hot, cold each),
    # 926C0001 and 926C0002 (cold), 926H0001 (hot, out only on 31.12); not 926C0003 (out 01.12),
    # 927G0001 (in 15.12), 941E0001 (in 01.01), 926H0002 (in 31.12)
    # heat 1 + 2 = 3; hot 1 + 2 + 1 = 4; cold 1 + 2 + 2 = 5; total 12; nodes premises 1, 2, 3, 4, 5 = 5
    assert table[1] == [A, 3, 4, 5, 0, 0, 12, 5, "да"]
    assert table[2] == ["Итого", 3, 4, 5, 0, 0, 12, 5, None]


async def test_composition_the_day_before_a_decommissioning(world: support.World) -> None:
    _, table = body(await sheet(world, "channel_composition", day="2025-12-09", building=world.ids.building_b),
                    "Адрес объекта")
    # 307B0001 still in service at the end of 09.12: heat, hot, cold, total 3, ОДУУ present, no apartments
    assert table == [[B, 1, 1, 1, 0, 0, 3, 0, "да"], ["Итого", 1, 1, 1, 0, 0, 3, 0, None]]
    # today (the default day, 14.01.2026) in A: 307T0001 3, 223T0001 3, 223T0002 3, 926C0001 1, 926C0002 1,
    # 926H0002 1, 941E0001 1, 927G0001 1 -> heat 3, hot 4, cold 5, electricity 1, other 1 = 14;
    # nodes 1, 2, 3, 4, 5, 6, 8 = 7
    _, table = body(await sheet(world, "channel_composition", building=world.ids.building_a), "Адрес объекта")
    assert table[0] == [A, 3, 4, 5, 1, 1, 14, 7, "да"]
    with pytest.raises(NotFound):
        await sheet(world, "channel_composition", building=world.ids.other_building)
    with pytest.raises(InvalidInput, match="day"):
        await sheet(world, "channel_composition", day="10.12.2025")


# --- 4.3.10 --------------------------------------------------------------------------------------------

VERIFICATION_HEADER = ["Адрес установки ПУ", "Помещение", "Номер ПУ", "Модель ПУ", "Тип", "Измеряемые ресурсы",
                       "Дата следующей поверки", "Количество ИИК, шт", "ИИК с истекающим сроком поверки, шт"]
THREE = "Тепловая энергия, Горячее водоснабжение, Холодное водоснабжение"


async def test_channel_verification_month_preset(world: support.World) -> None:
    rows = await sheet(world, "channel_verification", preset="month")
    # a month from 14.01.2026: up to the day before 14.02 = 13.02.2026
    assert rows[4][0] == "Период: 14.01.2026 – 13.02.2026 (месяц)"
    header, table = body(rows, "Адрес установки ПУ")
    assert header == VERIFICATION_HEADER
    # channel dates: 223T0001 heat 14.01 (the meter); 307T0001 heat = min(FT-1 05.02, TS-1 01.07, TS-2 none)
    # = 05.02, hot and cold 10.03 (the meter); 223T0002 heat 14.01.2027, hot (WM-2) 13.02 (the last day);
    # 926C0001 10.01 (before the period), 926C0003 and 307B0001 decommissioned, 307X0001 another company's.
    # Sorted by the earliest channel date.
    assert table == [
        [A, "1", "223T0001", "KARAT-Compact-2-223", "ИПУ", THREE, d(2026, 1, 14), 1, 1],
        [A, None, "307T0001", "KARAT-307", "ОДПУ", THREE, d(2026, 2, 5), 3, 1],
        [A, "2", "223T0002", "KARAT-Compact-2-223", "ИПУ", THREE, d(2026, 2, 13), 2, 1],
        ["Итого", None, None, None, None, None, None, 1 + 3 + 2, 1 + 1 + 1]]


async def test_channel_verification_presets_and_filters(world: support.World) -> None:
    # 2 weeks: 14.01 .. 27.01 -> only 223T0001
    rows = await sheet(world, "channel_verification", preset="2_weeks")
    assert rows[4][0] == "Период: 14.01.2026 – 27.01.2026 (2 недели)"
    assert [r[2] for r in body(rows, "Адрес установки ПУ")[1]] == ["223T0001", None]  # and the totals row
    # 3 months: 14.01 .. 13.04: all three channels of 307T0001 expire (05.02, 10.03, 10.03)
    _, table = body(await sheet(world, "channel_verification", preset="3_months"), "Адрес установки ПУ")
    assert [(r[2], r[7], r[8]) for r in table] == [("223T0001", 1, 1), ("307T0001", 3, 3), ("223T0002", 2, 1),
                                                   (None, 6, 5)]
    # a custom period 01.01 .. 31.01 takes in 926C0001 (10.01, overdue today) as well
    _, table = body(await sheet(world, "channel_verification", preset="custom", first="2026-01-01",
                                last="2026-01-31"), "Адрес установки ПУ")
    assert [(r[2], r[6]) for r in table[:-1]] == [("926C0001", d(2026, 1, 10)), ("223T0001", d(2026, 1, 14))]
    # usage common: the building meter only; a model; a resource no ИИК meter measures
    _, table = body(await sheet(world, "channel_verification", preset="year", usage="common"), "Адрес установки ПУ")
    assert [r[2] for r in table[:-1]] == ["307T0001"]
    _, table = body(await sheet(world, "channel_verification", preset="year", model="KARAT-Compact-2-223"),
                    "Адрес установки ПУ")
    assert [r[2] for r in table[:-1]] == ["223T0001", "223T0002"]
    _, table = body(await sheet(world, "channel_verification", preset="year", resource="electricity"),
                    "Адрес установки ПУ")
    assert table == [["Итого", None, None, None, None, None, None, 0, 0]]


async def test_verification_parameter_errors_and_scope(world: support.World) -> None:
    for key in ("channel_verification", "meter_verification"):
        with pytest.raises(InvalidInput, match="first: required with preset=custom"):
            await sheet(world, key, preset="custom", last="2026-01-31")
        with pytest.raises(InvalidInput, match="first: 2026-02-01 is after last"):
            await sheet(world, key, preset="custom", first="2026-02-01", last="2026-01-31")
        with pytest.raises(InvalidInput, match="only with preset=custom"):
            await sheet(world, key, preset="month", first="2026-02-01")
        with pytest.raises(InvalidInput, match="preset"):
            await sheet(world, key, preset="decade")
        with pytest.raises(InvalidInput, match="usage"):
            await sheet(world, key, usage="shared")
        with pytest.raises(NotFound):
            await sheet(world, key, building=world.ids.other_building)
        with pytest.raises(NotFound):
            await sheet(world, key, login="admin")
    # the other company: its own 307X0001 (20.01) only
    _, table = body(await sheet(world, "channel_verification", login="stranger"), "Адрес установки ПУ")
    assert [r[2] for r in table[:-1]] == ["307X0001"]


# --- 4.3.11 --------------------------------------------------------------------------------------------

async def test_meter_verification_by_date(world: support.World) -> None:
    rows = await sheet(world, "meter_verification", preset="month")
    header, table = body(rows, "Адрес установки ПУ")
    assert header == ["Адрес установки ПУ", "Помещение", "Номер ПУ", "Модель ПУ", "Тип", "Измеряемые ресурсы",
                      "Дата поверки"]
    # meters' own dates in 14.01 .. 13.02: 223T0001 14.01, 926H0002 20.01, 941E0001 31.01, 926C0002 13.02 (the
    # last day); not 927G0001 (14.02), 307T0001 (10.03), 926C0001 (10.01), 926C0003 (decommissioned, 20.01),
    # 307B0001 (decommissioned), 307X0001 (another company)
    assert table == [[A, "1", "223T0001", "KARAT-Compact-2-223", "ИПУ", THREE, d(2026, 1, 14)],
                     [A, "5", "926H0002", "KARAT-926LW", "ИПУ", "Горячее водоснабжение", d(2026, 1, 20)],
                     [A, "6", "941E0001", "KARAT-941LW", "ИПУ", "Электроэнергия", d(2026, 1, 31)],
                     [A, "4", "926C0002", "KARAT-926LW", "ИПУ", "Холодное водоснабжение", d(2026, 2, 13)]]
    assert rows[5][0] == "Приборов учёта: 4"


async def test_meter_verification_filters(world: support.World) -> None:
    _, table = body(await sheet(world, "meter_verification", preset="month", resource="electricity"),
                    "Адрес установки ПУ")
    assert [r[2] for r in table] == ["941E0001"]
    _, table = body(await sheet(world, "meter_verification", preset="custom", first="2026-03-01", last="2026-03-31",
                                usage="common"), "Адрес установки ПУ")
    assert [(r[2], r[4], r[6]) for r in table] == [("307T0001", "ОДПУ", d(2026, 3, 10))]
    _, table = body(await sheet(world, "meter_verification", preset="month", model="KARAT-926LW",
                                building=world.ids.building_a), "Адрес установки ПУ")
    assert [r[2] for r in table] == ["926H0002", "926C0002"]
    # a year from 14.01.2026: up to 13.01.2027; 223T0002 (14.01.2027) is a day outside
    _, table = body(await sheet(world, "meter_verification", preset="year"), "Адрес установки ПУ")
    assert "223T0002" not in [r[2] for r in table]
    assert [r[2] for r in table][-2:] == ["927G0001", "307T0001"]  # 14.02, 10.03


# --- 4.3.1 ---------------------------------------------------------------------------------------------

ACT_HEADER = ["№ п/п", "Номер ПУ", "Модель ПУ", "Помещение", "ИИК", "Параметр", "Величина", "Средство измерений",
              "Модель СИ", "Заводской номер СИ", "Дата поверки", "Дата следующей поверки", "Состояние поверки"]
VALID, SOON, OVERDUE, UNKNOWN = "действует", "истекает в течение 30 дней", "просрочена", "дата поверки не указана"


async def test_act_of_a_building(world: support.World) -> None:
    rows = await sheet(world, "channel_verification_act", building=world.ids.building_a, day="2026-01-14")
    assert rows[0][0] == "Акт поверки измерительно-информационных каналов"
    assert rows[2][0] == f"Объект: {A}"
    assert rows[3][0] == "Дата акта: 14.01.2026"
    header, table = body(rows, "№ п/п")
    assert header == ACT_HEADER
    # 30 days from 14.01 = 13.02: a date from 14.01 to 13.02 is «истекает», before 14.01 «просрочена».
    # The building meter first, its channels by resource key (cold_water, heat, hot_water), instruments the
    # meter first, then sensors by serial; 926C0003 (decommissioned) is left out.
    m307 = ["307T0001", "KARAT-307", None]
    assert table[:9] == [
        [1, *m307, "Холодное водоснабжение №1", "V", "V", "прибор учёта", "KARAT-307", "307T0001",
         d(2022, 3, 10), d(2026, 3, 10), VALID],
        [2, *m307, "Тепловая энергия №1", "Q", "V1", "преобразователь расхода", "КТПТР-01", "FT-1",
         d(2022, 2, 5), d(2026, 2, 5), SOON],
        [3, *m307, "Тепловая энергия №1", "Q", "T1", "датчик температуры", "КТПТР-01", "TS-1",
         d(2022, 7, 1), d(2026, 7, 1), VALID],
        [4, *m307, "Тепловая энергия №1", "Q", "T2", "датчик температуры", "КТПТР-01", "TS-2", None, None, UNKNOWN],
        [5, *m307, "Горячее водоснабжение №1", "V", "V", "прибор учёта", "KARAT-307", "307T0001",
         d(2022, 3, 10), d(2026, 3, 10), VALID],
        # due on the act's day itself: expiring, not overdue
        [6, "223T0001", "KARAT-Compact-2-223", "1", "Тепловая энергия №1", "Q", "Q", "прибор учёта",
         "KARAT-Compact-2-223", "223T0001", None, d(2026, 1, 14), SOON],
        [7, "223T0002", "KARAT-Compact-2-223", "2", "Тепловая энергия №1", "Q", "Q", "прибор учёта",
         "KARAT-Compact-2-223", "223T0002", None, d(2027, 1, 14), VALID],
        # 13.02 = the 30th day: still «истекает»
        [8, "223T0002", "KARAT-Compact-2-223", "2", "Горячее водоснабжение №1", "V", "V", "счётчик воды", "КТПТР-01",
         "WM-2", d(2020, 2, 13), d(2026, 2, 13), SOON],
        [9, "926C0001", "KARAT-926LW", "3", "Холодное водоснабжение №1", "V", "V", "прибор учёта", "KARAT-926LW",
         "926C0001", None, d(2026, 1, 10), OVERDUE]]
    # per channel, by its earliest date: 307 cold valid, heat 05.02 soon, hot valid; 223T0001 soon;
    # 223T0002 heat valid, hot soon; 926C0001 overdue -> 7 channels: 3 valid, 3 soon, 1 overdue
    text = [r[0] for r in table[9:] if r[0] is not None]
    assert text == ["ИИК в акте: 7; поверка действует: 3; истекает в течение 30 дней: 3; просрочена: 1; "
                    "дата не указана: 0",
                    "Представитель управляющей компании ____________________ / ____________________ /",
                    "Представитель поверителя ____________________ / ____________________ /"]


async def test_act_of_one_meter_on_a_later_date(world: support.World) -> None:
    ids = world.ids
    rows = await sheet(world, "channel_verification_act", building=ids.building_a, meter=ids.meters["223T0002"],
                       day="2026-02-14")
    assert rows[2][0] == f"Объект: {A}; прибор учёта 223T0002"
    _, table = body(rows, "№ п/п")
    # on 14.02.2026 WM-2 (13.02) is overdue; the heat channel (14.01.2027) valid
    assert [(r[4], r[9], r[12]) for r in table[:2]] == [("Тепловая энергия №1", "223T0002", VALID),
                                                        ("Горячее водоснабжение №1", "WM-2", OVERDUE)]
    assert table[3][0].startswith("ИИК в акте: 2; поверка действует: 1; истекает в течение 30 дней: 0; просрочена: 1")
    # 926C0003 was decommissioned 01.12.2025: on an act of 30.11.2025 it is there, on 01.12 it is not
    _, table = body(await sheet(world, "channel_verification_act", building=ids.building_a,
                                meter=ids.meters["926C0003"], day="2025-11-30"), "№ п/п")
    assert table[0][1] == "926C0003"
    _, table = body(await sheet(world, "channel_verification_act", building=ids.building_a,
                                meter=ids.meters["926C0003"], day="2025-12-01"), "№ п/п")
    assert table[1][0].startswith("ИИК в акте: 0")


async def test_act_parameter_errors_and_scope(world: support.World) -> None:
    ids = world.ids
    with pytest.raises(InvalidInput, match="meter: meter 307B0001 is not of building"):
        await sheet(world, "channel_verification_act", building=ids.building_a, meter=ids.meters["307B0001"])
    with pytest.raises(NotFound):
        await sheet(world, "channel_verification_act", building=ids.building_a, meter=ids.meters["307X0001"])
    with pytest.raises(NotFound):
        await sheet(world, "channel_verification_act", building=ids.other_building)
    with pytest.raises(NotFound):
        await sheet(world, "channel_verification_act", login="admin", building=ids.building_a)
    with pytest.raises(InvalidInput, match="building: required"):
        await sheet(world, "channel_verification_act")
    # a reader may make it (a report changes nothing)
    _, table = body(await sheet(world, "channel_verification_act", login="reader", building=ids.building_a),
                    "№ п/п")
    assert table[0][0] == 1


# --- in the background ---------------------------------------------------------------------------------

async def test_made_in_the_background_with_the_same_rows(world: support.World) -> None:
    reports, token = world.services.reports, world.tokens["disp"]
    job = await reports.start(token, "channel_composition", {"day": "2025-12-10"})
    done = await reports.wait(token, job.id)
    assert (done.state, done.progress) == ("done", 1.0)
    path, name = await reports.job_file(token, job.id)
    assert name.startswith("channel_composition")
    rows = [list(r) for r in load_workbook(path).worksheets[0].iter_rows(values_only=True)]
    # the same figures as test_composition_on_a_date_with_totals
    assert rows[-2:] == [[A, 3, 4, 5, 0, 0, 12, 5, "да"], ["Итого", 3, 4, 5, 0, 0, 12, 5, None]]
    # and the JSON form: numbers as numbers, the ОДУУ as text
    report = await reports.report(token, "channel_composition", {"day": "2025-12-10"})
    sheet_json = report.as_json()["sheets"][0]
    assert sheet_json["rows"][1] == [A, 3, 4, 5, 0, 0, 12, 5, "да"]
    assert sheet_json["totals"] == ["Итого", 3, 4, 5, 0, 0, 12, 5, None]
