"""KARAT-307 over Modbus TCP: a small client for the register map in protocol/karat307.py
and a poller that reads every closed hourly period since the last one stored.

The poller keeps a cursor per meter in the buffer, advanced in the same transaction as the
records, so a restart resumes exactly where it stopped. A period the device refuses (beyond
its archive depth, exception 03) is logged as lost and skipped, never filled in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from protocol import karat307 as regs
from protocol.errors import DecodeError
from protocol.periods import from_device_seconds, local_to_utc, periods, to_device_seconds, utc_to_local, zone
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)
ILLEGAL_VALUE = 3


class DeviceError(Exception):
    """The device did not answer, or answered something we cannot use."""


class PeriodRefused(DeviceError):
    """The device has no archive for that period (exception 03: outside its depth)."""


class Karat307Client:
    def __init__(self, host: str, port: int, unit: int, timeout: float = 3.0) -> None:
        self.unit = unit
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=1)

    async def _ensure(self) -> None:
        if not self._client.connected and not await self._client.connect():
            raise DeviceError("connection refused or timed out")

    async def _read(self, address: int, count: int) -> list[int]:
        await self._ensure()
        try:
            rr = await self._client.read_holding_registers(address, count=count, device_id=self.unit)
        except ModbusException as exc:
            raise DeviceError(f"read {address:#06x}: {exc}") from exc
        if rr.isError():
            raise DeviceError(f"read {address:#06x}: exception {getattr(rr, 'exception_code', '?')}")
        return list(rr.registers)

    async def clock(self) -> int:
        return regs.registers_to_u32(await self._read(regs.REG_CLOCK, 2), "clock")

    async def archive(self, kind: ArchiveKind, period: int) -> regs.Karat307Record | None:
        await self._ensure()
        try:
            wr = await self._client.write_registers(regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(kind, period),
                                                    device_id=self.unit)
        except ModbusException as exc:
            raise DeviceError(f"archive request: {exc}") from exc
        if wr.isError():
            if getattr(wr, "exception_code", None) == ILLEGAL_VALUE:
                raise PeriodRefused(f"{kind} {from_device_seconds(period)} is outside the archive")
            raise DeviceError(f"archive request: exception {getattr(wr, 'exception_code', '?')}")
        try:
            return regs.decode_record(kind, await self._read(regs.REG_ARCHIVE_RECORD, regs.RECORD_LENGTH))
        except DecodeError as exc:
            raise DeviceError(f"archive record: {exc}") from exc

    def close(self) -> None:
        self._client.close()


class Karat307Poller:
    """Reads closed hourly archives of one KARAT-307 into the buffer."""

    def __init__(self, meter: MeterConfig, config: EdgeConfig, buffer: Buffer, client: Karat307Client) -> None:
        self.meter = meter
        self.config = config
        self.buffer = buffer
        self.client = client
        self.tz = zone(config.time_zone)
        self.last_ok: float | None = None
        self.clock_offset_s: float | None = None
        self._backoff = config.poll_interval_s

    def _first_period(self) -> datetime:
        commissioned = utc_to_local(self.meter.commissioned_at, self.tz)
        start = commissioned.replace(minute=0, second=0, microsecond=0)
        return start if start == commissioned else start + timedelta(hours=1)

    async def poll_once(self) -> int:
        """Read what is due; returns the number of periods stored. Raises DeviceError."""
        device_now = from_device_seconds(await self.client.clock())
        self.clock_offset_s = (device_now - utc_to_local(datetime.now().astimezone(), self.tz)).total_seconds()
        last = self.buffer.cursor(self.meter.serial, ArchiveKind.HOUR)
        first = self._first_period() if last is None else from_device_seconds(last) + timedelta(hours=1)
        stored = 0
        for start in periods(ArchiveKind.HOUR, first, device_now):
            if stored >= self.config.max_periods_per_poll:
                break
            period = to_device_seconds(start)
            try:
                record = await self.client.archive(ArchiveKind.HOUR, period)
            except PeriodRefused as exc:
                log.warning("event=period_lost meter=%s period=%s reason=%r", self.meter.serial, start, str(exc))
                self.buffer.store([], cursor=(self.meter.serial, ArchiveKind.HOUR, period))
                continue
            if record is None:  # the device has not closed it yet by its own reckoning
                break
            self.buffer.store(self._records(record, start), self.clock_offset_s,
                              cursor=(self.meter.serial, ArchiveKind.HOUR, period))
            stored += 1
        self.last_ok = time.time()
        return stored

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
                stored = await self.poll_once()
                self._backoff = self.config.poll_interval_s
                # catching up: go again at once while there is more to read
                delay = 0.0 if stored >= self.config.max_periods_per_poll else self.config.poll_interval_s
            except DeviceError as exc:
                log.warning("event=poll_failed meter=%s reason=%r retry_s=%.1f", self.meter.serial, str(exc),
                            self._backoff)
                delay = self._backoff
                self._backoff = min(self._backoff * 2, 60.0)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
        self.client.close()
