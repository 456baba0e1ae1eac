"""simulators/faults.py ArchiveFault: a KARAT-307 that refuses an archive request it could serve
(exception 03) or answers it with the record of another period, driven through the device's
own register access (the pymodbus SimDevice action), without a network."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pymodbus.constants import ExcCodes

from protocol import karat307 as regs
from protocol.periods import to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.faults import ArchiveFault, shifted
from simulators.karat307 import Karat307
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import SimClock, World, commissioning_utc

HOUR = ArchiveKind.HOUR


def _device() -> Karat307:
    scenario = Scenario(BuildingSpec(site="archive-faults", address="x", apartments=2), seed=4,
                        start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    clock = SimClock(world.commissioning + timedelta(days=2, minutes=30), 1.0)
    clock.freeze()
    return Karat307(world, clock, 1)


async def _ask(device: Karat307, kind: ArchiveKind, period: int) -> ExcCodes | list[int]:
    """Write an archive request (FC 16 at 0x0100) and read the record block back, as a client would."""
    registers = [0] * regs.REGISTER_COUNT
    answer = await device.on_access(16, 0, regs.REG_ARCHIVE_REQUEST, 3, registers,
                                    regs.encode_archive_request(kind, period))
    if answer is not None:
        return answer
    return registers[regs.REG_ARCHIVE_RECORD:regs.REG_ARCHIVE_RECORD + regs.RECORD_LENGTH]


# 2025-01-11 05:00 local: (365 + 10) days after 1970-01-01 = 20 099 days; 20 099 * 86 400 + 5 * 3600
FIVE = 20_099 * 86_400 + 5 * 3600
SIX = FIVE + 3600


def test_the_periods_used_here() -> None:
    assert FIVE == to_device_seconds(datetime(2025, 1, 11, 5))


async def test_a_refusal_once_then_the_true_record() -> None:
    device = _device()
    device.archive_fault = ArchiveFault(device, "refuse", periods={FIVE}, times=1)
    assert await _ask(device, HOUR, FIVE) == ExcCodes.ILLEGAL_VALUE
    again = await _ask(device, HOUR, FIVE)
    assert isinstance(again, list)
    assert again == device.record(HOUR, FIVE)
    assert regs.decode_record(HOUR, again).period == FIVE  # type: ignore[union-attr]
    assert device.archive_fault.spoilt == 1


async def test_a_shifted_answer_carries_the_next_hour_in_its_header() -> None:
    device = _device()
    device.archive_fault = ArchiveFault(device, "shift", periods={FIVE})
    block = await _ask(device, HOUR, FIVE)
    assert isinstance(block, list)
    record = regs.decode_record(HOUR, block)
    assert record is not None
    assert record.period == SIX  # asked for 05:00, the header says 06:00
    assert block == device.record(HOUR, SIX)  # and the values are 06:00's
    other = await _ask(device, HOUR, SIX)  # a period the fault does not name is answered truly
    assert other == device.record(HOUR, SIX)
    assert device.archive_fault.spoilt == 1


def test_shifted_periods_of_every_kind() -> None:
    day, month = ArchiveKind.DAY, ArchiveKind.MONTH
    assert shifted(HOUR, FIVE, -2) == FIVE - 2 * 3600
    assert shifted(day, to_device_seconds(datetime(2024, 3, 1)), -1) == to_device_seconds(datetime(2024, 2, 29))
    assert shifted(month, to_device_seconds(datetime(2025, 1, 1)), 2) == to_device_seconds(datetime(2025, 3, 1))


def test_a_bad_archive_fault_is_refused() -> None:
    device = _device()
    with pytest.raises(ValueError, match="fault"):
        ArchiveFault(device, "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        ArchiveFault(device, "refuse", times=-1)
    with pytest.raises(ValueError, match="shift"):
        ArchiveFault(device, "shift", shift=0)
