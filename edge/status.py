"""The edge agent's state for an operator: a JSON snapshot and a small local HTTP endpoint
(aiohttp, ``GET /status``, default 127.0.0.1:8081) that `domuchet edge status` prints.

The snapshot says: buffer depth (unsynced values, events, lost periods, radio packets, command
results) and the age of the oldest unsynced value, last sync, batches in flight, backpressure and
the cloud's stored watermark, whether NATS and MQTT are connected, each device's endpoint (host:port
and unit, serial port@baud and unit, or devEUI), last successful read (a LoRa meter's last accepted
uplink), last error and clock offset, open gaps (the oldest shown in the building's local time,
though the buffer keeps UTC) and lost periods (Modbus and LoRa alike), disk
budget use (write-ahead log included), recent events. Each device's part comes from its driver
(edge/drivers/base.py ``DeviceStatus``); this module knows no transport.
Tests: tests/integration/test_edge_status.py, test_edge_drivers.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from edge.budget import DiskBudget
    from edge.buffer import Buffer
    from edge.config import EdgeConfig
    from edge.drivers.base import Drivers
    from edge.sync import Sync

log = logging.getLogger(__name__)


class StatusSource(Protocol):
    """What the snapshot reads (edge/agent.py provides it): the settings, the buffer, its disk
    budget, the sync to the cloud and the meters' drivers."""

    @property
    def config(self) -> EdgeConfig: ...

    @property
    def buffer(self) -> Buffer: ...

    @property
    def budget(self) -> DiskBudget: ...

    @property
    def sync(self) -> Sync: ...

    @property
    def drivers(self) -> Drivers: ...


def _age(at: float | None, now: float) -> float | None:
    return None if at is None else round(now - at, 1)


def snapshot(agent: StatusSource) -> dict[str, Any]:
    now = time.time()
    stats = agent.buffer.stats()
    budget = agent.budget.state()
    sync = agent.sync
    oldest_raw = stats["oldest_unsynced_received_at"]
    oldest = float(oldest_raw) if isinstance(oldest_raw, int | float) else None
    devices = [d.as_dict(now) for d in agent.drivers.statuses()]
    return {
        "site": agent.config.site,
        "now": now,
        "buffer": {
            "path": str(agent.buffer.path),
            "values": stats["values"],
            "unsynced_values": stats["unsynced_values"],
            "unbatched_values": stats["unbatched_values"],
            "batches": json.loads(str(stats["batches"])),
            "oldest_unsynced_received_at": oldest,
            "oldest_unsynced_age_s": _age(oldest, now),
            "radio_packets": stats["radio_packets"],
            "rejects": stats["rejects"],
            "unsynced_events": stats["unsynced_events"],
            "unsynced_lost_periods": stats["unsynced_lost"],
            "unsynced_radio_packets": stats["unsynced_radio"],
            "unsynced_command_results": stats["unsynced_results"],
        },
        "sync": {
            "nats_url": agent.config.nats_url,
            "nats_connected": sync.connected,
            "nats_down_for_s": None if sync.connected else _age(sync.disconnected_at, now),
            "last_sync_at": sync.last_sync, "last_sync_age_s": _age(sync.last_sync, now),
            "published_batches": sync.published,
            "in_flight_batches": sync.in_flight,
            "backpressure": sync.backpressure,
            "stored_watermark": sync.watermark,
            "last_stored_at": sync.last_stored_at,
        },
        "mqtt_connected": None,  # no LoRaWAN transport loaded; else its own link_status says
        **agent.drivers.link_status(),
        "devices": devices,
        "open_gaps": sum(d["open_gaps"] for d in devices),
        "lost_periods": sum(d["lost_periods"] for d in devices),
        "disk": {"budget_bytes": budget.budget_bytes, "used_bytes": budget.used_bytes,
                 "wal_bytes": budget.wal_bytes, "used_pct": round(budget.used_pct, 1), "level": budget.level,
                 "evicted_stored_values": budget.evicted_stored_values,
                 "evicted_unsynced_values": budget.evicted_unsynced_values,
                 "evicted_unsynced_rows": budget.evicted_unsynced_rows,
                 "disk_full_errors": budget.disk_full_errors},
        "events": agent.buffer.events(limit=10),
    }


class StatusServer:
    """Serves ``GET /status`` (JSON) on the configured loopback address until stop. aiohttp's
    server side is imported only when it serves: with ``status_port = 0`` it is never loaded
    (1.8 MiB of the agent's RSS)."""

    def __init__(self, agent: StatusSource) -> None:
        self.agent = agent
        self.port: int | None = None  # the bound port once serving

    def app(self) -> web.Application:
        from aiohttp import web
        app = web.Application()
        app.router.add_get("/status", self._status)
        return app

    async def _status(self, _request: web.Request) -> web.Response:
        from aiohttp import web
        return web.json_response(snapshot(self.agent))

    async def run(self, stop: asyncio.Event) -> None:
        from aiohttp import web
        cfg = self.agent.config
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, cfg.status_host, cfg.status_port)
            await site.start()  # OSError (port taken) goes to the supervisor, which logs and retries
            self.port = runner.addresses[0][1]
            log.info("event=status_listening url=http://%s:%d/status", cfg.status_host, self.port)
            await stop.wait()
        finally:
            await runner.cleanup()
