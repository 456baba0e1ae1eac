"""Faults on a schedule: what a scenario's ``[[faults]]`` entries do to the simulated devices.

Every fault is tied to an hour index since commissioning (``at_hour``), so a run is
reproducible from the seed, and a restarted simulator re-applies the faults that already
happened (``catch_up``) before it continues. Random choices (which uplinks a lossy radio
loses) are drawn from (seed, device, hour). Format and examples: simulators/scenarios/README.md.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable
from datetime import datetime, timedelta

from protocol import lorawan_up
from protocol.crc import crc16_modbus
from simulators.karat307 import Karat307
from simulators.lora_device import (
    EVENT_CASE_OPEN,
    EVENT_COUNTER_RESET,
    EVENT_LEAK,
    EVENT_MAGNET,
    EVENT_METER_REPLACED,
    LoraDevice,
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


class FaultSchedule:
    """Applies a scenario's faults to its devices, hour by hour."""

    def __init__(self, faults: list[Fault], seed: int, lora: list[LoraDevice], modbus: list[Karat307]) -> None:
        self.faults = faults
        self.seed = seed
        self.lora = lora
        self.modbus = modbus
        known = {d.serial for d in lora} | {d.dev_eui for d in lora} | {d.serial for d in modbus}
        for i, f in enumerate(faults):
            if f.device != "*" and f.device not in known:
                raise ValueError(f"faults[{i}].device: no device with serial or devEUI {f.device!r}")

    def _lora_targets(self, fault: Fault) -> list[LoraDevice]:
        return [d for d in self.lora if fault.device in ("*", d.serial, d.dev_eui)]

    def _modbus_targets(self, fault: Fault) -> list[Karat307]:
        return [d for d in self.modbus if fault.device in ("*", d.serial)]

    # --- state changes at the start of an hour ------------------------------------------------
    def start_hour(self, index: int, now_utc: datetime, publish: bool = True) -> list[tuple[str, str]]:
        """Apply the faults that start at hour ``index``; (topic, JSON) of the events they cause."""
        out: list[tuple[str, str]] = []
        for f in (f for f in self.faults if f.at_hour == index):
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
                for d in self._lora_targets(f):
                    d.replace_meter(index, now_utc)
                    if publish:
                        out.append(d.raise_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.INFO,
                                                 EVENT_METER_REPLACED))
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
