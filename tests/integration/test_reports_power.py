"""4.3.5 «Ведомость операций ограничения электропотребления абонентов» (power_operations) over a real
registry and chDB: limitations started, carried out, failed and lifted through the power service (the test
plays the edge's results, as tests/integration/test_power.py does), the report written to XLSX and read
back with openpyxl cell by cell against the times set here (Moscow = UTC + 3).

Rows: tests/cloud_data.py with tests/support_power.py (941T0001 in premise 1, account TEST-0001;
941T0003 in premise 3, account TEST-0003), a city threshold of 3000 W, and this history:
- op1: 20.12.2025 12:00 a debt of 1500.50 ₽ on premise 1, notice 21.12, control 25.12; the relay
  confirms at 12:01; lifted 10.01.2026 12:00, the relay confirms at 12:02;
- op2: 12.01.2026 12:00 repairs from 12.01 on premise 3; the relay refuses at 12:01 (never limited);
- op3: 13.01.2026 12:00 a debt of 200 ₽ on premise 1; no answer yet (being sent).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from cloud.reports.service import xlsx_in_memory
from cloud.services.container import Services
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.wire import CommandResult
from tests import cloud_data, support_power

d = datetime
DISP = "Диспетчер Тест"
HEADER = ["№ п/п", "Помещение", "Лицевой счёт", "Серийный номер ПУ", "Причина", "Сумма долга, руб.",
          "Дата начала работ", "Дата уведомления", "Дата контроля", "Дата операции", "Фактическая дата ограничения",
          "Порог, Вт", "Состояние процедуры", "Завершение", "Дата снятия", "Исполнитель (диспетчер)",
          "Снял ограничение"]
OP1 = [1, "1", "TEST-0001", "941T0001", "задолженность", 1500.5, None, d(2025, 12, 21), d(2025, 12, 25),
       d(2025, 12, 20, 12, 0), d(2025, 12, 20, 12, 1), 3000, "снято", "завершено (ограничение снято)",
       d(2026, 1, 10, 12, 2), DISP, DISP]
OP2 = [1, "3", "TEST-0003", "941T0003", "ремонтные работы", None, d(2026, 1, 12), None, None, d(2026, 1, 12, 12, 0),
       None, 3000, "команда не выполнена", "не выполнено", None, DISP, None]
OP3 = [2, "1", "TEST-0001", "941T0001", "задолженность", 200, None, None, None, d(2026, 1, 13, 12, 0), None, 3000,
       "команда отправляется", "не начато", None, DISP, None]


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    power: support_power.PowerSeed
    tokens: dict[str, str]
    building_c: int  # a second building of the company
    premise_c: int  # its premise


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _edge(services: Services, command_id: str, state: str, at: datetime, **detail: object) -> None:
    assert services.commands.apply_results("test", [CommandResult(command_id, state, at.timestamp(),
                                                                   dict(detail))]) == 1


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    power = support_power.seed_power(registry, seeded)
    with registry.connect() as db:
        building_c = int(db.execute(
            "INSERT INTO buildings (company_id, site, address, city, city_id, time_zone, area_m2, residents) "
            "VALUES (?, 'test', 'ул. Третья, 7', 'Казань', ?, ?, 500, 5)",
            (seeded.company_id, power.city_id, cloud_data.TZ)).lastrowid or 0)
        premise_c = int(db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) VALUES "
                                   "(?, '1', 'apartment', 30, 1)", (building_c,)).lastrowid or 0)
    services = Services.create(registry, clickhouse)
    services.set_clock(_at(cloud_data.NOW))
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger")}
    disp, limits = tokens["disp"], services.power
    await limits.set_city_threshold(disp, power.city_id, 3000)
    t1 = d(2025, 12, 20, 9, tzinfo=UTC)
    services.set_clock(_at(t1))
    op1 = await limits.start(disp, power.premise_1, "debt", debt_amount=1500.5, notify=True,
                             notify_on=date(2025, 12, 21), control_on=date(2025, 12, 25))
    _edge(services, op1.command_id, "done", d(2025, 12, 20, 9, 1, tzinfo=UTC), mode="limit", threshold_w=3000)
    services.set_clock(_at(d(2026, 1, 10, 9, tzinfo=UTC)))
    lifting = await limits.lift(disp, op1.id)
    _edge(services, lifting.command_id, "done", d(2026, 1, 10, 9, 2, tzinfo=UTC), mode="on", threshold_w=0)
    services.set_clock(_at(d(2026, 1, 12, 9, tzinfo=UTC)))
    op2 = await limits.start(disp, power.premise_3, "repairs", repairs_from=date(2026, 1, 12))
    _edge(services, op2.command_id, "failed", d(2026, 1, 12, 9, 1, tzinfo=UTC), reason="relay refused")
    services.set_clock(_at(d(2026, 1, 13, 9, tzinfo=UTC)))
    await limits.start(disp, power.premise_1, "debt", debt_amount=200.0)
    services.set_clock(_at(cloud_data.NOW))
    return World(services, registry, seeded, power, tokens, building_c, premise_c)


async def _sheet(world: World, login: str = "disp", **raw: object) -> tuple[list[list[Any]], list[list[Any]]]:
    """(heading lines, table rows under the header) of the report read back from its XLSX."""
    report = await world.services.reports.report(world.tokens[login], "power_operations",
                                                 {k: str(v) for k, v in raw.items()})
    ws = load_workbook(io.BytesIO(xlsx_in_memory(report))).worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    at = next(i for i, r in enumerate(rows) if r[0] == "№ п/п")
    assert rows[at] == HEADER
    return rows[:at], rows[at + 1:]


async def test_the_building_in_a_period(world: World) -> None:
    b = world.seeded.building_id
    heading, table = await _sheet(world, kind="building", building=b, first="2026-01-11", last="2026-01-14")
    assert [r[0] for r in heading if r[0]] == [
        "Ведомость операций ограничения электропотребления абонентов", "Компания: УК Тест",
        "Адрес объекта: ул. Тестовая, 1", "Все помещения объекта", "Период: 11.01.2026 – 14.01.2026", "Операций: 2"]
    # op1 ended 10.01 12:02, before the period: out; op2 (failed 12.01) and op3 (still being sent) in
    assert table == [OP2, OP3]


async def test_edge_days_of_the_period(world: World) -> None:
    b = world.seeded.building_id
    # 10.01 alone: op1 lifted that day at 12:02 overlaps it; op2 and op3 start later
    _, table = await _sheet(world, kind="building", building=b, first="2026-01-10", last="2026-01-10")
    assert table == [OP1]
    # 20.12.2025 alone: op1 was requested that day
    _, table = await _sheet(world, kind="building", building=b, first="2025-12-20", last="2025-12-20")
    assert table == [OP1]
    # before it: nothing
    _, table = await _sheet(world, kind="building", building=b, first="2025-12-01", last="2025-12-19")
    assert table == []


async def test_one_premise(world: World) -> None:
    b, p = world.seeded.building_id, world.power
    heading, table = await _sheet(world, kind="premise", building=b, premise=p.premise_1, first="2025-12-01",
                                  last="2026-01-31")
    assert "Помещение: 1" in [r[0] for r in heading]
    assert table == [OP1, OP3]
    # premise 3 on 13-14.01: op2 ended (failed) on the 12th
    _, table = await _sheet(world, kind="premise", building=b, premise=p.premise_3, first="2026-01-13",
                            last="2026-01-14")
    assert table == []


async def test_parameter_errors(world: World) -> None:
    b, p = world.seeded.building_id, world.power
    with pytest.raises(InvalidInput, match="premise: required with kind=premise"):
        await _sheet(world, kind="premise", building=b, first="2026-01-01", last="2026-01-31")
    with pytest.raises(InvalidInput, match=r"premise: premise 1 is not of building ул\. Тестовая, 1"):
        await _sheet(world, kind="premise", building=b, premise=world.premise_c, first="2026-01-01",
                     last="2026-01-31")
    with pytest.raises(InvalidInput, match="premise: given only with kind=premise"):
        await _sheet(world, kind="building", building=b, premise=p.premise_1, first="2026-01-01", last="2026-01-31")
    with pytest.raises(InvalidInput, match="first: 2026-02-01 is after last 2026-01-31"):
        await _sheet(world, kind="building", building=b, first="2026-02-01", last="2026-01-31")
    with pytest.raises(InvalidInput, match="kind"):
        await _sheet(world, kind="city", building=b, first="2026-01-01", last="2026-01-31")


async def test_scope_and_roles(world: World) -> None:
    b, p = world.seeded.building_id, world.power
    with pytest.raises(NotFound):
        await _sheet(world, "admin", kind="building", building=b, first="2026-01-01", last="2026-01-31")
    with pytest.raises(NotFound):
        await _sheet(world, kind="building", building=world.seeded.other_building_id, first="2026-01-01",
                     last="2026-01-31")
    with pytest.raises(NotFound):
        await _sheet(world, kind="premise", building=b, premise=p.other_premise, first="2026-01-01",
                     last="2026-01-31")
    # another company's dispatcher: our building is not found, and its own has no operations
    with pytest.raises(NotFound):
        await _sheet(world, "stranger", kind="building", building=b, first="2026-01-01", last="2026-01-31")
    _, table = await _sheet(world, "stranger", kind="building", building=world.seeded.other_building_id,
                            first="2025-01-01", last="2026-01-31")
    assert table == []
    # a reader sees the list (a report changes nothing)
    _, table = await _sheet(world, "reader", kind="building", building=b, first="2026-01-11", last="2026-01-14")
    assert len(table) == 2


async def test_numbers_and_dates_are_typed_cells(world: World) -> None:
    report = await world.services.reports.report(world.tokens["disp"], "power_operations", {
        "kind": "building", "building": str(world.seeded.building_id), "first": "2025-12-01", "last": "2026-01-31"})
    ws = load_workbook(io.BytesIO(xlsx_in_memory(report))).worksheets[0]
    at = next(r[0].row for r in ws.iter_rows() if r[0].value == "№ п/п")
    debt = ws.cell(at + 1, 6)
    assert debt.value == 1500.5
    assert debt.number_format == "0.00"
    assert ws.cell(at + 1, 11).number_format == "DD.MM.YYYY HH:MM"
    assert ws.cell(at + 1, 8).number_format == "DD.MM.YYYY"
    # the JSON form: the same rows, dates ISO
    rows = report.as_json()["sheets"][0]["rows"]
    assert rows[0][5] == 1500.5
    assert rows[0][10] == "2025-12-20T12:01:00"
