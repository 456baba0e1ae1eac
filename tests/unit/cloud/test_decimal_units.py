"""The archive's Decimal64(6) values (cloud/storage/clickhouse.py ``decimal_units``): each float
is stored as the integer count of 1e-6 nearest to its shortest decimal form (``repr``; an exact
half goes to the even count). KARAT registers are integer counts of 1e-6 Gcal, 1e-3 m3, 1e-3 kWh
or 1e-2 degC, so a value computed from a register lies within a rounding error of a six-decimal
number: the nearest count is the register's own.
(clickhouse-connect's row insert truncates the shortest repr, and stored 112.34567799999999 -
112,345,678 kcal * 1e-6 as a float product - as 112.345677, a unit short.)"""

from __future__ import annotations

import decimal
import random
import struct
from decimal import Decimal

import pytest

from cloud.storage.clickhouse import MAX_VALUE, decimal_units


@pytest.mark.parametrize(
    ("value", "units"),
    [
        (1.49, 1_490_000),  # the float is 1.48999999999999999112...: nearest count 1,490,000
        (-1.49, -1_490_000),
        (5.123456, 5_123_456),
        (112.34567799999999, 112_345_678),  # 1.4e-14 below 112.345678: the nearest count
        (-112.34567799999999, -112_345_678),
        (0.1 + 0.2, 300_000),  # 0.30000000000000004
        (0.0, 0),
        (-0.0, 0),
        (4e-7, 0),  # 0.4 units
        (6e-7, 1),  # 0.6 units
        (-2.6e-6, -3),
        (1.0000014, 1_000_001),
        (4500.0, 4_500_000_000),
        (12_345_678.9, 12_345_678_900_000),
        (67_108_864.5, 67_108_864_500_000),  # 2**26 + 0.5: the one-by-one way
        (100_000_000_000.1, 100_000_000_000_100_000),  # its shortest form has one decimal
        (5e-7, 0),  # exactly half a unit: to the even count
        (1.5e-6, 2),
        (2.5e-6, 2),
        (-MAX_VALUE, -1_000_000_000_000_000_000),
    ],
)
def test_units_written_by_hand(value: float, units: int) -> None:
    assert decimal_units([value]).tolist() == [units]


def _nearest(x: float) -> int:
    """The count of 1e-6 nearest to the float's shortest decimal form, in exact decimal
    arithmetic; a half goes to the even count."""
    with decimal.localcontext() as context:
        context.prec = 60
        return int((Decimal(repr(x)) * 10**6).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def test_units_are_the_nearest_count_for_many_floats() -> None:
    rng = random.Random(7)
    values = [12.345678 + i for i in range(20_000)]  # sums a unit of the last place off
    values += [rng.randrange(-10**12, 10**12) * 1e-6 for _ in range(20_000)]  # registers times a scale
    values += [rng.randrange(-10**12, 10**12) / 10 ** rng.randrange(0, 9) for _ in range(20_000)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(20_000)]
    values += [(k + 0.5) / 1e6 for k in range(-5_000, 5_000)]  # near ties
    for _ in range(20_000):  # any bit pattern within the column's range
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        values.append(x if abs(x) <= MAX_VALUE else 0.25)
    assert decimal_units(values).tolist() == [_nearest(x) for x in values]
