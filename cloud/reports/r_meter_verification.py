"""Отчет по поверкам ПУ (manual 4.3.11). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("meter_verification")


SPEC = ReportSpec("meter_verification", "Отчет по поверкам ПУ", "4.3.11", (), build)
