"""Отчет по поверкам ПУ (manual 4.3.11).

The meters whose next verification date (``meters.next_verification_on``) falls in the period, by
date: where each is installed, its number and model, the resources it measures and that date. The
period is a preset counted from today in the company's city (year, half a year, 3 months, a month,
2 weeks: channels_common.preset_period) or a custom one. Read through the verification calendar's
own list (cloud/services/verification.py ``scheduled``: meters only, a decommissioned one is due
never), so this report and the «Поверка» page (4.5.4) cannot disagree. Meters overdue before the
period are not listed: the report is of verifications that expire in it, as the manual words it.
"""

from __future__ import annotations

from typing import Any

from cloud.reports import channels_common as cc
from cloud.reports.engine import ReportContext, ReportSpec, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services.verification import VerificationFilter
from protocol.vocabulary import MeterRole

TITLE = "Отчет по поверкам ПУ"
COLUMNS = (Column("Адрес установки ПУ", width=36, key="address"), Column("Помещение", key="premise"),
           Column("Номер ПУ", key="serial", width=14), Column("Модель ПУ", key="model", width=20),
           Column("Тип", key="usage"), Column("Измеряемые ресурсы", key="resources", width=36),
           Column("Дата поверки", kind="date", key="next_verification_on", width=14))


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    today = await cc.company_today(ctx)
    first, last = cc.preset_period(params["preset"], today, params.get("first"), params.get("last"))
    scope = "все объекты"
    if params.get("building") is not None:  # another company's building: NotFound
        scope = (await ctx.services.accounting.building(ctx.token, params["building"])).address
    ctx.progress(0, 2, "приборы учёта")
    filters = VerificationFilter(
        building_ids=(params["building"],) if params.get("building") is not None else (),
        models=(params["model"],) if params.get("model") else (),
        resources=(params["resource"],) if params.get("resource") else (),
        roles=cc.usage_roles(params.get("usage") or "all"), kinds=("meter",))
    due = await ctx.services.verification.scheduled(ctx.token, first, last, filters)
    rows: list[tuple[Cell, ...]] = [
        (i.address, i.premise_number, i.meter_serial, i.model, "ОДПУ" if i.role is MeterRole.COMMON else "ИПУ",
         cc.resources_ru(i.resources), i.next_verification_on) for i in due.items]
    ctx.progress(2, 2, "")
    heading = (TITLE, f"Компания: {ctx.user.company_name}", *cc.filter_lines(params, first, last, scope),
               f"Приборов учёта: {len(rows)}")
    return Report("meter_verification", TITLE, [Sheet("Поверки ПУ", COLUMNS, rows, heading)],
                  file_stem("meter_verification", params.get("building"), first, last))


SPEC = ReportSpec("meter_verification", TITLE, "4.3.11", cc.verification_params(), build,
                  description="Приборы учёта, срок поверки которых истекает в выбранный период.",
                  check=cc.check_preset)
