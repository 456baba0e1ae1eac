"""The LoRaWAN transport: one MQTT listener and uplink handler (lorawan_mqtt.py) and one gap
keeper (lorawan_gaps.py) for every LoRa meter of the site, and a driver per meter that carries
out the cloud's commands by downlink, waiting for the device's answering uplink.

A class A device hears a downlink only after its next uplink, so an answer may take up to
``downlink_timeout_s``; a refusal event (access denied, unsupported, rejected) ends the wait
at once with the event's code. Periods and device times are UTC epoch seconds as in the
buffer; a downlink carries them in the device's local time. Loaded by the agent only when a
LoRaWAN meter is configured (it imports paho-mqtt).
Tests: tests/integration/test_edge_commands.py, test_edge_lora_gaps.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.base import DeviceError, DeviceStatus, GapSummary, Job, Transport, gap_counts
from edge.drivers.lorawan_gaps import LoraGapKeeper
from edge.drivers.lorawan_mqtt import Frame, LoraMqttListener, LoraUplinkHandler
from edge.gaps import first_period
from protocol import catalogue, lorawan, lorawan_archive, lorawan_down, lorawan_up
from protocol.periods import (
    device_to_utc,
    from_device_seconds,
    to_device_seconds,
    utc_period_start,
    utc_periods,
    utc_shift,
    utc_to_device,
    utc_to_local,
)
from protocol.vocabulary import ArchiveKind

# KARAT radio event codes the answers carry (docs/protocols.md section 5, event codes)
EVENT_CLOCK_SET = 0x0401
EVENT_RELAY_SWITCHED = 0x0402
EVENT_ARCHIVE_UNAVAILABLE = 0x0403
EVENT_ACCESS_DENIED = 0x0404
EVENT_COMMAND_UNSUPPORTED = 0x04FE
EVENT_COMMAND_REJECTED = 0x04FF
_REFUSALS = (EVENT_ACCESS_DENIED, EVENT_COMMAND_UNSUPPORTED, EVENT_COMMAND_REJECTED)


def _event(code: int) -> Callable[[Frame], bool]:
    return lambda f: isinstance(f, lorawan_up.DeviceEvent) and f.code == code


class LoraTransport:
    """The site's LoRa meters: the MQTT feed, the uplink handler, the gap keeper, the downlinks."""

    def __init__(self, config: EdgeConfig, buffer: Buffer) -> None:
        self.config = config
        self.buffer = buffer
        self.handler = LoraUplinkHandler(config, buffer)
        self.listener = LoraMqttListener(config, self.handler)
        self._meters = list(config.meters)
        # the keeper sees the list itself: a new list object tells it to check every meter again
        self.keeper = LoraGapKeeper(config, buffer, self.handler, self.send_downlink, lambda: self._meters)

    def send_downlink(self, dev_eui: str, frame: lorawan_down.Downlink) -> None:
        """Raises DownlinkError (a DriverError) when it cannot be sent."""
        self.listener.send(dev_eui, frame)

    def make(self, meter: MeterConfig) -> LoraDriver:
        return LoraDriver(meter, self)

    def set_meters(self, meters: list[MeterConfig]) -> None:
        self._meters = meters
        self.handler.set_meters(meters)

    def jobs(self) -> list[tuple[str, Job]]:
        return [("lorawan", self.listener.run), ("lora_gaps", self.keeper.run)]

    def gap_summary(self) -> GapSummary:
        return self.keeper.gaps.summary()

    def link_status(self) -> dict[str, object]:
        return {"mqtt_connected": self.listener.connected}

    def log_fields(self) -> dict[str, object]:
        return {"uplinks": self.handler.received}

    def close(self) -> None:
        """Nothing to close: the listener's own task disconnects when it stops."""


