"""KARAT-307/306 over Modbus (TCP, or RTU on a serial bus): a small client for the register map in protocol/karat307.py
and a poller that reads every closed archive period the meter must have (edge/gaps.py), per kind.

Each period is registered once from commissioning on and read newest first; a record and
the closing of its gap are one transaction, so a restart resumes exactly where it stopped.

What the device says is checked here, at the driver boundary:
- a refusal (exception 03) makes a period lost only when it is older than the device's archive
  depth (the meter's, or its model's in protocol/catalogue.py when smaller); a younger period
  stays an open gap and is asked again with backoff, since the device keeps it;
- a record must carry the period that was requested; one that does not (or does not decode)
  goes to ``rejects`` with an event and is asked again, never stored;
- the device clock is measured on every poll (the time service sets it past its threshold);
  a clock off the edge's by more than the allowed drift (the time service's threshold, or a
  day with the service off) is reported by an event, and the periods that count as closed are
  then those closed by the edge's clock, if it is earlier: no period beyond the edge's clock
  plus the allowed drift is ever requested, stored or declared lost.
The device speaks its local wall-clock time ("device seconds"); the buffer keeps UTC epoch
seconds. The conversion happens here: a gap's period becomes device seconds for the request,
the device's clock becomes UTC before the gap bookkeeping sees it.
Tests: tests/integration/test_edge_modbus_boundary.py, test_edge_gaps.py, test_edge_time_service.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime, timedelta

from pymodbus.exceptions import ModbusException

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig, catalogue_depth_days
from edge.drivers.base import DeviceError, DeviceStatus, GapSummary, Job, Unsupported, gap_counts
from edge.drivers.modbus_link import LinkDown, ModbusLink
from edge.gaps import Gap, GapBook, depth_reason, first_period, schedule_now, shown
from protocol import catalogue
from protocol import karat307 as regs
from protocol.errors import DecodeError
from protocol.periods import (
    from_device_seconds,
    local_to_utc,
    period_start,
    to_device_seconds,
    utc_period_start,
    utc_periods,
    utc_shift,
    utc_to_device,
    utc_to_local,
    zone,
)
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)
ILLEGAL_VALUE = 3
__all__ = ["BadRecord", "DeviceError", "Karat307Client", "Karat307Poller", "PeriodRefused"]


class PeriodRefused(DeviceError):
    """The device refused the archive request for that period (exception 03: outside its depth,
    or a transient refusal)."""


class BadRecord(DeviceError):
    """The device answered an archive request with a record that must not be stored: it does not
    decode, or it is the record of another period. ``registers``: the record block as received."""

    def __init__(self, message: str, registers: list[int]) -> None:
        super().__init__(message)
        self.registers = registers

    @property
    def payload(self) -> bytes:
        """The record block's bytes as on the wire (registers big-endian), for ``rejects``."""
        return b"".join((r & 0xFFFF).to_bytes(2, "big") for r in self.registers)


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
        """Write the archive request and read the record back, with nobody else on the link between.
        None: the device has no record (yet). Raises PeriodRefused, BadRecord (the record does not
        decode or carries another period than ``period``), DeviceError."""
        async with self.link.lock:
            await self._ensure()
            await self._write(regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(kind, period),
                              f"archive request {kind} {from_device_seconds(period)}")
            registers = await self._read(regs.REG_ARCHIVE_RECORD, regs.RECORD_LENGTH)
        try:
            record = regs.decode_record(kind, registers)
        except DecodeError as exc:
            raise BadRecord(f"archive record for {kind} {from_device_seconds(period)}: {exc}", registers) from exc
        if record is not None and record.period != period:
            raise BadRecord(f"archive record for {kind} {from_device_seconds(period)} requested, the device sent "
                            f"the one for {from_device_seconds(record.period)}", registers)
        return record

    def reset(self) -> None:
        self.link.reset()

    def close(self) -> None:
        """Close the link (a client used alone; the agent closes the links it shares itself)."""
        self.link.close()


