"""Отчет для поверки ИИК (manual 4.3.10).

The meters with measuring channels (ИИК, 4.5.3) whose verification expires in the period: where
each is installed, its number, model and resources, the next verification date, which is the
earliest next date among all its channels ("первая дата поверки прибора из множества ИИК прибора"),
how many channels it has and how many of them expire in the period. A channel's date is the
earliest of its instruments' (channels_common.py). Filters: building, model, usage (ИПУ / ОДПУ),
resource measured by the meter; the period a preset counted from today in the company's city or a
custom one. A decommissioned meter is verified no more (verification_rules.may_be_due); channels
overdue before the period are not counted as expiring in it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from cloud.reports import channels_common as cc
from cloud.reports.engine import ReportContext, ReportSpec, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services import verification_rules
from cloud.services.models import MeterInfo, meter_status
from cloud.services.service_meters_rules import natural_key
from protocol.vocabulary import MeterRole

TITLE = "Отчет для поверки ИИК"
COLUMNS = (Column("Адрес установки ПУ", width=36, key="address"), Column("Помещение", key="premise"),
           Column("Номер ПУ", key="serial", width=14), Column("Модель ПУ", key="model", width=20),
           Column("Тип", key="usage"), Column("Измеряемые ресурсы", key="resources", width=36),
           Column("Дата следующей поверки", kind="date", key="next_verification_on", width=14),
           Column("Количество ИИК", "шт", "integer", key="channels"),
           Column("ИИК с истекающим сроком поверки", "шт", "integer", key="channels_due", width=18))


class _Found(NamedTuple):
    earliest: date  # the earliest next verification date of the meter's channels
    address: str
    meter: MeterInfo
    channels: int  # its ИИК
    due: int  # of them, expiring in the period


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    today = await cc.company_today(ctx)
    first, last = cc.preset_period(params["preset"], today, params.get("first"), params.get("last"))
    chosen = await cc.buildings(ctx, params.get("building"))
    roles = cc.usage_roles(params.get("usage") or "all")
    now = ctx.clock()
    found: list[_Found] = []
    for done, building in enumerate(chosen):
        ctx.progress(done, len(chosen), building.address)
        meters = [m for m in await ctx.services.accounting.meters(ctx.token, building.id)
                  if verification_rules.may_be_due(meter_status(m.commissioned_at, m.decommissioned_at, now, m.status))
                  and (not params.get("model") or m.model == params["model"])
                  and (not roles or m.role in roles)
                  and (params.get("resource") is None or params["resource"] in m.resources)]
        channels = await cc.iik_of(ctx, (m.id for m in meters))
        for m in meters:
            mine = channels.get(m.id, [])
            dates = [c.next_verification_on for c in mine if c.next_verification_on is not None]
            due = sum(1 for d in dates if first <= d <= last)
            if due:
                found.append(_Found(min(dates), building.address, m, len(mine), due))
    ctx.progress(len(chosen), len(chosen), "")
    found.sort(key=lambda f: (f.earliest, f.address, natural_key(f.meter.premise_number or ""), f.meter.serial))
    rows: list[tuple[Cell, ...]] = [
        (f.address, f.meter.premise_number, f.meter.serial, f.meter.model,
         "ОДПУ" if f.meter.role is MeterRole.COMMON else "ИПУ", cc.resources_ru(f.meter.resources), f.earliest,
         f.channels, f.due) for f in found]
    scope = chosen[0].address if params.get("building") is not None else "все объекты"
    heading = (TITLE, f"Компания: {ctx.user.company_name}", *cc.filter_lines(params, first, last, scope),
               "Дата следующей поверки — первая дата поверки из всех ИИК прибора")
    totals: tuple[Cell, ...] = ("Итого", None, None, None, None, None, None,
                                sum(f.channels for f in found), sum(f.due for f in found))
    return Report("channel_verification", TITLE, [Sheet("Поверка ИИК", COLUMNS, rows, heading, totals)],
                  file_stem("channel_verification", params.get("building"), first, last))


SPEC = ReportSpec("channel_verification", TITLE, "4.3.10", cc.verification_params(), build,
                  description="Приборы учёта с ИИК, срок поверки которых истекает в выбранный период.",
                  check=cc.check_preset)
