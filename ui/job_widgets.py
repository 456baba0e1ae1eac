"""What the pages that make a file in the background (/reports, /billing) show of a job: its progress,
why it failed, an error next to the form. Texts are the page's own, under its ``prefix``
(``<prefix>.bug``, ``<prefix>.refused``)."""

from __future__ import annotations

from nicegui import ui

from cloud.reports.jobs import JobInfo

from .i18n import t


def failure(job: JobInfo, prefix: str) -> str:
    """Why a job failed, for the person: a refusal's reason, or that it was a fault of ours."""
    return t(f"{prefix}.bug") if job.bug else t(f"{prefix}.refused", reason=job.error or "")


def error_banner(text: str, marker: str) -> None:
    with ui.row().classes("w-full items-start gap-2 px-4 py-2 rounded-lg bg-red-50 text-red-900 no-wrap"):
        ui.icon("error_outline", size="20px")
        ui.label(text).classes("break-words min-w-0").mark(marker)


def running(job: JobInfo, prefix: str) -> None:
    """The progress bar and the stage of a running job (markers ``<prefix>-progress``, ``<prefix>-stage``)."""
    ui.linear_progress(value=round(job.progress, 3), show_value=False, size="10px") \
        .props("rounded color=primary").mark(f"{prefix}-progress")
    ui.label(f"{job.stage} · {round(job.progress * 100)} %").classes("text-sm du-muted").mark(f"{prefix}-stage")
