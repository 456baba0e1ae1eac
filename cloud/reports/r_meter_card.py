"""Карточка учета показаний потребления коммунальных ресурсов (manual 4.3.9). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("meter_card")


SPEC = ReportSpec("meter_card", "Карточка учета показаний потребления коммунальных ресурсов", "4.3.9", (), build)
