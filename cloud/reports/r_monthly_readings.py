"""Выгрузка показаний за месяц (manual 4.3.7). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("monthly_readings")


SPEC = ReportSpec("monthly_readings", "Выгрузка показаний за месяц", "4.3.7", (), build)
