"""The register's rules (manual 4.1.5) on hand-made amounts: the period a day or a month, one column
per resource and per electricity tariff zone (never added), a cell's «–*» for a sole missing meter,
the known sum marked «*» when one of several is missing, "—" where no meter is expected."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cloud.services import consumption as calc
from cloud.services.consumption import Amount, State
from cloud.services.meter_series import Cell, Channel
from cloud.services.models import ChannelInfo, Granularity, InvalidInput, MeterInfo
from cloud.services.register import cells_of, columns_of, label_of
from protocol.vocabulary import MeterRole, Resource

HEAT, EL = Resource.HEAT, Resource.ELECTRICITY


def _channel(serial: str, resource: Resource, number: int = 1, tariff: str = "total") -> Channel:
    parameter = "E" if resource is EL else ("Q" if resource is HEAT else "V")
    info = ChannelInfo(number, resource, (parameter,), tariff if resource is EL else None)
    meter = MeterInfo(1, serial, "test", MeterRole.INDIVIDUAL, 1, 1, "1", (info,), "", "hour", "in_service")
    return Channel(meter, info, resource, parameter, tariff, calc.Source())


def test_the_period_is_one_day_or_one_month() -> None:
    assert label_of(Granularity.DAY, date(2026, 1, 11)) == datetime(2026, 1, 11)
    assert label_of(Granularity.MONTH, date(2026, 1, 20)) == datetime(2026, 1, 1)  # the month the day falls in
    with pytest.raises(InvalidInput, match="granularity"):
        label_of(Granularity.HOUR, date(2026, 1, 11))
    with pytest.raises(InvalidInput, match="period"):
        label_of(Granularity.DAY, date(1999, 12, 31))


def test_columns_by_resource_with_tariff_zones_apart() -> None:
    chans = [_channel("E1", EL, 3, "T2"), _channel("E1", EL, 1), _channel("E1", EL, 2, "T1"), _channel("H1", HEAT),
             _channel("W1", Resource.COLD_WATER)]
    assert [(c.resource, c.tariff, c.unit) for c in columns_of(chans)] == [
        (HEAT, "total", "Gcal"), (Resource.COLD_WATER, "total", "m3"),
        (EL, "total", "kWh"), (EL, "T1", "kWh"), (EL, "T2", "kWh")]


def test_cells_sole_missing_several_one_missing_and_none_expected() -> None:
    a, b, c = _channel("A", HEAT), _channel("B", HEAT), _channel("C", HEAT)
    e_total, e_t1 = _channel("E", EL, 1), _channel("E", EL, 2, "T1")
    columns = columns_of([a, e_total, e_t1])
    amounts = {a.key: Amount(State.MISSING), b.key: Amount(State.MEASURED, 1.77), c.key: Amount(State.MISSING),
               e_total.key: Amount(State.MEASURED, 12.5), e_t1.key: Amount(State.MEASURED, 8.0)}
    # a sole heat meter without a value: null («–*»), not 0
    assert cells_of(columns, [a], amounts)[0] == Cell(None, False, 1, 0, 0, False)
    # two heat meters, one missing: the other's 1.77 known of 2 («1,770*»)
    assert cells_of(columns, [b, c], amounts)[0] == Cell(1.77, False, 2, 1, 0, False)
    # a premise with only electricity: heat expects nobody ("—"); the total 12.5 and T1 8.0 apart, not 20.5
    assert cells_of(columns, [e_total, e_t1], amounts) == (Cell(None, True, 0, 0, 0, False),
                                                          Cell(12.5, True, 1, 1, 0, False),
                                                          Cell(8.0, True, 1, 1, 0, False))
    # a meter out of service in the period is not expected, so not missing
    assert cells_of(columns, [a], {a.key: Amount(State.NOT_EXPECTED)})[0] == Cell(None, True, 0, 0, 0, False)


def test_suspect_and_derived_marks() -> None:
    a, b = _channel("A", HEAT), _channel("B", HEAT)
    columns = columns_of([a])
    amounts = {a.key: Amount(State.SUSPECT), b.key: Amount(State.MEASURED, 0.5, derived=True)}
    # the suspect increment is left out like a missing one, counted on its own; the known part came from a finer archive
    assert cells_of(columns, [a, b], amounts)[0] == Cell(0.5, False, 2, 1, 1, True)
