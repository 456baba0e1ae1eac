"""Реестр показаний ИПУ МКД (manual 4.3.12). PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any

from cloud.reports.engine import ReportContext, ReportSpec
from cloud.reports.table import Report


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    raise NotImplementedError("apartment_register")


SPEC = ReportSpec("apartment_register", "Реестр показаний ИПУ МКД", "4.3.12", (), build)
