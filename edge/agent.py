"""The edge agent: one buffer, the meters' drivers (edge/drivers/: a poller per Modbus meter, one
LoRaWAN listener with its gap keeper), one sync, the cloud's commands (edge/commands.py), the disk
budget and the local status endpoint (edge/status.py).

The meter list is the one the cloud last pushed (``meters.json`` in the data directory) or else
the config file's; a push replaces drivers live, without a restart and without touching the
buffer. A transport's module is imported only when a meter uses it (edge/drivers/registry.py).
Tasks run until ``stop`` is set; a failing task is logged with context and restarted after a
pause, so one broken device or link never takes the agent down.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from edge.budget import DiskBudget
from edge.buffer import Buffer
from edge.commands import CommandRunner
from edge.config import EdgeConfig, MeterConfig, load_meters, save_meters
from edge.drivers.base import Job
from edge.drivers.registry import DriverRegistry
from edge.gaps import GapBook
from edge.status import StatusServer
from edge.sync import Sync
from protocol.settings import ConfigError

if TYPE_CHECKING:  # the transports' own parts, for tests and tools that look inside
    from edge.drivers.lorawan import LoraTransport
    from edge.drivers.lorawan_gaps import LoraGapKeeper
    from edge.drivers.lorawan_mqtt import LoraMqttListener, LoraUplinkHandler
    from edge.drivers.modbus import ModbusTransport
    from edge.drivers.modbus_link import ModbusLink
    from edge.drivers.modbus_tcp import Karat307Poller

log = logging.getLogger(__name__)


class EdgeAgent:
    def __init__(self, config: EdgeConfig) -> None:
        try:
            meters = load_meters(config)  # the list the cloud pushed wins over the file's
        except ValueError as exc:
            raise ConfigError("edge data", "meters.json", str(exc)) from exc
        self.config = replace(config, meters=meters)
        self.buffer = Buffer(config.data_dir / "buffer.db", config.time_zone)
        self.sync = Sync(self.config, self.buffer)
        self.budget = DiskBudget(self.buffer, config.disk_budget_bytes)
        self.gaps = GapBook(self.buffer, config.poll_interval_s, config.gap_backoff_max_s, config.time_zone)
        self.drivers = DriverRegistry(self.config, self.buffer)
        for meter in meters:
            self.drivers.put(self.drivers.make(meter))
        self.status = StatusServer(self)
        self.commands = CommandRunner(self.drivers, self.buffer, self.config, self.apply_meters)
        self._tasks: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._started: set[int] = set()  # the transports whose shared loops run (by id)
        self._stopping = False
        self._running = False

    def meter(self, serial: str) -> MeterConfig | None:
        return next((m for m in self.config.meters if m.serial == serial), None)

    # --- a look inside the transports (tests, tools); None/empty when not loaded ----------------
    @property
    def _modbus(self) -> ModbusTransport | None:
        return cast("ModbusTransport | None", self.drivers.loaded("modbus-tcp"))

    @property
    def _lora(self) -> LoraTransport | None:
        return cast("LoraTransport | None", self.drivers.loaded("lorawan"))

    @property
    def pollers(self) -> list[Karat307Poller]:
        return [cast("Karat307Poller", d) for d in self.drivers.drivers()
                if d.meter.transport in ("modbus-tcp", "modbus-rtu")]

    @property
    def links(self) -> dict[tuple[str, ...], ModbusLink]:
        """One per TCP endpoint or serial bus, shared by its units."""
        return {} if self._modbus is None else self._modbus.links

    @property
    def lora(self) -> LoraUplinkHandler | None:
        return None if self._lora is None else self._lora.handler

    @property
    def mqtt(self) -> LoraMqttListener | None:
        return None if self._lora is None else self._lora.listener

    @property
    def lora_gaps(self) -> LoraGapKeeper | None:
        return None if self._lora is None else self._lora.keeper

    # --- meter configuration pushed by the cloud (edge/commands.py) --------------------------
    async def apply_meters(self, meters: list[MeterConfig]) -> dict[str, object]:
        """Persist a new meter list and add, remove or replace drivers live; the buffer is untouched.
        Raises ConfigError (nothing changed) when a meter cannot be served."""
        old = {m.serial: m for m in self.config.meters}
        new = {m.serial: m for m in meters}
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(s for s in set(old) & set(new) if old[s] != new[s])
        fresh = {s: self.drivers.make(new[s]) for s in added + changed}
        save_meters(self.config.data_dir, meters)
        self.config = replace(self.config, meters=meters)
        self.drivers.set_meters(self.config)
        for serial in removed + changed:
            await self._stop_task(f"poll:{serial}")
            self.drivers.pop(serial)
        for serial, driver in fresh.items():
            self.drivers.put(driver)
            job = driver.job()
            if self._running and job is not None:
                self._start(f"poll:{serial}", job)
        if self._running:
            self._start_transports()
        log.info("event=meters_applied count=%d added=%s removed=%s changed=%s", len(meters), ",".join(added),
                 ",".join(removed), ",".join(changed))
        return {"meters": len(meters), "added": added, "removed": removed, "changed": changed}

    # --- tasks -------------------------------------------------------------------------------
    def _start(self, name: str, job: Job) -> None:
        own_stop = asyncio.Event()
        if self._stopping:
            own_stop.set()
        self._tasks[name] = (asyncio.create_task(_supervise(name, job, own_stop)), own_stop)

    async def _stop_task(self, name: str) -> None:
        entry = self._tasks.pop(name, None)
        if entry is not None:
            entry[1].set()
            await entry[0]

    def _start_transports(self) -> None:
        """Start the shared loops of every loaded transport not yet running (a LoRa listener once
        the first LoRa meter arrives); they run until the agent stops."""
        for transport in self.drivers.transports.values():
            if id(transport) not in self._started:
                self._started.add(id(transport))
                for name, job in transport.jobs():
                    self._start(name, job)

    async def run(self, stop: asyncio.Event) -> None:
        jobs: list[tuple[str, Job]] = [("sync", self.sync.run), ("commands", self.commands.run)]
        for driver in self.drivers.drivers():
            job = driver.job()
            if job is not None:
                jobs.append((f"poll:{driver.meter.serial}", job))
        jobs.append(("budget", self._budget))
        jobs.append(("status_log", self._status))
        if self.config.status_port:
            jobs.append(("status_http", self.status.run))
        log.info("event=edge_started site=%s meters=%d buffer=%s", self.config.site, len(self.config.meters),
                 self.buffer.path)
        self._stopping, self._running = False, True
        self._started.clear()
        for name, job in jobs:
            self._start(name, job)
        self._start_transports()
        try:
            await stop.wait()
        finally:
            self._stopping, self._running = True, False
            tasks = list(self._tasks.values())
            for _, own_stop in tasks:
                own_stop.set()
            await asyncio.gather(*(t for t, _ in tasks), return_exceptions=True)
            self._tasks.clear()
            self.drivers.close()
            self.buffer.close()
            log.info("event=edge_stopped site=%s", self.config.site)

    async def _budget(self, stop: asyncio.Event) -> None:
        """Check the disk budget every second (warnings, eviction)."""
        while not stop.is_set():
            self.budget.check()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    async def _status(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 10.0)
            except TimeoutError:
                stats = self.buffer.stats()
                fields = {**self.drivers.log_fields(), **stats}
                log.info("event=edge_status site=%s nats=%s published=%d watermark=%d %s",
                         self.config.site, "up" if self.sync.connected else "down", self.sync.published,
                         self.sync.watermark, " ".join(f"{k}={v}" for k, v in fields.items()))


async def _supervise(name: str, job: Job, stop: asyncio.Event) -> None:
    """Run a task until stop; log and restart it if it fails (top level of a task: STYLE.md habit 7)."""
    while not stop.is_set():
        try:
            await job(stop)
        except Exception:
            log.exception("event=task_failed task=%s restart_in_s=2", name)
            try:
                await asyncio.wait_for(stop.wait(), 2.0)
            except TimeoutError:
                pass
