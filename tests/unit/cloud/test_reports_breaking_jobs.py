"""Breaking the background reports (cloud/reports/jobs.py) as their users would: guessing another
person's job id, fetching a file swept from disk, and more jobs at once than the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from cloud.reports.jobs import MAX_RUNNING_PER_USER, ReportJobs, TooManyJobs
from cloud.reports.table import Column, Report, Sheet
from cloud.services.models import NotFound


async def _report(progress: Callable[[float, str], None]) -> Report:
    progress(0.5, "строки")
    return Report("t", "Т", [Sheet("Лист", (Column("№", kind="integer"),), [(1,), (2,)])], "t_1")


async def test_another_users_job_is_not_found_and_a_swept_file_is_not_found(tmp_path: Path) -> None:
    jobs = ReportJobs(tmp_path)
    info = jobs.start(1, "t", "Т", _report)
    with pytest.raises(NotFound):  # user 2 holding user 1's id learns nothing, not even "running"
        jobs.get(2, info.id)
    done = await jobs.wait(1, info.id)
    assert (done.state, done.rows, done.file_name) == ("done", 2, "t_1.xlsx")
    with pytest.raises(NotFound):
        jobs.file(2, info.id)
    with pytest.raises(NotFound):
        await jobs.wait(2, info.id)
    assert jobs.mine(2) == []
    path, _ = jobs.file(1, info.id)
    path.unlink()  # removed from disk (a clean-up, a full disk) before the download
    with pytest.raises(NotFound, match="no file"):
        jobs.file(1, info.id)


async def test_more_running_jobs_than_the_limit_are_refused_per_user(tmp_path: Path) -> None:
    jobs = ReportJobs(tmp_path)
    gate = asyncio.Event()

    async def slow(progress: Callable[[float, str], None]) -> Report:
        await gate.wait()
        return await _report(progress)
    started = [jobs.start(1, "t", "Т", slow) for _ in range(MAX_RUNNING_PER_USER)]
    with pytest.raises(TooManyJobs):
        jobs.start(1, "t", "Т", slow)
    other = jobs.start(2, "t", "Т", slow)  # another person is not held up by the first one's
    gate.set()
    for info in started:
        assert (await jobs.wait(1, info.id)).state == "done"
    assert (await jobs.wait(2, other.id)).state == "done"
    assert len({jobs.file(1, i.id)[0] for i in started}) == MAX_RUNNING_PER_USER  # one file each
