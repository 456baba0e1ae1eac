"""What the UI and the API call to make reports (manual 4.3): the list of reports, a report's rows
as JSON, its file now, or its file in the background with progress (jobs.py).

Who: dispatchers and engineers, readers included (a report changes nothing); administrators make
none (manual 2.3). Each builder reads through the services with the caller's token, so an object of
another company is "not found" in a report exactly as on a page.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.reports import xlsx
from cloud.reports.catalogue import SPECS
from cloud.reports.engine import ReportContext, ReportSpec, parse
from cloud.reports.jobs import JobInfo, ReportJobs
from cloud.reports.table import Report
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.models import NotFound, UserInfo
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

if TYPE_CHECKING:
    from cloud.services.container import Services

_REFUSAL = "reports are not available to administrators"


class ReportsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.services: Services | None = None  # set by Services.create (the builders read through them)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.jobs = ReportJobs(Path(registry.path).parent / "reports")
        self.catalogue: tuple[ReportSpec, ...] = SPECS  # tests may offer reports of their own

    async def _user(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    def specs(self) -> tuple[ReportSpec, ...]:
        return self.catalogue

    def spec(self, key: str) -> ReportSpec:
        for spec in self.catalogue:
            if spec.key == key:
                return spec
        raise NotFound(f"report {key!r} not found; the reports are {', '.join(s.key for s in self.catalogue)}")

    def _context(self, token: str, user: UserInfo, on_progress: Callable[[float, str], None] | None = None
                 ) -> ReportContext:
        if self.services is None:
            raise RuntimeError("ReportsService.services is set by Services.create")
        return ReportContext(token, user, self.services, self.registry, self.ch, self.clock, on_progress)

    async def report(self, token: str, key: str, raw: Mapping[str, Any]) -> Report:
        """The report's rows, built now (the JSON form; small reports' files)."""
        user = await self._user(token)
        spec = self.spec(key)
        params = parse(spec, raw, self.clock().date())
        report = await spec.build(self._context(token, user), params)
        report.parameters = params
        return report

    async def xlsx_bytes(self, token: str, key: str, raw: Mapping[str, Any]) -> tuple[bytes, str]:
        """(the XLSX file, its name) built now: the API's file route."""
        report = await self.report(token, key, raw)
        return await asyncio.to_thread(xlsx_in_memory, report), f"{report.file_stem}.xlsx"

    async def start(self, token: str, key: str, raw: Mapping[str, Any]) -> JobInfo:
        """Start making the report's file in the background; parameters are checked before it starts."""
        user = await self._user(token)
        spec = self.spec(key)
        params = parse(spec, raw, self.clock().date())

        async def build(progress: Callable[[float, str], None]) -> Report:
            report = await spec.build(self._context(token, user, progress), params)
            report.parameters = params
            return report
        return self.jobs.start(user.id, spec.key, spec.title, build)

    async def job(self, token: str, job_id: str) -> JobInfo:
        user = await self._user(token)
        return self.jobs.get(user.id, job_id)

    async def my_jobs(self, token: str) -> list[JobInfo]:
        user = await self._user(token)
        return self.jobs.mine(user.id)

    async def job_file(self, token: str, job_id: str) -> tuple[Path, str]:
        user = await self._user(token)
        return self.jobs.file(user.id, job_id)

    async def wait(self, token: str, job_id: str) -> JobInfo:
        user = await self._user(token)
        return await self.jobs.wait(user.id, job_id)


def xlsx_in_memory(report: Report) -> bytes:
    """The report's file as bytes (tests)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xlsx"
        xlsx.write(report, path)
        return path.read_bytes()

