"""The edge agent: one buffer, one poller per Modbus meter, one LoRaWAN listener with its gap
keeper, one sync, the cloud's commands (edge/commands.py), the disk budget and the local status
endpoint (edge/status.py).

The meter list is the one the cloud last pushed (``meters.json`` in the data directory) or else
the config file's; a push replaces pollers live, without a restart and without touching the
buffer. Tasks run until ``stop`` is set; a failing task is logged with context and restarted
after a pause, so one broken device or link never takes the agent down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from edge.budget import DiskBudget
from edge.buffer import Buffer
from edge.commands import CommandRunner
from edge.config import EdgeConfig, MeterConfig, load_meters, save_meters
from edge.drivers.lorawan_mqtt import DownlinkError, LoraMqttListener, LoraUplinkHandler
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from edge.lora_gaps import LoraGapKeeper
from edge.status import StatusServer
from edge.sync import Sync
from protocol import lorawan_down
from protocol.settings import ConfigError

log = logging.getLogger(__name__)

# transport -> models it can poll; explicit, no discovery (STYLE.md habit 4)
MODBUS_POLLERS: dict[str, type[Karat307Poller]] = {"KARAT-307": Karat307Poller, "KARAT-306": Karat307Poller}
MODBUS = ("modbus-tcp", "modbus-rtu")
Job = Callable[[asyncio.Event], Awaitable[None]]


class EdgeAgent:
    def __init__(self, config: EdgeConfig) -> None:
        try:
            meters = load_meters(config)  # the list the cloud pushed wins over the file's
        except ValueError as exc:
            raise ConfigError("edge data", "meters.json", str(exc)) from exc
        self.config = replace(config, meters=meters)
        self.buffer = Buffer(config.data_dir / "buffer.db")
        self.sync = Sync(self.config, self.buffer)
        self.lora = LoraUplinkHandler(self.config, self.buffer)
        self.budget = DiskBudget(self.buffer, config.disk_budget_bytes)
        self.gaps = GapBook(self.buffer, config.poll_interval_s, config.gap_backoff_max_s)
        self.status = StatusServer(self)
        self.mqtt: LoraMqttListener | None = None
        if any(m.transport == "lorawan" for m in meters):
            self.mqtt = LoraMqttListener(self.config, self.lora)
        self.lora_gaps = LoraGapKeeper(self.config, self.buffer, self.lora, self.send_downlink,
                                       lambda: self.config.meters)
        self.commands = CommandRunner(self)
        self.links: dict[tuple, ModbusLink] = {}  # one per TCP endpoint or serial bus, shared by its units
        self._pollers: dict[str, Karat307Poller] = {}
        for meter in meters:
            if meter.transport in MODBUS:
                self._pollers[meter.serial] = self._make_poller(meter)
        self._tasks: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._stopping = False
        self._running = False

    @property
    def pollers(self) -> list[Karat307Poller]:
        return list(self._pollers.values())

    def poller(self, serial: str) -> Karat307Poller | None:
        return self._pollers.get(serial)

    def meter(self, serial: str) -> MeterConfig | None:
        return next((m for m in self.config.meters if m.serial == serial), None)

    def _make_poller(self, meter: MeterConfig) -> Karat307Poller:
        poller_cls = MODBUS_POLLERS.get(meter.model)
        if poller_cls is None:
            raise ConfigError("edge config", f"meters[{meter.serial}].model",
                              f"no Modbus driver for model {meter.model!r}; known: {', '.join(MODBUS_POLLERS)}")
        return poller_cls(meter, self.config, self.buffer, Karat307Client(self._link(meter), meter.unit))

    def _link(self, meter: MeterConfig) -> ModbusLink:
        if meter.transport == "modbus-rtu":
            key: tuple = ("rtu", meter.serial_port)
            if key in self.links and self.links[key].name != f"rtu:{meter.serial_port}@{meter.baudrate}":
                raise ConfigError("edge config", f"meters[{meter.serial}].baudrate",
                                  f"the bus on {meter.serial_port} already runs at another baudrate")
            return self.links.setdefault(key, ModbusLink.rtu(meter.serial_port, meter.baudrate))
        key = ("tcp", meter.host, meter.port)
        return self.links.setdefault(key, ModbusLink.tcp(meter.host, meter.port))

    def send_downlink(self, dev_eui: str, frame: lorawan_down.Downlink) -> None:
        if self.mqtt is None:
            raise DownlinkError("no LoRaWAN listener (no LoRaWAN meter configured)")
        self.mqtt.send(dev_eui, frame)

    # --- meter configuration pushed by the cloud (edge/commands.py) --------------------------
    async def apply_meters(self, meters: list[MeterConfig]) -> dict[str, object]:
        """Persist a new meter list and add, remove or replace pollers live; the buffer is untouched.
        Raises ConfigError (nothing changed) when a meter cannot be polled."""
        old = {m.serial: m for m in self.config.meters}
        new = {m.serial: m for m in meters}
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(s for s in set(old) & set(new) if old[s] != new[s])
        fresh = {s: self._make_poller(new[s]) for s in added + changed if new[s].transport in MODBUS}
        save_meters(self.config.data_dir, meters)
        self.config = replace(self.config, meters=meters)
        self.lora.set_meters(meters)
        for serial in removed + changed:
            await self._stop_task(f"poll:{serial}")
            self._pollers.pop(serial, None)
        for serial, poller in fresh.items():
            self._pollers[serial] = poller
            if self._running:
                self._start(f"poll:{serial}", poller.run)
        if any(m.transport == "lorawan" for m in meters) and self.mqtt is None:
            self.mqtt = LoraMqttListener(self.config, self.lora)
            if self._running:
                self._start("lorawan", self.mqtt.run)
                self._start("lora_gaps", self.lora_gaps.run)
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

    async def run(self, stop: asyncio.Event) -> None:
        jobs: list[tuple[str, Job]] = [("sync", self.sync.run), ("commands", self.commands.run)]
        jobs += [(f"poll:{p.meter.serial}", p.run) for p in self.pollers]
        if self.mqtt is not None:
            jobs += [("lorawan", self.mqtt.run), ("lora_gaps", self.lora_gaps.run)]
        jobs.append(("budget", self._budget))
        jobs.append(("status_log", self._status))
        if self.config.status_port:
            jobs.append(("status_http", self.status.run))
        log.info("event=edge_started site=%s meters=%d buffer=%s", self.config.site, len(self.config.meters),
                 self.buffer.path)
        self._stopping, self._running = False, True
        for name, job in jobs:
            self._start(name, job)
        try:
            await stop.wait()
        finally:
            self._stopping, self._running = True, False
            tasks = list(self._tasks.values())
            for _, own_stop in tasks:
                own_stop.set()
            await asyncio.gather(*(t for t, _ in tasks), return_exceptions=True)
            self._tasks.clear()
            for link in self.links.values():
                link.close()
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
                log.info("event=edge_status site=%s nats=%s published=%d watermark=%d uplinks=%d %s",
                         self.config.site, "up" if self.sync.connected else "down", self.sync.published,
                         self.sync.watermark, self.lora.received,
                         " ".join(f"{k}={v}" for k, v in stats.items()))


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
