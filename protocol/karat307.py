"""Modbus register map of the KARAT-307 heat calculator (holding registers, FC 03 / 16).

32-bit values take two registers, high word first. The edge reads an archive record by
writing the wanted archive kind and period start to the request block, then reading the
record block; a period outside the archive depth is refused with exception 03 (illegal
data value) on the write. Full table: docs/protocols.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind

MODEL_CODE = 307

REG_CLOCK = 0x0000  # 2 registers, device seconds, read/write
REG_MODEL = 0x0002  # 1 register
REG_SERIAL = 0x0003  # 2 registers
REG_ARCHIVE_REQUEST = 0x0100  # 3 registers: kind, period start (2)
REG_ARCHIVE_RECORD = 0x0110  # RECORD_LENGTH registers
REGISTER_COUNT = 0x0120  # size of the register space the device answers for

KIND_CODES = {ArchiveKind.HOUR: 1, ArchiveKind.DAY: 2, ArchiveKind.MONTH: 3}
_KIND_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}

STATUS_OK = 0
STATUS_EMPTY = 1  # no record for that period (not reached yet, or none was ever requested)

# Channels: 1 = heat input (Q, V1, V2, T1, T2), 2 = hot water (V), 3 = cold water (V).
CHANNEL_HEAT, CHANNEL_HOT_WATER, CHANNEL_COLD_WATER = 1, 2, 3
RECORD_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Karat307Record:
    """One integral archive record of the heat calculator, readings at the period end."""

    kind: ArchiveKind
    period: int  # device seconds
    heat_kcal: int
    supply_litres: int
    return_litres: int
    supply_temp_centi: int  # period mean, 0.01 degC
    return_temp_centi: int
    hot_water_litres: int
    cold_water_litres: int
    flags: int = 0

    def values(self) -> dict[int, dict[str, float]]:
        return {
            CHANNEL_HEAT: {
                "Q": self.heat_kcal / 1e6,
                "V1": self.supply_litres / 1e3,
                "V2": self.return_litres / 1e3,
                "T1": self.supply_temp_centi / 100,
                "T2": self.return_temp_centi / 100,
            },
            CHANNEL_HOT_WATER: {"V": self.hot_water_litres / 1e3},
            CHANNEL_COLD_WATER: {"V": self.cold_water_litres / 1e3},
        }


def u32_to_registers(value: int) -> list[int]:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{value} does not fit an unsigned 32-bit register pair")
    return [value >> 16, value & 0xFFFF]


def registers_to_u32(registers: list[int], field: str = "u32") -> int:
    if len(registers) != 2 or any(not 0 <= r <= 0xFFFF for r in registers):
        raise DecodeError(field, f"expected two 16-bit registers, got {registers!r}")
    return registers[0] << 16 | registers[1]


def _i16(value: int) -> int:
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"{value} does not fit a signed 16-bit register")
    return value & 0xFFFF


def _from_i16(register: int) -> int:
    return register - 0x10000 if register & 0x8000 else register


def encode_archive_request(kind: ArchiveKind, period: int) -> list[int]:
    return [KIND_CODES[kind], *u32_to_registers(period)]


def decode_archive_request(registers: list[int]) -> tuple[ArchiveKind, int]:
    if len(registers) != 3:
        raise DecodeError("archive_request", f"expected 3 registers, got {len(registers)}")
    kind = _KIND_BY_CODE.get(registers[0])
    if kind is None:
        raise DecodeError("archive_request.kind", f"unknown archive kind code {registers[0]}")
    return kind, registers_to_u32(registers[1:3], "archive_request.period")


def encode_record(record: Karat307Record) -> list[int]:
    return [
        STATUS_OK,
        *u32_to_registers(record.period),
        *u32_to_registers(record.heat_kcal),
        *u32_to_registers(record.supply_litres),
        *u32_to_registers(record.return_litres),
        _i16(record.supply_temp_centi),
        _i16(record.return_temp_centi),
        *u32_to_registers(record.hot_water_litres),
        *u32_to_registers(record.cold_water_litres),
        record.flags & 0xFFFF,
    ]


def empty_record() -> list[int]:
    return [STATUS_EMPTY] + [0] * (RECORD_LENGTH - 1)


def decode_record(kind: ArchiveKind, registers: list[int]) -> Karat307Record | None:
    """Decode the record block; None when the device has no record for the period."""
    if len(registers) != RECORD_LENGTH:
        raise DecodeError("record", f"expected {RECORD_LENGTH} registers, got {len(registers)}")
    if registers[0] == STATUS_EMPTY:
        return None
    if registers[0] != STATUS_OK:
        raise DecodeError("record.status", f"unknown status {registers[0]}")
    r = registers
    return Karat307Record(
        kind=kind,
        period=registers_to_u32(r[1:3], "record.period"),
        heat_kcal=registers_to_u32(r[3:5], "record.Q"),
        supply_litres=registers_to_u32(r[5:7], "record.V1"),
        return_litres=registers_to_u32(r[7:9], "record.V2"),
        supply_temp_centi=_from_i16(r[9]),
        return_temp_centi=_from_i16(r[10]),
        hot_water_litres=registers_to_u32(r[11:13], "record.hot_water"),
        cold_water_litres=registers_to_u32(r[13:15], "record.cold_water"),
        flags=r[15],
    )
