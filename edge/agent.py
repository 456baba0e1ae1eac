"""The edge agent: one buffer, one poller per Modbus meter, one LoRaWAN listener, one sync,
the disk budget and the local status endpoint (edge/status.py).

Tasks run until ``stop`` is set; a failing task is logged with context and restarted after
a pause, so one broken device or link never takes the agent down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from edge.budget import DiskBudget
from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.lorawan_mqtt import LoraMqttListener, LoraUplinkHandler
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from edge.status import StatusServer
from edge.sync import Sync
from protocol.settings import ConfigError

log = logging.getLogger(__name__)

# transport -> models it can poll; explicit, no discovery (STYLE.md habit 4)
MODBUS_POLLERS: dict[str, type[Karat307Poller]] = {"KARAT-307": Karat307Poller, "KARAT-306": Karat307Poller}


class EdgeAgent:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.buffer = Buffer(config.data_dir / "buffer.db")
        self.sync = Sync(config, self.buffer)
        self.lora = LoraUplinkHandler(config, self.buffer)
        self.budget = DiskBudget(self.buffer, config.disk_budget_bytes)
        self.gaps = GapBook(self.buffer, config.poll_interval_s, config.gap_backoff_max_s)
        self.status = StatusServer(self)
        self.mqtt: LoraMqttListener | None = None
        if any(m.transport == "lorawan" for m in config.meters):
            self.mqtt = LoraMqttListener(config, self.lora)
        self.pollers: list[Karat307Poller] = []
        self.links: dict[tuple, ModbusLink] = {}  # one per TCP endpoint or serial bus, shared by its units
        for meter in config.meters:
            if meter.transport in ("modbus-tcp", "modbus-rtu"):
                poller_cls = MODBUS_POLLERS.get(meter.model)
                if poller_cls is None:
                    raise ConfigError("edge config", f"meters[{meter.serial}].model",
                                      f"no Modbus driver for model {meter.model!r}; known: {', '.join(MODBUS_POLLERS)}")
                self.pollers.append(poller_cls(meter, config, self.buffer, Karat307Client(self._link(meter),
                                                                                          meter.unit)))

    def _link(self, meter: MeterConfig) -> ModbusLink:
        if meter.transport == "modbus-rtu":
            key: tuple = ("rtu", meter.serial_port)
            if key in self.links and self.links[key].name != f"rtu:{meter.serial_port}@{meter.baudrate}":
                raise ConfigError("edge config", f"meters[{meter.serial}].baudrate",
                                  f"the bus on {meter.serial_port} already runs at another baudrate")
            return self.links.setdefault(key, ModbusLink.rtu(meter.serial_port, meter.baudrate))
        key = ("tcp", meter.host, meter.port)
        return self.links.setdefault(key, ModbusLink.tcp(meter.host, meter.port))

    async def run(self, stop: asyncio.Event) -> None:
        jobs: list[tuple[str, Callable[[asyncio.Event], Awaitable[None]]]] = [("sync", self.sync.run)]
        jobs += [(f"poll:{p.meter.serial}", p.run) for p in self.pollers]
        if self.mqtt is not None:
            jobs.append(("lorawan", self.mqtt.run))
        jobs.append(("budget", self._budget))
        jobs.append(("status_log", self._status))
        if self.config.status_port:
            jobs.append(("status_http", self.status.run))
        log.info("event=edge_started site=%s meters=%d buffer=%s", self.config.site, len(self.config.meters),
                 self.buffer.path)
        try:
            await asyncio.gather(*(_supervise(name, job, stop) for name, job in jobs))
        finally:
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


async def _supervise(name: str, job: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event) -> None:
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