class LoraDriver:
    """One LoRa meter: its commands go out as downlinks and are answered by its uplinks."""

    def __init__(self, meter: MeterConfig, transport: LoraTransport) -> None:
        self.meter = meter
        self.transport = transport
        self.handler = transport.handler
        self.timeout_s = transport.config.downlink_timeout_s

    @property
    def endpoint(self) -> str:
        return self.meter.dev_eui

    def job(self) -> Job | None:
        return None  # its uplinks come through the transport's listener

    def status(self, gaps: GapSummary) -> DeviceStatus:
        last = self.handler.last_uplink.get(self.meter.serial)
        error, error_at = self.handler.last_error.get(self.meter.serial, ("", None))
        return DeviceStatus(
            serial=self.meter.serial, model=self.meter.model, transport=self.meter.transport, endpoint=self.endpoint,
            last_ok_at=last, last_error=error if (error_at or 0) >= (last or 0) else "", last_error_at=error_at,
            clock_offset_s=None, clock_corrections=0, **gap_counts(gaps, self.meter.serial))

    async def _ask(self, frame: lorawan_down.Downlink, answer: Callable[[Frame], bool]) -> Frame:
        """Send a downlink and wait for the device's answer (or a refusal) within the timeout."""
        dev_eui = self.meter.dev_eui
        queue = self.handler.subscribe(dev_eui, lambda f: answer(f) or any(_event(c)(f) for c in _REFUSALS))
        try:
            self.transport.send_downlink(dev_eui, frame)
            try:
                got = await asyncio.wait_for(queue.get(), self.timeout_s)
            except TimeoutError:
                raise DeviceError(f"no answer from the device within {self.timeout_s:.0f} s") from None
        finally:
            self.handler.unsubscribe(queue)
        if not answer(got) and isinstance(got, lorawan_up.DeviceEvent):
            raise DeviceError(f"the device refused the command (event 0x{got.code:04X})")
        return got

    async def backfill(self, kind: ArchiveKind, first_utc: int, last_utc: int) -> dict[str, object]:
        """Archive requests, one run of at most MAX_BACKFILL_RECORDS periods at a time, newest first;
        periods older than the device's depth (by the latest device time heard) are lost."""
        meter, tz = self.meter, self.handler.tz
        latest = self.handler.device_time(meter.serial)
        now = latest if latest else int(time.time())  # UTC seconds
        depth = timedelta(days=meter.depth_days(kind))
        first = max(utc_period_start(kind, first_utc, tz), first_period(kind, meter.commissioned_at, tz))
        wanted = [p for p in utc_periods(kind, first, now, tz) if p <= last_utc]
        oldest_kept = utc_shift(now, -depth, tz)
        lost = [p for p in wanted if p < oldest_kept]
        keep = sorted((p for p in wanted if p >= oldest_kept), reverse=True)
        got: set[int] = set()
        refused: list[int] = []
        missing = 0
        gaps = self.transport.keeper.gaps
        for i in range(0, len(keep), lorawan_down.MAX_BACKFILL_RECORDS):
            run = set(keep[i:i + lorawan_down.MAX_BACKFILL_RECORDS])
            arrived = await self._collect(kind, run)
            if arrived is None:  # the device has no archive for these periods
                refused += sorted(run)
                continue
            got |= arrived
            missing += len(run - arrived)
        gaps.lose(meter.serial, kind, lost, f"older than the device's archive depth ({depth.days} d)")
        gaps.lose(meter.serial, kind, refused, "device refused: archive unavailable")
        detail: dict[str, object] = {"records": len(got), "lost": len(lost) + len(refused), "missing": missing,
                                     "periods": len(wanted)}
        if keep and not got and not refused:
            raise DeviceError(f"no answer from the device within {self.timeout_s:.0f} s", **detail)
        return detail

    async def _collect(self, kind: ArchiveKind, run: set[int]) -> set[int] | None:
        """Request one run of periods (UTC starts; the downlink carries them in the device's local
        time); the periods that arrived in time, or None if the device refused."""
        tz = self.handler.tz

        def wanted(f: Frame) -> bool:
            return (isinstance(f, lorawan.CompactArchive | lorawan_archive.ChannelArchive) and f.kind is kind
                    and device_to_utc(f.period, tz) in run) or _event(EVENT_ARCHIVE_UNAVAILABLE)(f)
        dev_eui = self.meter.dev_eui
        queue = self.handler.subscribe(dev_eui, wanted)
        arrived: set[int] = set()
        try:
            self.transport.send_downlink(dev_eui, lorawan_down.ArchiveRequest(
                kind, utc_to_device(min(run), tz), utc_to_device(max(run), tz)))
            deadline = asyncio.get_running_loop().time() + self.timeout_s
            while arrived != run:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    frame = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
                if isinstance(frame, lorawan_up.DeviceEvent):
                    if not arrived:
                        return None
                    continue
                arrived.add(device_to_utc(frame.period, tz))  # type: ignore[attr-defined]
        finally:
            self.handler.unsubscribe(queue)
        return arrived

    async def time_sync(self, force: bool = False) -> dict[str, object]:
        """Set the device clock to the edge's (``force`` changes nothing: the edge cannot read a
        LoRa clock first, so it always sets it)."""
        target = utc_to_local(datetime.now().astimezone(), self.handler.tz).replace(microsecond=0)
        before = self.handler.device_time(self.meter.serial)
        await self._ask(lorawan_down.SetClock(to_device_seconds(target)), _event(EVENT_CLOCK_SET))
        self.transport.buffer.event("clock_corrected", meter=self.meter.serial, count=1, device_time_set=str(target),
                                    last_device_time_heard=str(utc_to_local(datetime.fromtimestamp(before, UTC),
                                                                            self.handler.tz)) if before else "",
                                    reason="command")
        return {"device_time_set": str(target)}

    async def relay(self, on: bool, limit_w: int = 0) -> dict[str, object]:
        if not on:
            frame = lorawan_down.RelayCommand(lorawan_down.RelayMode.CUT)
        elif limit_w:
            frame = lorawan_down.RelayCommand(lorawan_down.RelayMode.LIMIT, limit_w)
        else:
            frame = lorawan_down.RelayCommand(lorawan_down.RelayMode.ON)
        await self._ask(frame, _event(EVENT_RELAY_SWITCHED))
        return {"mode": frame.mode.name.lower(), "threshold_w": frame.threshold_w}

    async def availability(self) -> dict[str, object]:
        t0 = time.monotonic()
        got = cast(lorawan_up.Passport, await self._ask(lorawan_down.PassportRequest(),
                                                        lambda f: isinstance(f, lorawan_up.Passport)))
        try:  # the passport names the device: the cloud's passport check compares it with the registry
            model = catalogue.by_code(got.model).name
        except catalogue.UnknownModel:
            model = str(got.model)
        return {"available": True, "response_s": round(time.monotonic() - t0, 1), "battery_pct": got.battery_pct,
                "firmware": got.firmware_text, "status": got.status, "serial": str(got.serial), "model": model}

    async def read_current(self) -> dict[str, object]:
        got = cast(lorawan_up.CurrentReadings, await self._ask(
            lorawan_down.CurrentRequest(), lambda f: isinstance(f, lorawan_up.CurrentReadings)))
        return {"device_time": str(from_device_seconds(got.device_time)),
                "values": {str(ch): v for ch, v in got.values().items()}}


def open_transport(config: EdgeConfig, buffer: Buffer) -> Transport:
    """The registry's entry point (edge/drivers/registry.py); typed so mypy checks the protocol."""
    return LoraTransport(config, buffer)
