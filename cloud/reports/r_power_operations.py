"""Ведомость операций ограничения электропотребления абонентов (manual 4.3.5).

For one premise (kind ``premise``) or a whole building (kind ``building``): every power limitation
(4.5.8) whose time overlaps the local days ``first``..``last``, with all the fields the manual names:
the object's address and the period (heading), the premise, the meter's serial, the debt (for a
limitation for debt), the notification date, the date the relay actually limited, the procedure's
state, whether the limitation is over, and the dispatcher who started it (and who lifted it).

A limitation lasts from its request until it ended: the lift command done (lifted), or its limit
command failed or timed out (the relay never limited); one still in force is open-ended. Its state
is the relay command's, read by power_rules.state, never a stored copy (the «Ограничение
потребления» page shows the same). "Actually limited" is when the device confirmed the limit
command; a limitation never confirmed has no such date (an empty cell, not a guess). Bulk read of
the registry scoped by the user's company; the building and the premise through the services, so
another company's are NotFound. Tests: tests/integration/test_reports_power.py,
tests/unit/cloud/test_reports_channels_rules.py.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

from cloud.reports.engine import Param, ReportContext, ReportSpec, check_period, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services import power_rules
from cloud.services.models import InvalidInput
from protocol.periods import local_to_utc, utc_to_local, zone

TITLE = "Ведомость операций ограничения электропотребления абонентов"
KINDS = (("premise", "По помещению"), ("building", "По объекту"))
STATE_RU = {"sending": "команда отправляется", "limited": "ограничено", "failed": "команда не выполнена",
            "timed_out": "нет ответа устройства", "lifting": "снятие: команда отправляется", "lifted": "снято",
            "lift_failed": "снятие не выполнено", "lift_timed_out": "снятие: нет ответа устройства"}
REASON_RU = {"debt": "задолженность", "repairs": "ремонтные работы"}
# whether the limitation is over, from its state
DONE_RU = {"lifted": "завершено (ограничение снято)", "failed": "не выполнено", "timed_out": "не выполнено",
           "sending": "не начато", "limited": "не завершено", "lifting": "не завершено",
           "lift_failed": "не завершено", "lift_timed_out": "не завершено"}
COLUMNS = (Column("№ п/п", kind="integer", key="n", width=6), Column("Помещение", key="premise"),
           Column("Лицевой счёт", key="account", width=14), Column("Серийный номер ПУ", key="meter_serial", width=14),
           Column("Причина", key="reason", width=18), Column("Сумма долга", "руб.", "number", 2, key="debt_amount"),
           Column("Дата начала работ", kind="date", key="repairs_from", width=13),
           Column("Дата уведомления", kind="date", key="notify_on", width=13),
           Column("Дата контроля", kind="date", key="control_on", width=13),
           Column("Дата операции", kind="datetime", key="created_at", width=17),
           Column("Фактическая дата ограничения", kind="datetime", key="limited_at", width=17),
           Column("Порог", "Вт", "integer", key="threshold_w"),
           Column("Состояние процедуры", key="state", width=26),
           Column("Завершение", key="completion", width=24),
           Column("Дата снятия", kind="datetime", key="lifted_at", width=17),
           Column("Исполнитель (диспетчер)", key="performer", width=24),
           Column("Снял ограничение", key="lifter", width=24))

_SQL = """
SELECT l.*, p.number, p.account, m.serial, lc.state AS limit_state, lc.finished_at AS limit_finished,
       fc.state AS lift_state, fc.finished_at AS lift_finished, cu.full_name AS creator, fu.full_name AS lifter
