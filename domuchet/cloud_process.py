"""`domuchet cloud`: ingest, services, the /api routes and the UI in one process (embedded
chDB allows one process per data directory). Blocking ClickHouse calls run off the loop.

All runtime state lives under the data directory, readable by its owner only: the process runs
with umask 077 (files 600, directories 700), NiceGUI's session storage is moved there from the
working directory, and files an older version left open to others are closed (``restrict``).
The session cookie lives as long as a session (``session_hours``), and every answer carries the
headers of cloud/web_security.py. Tests: tests/integration/test_web_security.py."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from nicegui import app, ui
from nicegui.storage import Storage

import ui as pages
from cloud.api import install_error_handlers, router
from cloud.command_bus import CommandBus, sweep_timeouts
from cloud.config import CloudConfig
from cloud.ingest import Ingest
from cloud.services.container import Services
from cloud.services.plausibility import PlausibilityCheck
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from cloud.web_security import SecurityHeaders, install_api_docs

log = logging.getLogger(__name__)


def local_api_file(data_dir: Path) -> Path:
    return data_dir / "local-api.json"


UI_STORAGE = "ui-storage"  # NiceGUI's per-browser storage (the session token), under the data directory


def restrict(data_dir: Path) -> None:
    """Make the data directory and everything in it owner-only (an older version left the
    registry and NiceGUI's storage readable by others), and every file made from now on too."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else path.stat().st_mode & 0o700)


def _ui_storage(data_dir: Path) -> None:
    """Keep NiceGUI's storage files in the data directory instead of ./.nicegui of the working
    directory (NiceGUI reads NICEGUI_STORAGE_PATH once, at import; its general store is made then)."""
    Storage.path = (data_dir / UI_STORAGE).resolve()
    app.storage._general = Storage._create_persistent_dict("general")  # made at import, before the path was ours


def _secret(path: Path) -> str:
    """A random secret kept in the data directory (created once, owner-readable only)."""
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def open_storage(config: CloudConfig) -> tuple[Registry, ClickHouse]:
    """The registry and ClickHouse, migrated; rows stored before the tenant-safe key get their
    company from the registry's sites (so every entry point opens both)."""
    restrict(config.data_dir)
    registry = Registry(config.registry_path)
    clickhouse = config.clickhouse()
    clickhouse.open_sync(registry.company_by_site())
    return registry, clickhouse


def run_cloud(config: CloudConfig, *, prepare: Callable[[Registry], None] | None = None,
              on_started: Callable[[Services], None] | None = None,
              background: list[Callable[[Services, asyncio.Event], object]] | None = None,
              on_stopped: Callable[[], None] | None = None) -> None:
    """Serve until interrupted. Hooks let `domuchet demo` seed, report progress and stop its children."""
    registry, clickhouse = open_storage(config)
    if prepare is not None:
        prepare(registry)
    services = Services.create(registry, clickhouse, config.session_hours)
    services.objects.smtp = config.smtp()  # owner invitations (manual 4.6.4) go out as the events' mail does
    services.objects.public_url = config.public_url
    ingests = [Ingest(config.nats_url, clickhouse, known_meters=registry.meter_serials_by_site,
                      companies=registry.company_by_site, name=f"ingest{i}",
                      replicas=config.nats_replicas, on_results=services.commands.apply_results)
               for i in range(config.ingest_workers)]
    stop = asyncio.Event()
    # commands to the edge: sent on DU_DOWN (retried while NATS is away), timed out when unanswered
    bus = CommandBus(config.nats_url, services.commands, replicas=config.nats_replicas)
    tasks: list[asyncio.Task] = []
    token = secrets.token_urlsafe(24)
    api_file = local_api_file(config.data_dir)

    async def started() -> None:
        for ingest in ingests:
            tasks.append(asyncio.create_task(_supervised(ingest.name, ingest.run, stop)))
        tasks.append(asyncio.create_task(_supervised("command-bus", bus.run, stop)))
        tasks.append(asyncio.create_task(_supervised(
            "command-sweeper", lambda stop_: sweep_timeouts(services.commands, stop_), stop)))
        # implausible counter increments become events (the views mark them from the same limits)
        tasks.append(asyncio.create_task(_supervised("plausibility", PlausibilityCheck(registry, clickhouse).run,
                                                     stop)))
        # readings to billing centres on their submission days; interrupted runs resume (manual 4.4.2)
        tasks.append(asyncio.create_task(_supervised("billing-export", services.billing.run_scheduler, stop)))
        smtp = config.smtp()
        if smtp is not None:  # e-mail about new events to their subscribers (manual 4.6.13)
            from cloud.notifier import EventNotifier
            notifier = EventNotifier(registry, clickhouse, smtp, config.event_mail_interval_s)
            tasks.append(asyncio.create_task(_supervised("event-mail", notifier.run, stop)))
        if config.weather_url:  # hourly outdoor temperature from the weather station (manual 4.1.6, 4.2.5)
            from cloud.weather_feed import WeatherFeedConfig, weather_feed_job
            feed = weather_feed_job(WeatherFeedConfig(config.weather_url, config.weather_interval_s), registry,
                                    clickhouse)
            tasks.append(asyncio.create_task(_supervised("weather-feed", feed, stop)))
        for job in background or []:
            tasks.append(asyncio.create_task(job(services, stop)))  # type: ignore[arg-type]
        api_file.write_text(json.dumps({"url": f"http://{config.host}:{config.port}", "token": token,
                                        "pid": os.getpid()}))
        api_file.chmod(0o600)
        if on_started is not None:
            on_started(services)

    async def stopped() -> None:
        stop.set()
        api_file.unlink(missing_ok=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(clickhouse.close_sync)
        if on_stopped is not None:
            await asyncio.to_thread(on_stopped)
        log.info("event=cloud_stopped")

    app.on_startup(started)
    app.on_shutdown(stopped)
    install_error_handlers(app)
    app.include_router(router(clickhouse, token, services, ingests[0], links=[*(i.link for i in ingests), bus.link],
                              storing=[i.storing for i in ingests]))
    pages.register(services)
    app.add_middleware(SecurityHeaders)
    install_api_docs(app, "ДомУчёт API")  # before ui.run adds FastAPI's CDN-loading pages: ours answer first
    _ui_storage(config.data_dir)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the
    # caller: after a clean shutdown that is a normal exit, not an error.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        ui.run(host=config.host, port=config.port, reload=False, show=False, title="ДомУчёт",
               storage_secret=_secret(config.data_dir / "storage-secret"), language="ru",
               # the cookie holding the browser's storage id lives no longer than the session it leads to
               session_middleware_kwargs={"max_age": round(config.session_hours * 3600), "same_site": "lax"},
               uvicorn_logging_level="warning", favicon="🏢",
               fastapi_docs={"title": "ДомУчёт API", "version": "1",
                             "description": "JSON API for integrations under /api/v1 (Bearer API tokens)."})
    except KeyboardInterrupt:
        log.info("event=cloud_exit reason=SIGINT")
    finally:
        signal.signal(signal.SIGTERM, previous)


RESTART_FIRST_S, RESTART_MAX_S = 1.0, 30.0
HEALTHY_RUN_S = 60.0  # a job that ran this long before failing starts again from the first delay


async def _supervised(name: str, job: Callable[[asyncio.Event], object], stop: asyncio.Event) -> None:
    """Keep a background task alive: start it again after a failure, waiting 1 s, 2 s, 4 s ... up
    to 30 s while it keeps failing. The first failure of a run of them is logged with its
    traceback, the next ones as one line each (not a traceback every 2 s)."""
    delay = RESTART_FIRST_S
    failures = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            await job(stop)  # type: ignore[misc]
        except Exception as exc:
            if time.monotonic() - started >= HEALTHY_RUN_S:
                delay, failures = RESTART_FIRST_S, 0
            failures += 1
            if failures == 1:
                log.exception("event=task_failed task=%s restart_in_s=%g", name, delay)
            else:
                log.error("event=task_failed task=%s failures=%d error=%r restart_in_s=%g", name, failures, exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, RESTART_MAX_S)
