"""Отчётный документ для биллинга (ГИС ЖКХ) (manual 4.4.1). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("billing_document")


SPEC = ReportSpec("billing_document", "Отчётный документ для биллинга (ГИС ЖКХ)", "4.4.1", (), build)
