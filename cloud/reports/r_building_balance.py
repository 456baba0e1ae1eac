"""Баланс по МКД (manual 4.3.3). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("building_balance")


SPEC = ReportSpec("building_balance", "Баланс по МКД", "4.3.3", (), build)
