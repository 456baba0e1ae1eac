"""Балансировка потребления э/э (manual 4.3.2). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("phase_balance")


SPEC = ReportSpec("phase_balance", "Балансировка потребления э/э", "4.3.2", (), build)
