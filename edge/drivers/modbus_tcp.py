"""KARAT-307/306 over Modbus (TCP, or RTU on a serial bus): a small client for the register map in protocol/karat307.py
and a poller that reads every closed hourly period the meter must have (edge/gaps.py).

Each period is registered once from commissioning on and read newest first; a record and
the closing of its gap are one transaction, so a restart resumes exactly where it stopped.
A period the device refuses (beyond its archive depth, exception 03) is recorded as lost,
never filled in. Each read measures the clock offset; the time service sets the clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from pymodbus.exceptions import ModbusException

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.modbus_link import LinkDown, ModbusLink
from edge.gaps import GapBook
from protocol import karat307 as regs
from protocol.errors import DecodeError
from protocol.periods import from_device_seconds, local_to_utc, to_device_seconds, utc_to_local, zone
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)
ILLEGAL_VALUE = 3


class DeviceError(Exception):
    """The device did not answer, or answered something we cannot use."""


class PeriodRefused(DeviceError):
    """The device has no archive for that period (exception 03: outside its depth)."""


class Karat307Client:
    """The KARAT-307 (and 306) register map over a Modbus link, TCP or an RTU bus."""

    def __init__(self, link: ModbusLink, unit: int) -> None:
        self.link = link
        self.unit = unit

    async def _ensure(self) -> None:
        try:
            await self.link.ensure()
        except LinkDown as exc:
            raise DeviceError(str(exc)) from exc

    async def _read(self, address: int, count: int) -> list[int]:
        try:
            rr = await self.link.client.read_holding_registers(address, count=count, device_id=self.unit)
        except ModbusException as exc:
            raise DeviceError(f"read {address:#06x}: {exc}") from exc
        if rr.isError():
            raise DeviceError(f"read {address:#06x}: exception {getattr(rr, 'exception_code', '?')}")
        return list(rr.registers)

    async def _write(self, address: int, values: list[int], what: str) -> None:
        try:
            wr = await self.link.client.write_registers(address, values, device_id=self.unit)
        except ModbusException as exc:
            raise DeviceError(f"{what}: {exc}") from exc
        if wr.isError():
            code = getattr(wr, "exception_code", None)
            if code == ILLEGAL_VALUE and address == regs.REG_ARCHIVE_REQUEST:
                raise PeriodRefused(f"{what}: outside the device's archive")
            raise DeviceError(f"{what}: exception {code if code is not None else '?'}")

    async def clock(self) -> int:
        async with self.link.lock:
            await self._ensure()
            return regs.registers_to_u32(await self._read(regs.REG_CLOCK, 2), "clock")

    async def set_clock(self, device_seconds: int) -> None:
        """Write the device clock (FC16 on REG_CLOCK)."""
        async with self.link.lock:
            await self._ensure()
            await self._write(regs.REG_CLOCK, regs.u32_to_registers(device_seconds), "clock write")

    async def archive(self, kind: ArchiveKind, period: int) -> regs.Karat307Record | None:
        """Write the archive request and read the record back, with nobody else on the link between."""
        async with self.link.lock:
            await self._ensure()
            await self._write(regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(kind, period),
                              f"archive request {kind} {from_device_seconds(period)}")
            try:
                return regs.decode_record(kind, await self._read(regs.REG_ARCHIVE_RECORD, regs.RECORD_LENGTH))
            except DecodeError as exc:
                raise DeviceError(f"archive record: {exc}") from exc

    def reset(self) -> None:
        self.link.reset()

    def close(self) -> None:
        """Close the link (a client used alone; the agent closes the links it shares itself)."""
        self.link.close()


class Karat307Poller:
    """Reads closed hourly archives of one KARAT-307 into the buffer, backfills its gaps newest
    first, and keeps its clock right when the time service is on (``clock_threshold_s`` > 0)."""

    def __init__(self, meter: MeterConfig, config: EdgeConfig, buffer: Buffer, client: Karat307Client) -> None:
        self.meter = meter
        self.config = config
        self.buffer = buffer
        self.client = client
        self.gaps = GapBook(buffer, config.poll_interval_s, config.gap_backoff_max_s)
        self.tz = zone(config.time_zone)
        self.depth = timedelta(days=meter.archive_depth_days)
        self.last_ok: float | None = None
        self.last_error: str = ""
        self.last_error_at: float | None = None
        self.clock_offset_s: float | None = None
        self.clock_corrections = 0
        self._backoff = config.poll_interval_s

    def _first_period(self) -> datetime:
        commissioned = utc_to_local(self.meter.commissioned_at, self.tz)
        start = commissioned.replace(minute=0, second=0, microsecond=0)
        return start if start == commissioned else start + timedelta(hours=1)

    def _gateway_local(self) -> datetime:
        return utc_to_local(datetime.now().astimezone(), self.tz)

    async def _measure_clock(self) -> datetime:
        device_now = from_device_seconds(await self.client.clock())
        self.clock_offset_s = (device_now - self._gateway_local()).total_seconds()
        return device_now

    async def _time_service(self, device_now: datetime) -> datetime:
        """Set the device clock when it is off by more than the threshold; log it as an event."""
        threshold = self.config.clock_threshold_s
        if threshold <= 0 or self.clock_offset_s is None or abs(self.clock_offset_s) <= threshold:
            return device_now
        before = self.clock_offset_s
        target = self._gateway_local()
        await self.client.set_clock(to_device_seconds(target))
        device_after = await self._measure_clock()
        self.clock_corrections += 1
        self.buffer.event("clock_set", meter=self.meter.serial, count=1, offset_before_s=round(before, 3),
                          offset_after_s=round(self.clock_offset_s or 0.0, 3), device_time_before=str(device_now),
                          device_time_set=str(target.replace(microsecond=0)), threshold_s=threshold)
        log.warning("event=clock_set meter=%s offset_before_s=%.1f offset_after_s=%.1f threshold_s=%.1f",
                    self.meter.serial, before, self.clock_offset_s or 0.0, threshold)
        return device_after

    async def poll_once(self) -> int:
        """Register the periods closed since the last poll, then read open gaps newest first.
        Returns the number of periods stored. Raises DeviceError."""
        device_now = await self._time_service(await self._measure_clock())
        self.gaps.register(self.meter.serial, ArchiveKind.HOUR, self._first_period(), device_now, self.depth)
        stored = 0
        for gap in self.gaps.due(self.meter.serial, ArchiveKind.HOUR, self.config.max_periods_per_poll):
            start = from_device_seconds(gap.period)
            try:
                record = await self.client.archive(ArchiveKind.HOUR, gap.period)
            except PeriodRefused as exc:
                self.gaps.refused(gap, f"device refused: {exc}")
                continue
            if record is None:  # the device has not closed it yet by its own reckoning
                delay = self.gaps.retry_later(gap, "device has no record yet")
                log.info("event=period_not_ready meter=%s period=%s retry_s=%.1f", self.meter.serial, start, delay)
                continue
            self.gaps.fill(gap, self._records(record, start), self.clock_offset_s or 0.0)
            stored += 1
        self.last_ok = time.time()
        return stored

    def more_due(self) -> bool:
        return bool(self.gaps.due(self.meter.serial, ArchiveKind.HOUR, 1))

    def _records(self, record: regs.Karat307Record, start: datetime) -> list[ArchiveRecord]:
        utc = int(local_to_utc(start, self.tz).timestamp())
        now = time.time()
        quality = Quality.DEVICE_FLAGGED if record.flags else Quality.OK
        return [ArchiveRecord(meter=self.meter.serial, channel=channel, kind=ArchiveKind.HOUR,
                              nature=Nature.INTEGRAL, period_start=utc, values=values, quality=quality,
                              received_at=now)
                for channel, values in record.values().items()]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
                self._backoff = self.config.poll_interval_s
                # catching up: go again at once while there is more to read
                delay = 0.0 if self.more_due() else self.config.poll_interval_s
            except DeviceError as exc:
                self.last_error, self.last_error_at = str(exc), time.time()
                log.warning("event=poll_failed meter=%s reason=%r retry_s=%.1f", self.meter.serial, str(exc),
                            self._backoff)
                self.client.reset()
                delay = self._backoff
                self._backoff = min(self._backoff * 2, self.config.device_backoff_max_s)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