class Karat307Poller:
    """Reads the closed archives of one KARAT-307 into the buffer on its schedule (each kind in
    ``meter.archive_kinds``: hours after they close, days after midnight by the device's clock,
    months after the reporting day), backfills its gaps newest first, keeps its clock right when
    the time service is on (``clock_threshold_s`` > 0), and carries out the cloud's commands for
    the meter (edge/commands.py: backfill, time_sync, availability, read_current): the Modbus
    driver of edge/drivers/base.py, for TCP and RTU alike."""

    def __init__(self, meter: MeterConfig, config: EdgeConfig, buffer: Buffer, client: Karat307Client) -> None:
        self.meter = meter
        self.config = config
        self.buffer = buffer
        self.client = client
        self.gaps = GapBook(buffer, config.poll_interval_s, config.gap_backoff_max_s, config.time_zone)
        self.tz = zone(config.time_zone)
        self.last_ok: float | None = None
        self.last_error: str = ""
        self.last_error_at: float | None = None
        self.clock_offset_s: float | None = None
        self.clock_corrections = 0
        self.clock_believed = True  # the device clock was within the allowed drift at the last reading
        self._backoff = config.poll_interval_s

    def _first_period(self, kind: ArchiveKind = ArchiveKind.HOUR) -> int:
        return first_period(kind, self.meter.commissioned_at, self.tz)

    def _utc(self, device_now: datetime) -> int:
        """A device time (naive local) as UTC epoch seconds, whole seconds down: the boundary."""
        return int(local_to_utc(device_now, self.tz).timestamp())

    def _depth(self, kind: ArchiveKind) -> timedelta:
        return timedelta(days=self.meter.depth_days(kind))

    def _refusal_depth(self, kind: ArchiveKind) -> timedelta:
        """A refused period older than this is lost: the meter's depth, or its model's (catalogue)
        when that is smaller, since the device then refuses by its own, real depth."""
        days = self.meter.depth_days(kind)
        if self.meter.model in catalogue.MODELS:
            days = min(days, catalogue_depth_days(self.meter.model, kind))
        return timedelta(days=days)

    @property
    def allowed_drift_s(self) -> float:
        """How far the device clock may be from the edge's (EdgeConfig.allowed_clock_drift_s;
        infinite when nothing judges it)."""
        allowed = self.config.allowed_clock_drift_s
        return math.inf if allowed is None else allowed

    def _believed_now(self, device_now: datetime) -> datetime:
        """The device time the edge goes by: the device's own while it is within the allowed drift
        of the edge's clock; beyond it (reported once by a ``clock_out_of_range`` event until
        the clock is back) the edge's clock when that is earlier, so a clock running ahead (2106)
        neither closes nor ages a period, and one running behind closes none before the device does."""
        edge_now = self._gateway_local()
        offset = (device_now - edge_now).total_seconds()
        allowed = self.allowed_drift_s
        if abs(offset) <= allowed:
            if not self.clock_believed:
                log.info("event=clock_in_range meter=%s offset_s=%.1f", self.meter.serial, offset)
            self.clock_believed = True
            return device_now
        if self.clock_believed:
            self.clock_believed = False
            self.buffer.event("clock_out_of_range", meter=self.meter.serial, severity="warning",
                              device_time=str(device_now.replace(microsecond=0)),
                              edge_time=str(edge_now.replace(microsecond=0)), offset_s=round(offset),
                              allowed_drift_s=allowed)
            log.warning("event=clock_out_of_range meter=%s device_time=%s edge_time=%s offset_s=%.0f "
                        "allowed_drift_s=%.0f", self.meter.serial, device_now.replace(microsecond=0),
                        edge_now.replace(microsecond=0), offset, allowed)
        return min(device_now, edge_now)

    def _reject(self, exc: BadRecord, gap: Gap | None = None) -> float | None:
        """Keep a record that must not be stored in ``rejects``, with an event; its gap (if any)
        is asked again after its backoff, whose delay is returned."""
        def write() -> float | None:
            self.buffer.reject(f"modbus:{self.meter.serial}", str(exc), exc.payload)
            self.buffer.add_event("record_rejected", meter=self.meter.serial, count=1, severity="warning",
                                  reason=str(exc))
            return None if gap is None else self.gaps.retry_later(gap, str(exc))
        delay = self.buffer.write(write)
        log.warning("event=record_rejected meter=%s reason=%r retry_s=%s", self.meter.serial, str(exc), delay)
        return delay

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
        return await self.set_clock(device_now, reason="threshold")

    async def set_clock(self, device_now: datetime, reason: str) -> datetime:
        """Set the device clock to the gateway's, measure again and log a ``clock_corrected`` event.
        Periods already registered stay registered (edge/gaps.py), so no period appears or vanishes."""
        before = self.clock_offset_s or 0.0
        target = self._gateway_local()
        await self.client.set_clock(to_device_seconds(target))
        device_after = await self._measure_clock()
        self.clock_corrections += 1
        self.buffer.event("clock_corrected", meter=self.meter.serial, count=1, offset_before_s=round(before, 3),
                          offset_after_s=round(self.clock_offset_s or 0.0, 3), device_time_before=str(device_now),
                          device_time_set=str(target.replace(microsecond=0)),
                          threshold_s=self.config.clock_threshold_s, reason=reason)
        log.warning("event=clock_corrected meter=%s offset_before_s=%.1f offset_after_s=%.1f threshold_s=%.1f "
                    "reason=%s", self.meter.serial, before, self.clock_offset_s or 0.0,
                    self.config.clock_threshold_s, reason)
        return device_after

    async def poll_once(self) -> int:
        """Register the periods of every scheduled kind closed since the last poll, then read open
        gaps newest first. Returns the number of periods stored. Raises DeviceError."""
        now = self._utc(self._believed_now(await self._time_service(await self._measure_clock())))
        stored = 0
        for kind in self.meter.kinds:
            depth = self._depth(kind)
            self.gaps.register(self.meter.serial, kind, self._first_period(kind),
                               schedule_now(kind, now, self.tz, self.meter.reporting_day), depth)
            self.gaps.expire(self.meter.serial, kind, utc_shift(now, -depth, self.tz), depth_reason(kind, depth))
            stored += await self._read_gaps(kind, now)
        self.last_ok = time.time()
        return stored

    async def _read_gaps(self, kind: ArchiveKind, now: int) -> int:
        """Read the due gaps of ``kind``, newest first; ``now``: the device time (UTC) gone by."""
        stored = 0
        oldest_kept = utc_shift(now, -self._refusal_depth(kind), self.tz)
        for gap in self.gaps.due(self.meter.serial, kind, self.config.max_periods_per_poll):
            try:
                record = await self.client.archive(kind, utc_to_device(gap.period, self.tz))
            except PeriodRefused as exc:
                self.gaps.refused(gap, f"device refused: {exc}", oldest_kept)
                continue
            except BadRecord as exc:
                self._reject(exc, gap)
                continue
            if record is None:  # the device has not closed it yet by its own reckoning
                delay = self.gaps.retry_later(gap, "device has no record yet")
                log.info("event=period_not_ready meter=%s kind=%s period=%s retry_s=%.1f", self.meter.serial,
                         kind.value, shown(gap.period, self.tz), delay)
                continue
            self.gaps.fill(gap, self._records(record, gap.period, kind), self.clock_offset_s or 0.0)
            stored += 1
        return stored

    def more_due(self) -> bool:
        return any(self.gaps.due(self.meter.serial, kind, 1) for kind in self.meter.kinds)

    def _records(self, record: regs.Karat307Record, utc: int,
                 kind: ArchiveKind = ArchiveKind.HOUR) -> list[ArchiveRecord]:
        """The record of the period starting at ``utc`` (UTC seconds), one per channel."""
        now = time.time()
        quality = Quality.DEVICE_FLAGGED if record.flags else Quality.OK
        return [ArchiveRecord(meter=self.meter.serial, channel=channel, kind=kind,
                              nature=Nature.INTEGRAL, period_start=utc, values=values, quality=quality,
                              received_at=now)
                for channel, values in record.values().items()]

    # --- the driver interface (edge/drivers/base.py) -----------------------------------------
    @property
    def endpoint(self) -> str:
        """"host:port #unit" over TCP, "port@baud #unit" on a serial bus."""
        m = self.meter
        if m.transport == "modbus-rtu":
            return f"{m.serial_port}@{m.baudrate} #{m.unit}"
        return f"{m.host}:{m.port} #{m.unit}"

    def job(self) -> Job:
        return self.run

    def status(self, gaps: GapSummary) -> DeviceStatus:
        error_now = (self.last_error_at or 0) > (self.last_ok or 0)  # cleared by the next good read
        return DeviceStatus(
            serial=self.meter.serial, model=self.meter.model, transport=self.meter.transport, endpoint=self.endpoint,
            last_ok_at=self.last_ok, last_error=self.last_error if error_now else "", last_error_at=self.last_error_at,
            clock_offset_s=None if self.clock_offset_s is None else round(self.clock_offset_s, 1),
            clock_corrections=self.clock_corrections, **gap_counts(gaps, self.meter.serial))

    async def relay(self, on: bool, limit_w: int = 0) -> dict[str, object]:
        raise Unsupported(f"meter: {self.meter.serial!r} ({self.meter.model}) has no relay the edge can switch")

    # --- commands from the cloud (edge/commands.py) ------------------------------------------
    async def backfill(self, kind: ArchiveKind, first_utc: int, last_utc: int) -> dict[str, object]:
        """Read the archive of ``kind`` for the periods starting from ``first_utc`` to ``last_utc``
        (UTC seconds), newest first, within the device's depth; older periods, and periods that old
        the device refuses, are recorded lost; a younger period refused or answered wrongly counts
        as ``failed`` (not lost). Raises DeviceError (the link or the device failed)."""
        now = self._utc(self._believed_now(await self._measure_clock()))
        depth = self._depth(kind)
        oldest_kept = utc_shift(now, -depth, self.tz)
        refusal_final = utc_shift(now, -self._refusal_depth(kind), self.tz)
        first = max(utc_period_start(kind, first_utc, self.tz), self._first_period(kind))
        wanted = [p for p in utc_periods(kind, first, now, self.tz) if p <= last_utc]
        records, lost, refused, not_ready, failed = 0, [], [], 0, 0
        for period in reversed(wanted):
            if period < oldest_kept:
                lost.append(period)
                continue
            try:
                record = await self.client.archive(kind, utc_to_device(period, self.tz))
            except PeriodRefused as exc:
                if period < refusal_final:
                    refused.append(period)
                else:  # a period the device keeps: not lost; its gap (if open) is asked again
                    failed += 1
                    log.warning("event=period_refused meter=%s kind=%s period=%s reason=%r", self.meter.serial,
                                kind.value, shown(period, self.tz), str(exc))
                continue
            except BadRecord as exc:
                self._reject(exc)
                failed += 1
                continue
            if record is None:
                not_ready += 1
                continue
            rows = self._records(record, period, kind)

            def write(rows: list[ArchiveRecord] = rows, period: int = period) -> None:
                self.buffer.insert_values(rows, self.clock_offset_s or 0.0)
                self.gaps.close_period(self.meter.serial, kind, period)
            self.buffer.write(write)
            records += 1
        self.gaps.lose(self.meter.serial, kind, lost, depth_reason(kind, depth))
        self.gaps.lose(self.meter.serial, kind, refused, "device refused: outside the device's archive")
        self.last_ok = time.time()
        return {"records": records, "lost": len(lost) + len(refused), "not_closed": not_ready, "failed": failed,
                "periods": len(wanted)}

    async def time_sync(self, force: bool = False) -> dict[str, object]:
        """Measure the clock offset and set the device clock; with the time service on and the
        offset within its threshold, only ``force`` sets it."""
        device_now = await self._measure_clock()
        before = self.clock_offset_s or 0.0
        threshold = self.config.clock_threshold_s
        if not force and threshold > 0 and abs(before) <= threshold:
            return {"offset_before_s": round(before, 3), "set": False, "threshold_s": threshold}
        await self.set_clock(device_now, reason="command")
        return {"offset_before_s": round(before, 3), "offset_after_s": round(self.clock_offset_s or 0.0, 3),
                "set": True}

    async def availability(self) -> dict[str, object]:
        """One short read (the clock) within the link's timeout."""
        t0 = time.monotonic()
        await self._measure_clock()
        self.last_ok = time.time()
        return {"available": True, "response_ms": round((time.monotonic() - t0) * 1000, 1),
                "clock_offset_s": round(self.clock_offset_s or 0.0, 3)}

    async def read_current(self) -> dict[str, object]:
        """The KARAT-307 map has no instantaneous registers: the readings of the last closed hour
        (the counters' values at its end) with the device's time."""
        device_now = await self._measure_clock()
        believed = self._believed_now(device_now)
        start = period_start(ArchiveKind.HOUR, believed) - timedelta(hours=1)
        record = await self.client.archive(ArchiveKind.HOUR, to_device_seconds(start))
        if record is None:
            raise DeviceError("the device has no closed hour yet")
        self.last_ok = time.time()
        return {"device_time": str(device_now.replace(microsecond=0)), "period": str(start),
                "values": {str(ch): v for ch, v in record.values().items()}}

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
