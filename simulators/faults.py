"""Faults on a schedule: what a scenario's ``[[faults]]`` entries do to the simulated devices.

Every fault is tied to an hour index since commissioning (``at_hour``), so a run is
reproducible from the seed, and a restarted simulator re-applies the faults that already
happened (``catch_up``) before it continues. Random choices (which uplinks a lossy radio
loses) are drawn from (seed, device, hour). Format and examples: simulators/scenarios/README.md.
``ArchiveFault`` spoils a Modbus device's answers to archive requests (a transient exception 03,
a record of another period) for tests of the edge's driver boundary.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pymodbus.constants import ExcCodes

from protocol import lorawan_up
from protocol.crc import crc16_modbus
from protocol.periods import from_device_seconds, next_period, previous_period, to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.karat307 import Karat307
from simulators.lora_device import (
    EVENT_CASE_OPEN,
    EVENT_COUNTER_RESET,
    EVENT_LEAK,
    EVENT_MAGNET,
    EVENT_METER_REPLACED,
    LoraDevice,
    RadioCounters,
)
from simulators.scenario import Fault

log = logging.getLogger(__name__)


def malformed(data: bytes, frame: str) -> bytes:
    """A broken copy of an uplink payload: CRC off by one bit, cut short, or an unknown template."""
    if frame == "bad_crc":
        return data[:-2] + bytes([data[-2] ^ 0x01, data[-1]])
    if frame == "truncated":
        return data[: len(data) // 2]
    body = bytes([0x7E]) + data[1:-2]  # a template no KARAT device uses, with a valid CRC
    return body + struct.pack("<H", crc16_modbus(body))


@dataclass
class ArchiveFault:
    """Wrong answers of a KARAT-307/306 to archive requests; install with ``device.archive_fault =
    ArchiveFault(device, ...)``. For the requests of ``periods`` (device seconds; empty: every
    period), the first ``times`` of them (0: all), the device either refuses with exception 03
    (``"refuse"``: a transient refusal of a period it keeps) or answers with the record of the
    period ``shift`` periods later (``"shift"``: the record's header names that period, as a
    device whose archive index is off by one). ``spoilt`` counts the answers spoilt so far."""

    device: Karat307
    fault: Literal["refuse", "shift"]
    periods: Collection[int] = ()
    times: int = 0
    shift: int = 1
    spoilt: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.fault not in ("refuse", "shift"):
            raise ValueError(f"fault: must be 'refuse' or 'shift', got {self.fault!r}")
        if self.times < 0:
            raise ValueError(f"times: must be >= 0 (0: every request), got {self.times}")
        if self.fault == "shift" and self.shift == 0:
            raise ValueError("shift: a shifted answer needs a shift other than 0 periods")

    def __call__(self, kind: ArchiveKind, period: int) -> list[int] | ExcCodes | None:
        """The spoilt answer to a request for ``period``, or None to answer it truly."""
        if (self.periods and period not in self.periods) or (self.times and self.spoilt >= self.times):
            return None
        self.spoilt += 1
        if self.fault == "refuse":
            return ExcCodes.ILLEGAL_VALUE
        return self.device.record(kind, shifted(kind, period, self.shift))


def shifted(kind: ArchiveKind, period: int, by: int) -> int:
    """The period ``by`` periods of ``kind`` after ``period`` (device seconds; negative: before)."""
    start = from_device_seconds(period)
    step = next_period if by > 0 else previous_period
    for _ in range(abs(by)):
        start = step(kind, start)
    return to_device_seconds(start)


@dataclass(frozen=True, slots=True)
class Replacement:
    """A device replaced by a new one (a ``replacement`` fault), for the runner to announce."""

    device: LoraDevice | Karat307
    index: int  # hour index the new device was fitted at
    at: datetime
    old_serial: str
    old_dev_eui: str  # "" for a Modbus device
    new_serial: str
    new_dev_eui: str


class FaultSchedule:
    """Applies a scenario's faults to its devices, hour by hour."""

    def __init__(self, faults: list[Fault], seed: int, lora: list[LoraDevice], modbus: list[Karat307],
                 radio: dict[str, RadioCounters] | None = None, check_devices: bool = True) -> None:
        self.faults = faults
        self.seed = seed
        self.lora = lora
        self.modbus = modbus
        self.radio = {} if radio is None else radio  # radio counters by devEUI (the runner's state)
        self.replacements: list[Replacement] = []  # applied since the runner last took them
        self.known = {d.serial for d in lora} | {d.dev_eui for d in lora} | {d.serial for d in modbus}
        self.identities = self._plan_replacements()  # fault index -> {id(device): (new serial, new devEUI)}
        for i, f in enumerate(faults):
            if check_devices and f.device != "*" and f.device not in self.known:
                raise ValueError(f"faults[{i}].device: no device with serial or devEUI {f.device!r}")

    def _lora_targets(self, fault: Fault) -> list[LoraDevice]:
        return [d for d in self.lora if fault.device in ("*", d.serial, d.dev_eui)]

    def _modbus_targets(self, fault: Fault) -> list[Karat307]:
        return [d for d in self.modbus if fault.device in ("*", d.serial)]

    def _replaced(self, fault: Fault, serial: str, dev_eui: str, own_serial: bool) -> bool:
        """Whether a replacement fault names this device (a KARAT-929LW only by its devEUI)."""
        return fault.device in ("*", dev_eui) or (own_serial and fault.device == serial)

    def _plan_replacements(self) -> dict[int, dict[int, tuple[str, str]]]:
        """The new identity of every device each replacement fault replaces, decided up front (so
        faults may name a new device, and a restart draws the same ones): the fault's ``new_serial``
        and ``new_dev_eui``, else the old serial's prefix with four digits from 5000-9999 and the old
        devEUI's first 12 hex digits with four from 8000-ffff, drawn from the seed (the planned
        devices end in at most 2000 and 07d0, so a drawn identity never takes a planned one)."""
        current: dict[int, tuple[str, str, bool]] = {id(d): (d.serial, d.dev_eui, d.OWN_SERIAL) for d in self.lora}
        current |= {id(m): (m.serial, "", True) for m in self.modbus}
        out: dict[int, dict[int, tuple[str, str]]] = {}
        for i, f in sorted(enumerate(self.faults), key=lambda p: p[1].at_hour):
            if f.kind != "replacement":
                continue
            out[i] = {}
            for key, (serial, eui, own) in current.items():
                if not self._replaced(f, serial, eui, own):
                    continue
                for value, key_name in ((f.new_serial, "new_serial"), (f.new_dev_eui, "new_dev_eui")):
                    if value and value in self.known:
                        raise ValueError(f"faults[{i}].{key_name}: {value!r} is already a device's")
                if f.new_dev_eui and not eui:
                    raise ValueError(f"faults[{i}].new_dev_eui: {f.device!r} is not a radio device")
                rng = random.Random(f"replacement:{self.seed}:{serial}:{eui}:{f.at_hour}")
                new_serial = serial if not own else f.new_serial or self._draw(
                    rng, serial[:-4], 5000, 9999, "d", f"faults[{i}].new_serial")
                new_eui = "" if not eui else f.new_dev_eui or self._draw(
                    rng, eui[:12], 0x8000, 0xFFFF, "x", f"faults[{i}].new_dev_eui")
                self.known |= {new_serial, new_eui} - {""}
                out[i][key] = (new_serial, new_eui)
                current[key] = (new_serial, new_eui, own)
        return out

    def _draw(self, rng: random.Random, prefix: str, low: int, high: int, digits: str, what: str) -> str:
        for _ in range(1000):
            value = f"{prefix}{rng.randint(low, high):04{digits}}"
            if value not in self.known and (digits != "d" or int(value) <= 0xFFFFFFFF):
                return value
        raise ValueError(f"{what}: no free identity to draw; give one")

    # --- state changes at the start of an hour ------------------------------------------------
    def start_hour(self, index: int, now_utc: datetime, publish: bool = True) -> list[tuple[str, str]]:
        """Apply the faults that start at hour ``index``; (topic, JSON) of the events they cause."""
        out: list[tuple[str, str]] = []
        for i, f in ((i, f) for i, f in enumerate(self.faults) if f.at_hour == index):
            log.info("event=fault kind=%s device=%s hour=%d", f.kind, f.device, index)
            if f.kind == "clock_drift":
                for d in self._lora_targets(f):
                    d.set_drift(f.ppm, now_utc)
                for m in self._modbus_targets(f):
                    m.set_drift(f.ppm, now_utc)
            elif f.kind == "clock_jump":
                for d in self._lora_targets(f):
                    d.clock_offset += timedelta(seconds=f.seconds)
                for m in self._modbus_targets(f):
                    m.clock_offset += timedelta(seconds=f.seconds)
            elif f.kind == "fcnt_reset" and publish:  # the counters it changes are in the state file
                for d in self._lora_targets(f):
                    out.append(d.log_f_cnt_reset(now_utc))
            elif f.kind == "counter_reset":
                for d in self._lora_targets(f):
                    d.reset_counters(index)
                    if publish:
                        out.append(d.raise_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                                 EVENT_COUNTER_RESET))
            elif f.kind == "replacement":
                out += self._replace(f, self.identities[i], index, now_utc, publish)
            elif f.kind == "tamper" and publish:
                effect, code = ((lorawan_up.Effect.INTEGRITY, EVENT_CASE_OPEN) if f.event == "case_open"
                                else (lorawan_up.Effect.INTERFERENCE, EVENT_MAGNET))
                for d in self._lora_targets(f):
                    out.append(d.raise_event(now_utc, effect, lorawan_up.Severity.ALARM, code))
            elif f.kind == "leak":
                for d in self._lora_targets(f):
                    d.start_leak(index, f.litres_per_hour)
        for f in (f for f in self.faults if publish and f.kind == "leak" and f.at_hour + 3 == index):
            for d in self._lora_targets(f):  # three hours of flow without a pause: the meter calls it a leak
                out.append(d.raise_event(now_utc, lorawan_up.Effect.LIMIT, lorawan_up.Severity.ALARM, EVENT_LEAK))
        for f in (f for f in self.faults if f.kind == "leak" and f.hours and f.at_hour + f.hours == index):
            for d in self._lora_targets(f):
                d.stop_leak(index)
        self.update_offline(index)
        return out

    def _replace(self, fault: Fault, identities: dict[int, tuple[str, str]], index: int, now_utc: datetime,
                 publish: bool) -> list[tuple[str, str]]:
        """Fit new devices in place of the ones ``fault`` names. A radio device's replacement joins
        (ChirpStack ``join``), then sends event 0x0406 and its passport, fCnt from 0."""
        out: list[tuple[str, str]] = []
        for m in self._modbus_targets(fault):
            new_serial, _ = identities[id(m)]
            self.replacements.append(Replacement(m, index, now_utc, m.serial, "", new_serial, ""))
            m.replace_device(index, now_utc, new_serial)
        for d in [d for d in self.lora if self._replaced(fault, d.serial, d.dev_eui, d.OWN_SERIAL)]:
            new_serial, new_eui = identities[id(d)]
            old_serial, old_eui = d.serial, d.dev_eui
            counters = self.radio.setdefault(new_eui, RadioCounters(reset_hour=index))  # kept across restarts
            d.replace_device(index, now_utc, new_serial, new_eui, counters)
            self.replacements.append(Replacement(d, index, now_utc, old_serial, old_eui, d.serial, new_eui))
            if publish:
                out.append(d.join_event(now_utc))
                out.append(d.raise_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.INFO,
                                         EVENT_METER_REPLACED))
                out.append((d.topic, d.extra_uplink(lorawan_up.encode(d.passport(now_utc)), lorawan_up.FPORT_DATA,
                                                    now_utc + timedelta(seconds=5), "passport")))
        return out

    def update_offline(self, index: int) -> None:
        """Modbus units inside an offline window stop answering."""
        offline = [f for f in self.faults if f.kind == "offline"]
        for m in self.modbus:
            m.offline = any(f.active(index) and f.device in ("*", m.serial) for f in offline)

    def catch_up(self, last_index: int, now_of: Callable[[int], datetime]) -> None:
        """After a restart: re-apply the faults of hours 0..last_index without publishing anything
        (radio counters changed by them are already in the state file)."""
        for index in range(0, last_index + 1):
            if any(f.at_hour == index or (f.kind == "leak" and f.hours and f.at_hour + f.hours == index)
                   for f in self.faults):
                self.start_hour(index, now_of(index), publish=False)
        self.update_offline(last_index + 1)

    # --- per uplink --------------------------------------------------------------------------
    def off_air(self, device: LoraDevice, index: int) -> bool:
        """Whether an ``offline`` fault keeps the device off the air in hour ``index``."""
        return any(f.kind == "offline" and f.active(index) and f.device in ("*", device.serial, device.dev_eui)
                   for f in self.faults)

    def uplink(self, device: LoraDevice, index: int, data: bytes) -> bytes | None:
        """The payload the network server receives for hour ``index``, or None if it hears nothing."""
        for f in self.faults:
            if not f.active(index) or f.device not in ("*", device.serial, device.dev_eui):
                continue
            if f.kind == "offline":
                return None
            if f.kind == "radio_loss" and random.Random(f"loss:{self.seed}:{device.dev_eui}:{index}").random() < f.rate:
                return None
            if f.kind == "malformed":
                data = malformed(data, f.frame)
        return data
