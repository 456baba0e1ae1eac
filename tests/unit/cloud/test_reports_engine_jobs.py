"""Background report jobs (cloud/reports/jobs.py): progress that only grows, a file when done, a
refusal's reason or "see the log" for a bug, three running jobs a user at most, a job and its file
for its user only, and files swept after a day and at the first start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cloud.reports import jobs as jobs_module
from cloud.reports.jobs import MAX_RUNNING_PER_USER, ReportJobs, TooManyJobs
from cloud.reports.table import Column, Report, Sheet
from cloud.services.models import InvalidInput, NotFound

Progress = Callable[[float, str], None]


def _report(rows: int = 2) -> Report:
    return Report("r", "Отчёт", [Sheet("Лист", (Column("№", kind="integer"),), [(i,) for i in range(rows)])],
                  "r_2026-01")


class Gate:
    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.reached = asyncio.Event()

    async def build(self, progress: Progress) -> Report:
        progress(0.45, "объекты: 1 из 2")
        progress(0.3, "")  # a smaller fraction never moves the bar back; an empty stage keeps the last
        self.reached.set()
        await self.open.wait()
        return _report()


async def test_a_job_runs_to_its_file(tmp_path: Path) -> None:
    jobs, gate = ReportJobs(tmp_path / "reports"), Gate()
    info = jobs.start(1, "r", "Отчёт", gate.build)
    assert (info.state, info.progress, info.stage) == ("running", 0.0, "запрос данных")
    await gate.reached.wait()
    running = jobs.get(1, info.id)
    assert (running.progress, running.stage) == (0.45, "объекты: 1 из 2")
    with pytest.raises(NotFound, match="has no file"):
        jobs.file(1, info.id)
    gate.open.set()
    done = await jobs.wait(1, info.id)
    assert (done.state, done.progress, done.stage, done.rows, done.file_name) == ("done", 1.0, "готово", 2,
                                                                               "r_2026-01.xlsx")
    assert done.finished_at is not None
    path, name = jobs.file(1, info.id)
    assert (path.parent, name) == (tmp_path / "reports", "r_2026-01.xlsx")
    assert [c.value for c in load_workbook(path)["Лист"]["A"]] == ["№", 0, 1]


async def test_a_job_is_its_users_only(tmp_path: Path) -> None:
    jobs = ReportJobs(tmp_path)

    async def build(progress: Progress) -> Report:
        return _report()
    info = jobs.start(1, "r", "Отчёт", build)
    await jobs.wait(1, info.id)
    for call in (lambda: jobs.get(2, info.id), lambda: jobs.file(2, info.id), lambda: jobs.get(1, "nope")):
        with pytest.raises(NotFound):
            call()
    assert jobs.mine(2) == []
    assert [j.id for j in jobs.mine(1)] == [info.id]


async def test_a_refusal_and_a_bug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    jobs = ReportJobs(tmp_path)

    async def refused(progress: Progress) -> Report:
        raise InvalidInput("month: no archive before 2025-03")

    async def broken(progress: Progress) -> Report:
        raise KeyError("oops")
    first = await jobs.wait(1, jobs.start(1, "r", "Отчёт", refused).id)
    assert (first.state, first.stage, first.error) == ("failed", "ошибка", "month: no archive before 2025-03")
    with caplog.at_level(logging.ERROR, logger=jobs_module.__name__):
        second = await jobs.wait(1, jobs.start(1, "r", "Отчёт", broken).id)
    assert second.error == "the report could not be made (KeyError); see the server log"
    assert second.bug  # the page says it was a fault of ours, not a refusal
    assert "oops" in caplog.text  # the trace is in the log, not in the answer
    assert second.finished_at is not None
    with pytest.raises(NotFound):
        jobs.file(1, second.id)


async def test_three_running_jobs_a_user_at_most(tmp_path: Path) -> None:
    jobs, gate = ReportJobs(tmp_path), Gate()
    started = [jobs.start(1, "r", "Отчёт", gate.build) for _ in range(MAX_RUNNING_PER_USER)]
    with pytest.raises(TooManyJobs):
        jobs.start(1, "r", "Отчёт", gate.build)
    other = jobs.start(2, "r", "Отчёт", gate.build)  # per user
    gate.open.set()
    for info in started:
        await jobs.wait(1, info.id)
    await jobs.wait(2, other.id)
    again = jobs.start(1, "r", "Отчёт", gate.build)
    assert (await jobs.wait(1, again.id)).state == "done"


async def test_files_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "earlier-run.xlsx").write_bytes(b"x")  # a file of a run before a restart
    (folder / "earlier-run.xlsx.part").write_bytes(b"x")  # and one it was writing
    jobs = ReportJobs(folder)

    async def build(progress: Progress) -> Report:
        return _report()
    old = await jobs.wait(1, jobs.start(1, "r", "Отчёт", build).id)
    assert sorted(p.name for p in folder.iterdir()) == [f"{old.id}.xlsx"]
    path, _ = jobs.file(1, old.id)
    # a day and a second later it is forgotten with its file
    now = time.monotonic()
    monkeypatch.setattr(jobs_module.time, "monotonic", lambda: now + jobs_module.KEEP_HOURS * 3600 + 1)
    assert jobs.mine(1) == []
    assert not path.exists()
