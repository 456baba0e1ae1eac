"""Акт поверки ИИК (manual 4.3.1): the measuring channels (ИИК, 4.5.3) of a building, or of one of its
meters, with every instrument each channel is made of and where its verification stands on the act's
date.

One row per instrument of a channel: the meter (number, model, premise), the channel (resource, its
number, the parameter it gives), the quantity the instrument registers in it, the instrument (the
meter itself or a sensor: kind, model, serial), its last and next verification dates and its state on
the act's date: valid, expiring within 30 days, overdue, or no date recorded. A channel with no
instrument recorded is listed once with «нет средств измерений». Meters decommissioned by the act's
date are left out (verified no more). The act ends with a summary and the signature lines of the
management company's and the verifier's representatives, as text rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cloud.reports import channels_common as cc
from cloud.reports.engine import RESOURCE_RU, Param, ReportContext, ReportSpec, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services import verification_rules
from cloud.services.models import InvalidInput, meter_status
from cloud.services.service_meters_rules import natural_key

TITLE = "Акт поверки ИИК"
HEADING = "Акт поверки измерительно-информационных каналов"
SOON_DAYS = 30
KIND_RU = {"meter": "прибор учёта", "flow_transducer": "преобразователь расхода",
           "temperature_sensor": "датчик температуры", "water_meter": "счётчик воды",
           "pulse_meter": "счётчик с импульсным выходом"}
STATES = {"valid": "действует", "soon": f"истекает в течение {SOON_DAYS} дней", "overdue": "просрочена",
          "unknown": "дата поверки не указана"}
SIGNATURES = ("Представитель управляющей компании ____________________ / ____________________ /",
              "Представитель поверителя ____________________ / ____________________ /")
COLUMNS = (Column("№ п/п", kind="integer", key="n", width=6), Column("Номер ПУ", key="meter_serial", width=14),
           Column("Модель ПУ", key="meter_model", width=20), Column("Помещение", key="premise"),
           Column("ИИК", key="channel", width=26), Column("Параметр", key="parameter"),
           Column("Величина", key="quantity"), Column("Средство измерений", key="instrument", width=22),
           Column("Модель СИ", key="instrument_model", width=18), Column("Заводской номер СИ", key="instrument_serial",
                                                                         width=16),
           Column("Дата поверки", kind="date", key="verified_on", width=13),
           Column("Дата следующей поверки", kind="date", key="next_verification_on", width=13),
           Column("Состояние поверки", key="state", width=24))


def state(next_on: date | None, day: date) -> str:
    """The verification state on the act's ``day``: overdue before it, expiring within SOON_DAYS days
    from it (that day included), else valid; "unknown" without a date."""
    if next_on is None:
        return "unknown"
    if next_on < day:
        return "overdue"
    if next_on <= day + timedelta(days=SOON_DAYS):
        return "soon"
    return "valid"


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building = await ctx.services.accounting.building(ctx.token, params["building"])
    day = params["day"]
    if params.get("meter") is not None:
        meter = await ctx.services.accounting.meter(ctx.token, params["meter"])
        if meter.building_id != building.id:
            raise InvalidInput(f"meter: meter {meter.serial} is not of building {building.address}")
        meters = [meter]
        scope = f"Объект: {building.address}; прибор учёта {meter.serial}"
    else:
        meters = await ctx.services.accounting.meters(ctx.token, building.id)
        scope = f"Объект: {building.address}"
    end = cc.day_start(day + timedelta(days=1), building.time_zone) - timedelta(microseconds=1)
    meters = [m for m in meters if verification_rules.may_be_due(
        meter_status(m.commissioned_at, m.decommissioned_at, end, m.status))]
    ctx.progress(0, 2, "измерительные каналы")
    channels = await cc.iik_of(ctx, (m.id for m in meters))
    rows: list[tuple[Cell, ...]] = []
    counted = dict.fromkeys(STATES, 0)
    total = 0
    for m in sorted(meters, key=lambda m: (m.role.value != "common", natural_key(m.premise_number or ""),
                                                m.serial)):
        for c in channels.get(m.id, []):
            total += 1
            counted[state(c.next_verification_on, day)] += 1
            channel = f"{RESOURCE_RU[c.resource]} №{c.resource_number}"
            head = (m.serial, m.model, m.premise_number, channel, c.parameter)
            if not c.instruments:
                rows.append((len(rows) + 1, *head, None, "нет средств измерений", None, None, None, None,
                             STATES["unknown"]))
            for i in c.instruments:
                rows.append((len(rows) + 1, *head, i.quantity, KIND_RU.get(i.kind, i.kind), i.model or None,
                             i.serial, i.verified_on, i.next_verification_on, STATES[state(i.next_verification_on,
                                                                                             day)]))
    ctx.progress(2, 2, "")
    blank: tuple[Cell, ...] = (None,) * len(COLUMNS)
    summary = (f"ИИК в акте: {total}; поверка действует: {counted['valid']}; истекает в течение {SOON_DAYS} "
               f"дней: {counted['soon']}; просрочена: {counted['overdue']}; дата не указана: {counted['unknown']}")
    rows += [blank, _text(summary), blank, *(_text(line) for line in SIGNATURES)]
    heading = (HEADING, f"Управляющая компания: {ctx.user.company_name}", scope, f"Дата акта: {day:%d.%m.%Y}",
               "Состояние поверки — по каждому средству измерений; в итоге ИИК — по самой ранней дате его средств")
    return Report("channel_verification_act", TITLE, [Sheet("Акт поверки ИИК", COLUMNS, rows, heading)],
                  file_stem("channel_verification_act", building.id, params.get("meter"), day))


def _text(line: str) -> tuple[Cell, ...]:
    return (line, *(None,) * (len(COLUMNS) - 1))


SPEC = ReportSpec(
    "channel_verification_act", TITLE, "4.3.1",
    (Param("building", "building", "Объект"),
     Param("meter", "meter", "Прибор учёта (все приборы объекта, если не выбран)", required=False),
     Param("day", "day", "Дата акта", default="today")),
    build, description="Перечень ИИК объекта с датами поверки их средств измерений и подписями сторон.")
