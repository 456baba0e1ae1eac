"""Consumption by premises (manual 4.1.4), each apartment meter's sign in the building balance (4.6.5),
and the building page's period totals (4.1.2).

The signs live in the registry (meters.balance_sign: '+', '-' or 'excluded'); reading them is for
whoever sees accounting, changing them for a dispatcher without reader status, audited meter by
meter. The figures come from AccountingService (the rules of 4.1.5) and balance_rules; nothing is
recomputed here. Tests: tests/integration/test_balance.py, tests/unit/cloud/test_balance_rules.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cloud.services import audit
from cloud.services import consumption as calc
from cloud.services.accounting import AccountingService, ChannelAmounts, ChannelConsumption
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.balance_rules import PeriodTotal, Sign, parse_sign, period_total, share_pct, specific
from cloud.services.models import (
    BuildingConsumption,
    BuildingSummary,
    Figure,
    Granularity,
    InvalidInput,
    NotFound,
    PremiseInfo,
    Role,
    UserInfo,
    check_day,
    check_id,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

MAX_CHANGES = 10_000  # sign changes in one request: more than any building has apartment meters


@dataclass(frozen=True, slots=True)
class BalanceMeter:
    """An apartment meter with its place in the building balance."""

    meter_id: int
    serial: str
    model: str
    premise_id: int | None
    premise_number: str | None
    resources: tuple[Resource, ...]
    status: str  # "in_service", "commissioning", "decommissioned"
    sign: Sign


@dataclass(frozen=True, slots=True)
class BalanceSigns:
    """The building's apartment meters by balance sign (manual 4.6.5)."""

    building: BuildingSummary
    meters: tuple[BalanceMeter, ...]
    editable: bool  # the caller may change them: a dispatcher without reader status


@dataclass(frozen=True, slots=True)
class SignChange:
    meter_id: int
    sign: Sign


@dataclass(frozen=True, slots=True)
class BuildingBalance:
    """The building page (4.1.2): the consumption by period and the view's totals with the period rule."""

    consumption: BuildingConsumption
    total: PeriodTotal


@dataclass(frozen=True, slots=True)
class PremiseFigures:
    """One premise's row of manual 4.1.4."""

    premise: PremiseInfo
    meters: tuple[str, ...]  # serials of its meters of the resource
    figure: Figure  # consumption of the period: the known sum, how many meters expected / known / suspect
    specific: float | None  # per m² (heat) or per resident; of the known part when ``figure`` is partial
    specific_missing: str | None  # why null: "no_value", "no_area", "no_residents"
    share_pct: float | None  # % of the building meter
    share_missing: str | None  # why null: "no_building_meter", "building_incomplete", "premise_incomplete", ...


@dataclass(frozen=True, slots=True)
class PremisesConsumption:
    """Consumption by premises of one day or one month (manual 4.1.4)."""

    building: BuildingSummary
    resource: Resource
    unit: str
    specific_basis: str  # "area" (heat, per m²) or "residents" (per resident)
    granularity: Granularity  # day: the day ``period``; month: the month of ``period``
    period: date
    period_start: datetime | None  # local start of the period; null when no meter has data for it
    has_building_meter: bool
    building_figure: Figure  # the building meters' consumption of the period
    premises_figure: Figure  # Σ of the premises shown (no balance signs: this is consumption, not balance)
    premises: tuple[PremiseFigures, ...]
    unmetered: int  # premises of the building without a meter of the resource (not shown)
    available_resources: tuple[Resource, ...]
    derived_from: tuple[str, ...] = ()