FROM power_limitations l
JOIN premises p ON p.id = l.premise_id JOIN buildings b ON b.id = p.building_id JOIN meters m ON m.id = l.meter_id
JOIN commands lc ON lc.id = l.limit_command_id LEFT JOIN commands fc ON fc.id = l.lift_command_id
LEFT JOIN users cu ON cu.id = l.created_by LEFT JOIN users fu ON fu.id = l.lifted_by
WHERE l.company_id = ? AND b.id = ? AND (? IS NULL OR l.premise_id = ?) AND l.created_at < ?
ORDER BY l.created_at, l.id
"""


def ended_at(limitation_state: str, limit_finished: datetime | None, lift_finished: datetime | None
             ) -> datetime | None:
    """When a limitation stopped being one: lifted (the lift done), or never limited (the limit command
    failed or timed out); None while it is in force or still being sent."""
    if limitation_state == "lifted":
        return lift_finished
    if limitation_state in ("failed", "timed_out"):
        return limit_finished
    return None


def _utc(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building = await ctx.services.accounting.building(ctx.token, params["building"])
    premise = None
    if params["kind"] == "premise":
        premise = await ctx.services.accounting.premise(ctx.token, params["premise"])
        if premise.building_id != building.id:
            raise InvalidInput(f"premise: premise {premise.number} is not of building {building.address}")
    tz = zone(building.time_zone)
    first, last = params["first"], params["last"]
    start = local_to_utc(datetime(first.year, first.month, first.day), tz)
    end = local_to_utc(datetime(last.year, last.month, last.day) + timedelta(days=1), tz)
    ctx.progress(0, 2, "операции ограничения")
    pid = premise.id if premise else None
    found = await asyncio.to_thread(ctx.registry.all, _SQL, ctx.user.company_id, building.id, pid, pid,
                                    end.isoformat())

    def local(moment: datetime | None) -> datetime | None:
        return None if moment is None else utc_to_local(moment, tz)

    rows: list[tuple[Cell, ...]] = []
    for r in found:
        lifting = r["lift_command_id"] is not None
        current = power_rules.state("lift" if lifting else "limit", r["lift_state"] if lifting else r["limit_state"])
        limit_finished, lift_finished = _utc(r["limit_finished"]), _utc(r["lift_finished"])
        over = ended_at(current, limit_finished, lift_finished)
        if over is not None and over < start:
            continue
        limited_at = limit_finished if r["limit_state"] == "done" else None
        rows.append((
            len(rows) + 1, r["number"], r["account"] or None, r["serial"], REASON_RU[r["reason"]], r["debt_amount"],
            _day(r["repairs_from"]), _day(r["notify_on"]), _day(r["control_on"]), local(_utc(r["created_at"])),
            local(limited_at), r["threshold_w"], STATE_RU[current], DONE_RU[current],
            local(lift_finished) if current == "lifted" else None, r["creator"], r["lifter"] if lifting else None))
    ctx.progress(2, 2, "")
    heading = (TITLE, f"Компания: {ctx.user.company_name}", f"Адрес объекта: {building.address}",
               f"Помещение: {premise.number}" if premise else "Все помещения объекта",
               f"Период: {first:%d.%m.%Y} – {last:%d.%m.%Y}", f"Операций: {len(rows)}")
    return Report("power_operations", TITLE, [Sheet("Операции ограничения", COLUMNS, rows, heading)],
                  file_stem("power_operations", building.id, pid, first, last))


def check(params: dict[str, Any]) -> None:
    """The premise goes with kind=premise only, and then it is required; first not after last."""
    if params.get("kind") == "premise" and params.get("premise") is None:
        raise InvalidInput("premise: required with kind=premise (Помещение)")
    if params.get("kind") == "building" and params.get("premise") is not None:
        raise InvalidInput("premise: given only with kind=premise (kind=building lists the whole building)")
    check_period()(params)


SPEC = ReportSpec(
    "power_operations", TITLE, "4.3.5",
    (Param("kind", "choice", "Тип ведомости", choices=KINDS, default="building"),
     Param("building", "building", "Объект"),
     Param("premise", "premise", "Помещение (для ведомости по помещению)", required=False),
     Param("first", "day", "Начало периода"), Param("last", "day", "Конец периода")),
    build, description="Операции ограничения мощности потребления электроэнергии по помещению или по объекту.",
    check=check)
