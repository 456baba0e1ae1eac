"""Отчет для поверки ИИК (manual 4.3.10). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("channel_verification")


SPEC = ReportSpec("channel_verification", "Отчет для поверки ИИК", "4.3.10", (), build)