class BalanceService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        """"Now" for this service and the accounting rules it uses (Services.set_clock)."""
        self._clock = clock
        self.accounting.clock = clock

    async def _reader(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "the accounting section is not available to administrators")

    # --- 4.6.5 the signs --------------------------------------------------------------------

    async def balance_signs(self, token: str, building_id: int) -> BalanceSigns:
        user = await self._reader(token)
        return await asyncio.to_thread(self._signs, user, building_id)

    def _signs(self, user: UserInfo, building_id: int) -> BalanceSigns:
        building = self.accounting.scoped_building(user, building_id)
        meters = [m for m in self.accounting.scoped_meters(user, building_id) if m.role is MeterRole.INDIVIDUAL]
        signs = self.accounting.balance_signs(building_id)
        editable = not user.reader and user.role is Role.DISPATCHER
        return BalanceSigns(building, tuple(
            BalanceMeter(m.id, m.serial, m.model, m.premise_id, m.premise_number, m.resources, m.status, signs[m.id])
            for m in meters), editable)

    async def set_balance_signs(self, token: str, building_id: int,
                                changes: Sequence[SignChange | tuple[int, str]]) -> BalanceSigns:
        """Give apartment meters of the building a sign (manual 4.6.5): a dispatcher only; every change
        audited with the sign before and after; all or nothing."""
        user = require_dispatcher(await self._reader(token))
        return await asyncio.to_thread(self._set_signs, user, building_id, changes)

    def _set_signs(self, user: UserInfo, building_id: int,
                   changes: Sequence[SignChange | tuple[int, str]]) -> BalanceSigns:
        self.accounting.scoped_building(user, building_id)
        if len(changes) > MAX_CHANGES:
            raise InvalidInput(f"changes: at most {MAX_CHANGES} in one request, got {len(changes)}")
        wanted: dict[int, Sign] = {}
        for index, change in enumerate(changes):
            meter_id, sign = (change.meter_id, change.sign) if isinstance(change, SignChange) else change
            check_id(f"changes[{index}].meter_id", meter_id)
            if meter_id in wanted:
                raise InvalidInput(f"changes[{index}].meter_id: meter {meter_id} is named twice")
            wanted[meter_id] = parse_sign(sign, f"changes[{index}]")
        with self.registry.connect() as db:
            rows = {r["id"]: r for r in db.execute(
                "SELECT id, serial, role, balance_sign FROM meters WHERE building_id = ? AND company_id = ?",
                (building_id, user.company_id)).fetchall()}
            for meter_id, sign in wanted.items():
                row = rows.get(meter_id)
                if row is None:
                    raise NotFound(f"meter {meter_id} not found in building {building_id}")
                if row["role"] != MeterRole.INDIVIDUAL.value:
                    raise InvalidInput(f"meter {row['serial']} is a building meter: only apartment meters have a "
                                       "sign in the building balance")
                if row["balance_sign"] == sign.value:
                    continue
                db.execute("UPDATE meters SET balance_sign = ? WHERE id = ?", (sign.value, meter_id))
                audit.record(db, user, "meter.balance_sign", f"meter:{meter_id}",
                             {"balance_sign": row["balance_sign"], "serial": row["serial"]},
                             {"balance_sign": sign.value, "serial": row["serial"]})
        return self._signs(user, building_id)

    # --- 4.1.2 the period totals -----------------------------------------------------------------

    async def building_balance(self, token: str, building_id: int, resource: Resource, granularity: Granularity,
                               period: date) -> BuildingBalance:
        """The building consumption (AccountingService.building_consumption) with the view's totals:
        the total's imbalance only when every period up to now is complete (``period_total``)."""
        data = await self.accounting.building_consumption(token, building_id, resource, granularity, period)
        now = utc_to_local(self.clock(), zone(data.building.time_zone))
        return BuildingBalance(data, period_total(data.points, granularity, period, now, data.has_building_meter,
                                                  data.has_apartment_meters))

    # --- 4.1.4 consumption by premises -------------------------------------------------------------

    async def premises_consumption(self, token: str, building_id: int, resource: Resource,
                                   granularity: Granularity, period: date) -> PremisesConsumption:
        """Each premise's consumption of one day (granularity day) or one month (month) by its meters
        of ``resource``, its specific consumption and its share of the building meter."""
        await self._reader(token)
        if granularity not in (Granularity.DAY, Granularity.MONTH):
            raise InvalidInput(f"granularity: day (one day) or month (one month), got {granularity.value!r}")
        check_day("period", period)
        if granularity is Granularity.MONTH:
            period = period.replace(day=1)
        premises = await self.accounting.premises(token, building_id)
        data = await self.accounting.channel_consumption(token, building_id, resource, granularity, period,
                                                         whole_view=False)
        totals = [c for c in data.channels if c.tariff == calc.TOTAL]
        common = [c for c in totals if c.meter.role is MeterRole.COMMON]
        has_building = bool(common)
        building_figure = _figure(common, bool(data.labels))
        by_premise: dict[int, list[ChannelAmounts]] = {}
        for c in totals:
            if c.meter.role is MeterRole.INDIVIDUAL and c.meter.premise_id is not None:
                by_premise.setdefault(c.meter.premise_id, []).append(c)
        basis = "area" if resource is Resource.HEAT else "residents"
        rows = []
        for premise in premises:
            channels = by_premise.get(premise.id)
            if not channels:
                continue
            figure = _figure(channels, bool(data.labels))
            rows.append(PremiseFigures(
                premise, tuple(dict.fromkeys(c.meter.serial for c in channels)), figure,
                *_specific(figure, premise, basis), *_share(figure, building_figure, has_building)))
        return PremisesConsumption(
            data.building, resource, data.unit, basis, granularity, period, data.labels[0] if data.labels else None,
            has_building, building_figure, calc.total(r.figure for r in rows), tuple(rows),
            len(premises) - len(rows), _resources(data), data.derived_from)


def _figure(channels: list[ChannelAmounts], shown: bool) -> Figure:
    """The figure of the single period over these channels (nothing expected when the period has no data)."""
    return calc.figure(c.amounts[0] for c in channels) if shown else Figure()


def _specific(figure: Figure, premise: PremiseInfo, basis: str) -> tuple[float | None, str | None]:
    divisor = premise.area_m2 if basis == "area" else float(premise.residents)
    if figure.value is None:
        return None, "no_value"
    if divisor <= 0:
        return None, "no_area" if basis == "area" else "no_residents"
    return specific(figure, divisor), None


def _share(figure: Figure, building: Figure, has_building: bool) -> tuple[float | None, str | None]:
    if not has_building:
        return None, "no_building_meter"
    value = share_pct(figure, building)
    if value is not None:
        return value, None
    if not building.expected or not building.complete:
        return None, "building_incomplete"
    if not figure.expected or not figure.complete:
        return None, "premise_incomplete"
    return None, "building_zero"


def _resources(data: ChannelConsumption) -> tuple[Resource, ...]:
    found = {c.resource for m in data.meters for c in m.channels}
    return tuple(r for r in Resource if r in found)
