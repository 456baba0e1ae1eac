"""Ведомость состава измерительных каналов (manual 4.3.6). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("channel_composition")


SPEC = ReportSpec("channel_composition", "Ведомость состава измерительных каналов", "4.3.6", (), build)
