"""Выгрузка по объекту за дату (manual 4.3.8). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("building_day")


SPEC = ReportSpec("building_day", "Выгрузка по объекту за дату", "4.3.8", (), build)
