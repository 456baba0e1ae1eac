"""Ведомость изменения состава измерительных каналов УУ (manual 4.3.4). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("channel_changes")


SPEC = ReportSpec("channel_changes", "Ведомость изменения состава измерительных каналов УУ", "4.3.4", (), build)
