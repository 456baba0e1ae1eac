"""Reports made in the background (manual 4.3): a 1,000-building monthly export takes tens of
seconds, and the page that asked for it must stay usable meanwhile.

A job is an asyncio task on the server's loop; the building stage awaits the services (their
blocking reads run in threads), the XLSX writer runs in a thread. Progress goes 0..1 with a line of
what is being done. The file is kept under ``reports/`` next to the registry for KEEP_HOURS,
named by the job's random id; only the user who asked may see the job and fetch its file. Jobs
live in this process: a restart forgets them and their files are swept at the next start (a report
is made again in seconds; billing runs, which must survive restarts, are cloud/billing/'s).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cloud.reports import xlsx
from cloud.reports.table import Report
from cloud.services.models import NotFound, ServiceError

log = logging.getLogger(__name__)
KEEP_HOURS = 24
MAX_RUNNING_PER_USER = 3  # more at once is a double click or a script; each holds a thread
JobState = Literal["running", "done", "failed"]


class TooManyJobs(ServiceError):
    code = "too_many_jobs"


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    report: str  # the spec's key
    title: str
    state: JobState
    progress: float  # 0..1
    stage: str  # what is being done, Russian
    started_at: datetime  # UTC
    finished_at: datetime | None = None
    file_name: str | None = None  # the download's name when done
    rows: int = 0  # rows written
    error: str | None = None  # when failed: what went wrong, for the person
    bug: bool = False  # failed by a fault of ours (the log has the trace), not a refusal of the parameters


@dataclass(slots=True)
class _Job:
    info: JobInfo
    user_id: int
    path: Path | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    created: float = field(default_factory=time.monotonic)


class ReportJobs:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._jobs: dict[str, _Job] = {}
        self._swept = False

    def _sweep(self) -> None:
        """Forget jobs older than KEEP_HOURS with their files; at the first call, files of an earlier run."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._swept = True
            known = {j.path for j in self._jobs.values()}
            for stale in self.directory.glob("*.xlsx*"):
                if stale not in known:
                    stale.unlink(missing_ok=True)
        cutoff = time.monotonic() - KEEP_HOURS * 3600
        for job_id, job in list(self._jobs.items()):
            if job.created < cutoff and job.info.state != "running":
                if job.path is not None:
                    job.path.unlink(missing_ok=True)
                del self._jobs[job_id]

    def start(self, user_id: int, key: str, title: str,
              build: Callable[[Callable[[float, str], None]], Coroutine[Any, Any, Report]]) -> JobInfo:
        """Start making a report: ``build(progress)`` returns the Report, the job writes it."""
        self._sweep()
        running = sum(1 for j in self._jobs.values() if j.user_id == user_id and j.info.state == "running")
        if running >= MAX_RUNNING_PER_USER:
            raise TooManyJobs(f"{running} reports are being made for you already; wait for one to finish")
        job_id = secrets.token_urlsafe(12)
        job = _Job(JobInfo(job_id, key, title, "running", 0.0, "запрос данных", datetime.now(UTC)), user_id)
        self._jobs[job_id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job, build))
        return job.info

    async def _run(self, job: _Job,
                   build: Callable[[Callable[[float, str], None]], Coroutine[Any, Any, Report]]) -> None:
        def progress(fraction: float, stage: str) -> None:
            job.info = replace(job.info, progress=max(job.info.progress, min(fraction, 1.0)),
                               stage=stage or job.info.stage)
        try:
            report = await build(progress)
            progress(0.9, "запись файла")
            path = self.directory / f"{job.info.id}.xlsx"
            rows = 0

            def written(n: int) -> None:
                nonlocal rows
                rows = n
            await asyncio.to_thread(xlsx.write, report, path, written)
            job.path = path
            job.info = replace(job.info, state="done", progress=1.0, stage="готово", rows=rows,
                               finished_at=datetime.now(UTC), file_name=f"{report.file_stem}.xlsx")
        except ServiceError as e:
            job.info = replace(job.info, state="failed", stage="ошибка", error=str(e), finished_at=datetime.now(UTC))
        except Exception as e:  # a bug: the person sees that it failed, the log has the trace
            log.exception("report %s (job %s) failed", job.info.report, job.info.id)
            job.info = replace(job.info, state="failed", stage="ошибка", finished_at=datetime.now(UTC), bug=True,
                               error=f"the report could not be made ({type(e).__name__}); see the server log")

    def get(self, user_id: int, job_id: str) -> JobInfo:
        job = self._jobs.get(job_id)
        if job is None or job.user_id != user_id:
            raise NotFound(f"report job {job_id} not found (jobs are kept {KEEP_HOURS} h)")
        return job.info

    def mine(self, user_id: int) -> list[JobInfo]:
        """The user's jobs, newest first."""
        self._sweep()
        return sorted((j.info for j in self._jobs.values() if j.user_id == user_id),
                      key=lambda i: i.started_at, reverse=True)

    def file(self, user_id: int, job_id: str) -> tuple[Path, str]:
        """(path, download name) of a finished job."""
        info = self.get(user_id, job_id)
        job = self._jobs[job_id]
        if info.state != "done" or job.path is None or not job.path.exists():
            raise NotFound(f"report job {job_id} has no file ({info.state})")
        return job.path, info.file_name or f"{info.report}.xlsx"

    async def wait(self, user_id: int, job_id: str) -> JobInfo:
        """Wait until the job ends (tests, the API's synchronous file route)."""
        self.get(user_id, job_id)
        task = self._jobs[job_id].task
        if task is not None:
            await asyncio.shield(task)
        return self.get(user_id, job_id)
