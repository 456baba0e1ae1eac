"""The consumption register of a building (manual 4.1.5, «Реестр потребления ресурсов на объекте»):
a map of one day's or one month's consumption, a row per premise and one for the building
meters, a column per resource (electricity: the total and each tariff zone apart, never added).

A day comes from the daily archives, a month from the monthly archives by each meter's own
reporting period (its reporting day; the manual warns these need not line up). Where a meter
gives no archive of that kind the value is derived from a finer one and marked derived
(DESIGN.md section 5). Nothing missing is invented: a cell whose meters all lack a value is
null (``–*``), one where some of several lack it is their known sum, not complete (``1,77*``);
the column totals over the premises are marked the same way. Scope and roles as in the
accounting section: the user's company only, administrators not at all.
Tests: tests/unit/cloud/test_register_rules.py, tests/integration/test_register.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cloud.services import consumption as calc
from cloud.services import meter_series as series
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.meter_series import Cell
from cloud.services.models import (
    FIRST_DAY,
    BuildingSummary,
    Granularity,
    InvalidInput,
    MeterInfo,
    PremiseInfo,
    check_day,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, MeterRole, Resource

GRANULARITIES = (Granularity.DAY, Granularity.MONTH)


@dataclass(frozen=True, slots=True)
class RegisterColumn:
    """One column of the register: a resource, and for electricity one tariff zone or the total."""

    resource: Resource
    tariff: str  # "total", or "T1" (day), "T2" (night) ...: each its own column, never added together
    parameter: str  # the consumption parameter: Q (heat), V (water, gas), E (electricity)
    unit: str  # "Gcal", "m3", "kWh"


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """The building meters (``premise`` null) or one premise, with a cell per column."""

    premise: PremiseInfo | None
    meters: tuple[str, ...]  # serials of the row's meters (any resource)
    cells: tuple[Cell, ...]  # aligned with the register's columns; empty when the register has no data


@dataclass(frozen=True, slots=True)
class ConsumptionRegister:
    building: BuildingSummary
    granularity: Granularity  # day: from daily archives; month: from monthly ones by each meter's reporting day
    period: datetime  # local start of the day, or the first of the month
    columns: tuple[RegisterColumn, ...]
    building_row: RegisterRow | None  # the building (common) meters; None when the building has none
    rows: tuple[RegisterRow, ...]  # every premise, in number order
    totals: tuple[Cell, ...]  # per column, over the premises' meters, marked like the cells
    has_data: bool  # false: no archive of the building's meters reaches into the period (nothing to show)
    running: bool  # the period has not ended yet: its values cannot be complete
    derived_from: tuple[str, ...] = ()  # finer archive kinds ("hour", "day") some values were derived from


def label_of(granularity: Granularity, period: date) -> datetime:
    """The local start of the register's period: the day, or the month ``period`` falls in."""
    if granularity not in GRANULARITIES:
        raise InvalidInput(f"granularity: day or month, got {granularity.value!r}")
    check_day("period", period)
    if granularity is Granularity.MONTH:
        return datetime(period.year, period.month, 1)
    return datetime(period.year, period.month, period.day)


def columns_of(chans: Sequence[series.Channel]) -> tuple[RegisterColumn, ...]:
    """The register's columns: each resource the channels measure in the vocabulary's order, its
    total first, then its tariff zones in order."""
    out: list[RegisterColumn] = []
    for resource in Resource:
        tariffs = {c.tariff for c in chans if c.resource is resource}
        if not tariffs:
            continue
        parameter = CONSUMPTION_PARAMETER[resource]
        unit = PARAMETERS[parameter].unit
        zones = ([calc.TOTAL] if calc.TOTAL in tariffs else []) + sorted(tariffs - {calc.TOTAL})
        out.extend(RegisterColumn(resource, z, parameter, unit) for z in zones)
    return tuple(out)


def cells_of(columns: Sequence[RegisterColumn], chans: Sequence[series.Channel],
             amounts: dict[series.Key, calc.Amount]) -> tuple[Cell, ...]:
    """Per column, the figure over the channels of its resource and tariff: a sole meter without a
    value gives null, one of several the others' known sum, not complete; no meter gives expected 0."""
    return tuple(Cell.of(calc.figure(amounts[c.key] for c in chans
                                     if c.resource is col.resource and c.tariff == col.tariff))
                 for col in columns)


def _premise_order(premise: PremiseInfo) -> tuple[int, int, str]:
    number = premise.number
    return (0, int(number), number) if number.isdigit() else (1, 0, number)


class RegisterService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope checks and registry reads
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def register(self, token: str, building_id: int, granularity: Granularity,
                       period: date) -> ConsumptionRegister:
        """The register of the day ``period`` (granularity day) or of its month (granularity month)."""
        user = require_operational_view(await self.auth.user(token),
                                        "the consumption register is not available to administrators")
        label = label_of(granularity, period)
        building = await self.accounting.building(token, building_id)
        meters, premises = await asyncio.gather(self.accounting.meters(token, building_id),
                                                self.accounting.premises(token, building_id))
        tz = zone(building.time_zone)
        chans = await asyncio.to_thread(series.channels, self.registry, meters, Resource)
        columns = columns_of(chans)
        span = await series.data_span(self.ch, user.company_id, [m.serial for m in meters], tz)
        has_data = series.overlaps(span, granularity, label)
        found = await series.amounts(self.ch, user.company_id, chans if has_data else [], granularity, [label], tz)
        amounts = {key: values[0] for key, values in found.items() if values}
        now = utc_to_local(self.clock(), tz)

        def row(premise: PremiseInfo | None, mine: list[MeterInfo]) -> RegisterRow:
            ids = {m.id for m in mine}
            cells = cells_of(columns, [c for c in chans if c.meter.id in ids], amounts) if has_data else ()
            return RegisterRow(premise, tuple(m.serial for m in mine), cells)

        common = [m for m in meters if m.role is MeterRole.COMMON]
        rows = tuple(row(p, [m for m in meters if m.premise_id == p.id and m.role is MeterRole.INDIVIDUAL])
                     for p in sorted(premises, key=_premise_order))
        individual = [c for c in chans if c.meter.role is MeterRole.INDIVIDUAL and c.meter.premise_id is not None]
        totals = cells_of(columns, individual, amounts) if has_data else ()
        return ConsumptionRegister(building, granularity, label, columns, row(None, common) if common else None,
                                   rows, totals, has_data, calc.span(granularity, label)[1] > now,
                                   series.derived_from(chans, granularity) if has_data else ())

    async def default_period(self, token: str, building_id: int, granularity: Granularity) -> date:
        """Where the page opens: the day of the newest data (the day before when that day is still
        running), or the month of the newest data."""
        newest = await self.accounting.default_period(token, building_id)
        if granularity is Granularity.MONTH:
            return newest.replace(day=1)
        building = await self.accounting.building(token, building_id)
        today = utc_to_local(self.clock(), zone(building.time_zone)).date()
        if newest >= today:  # today's values are not complete before midnight
            newest = max(today - timedelta(days=1), FIRST_DAY)
        return newest
