"""The edge agent's state for an operator: a JSON snapshot and a small local HTTP endpoint
(aiohttp, ``GET /status``, default 127.0.0.1:8081) that `domuchet edge status` prints.

The snapshot says: buffer depth (unsynced values, events, lost periods, radio packets, command
results) and the age of the oldest unsynced value, last sync, batches in flight, backpressure and
the cloud's stored watermark, whether NATS and MQTT are connected, each device's endpoint (host:port
and unit, serial port and unit, or devEUI), last successful read (a LoRa meter's last accepted
uplink), last error and clock offset, open gaps and lost periods (Modbus and LoRa alike), disk
budget use (write-ahead log included), recent events.
Tests: tests/integration/test_edge_status.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from edge.agent import EdgeAgent
    from edge.config import MeterConfig

log = logging.getLogger(__name__)


def _age(at: float | None, now: float) -> float | None:
    return None if at is None else round(now - at, 1)


def endpoint(meter: MeterConfig) -> str:
    """Where the edge finds a meter: "host:port #unit", "/dev/ttyUSB0 #unit" or the devEUI."""
    if meter.transport == "lorawan":
        return meter.dev_eui
    if meter.transport == "modbus-rtu":
        return f"{meter.serial_port} #{meter.unit}"
    return f"{meter.host}:{meter.port} #{meter.unit}"


def _gap_counts(gaps: dict[str, dict[str, object]], serial: str) -> dict[str, Any]:
    own = gaps.get(serial, {})
    return {"open_gaps": own.get("open_gaps", 0), "oldest_gap": own.get("oldest_gap"),
            "lost_periods": own.get("lost_periods", 0)}


def snapshot(agent: EdgeAgent) -> dict[str, Any]:
    now = time.time()
    stats = agent.buffer.stats()
    budget = agent.budget.state()
    gaps = agent.gaps.summary()
    sync = agent.sync
    oldest_raw = stats["oldest_unsynced_received_at"]
    oldest = float(oldest_raw) if isinstance(oldest_raw, int | float) else None
    devices: list[dict[str, Any]] = []
    for poller in agent.pollers:
        serial = poller.meter.serial
        devices.append({
            "serial": serial, "model": poller.meter.model, "transport": poller.meter.transport,
            "endpoint": endpoint(poller.meter),
            "last_ok_at": poller.last_ok, "last_ok_age_s": _age(poller.last_ok, now),
            "last_error": poller.last_error if (poller.last_error_at or 0) > (poller.last_ok or 0) else "",
            "last_error_at": poller.last_error_at,
            "clock_offset_s": None if poller.clock_offset_s is None else round(poller.clock_offset_s, 1),
            "clock_corrections": poller.clock_corrections,
            **_gap_counts(gaps, serial),
        })
    for meter in agent.config.meters:
        if meter.transport == "lorawan":
            last = agent.lora.last_uplink.get(meter.serial)
            error, error_at = agent.lora.last_error.get(meter.serial, ("", None))
            devices.append({"serial": meter.serial, "model": meter.model, "transport": meter.transport,
                            "endpoint": endpoint(meter), "last_ok_at": last, "last_ok_age_s": _age(last, now),
                            "last_error": error if (error_at or 0) >= (last or 0) else "", "last_error_at": error_at,
                            "clock_offset_s": None, "clock_corrections": 0, **_gap_counts(gaps, meter.serial)})
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
        "mqtt_connected": agent.mqtt.connected if agent.mqtt is not None else None,
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

    def __init__(self, agent: EdgeAgent) -> None:
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
