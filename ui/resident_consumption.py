"""The residents' app's home, /kv: the premise's consumption of a resource by the hours of a day, the days
of a month or the months of a year (manual 4.1.6), by the rules of the staff's premise page, as a chart
and a table with the same marks (``x*`` partly known, ``–*`` unknown). Only resources with meters.
Registered by ui/resident_app.py; tests: tests/ui/test_resident_ui.py.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from cloud.services.models import Granularity, InvalidInput
from cloud.services.resident_app import HomePremise, ResidentHome
from protocol.vocabulary import Resource

from . import charts, errors, fmt, i18n, theme, widgets
from . import resident_frame as kv
from .i18n import t
from .query import PageQuery, page_url

i18n.extend({
    "kv.home.title": ("Потребление", "Consumption"),
    "kv.table.period": ("Период", "Period"),
    "kv.table.amount": ("Потребление, {unit}", "Consumption, {unit}"),
    "kv.total": ("Всего за период: {amount}", "Total for the period: {amount}"),
    "kv.legend": ("«–*» — нет данных прибора за период; «x*» — известна только часть потребления.",
                  "“–*”: no meter data for the period; “x*”: only part of the consumption is known."),
})

# manual 4.1.6's periods as the resident app offers them: the hours of a day, the days of a month, the months of a year
GRANULARITIES = (Granularity.HOUR, Granularity.DAY, Granularity.MONTH)


async def consumption(services: Any, home: ResidentHome, token: str, premise: HomePremise | None,
                       query: PageQuery) -> None:
    with kv.frame(t("kv.home.title"), home, kv.BASE, premise=premise):
        if premise is None:
            theme.message(t("kv.no_premises"))
            return
        kv.premise_selector(home, premise, kv.BASE)
        if not premise.resources:
            theme.message(t("kv.no_meters"))
            return
        resources = fmt.sort_resources(premise.resources)
        resource = query.resource if query.resource in resources else resources[0]
        granularity = query.granularity if query.granularity in GRANULARITIES else Granularity.DAY
        period = widgets.normalise(query.period or premise.today, granularity)

        async def change(**changed: Any) -> None:
            chosen = {"resource": resource, "granularity": granularity, "period": period, **changed}
            if "granularity" in changed and widgets.normalise(premise.today, granularity) == period:
                chosen["period"] = premise.today  # the current month → hours: today's, not the 1st's
            ui.navigate.to(page_url(kv.BASE, premise=premise.id if len(home.premises) > 1 else None,
                                    resource=chosen["resource"].value, granularity=chosen["granularity"].value,
                                    period=widgets.normalise(chosen["period"], chosen["granularity"]).isoformat()))

        widgets.control_bar([
            widgets.Choice(t("controls.resource"), {r: fmt.resource(r) for r in resources}, resource,
                           lambda value: change(resource=Resource(value)), "resource-toggle"),
            widgets.Choice(t("controls.granularity"), {g: t(f"granularity.{g.value}") for g in GRANULARITIES},
                           granularity, lambda value: change(granularity=Granularity(value)), "granularity-toggle"),
        ], granularity, period, lambda value: change(period=value))
        try:
            data = await services.resident_app.consumption(token, premise.id, resource, granularity, period)
        except InvalidInput as error:
            widgets.problem(t("error.invalid_title"), errors.reason(str(error)), icon="error_outline", back=False)
            return
        _consumption_body(data, resource)


def _consumption_body(data: Any, resource: Resource) -> None:
    unit = fmt.unit(data.unit)
    name = fmt.resource(resource)
    known = [v for _, v in data.points if v is not None]
    complete = all(f.complete for f in data.figures) if data.figures else True
    with theme.card(f"{name}, {fmt.period_title(data.period, data.granularity, capital=False)}"):
        total = fmt.amount(sum(known), data.unit, complete=complete) if known else fmt.amount(None, data.unit)
        ui.label(t("kv.total", amount=f"{total} {unit}")).classes("text-lg font-semibold").mark("kv-total")
        ui.echart(charts.premise_consumption(data, name)).classes("w-full h-64").mark("kv-chart")
    with theme.card():
        rows = [{"period": fmt.point_label(at, data.granularity), "amount": widgets.figure_text(f, data.unit)}
                for (at, _), f in zip(data.points, data.figures, strict=True)]
        ui.table(columns=[{"name": "period", "label": t("kv.table.period"), "field": "period", "align": "left"},
                          {"name": "amount", "label": t("kv.table.amount", unit=unit), "field": "amount",
                           "align": "right"}],
                 rows=rows, row_key="period", pagination=0).props("flat dense").classes("w-full").mark("kv-table")
        ui.label(t("kv.legend")).classes("du-muted text-xs")
