"""Ведомость операций ограничения электропотребления абонентов (manual 4.3.5). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("power_operations")


SPEC = ReportSpec("power_operations", "Ведомость операций ограничения электропотребления абонентов", "4.3.5", (), build)
