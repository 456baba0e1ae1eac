"""The accounting charts mark a sum as the table does (manual 4.1.5): a pale bar of the known part
flagged ``partial`` (``*``) when an expected meter is missing, ``suspect`` (``!``) when an
implausible increment was left out, a gap when nothing is known; and the tooltip writes it so."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime
from typing import Any

import pytest

from cloud.services.models import (
    BuildingConsumption,
    BuildingSummary,
    ConsumptionPoint,
    Figure,
    Granularity,
    PremiseConsumption,
    PremiseInfo,
)
from protocol.vocabulary import Resource
from ui import charts

PALE = {"opacity": 0.4}
BUILDING = BuildingSummary(1, "ул. Тестовая, 1", "Новосибирск", "Asia/Novosibirsk", 1000.0, 20, 12, 14)
PREMISE = PremiseInfo(7, 1, "7", "apartment", 54.0, 2, "0007")
DAYS = [datetime(2026, 1, d) for d in (10, 11, 12, 13)]


def _building(points: list[ConsumptionPoint]) -> BuildingConsumption:
    return BuildingConsumption(BUILDING, Resource.HEAT, "Gcal", Granularity.DAY, date(2026, 1, 1), True, True,
                               tuple(points), (Resource.HEAT,))


def _data(options: dict[str, Any], series: int) -> list[Any]:
    return options["series"][series]["data"]


def test_building_bars_mark_partial_and_suspect_sums() -> None:
    points = [
        # two building inputs, the second one missing: the first one's 1.250 is the known part
        ConsumptionPoint(DAYS[0], 1.25, 0.8, True, None, None, building_complete=False,
                         building_figure=Figure(1.25, expected=2, known=1), apartments_figure=Figure(0.8, 3, 3)),
        # both inputs known: 1.250 + 1.100 = 2.350; one apartment's increment is suspect and left out
        ConsumptionPoint(DAYS[1], 2.35, 0.5, False, None, None, building_complete=True,
                         building_figure=Figure(2.35, expected=2, known=2),
                         apartments_figure=Figure(0.5, expected=3, known=2, suspect=1)),
        # nothing known of the building meters: a gap, not a zero
        ConsumptionPoint(DAYS[2], None, 0.9, True, None, None, building_complete=False,
                         building_figure=Figure(None, expected=2, known=0), apartments_figure=Figure(0.9, 3, 3)),
    ]
    options = charts.building_consumption(_building(points))
    assert _data(options, 0) == [{"value": 1.25, "partial": True, "suspect": False, "itemStyle": PALE}, 2.35, None]
    assert _data(options, 1) == [0.8, {"value": 0.5, "partial": False, "suspect": True, "itemStyle": PALE}, 0.9]


def test_building_bars_without_figures_follow_the_complete_flags() -> None:
    point = ConsumptionPoint(DAYS[0], 1.25, 0.8, False, None, None, building_complete=False)
    options = charts.building_consumption(_building([point]))
    assert _data(options, 0) == [{"value": 1.25, "partial": True, "suspect": False, "itemStyle": PALE}]
    assert _data(options, 1) == [{"value": 0.8, "partial": True, "suspect": False, "itemStyle": PALE}]


def _premise() -> PremiseConsumption:
    # docs/metering.md's worked example: meters A and B, B's reading at the end of 10.01 is missing.
    # 10.01: A 120.830 - 120.450 = 0.380, B missing; 11.01: A 121.250 - 120.830 = 0.420, B missing;
    # 12.01: A 0.350 + B 36.150 - 35.900 = 0.250 -> 0.600, complete; 13.01: neither reported.
    figures = (Figure(0.38, 2, 1), Figure(0.42, 2, 1), Figure(0.6, 2, 2), Figure(None, 2, 0))
    points = tuple((day, f.value) for day, f in zip(DAYS, figures, strict=True))
    return PremiseConsumption(PREMISE, Resource.COLD_WATER, "m3", Granularity.DAY, date(2026, 1, 1), points, (),
                              (Resource.COLD_WATER,), figures)


def test_premise_bars_mark_the_known_part() -> None:
    options = charts.premise_consumption(_premise(), "∆V, м³")
    partial = {"partial": True, "suspect": False, "itemStyle": PALE}
    assert _data(options, 0) == [{"value": 0.38, **partial}, {"value": 0.42, **partial}, 0.6, None]


def test_premise_bars_without_figures_are_the_plain_sums() -> None:
    data = _premise()
    bare = PremiseConsumption(data.premise, data.resource, data.unit, data.granularity, data.period, data.points,
                              (), data.available_resources)
    assert _data(charts.premise_consumption(bare, "∆V, м³"), 0) == [0.38, 0.42, 0.6, None]


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="needs node to run the tooltip's JavaScript")
def test_tooltip_writes_the_marks_like_the_table() -> None:
    options = charts.premise_consumption(_premise(), "∆V, м³")
    formatter = options["tooltip"][":formatter"]
    params = [{"dataIndex": i, "seriesIndex": 0, "data": d, "marker": "", "seriesName": "∆V"}
              for i, d in enumerate(_data(options, 0))]
    params.append({"dataIndex": 0, "seriesIndex": 0, "marker": "", "seriesName": "∆V",
                   "data": {"value": 0.5, "partial": True, "suspect": True}})
    script = f"const f = {formatter}; for (const p of {json.dumps(params)}) console.log(f([p]));"
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, check=True, timeout=30)
    shown = [line.rsplit("<b>", 1)[1].removesuffix("</b>") for line in out.stdout.splitlines()]
    # m³ with 3 decimals and a decimal comma, as the table writes them
    assert shown == ["0,380*", "0,420*", "0,600", "–*", "0,500*!"]
