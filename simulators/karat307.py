"""KARAT-307 (and KARAT-306) heat calculator served over Modbus TCP or RTU with pymodbus's SimDevice.

Registers follow protocol/karat307.py. Reads of the clock return the device's clock (the
simulated local time plus any offset set by a clock write); a write to the archive request
block fills the record block, or is refused with exception 03 when the period lies before
commissioning (or before the calculator was fitted, after a replacement) or beyond the archive
depth. The KARAT-306, a smaller calculator on the same register map, is simulators/karat306.py.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from protocol import karat307 as regs
from protocol.errors import DecodeError
from protocol.periods import (
    from_device_seconds,
    local_to_utc,
    next_period,
    period_start,
    to_device_seconds,
    utc_to_local,
)
from protocol.vocabulary import ArchiveKind
from simulators.world import SimClock, World

log = logging.getLogger(__name__)

ARCHIVE_DEPTH = {ArchiveKind.HOUR: timedelta(days=45), ArchiveKind.DAY: timedelta(days=366)}
_WRITE_CODES = (6, 16)
# a fault in the archive's answers (simulators/faults.py ArchiveFault): the record block or the
# exception to answer an archive request with instead of the true one, or None for the true one
ArchiveHook = Callable[[ArchiveKind, int], list[int] | ExcCodes | None]


class Karat307:
    """The device's behaviour, independent of the transport that serves it."""

    ARCHIVE_DEPTH: ClassVar[dict[ArchiveKind, timedelta]] = ARCHIVE_DEPTH
    CHANNELS: ClassVar[tuple[int, ...]] = (regs.CHANNEL_HEAT, regs.CHANNEL_HOT_WATER, regs.CHANNEL_COLD_WATER)

    def __init__(self, world: World, clock: SimClock, unit: int, serial: str | None = None,
                 model_code: int = regs.MODEL_CODE) -> None:
        self.world = world
        self.clock = clock
        self.unit = unit
        self.serial = serial or world.building.spec.heat_meter_serial
        self.plan_serial = self.serial  # the serial it was commissioned with: its place in the world
        self.model_code = model_code  # 307 (a 306 built from this class answers the same as a 307)
        self.clock_offset = timedelta(0)  # device clock minus true local time, at clock_set_at
        self.drift_ppm = 0.0  # the clock gains this many millionths (negative: loses); a scenario fault
        self.clock_set_at: datetime | None = None  # true UTC time of the last setting; drift counts from it
        self.offline = False  # a scenario fault: the unit does not answer at all
        self.installed_index: int | None = None  # after a replacement: the hour the new calculator was fitted
        self.archive_fault: ArchiveHook | None = None  # tests: a wrong answer to archive requests

    def device_now(self, moment_utc: datetime | None = None) -> datetime:
        now = self.clock.now() if moment_utc is None else moment_utc
        drift = (now - (self.clock_set_at or now)).total_seconds() * self.drift_ppm * 1e-6
        return utc_to_local(now, self.world.tz) + self.clock_offset + timedelta(seconds=drift)

    def set_clock(self, device_seconds: int) -> None:
        now = self.clock.now()
        self.clock_offset = from_device_seconds(device_seconds) - utc_to_local(now, self.world.tz)
        self.clock_set_at = now
        log.info("event=clock_set device=%s offset_s=%.0f", self.serial, self.clock_offset.total_seconds())

    def set_drift(self, ppm: float, now_utc: datetime) -> None:
        """From ``now_utc`` on the clock drifts at ``ppm``; what it drifted so far stays."""
        self.clock_offset = self.device_now(now_utc) - utc_to_local(now_utc, self.world.tz)
        self.clock_set_at, self.drift_ppm = now_utc, ppm

    def replace_device(self, index: int, now_utc: datetime, serial: str) -> None:
        """A new calculator fitted in this one's place at hour ``index`` (a scenario fault): a new
        serial, a clock set right at the factory, counters from its own initial readings, and no
        archive before it was fitted."""
        self.serial, self.installed_index = serial, index
        self.clock_offset, self.drift_ppm, self.clock_set_at = timedelta(0), 0.0, None
        log.info("event=device_replaced unit=%d serial=%s hour=%d at=%s", self.unit, serial, index,
                 now_utc.isoformat())

    def record(self, kind: ArchiveKind, period: int) -> list[int] | ExcCodes:
        """Record block registers for an archive request, or the exception to answer with."""
        if kind not in self.ARCHIVE_DEPTH:
            return ExcCodes.ILLEGAL_VALUE
        start_local = from_device_seconds(period)
        if period_start(kind, start_local) != start_local:
            return ExcCodes.ILLEGAL_VALUE  # not a period boundary
        now = self.device_now()
        end_local = next_period(kind, start_local)
        first = utc_to_local(self.world.hour_start(self.installed_index or 0), self.world.tz)
        if start_local < first or start_local < now - self.ARCHIVE_DEPTH[kind]:
            return ExcCodes.ILLEGAL_VALUE
        if end_local > now:
            return regs.empty_record()
        end_index = self.world.hour_index(local_to_utc(end_local, self.world.tz)) - 1
        return regs.encode_record(replace(self.record_values(end_index), kind=kind, period=period))

    def raw_counters(self, index: int) -> tuple[int, ...]:
        """What the building's heat input passed by the end of hour ``index`` (-1: at commissioning),
        counted from the commissioned calculator's initial readings: (Q kcal, carrier l, hot l, cold l)."""
        c = (self.world.initial_counters(self.world.building.spec.heat_meter_serial) if index < 0
             else self.world.building_counters(index))
        return c.heat_kcal, c.carrier_litres, c.hot_litres, c.cold_litres

    def counters(self, index: int) -> tuple[int, ...]:
        """The calculator's own counters at the end of hour ``index``: after a replacement the new
        one counts from its initial readings (0-99 each, drawn from the seed and its serial)."""
        raw = self.raw_counters(index)
        if self.installed_index is None or index < self.installed_index:
            return raw
        rng = random.Random(f"new-meter:{self.world.scenario.seed}:{self.serial}")
        start = [rng.randint(0, 99) for _ in raw]
        base = self.raw_counters(self.installed_index - 1)
        return tuple(r - b + s for r, b, s in zip(raw, base, start, strict=True))

    def record_values(self, end_index: int) -> regs.Karat307Record:
        """The registers' values at the end of hour ``end_index`` (an hour record; callers set kind and period)."""
        heat, carrier, hot, cold = self.counters(end_index)
        supply, ret = self.world.supply_return(end_index)
        period = to_device_seconds(utc_to_local(self.world.hour_start(end_index), self.world.tz))
        return regs.Karat307Record(
            kind=ArchiveKind.HOUR, period=period, heat_kcal=heat % 2**32, supply_litres=carrier % 2**32,
            return_litres=round(carrier * 0.995) % 2**32,
            supply_temp_centi=round(supply * 100), return_temp_centi=round(ret * 100),
            hot_water_litres=hot % 2**32, cold_water_litres=cold % 2**32,
        )

    async def on_access(self, function_code: int, start_address: int, address: int, count: int,
                        registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        """pymodbus SimDevice action: runs before every read or write of the register block."""
        # registers[i] holds the register at address start_address + i
        if set_values is not None and function_code in _WRITE_CODES:
            return self._write(start_address, address, [int(v) for v in set_values], registers)
        clock = regs.REG_CLOCK - start_address
        registers[clock:clock + 2] = regs.u32_to_registers(to_device_seconds(self.device_now()))
        registers[regs.REG_MODEL - start_address] = self.model_code
        serial = regs.REG_SERIAL - start_address  # a replaced calculator answers with its new serial
        registers[serial:serial + 2] = regs.u32_to_registers(int(self.serial))
        return None

    def _write(self, start_address: int, address: int, values: list[int], registers: list[int]) -> ExcCodes | None:
        if address == regs.REG_CLOCK and len(values) == 2:
            self.set_clock(regs.registers_to_u32(values))
            return None
        if address == regs.REG_ARCHIVE_REQUEST and len(values) == 3:
            try:
                kind, period = regs.decode_archive_request(values)
            except DecodeError:
                return ExcCodes.ILLEGAL_VALUE
            block = self.record(kind, period)
            if self.archive_fault is not None and (spoilt := self.archive_fault(kind, period)) is not None:
                block = spoilt
            if isinstance(block, ExcCodes):
                return block
            start = regs.REG_ARCHIVE_RECORD - start_address
            registers[start:start + regs.RECORD_LENGTH] = block
            return None
        return ExcCodes.ILLEGAL_ADDRESS  # everything else is read-only

    def sim_device(self) -> SimDevice:
        initial = [0] * regs.REGISTER_COUNT
        initial[regs.REG_MODEL] = self.model_code
        initial[regs.REG_SERIAL:regs.REG_SERIAL + 2] = regs.u32_to_registers(int(self.serial))
        initial[regs.REG_ARCHIVE_RECORD:regs.REG_ARCHIVE_RECORD + regs.RECORD_LENGTH] = regs.empty_record()
        return SimDevice(
            id=self.unit,
            simdata=[SimData(0, values=initial, datatype=DataType.REGISTERS)],
            action=self.on_access,
        )


def tcp_server(devices: list[Karat307], host: str, port: int) -> ModbusTcpServer:
    """A Modbus TCP server answering for each device's unit id (an offline unit does not answer)."""
    by_unit = {d.unit: d for d in devices}
    requests: dict[int, int] = {}  # transaction id -> function code of the request

    def trace(sending: bool, packet: bytes) -> bytes:
        if not sending:
            offset = 0
            while offset + 8 <= len(packet):  # MBAP: tid(2) protocol(2) length(2) unit(1), then the PDU
                requests[int.from_bytes(packet[offset:offset + 2], "big")] = packet[offset + 7]
                offset += 6 + int.from_bytes(packet[offset + 4:offset + 6], "big")
            if len(requests) > 4096:
                requests.clear()
            return packet
        if len(packet) > 6 and (device := by_unit.get(packet[6])) is not None and device.offline:
            return b""  # MBAP byte 6 is the unit id
        if len(packet) >= 9 and packet[7] == 0x80:
            fc = requests.pop(int.from_bytes(packet[0:2], "big"), None)
            if fc is not None and fc < 0x80:
                return packet[:7] + device_exception(fc)
        return packet

    return ModbusTcpServer([d.sim_device() for d in devices], address=(host, port), trace_packet=trace)


SUPPORTED_FUNCTIONS = frozenset((0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F, 0x10, 0x16, 0x17))


def device_exception(function_code: int) -> bytes:
    """The exception PDU a real device sends for a request it cannot serve (DESIGN.md 3).

    pymodbus answers a request it cannot decode with function code 0x80; a device answers with
    the request's function code + 0x80: 01 (illegal function) for a function it does not
    implement, 03 (illegal data value) for a known function with a malformed quantity or length.
    """
    code = 0x03 if function_code in SUPPORTED_FUNCTIONS else 0x01
    return bytes([function_code | 0x80, code])
