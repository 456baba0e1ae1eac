"""ECharts options for the accounting pages (4.1.2, 4.1.4, 4.1.6, 4.1.7), built from the service models.

Pure functions returning option dictionaries (``ui.echart`` draws them): missing values are
gaps; a sum that is not complete is a pale bar of its known part, marked in the tooltip as the
table marks it (manual 4.1.5): ``*`` when a meter is missing, ``!`` when a suspect increment was
left out. Imports the service models and ui.fmt/ui.i18n; tests: tests/ui/test_charts.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cloud.services.balance import PremisesConsumption
from cloud.services.models import BuildingConsumption, Figure, Granularity, MeterArchive, PremiseConsumption

from . import fmt
from .i18n import current_language, t

BUILDING = "#1d4f7c"
APARTMENTS = "#0f9d8a"
IMBALANCE = "#e39b1b"
IMBALANCE_PCT = "#c2413b"
PARAMETER = "#1d4f7c"
_GRID_LINE = {"lineStyle": {"color": "#edf1f5"}}
_PALE = 0.4


def _locale() -> str:
    return "en-US" if current_language() == "en" else "ru-RU"


def _number_js(places: int) -> str:
    locale = json.dumps(_locale())
    return f"v => v.toLocaleString({locale}, {{minimumFractionDigits: {places}, maximumFractionDigits: {places}}})"


def _axis_label_js() -> str:
    return f"v => v.toLocaleString({json.dumps(_locale())})"


def _tooltip_js(titles: Sequence[str], places: Sequence[int]) -> str:
    """A tooltip that names the whole period and writes ``–*`` / ``1,770*`` / ``0,500!`` like the table."""
    return (
        "(params) => {"
        f" const titles = {json.dumps(list(titles), ensure_ascii=False)};"
        f" const places = {json.dumps(list(places))};"
        f" const locale = {json.dumps(_locale())};"
        " let text = '<b>' + titles[params[0].dataIndex] + '</b>';"
        " for (const p of params) {"
        "  const d = p.data; const v = (d !== null && typeof d === 'object') ? d.value : d;"
        "  const n = places[p.seriesIndex];"
        "  const shown = (v === null || v === undefined || v === '-') ? '–*'"
        "   : v.toLocaleString(locale, {minimumFractionDigits: n, maximumFractionDigits: n})"
        "     + ((d !== null && typeof d === 'object' && d.partial) ? '*' : '')"
        "     + ((d !== null && typeof d === 'object' && d.suspect) ? '!' : '');"
        "  text += '<br>' + p.marker + p.seriesName + ': <b>' + shown + '</b>';"
        " }"
        " return text; }"
    )


def _base(periods: Sequence[datetime], granularity: Granularity, places: Sequence[int]) -> dict[str, Any]:
    categories = [fmt.point_label(p, granularity, short=True) for p in periods]
    titles = [fmt.point_label(p, granularity) for p in periods]
    return {
        "animationDuration": 300,
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 8, "containLabel": True},
        "legend": {"top": 0, "left": 0, "icon": "roundRect", "itemWidth": 12, "itemHeight": 12},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, ":formatter": _tooltip_js(titles, places)},
        "xAxis": {
            "type": "category",
            "data": categories,
            "axisTick": {"alignWithLabel": True},
            "axisLine": {"lineStyle": {"color": "#bcccdc"}},
            "axisLabel": {"color": "#486581"},
        },
    }


def _value_axis(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "value",
        "name": name,
        "nameTextStyle": {"color": "#627d98", "align": "left"},
        "splitLine": _GRID_LINE,
        "axisLabel": {"color": "#486581", ":formatter": _axis_label_js()},
        **extra,
    }


def _item(value: float | None, *, partial: bool = False, suspect: bool = False) -> Any:
    """A data point: a gap when unknown, a pale bar flagged for the tooltip when only partly known."""
    if value is None:
        return None
    if partial or suspect:
        return {"value": value, "partial": partial, "suspect": suspect, "itemStyle": {"opacity": _PALE}}
    return value


def _sum_item(value: float | None, complete: bool, figure: Figure) -> Any:
    """A sum over meters: ``*`` when an expected meter is missing, ``!`` when a suspect one was left
    out, as ``figure`` tells; a figure that counts no meter leaves it to the ``complete`` flag."""
    if not figure.expected:
        return _item(value, partial=not complete)
    missing = figure.expected - figure.known - figure.suspect
    return _item(value, partial=missing > 0, suspect=figure.suspect > 0)


def building_consumption(data: BuildingConsumption) -> dict[str, Any]:
    """Bars of the building meter against the sum of apartment meters (manual 4.1.2, left)."""
    periods = [p.period for p in data.points]
    places = fmt.digits(data.unit)
    options = _base(periods, data.granularity, [places, places])
    options["yAxis"] = _value_axis(fmt.unit(data.unit))
    options["series"] = [
        {
            "name": t("series.building"),
            "type": "bar",
            "color": BUILDING,
            "barMaxWidth": 22,
            "data": [_sum_item(p.building, p.building_complete, p.building_figure) for p in data.points],
        },
        {
            "name": t("series.apartments"),
            "type": "bar",
            "color": APARTMENTS,
            "barMaxWidth": 22,
            "data": [_sum_item(p.apartments, p.apartments_complete, p.apartments_figure) for p in data.points],
        },
    ]
    return options


def building_imbalance(data: BuildingConsumption) -> dict[str, Any]:
    """Imbalance in units (bars) and in % of the building meter (line, right axis)."""
    periods = [p.period for p in data.points]
    places = fmt.digits(data.unit)
    options = _base(periods, data.granularity, [places, fmt.PERCENT_DIGITS])
    options["yAxis"] = [
        _value_axis(fmt.unit(data.unit)),
        _value_axis("%", splitLine={"show": False}, nameTextStyle={"color": "#627d98", "align": "right"}),
    ]
    options["series"] = [
        {
            "name": t("series.imbalance"),
            "type": "bar",
            "color": IMBALANCE,
            "barMaxWidth": 22,
            "data": [_item(p.imbalance) for p in data.points],
        },
        {
            "name": t("series.imbalance_pct"),
            "type": "line",
            "yAxisIndex": 1,
            "color": IMBALANCE_PCT,
            "symbolSize": 6,
            "connectNulls": False,
            "data": [_item(p.imbalance_pct) for p in data.points],
        },
    ]
    return options


def premise_consumption(data: PremiseConsumption, series_name: str) -> dict[str, Any]:
    """Consumption of one premise by period (manual 4.1.6): the known sum of its meters, marked like the table."""
    periods = [period for period, _ in data.points]
    figures = data.figures or (Figure(),) * len(data.points)  # no figures: the known sums, unmarked
    options = _base(periods, data.granularity, [fmt.digits(data.unit)])
    options["yAxis"] = _value_axis(fmt.unit(data.unit))
    options["series"] = [
        {
            "name": series_name,
            "type": "bar",
            "color": APARTMENTS,
            "barMaxWidth": 26,
            "data": [_sum_item(value, True, figure) for (_, value), figure in zip(data.points, figures, strict=True)],
        }
    ]
    return options


def meter_parameter(data: MeterArchive, code: str) -> dict[str, Any]:
    """One archive parameter over the period; the value axis is lifted off zero (manual 4.1.7)."""
    periods = [row.period for row in data.rows]
    unit_code = data.units.get(code, "")
    options = _base(periods, data.granularity, [fmt.digits(unit_code)])
    options["tooltip"]["axisPointer"] = {"type": "line"}
    options["yAxis"] = _value_axis(fmt.unit(unit_code), scale=True)
    options["series"] = [
        {
            "name": fmt.parameter(code, data.nature),
            "type": "line",
            "color": PARAMETER,
            "symbolSize": 5,
            "connectNulls": False,
            "areaStyle": {"opacity": 0.06},
            "data": [_item(row.values.get(code)) for row in data.rows],
        }
    ]
    return options


# --- consumption by premises (manual 4.1.4) ------------------------------------------------------

SHARE = "#7b5ea7"


def _premises_base(data: PremisesConsumption, places: int) -> dict[str, Any]:
    """A bar chart over the premises of the building (category axis: premise numbers)."""
    numbers = [r.premise.number for r in data.premises]
    titles = [t("premise.short", number=n) for n in numbers]
    return {
        "animationDuration": 300,
        "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"},
                    ":formatter": _tooltip_js(titles, [places])},
        "xAxis": {"type": "category", "data": numbers, "axisTick": {"alignWithLabel": True},
                  "axisLine": {"lineStyle": {"color": "#bcccdc"}}, "axisLabel": {"color": "#486581"}},
    }


def _premise_series(name: str, colour: str, data: list[Any]) -> list[dict[str, Any]]:
    return [{"name": name, "type": "bar", "color": colour, "barMaxWidth": 26, "data": data}]


def premises_absolute(data: PremisesConsumption, series_name: str) -> dict[str, Any]:
    """Each premise's consumption of the period (left chart of 4.1.4): gaps where nothing is known,
    pale bars flagged ``*`` where one of its meters is missing."""
    places = fmt.digits(data.unit)
    options = _premises_base(data, places)
    options["yAxis"] = _value_axis(fmt.unit(data.unit))
    options["series"] = _premise_series(series_name, APARTMENTS,
                                        [_sum_item(r.figure.value, r.figure.complete, r.figure) for r in data.premises])
    return options


def premises_specific(data: PremisesConsumption, unit_label: str, series_name: str) -> dict[str, Any]:
    """Per m² (heat) or per resident (other resources) of each premise (middle chart of 4.1.4)."""
    places = SPECIFIC_DIGITS
    options = _premises_base(data, places)
    options["yAxis"] = _value_axis(unit_label)
    options["series"] = _premise_series(series_name, BUILDING, [
        _item(r.specific, partial=not r.figure.complete, suspect=r.figure.suspect > 0) for r in data.premises])
    return options


def premises_share(data: PremisesConsumption, series_name: str) -> dict[str, Any]:
    """Each premise's share of the building meter, % (right chart of 4.1.4; only with a building meter)."""
    options = _premises_base(data, fmt.PERCENT_DIGITS)
    options["yAxis"] = _value_axis("%")
    options["series"] = _premise_series(series_name, SHARE, [_item(r.share_pct) for r in data.premises])
    return options


SPECIFIC_DIGITS = 4  # specific consumption is small: 0,0048 Гкал/м²
