"""The verification calendar: meters and sensors due in a period (manual 4.5.4).

Meters carry ``verified_on`` / ``next_verification_on`` (registry migration 3), their sensors the same
(``meter_sensors``, cloud/storage/registry_ddl/meters_service.py). The list of a period holds what falls
due in it and what is overdue before it; the calendar counts items per month of a year and per day of a
month, by model too; "today" is each building's local date. A decommissioned meter and its sensors are
due never. Filters (building, model, number, resource, ИПУ/ОДПУ, meter or sensor) where choosing every
option is choosing none. Rules: cloud/services/verification_rules.py.

Who: dispatchers and engineers of the company, readers too (it only reads); an administrator none
(NotFound, manual 2.3). Another company's meters are never listed.
Tests: tests/unit/cloud/test_verification_rules.py, tests/integration/test_service_meters.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from cloud.services import service_meters_rules as list_rules
from cloud.services import verification_rules as rules
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.models import InvalidInput, UserInfo, check_id, meter_status, parse_lifecycle
from cloud.services.verification_rules import Count
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import zone
from protocol.vocabulary import MeterRole, Resource

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

_REFUSAL = "the verification calendar is not available to administrators"
KINDS = ("meter", "sensor")


@dataclass(frozen=True, slots=True)
class VerificationFilter:
    building_ids: tuple[int, ...] = ()
    models: tuple[str, ...] = ()
    number: str = ""  # part of the meter's or the sensor's serial
    resources: tuple[Resource, ...] = ()
    roles: tuple[MeterRole, ...] = ()  # individual (ИПУ) / common (ОДПУ)
    kinds: tuple[str, ...] = ()  # "meter", "sensor"


@dataclass(frozen=True, slots=True)
class VerificationItem:
    """A meter (``sensor_id`` None) or one of its sensors due for verification."""

    kind: str  # "meter" or "sensor"
    meter_id: int
    sensor_id: int | None
    building_id: int
    address: str
    premise_number: str | None
    meter_serial: str
    model: str
    role: MeterRole
    sensor_serial: str | None
    sensor_kind: str | None
    next_verification_on: date
    resources: tuple[Resource, ...]
    overdue: bool  # the date is before the building's today


@dataclass(frozen=True, slots=True)
class VerificationOptions:
    buildings: tuple[tuple[int, str], ...]  # (id, address)
    models: tuple[str, ...]
    resources: tuple[Resource, ...]


@dataclass(frozen=True, slots=True)
class VerificationList:
    first: date
    last: date
    today: date  # in the company city's time zone (each item's ``overdue`` is judged by its building's)
    items: tuple[VerificationItem, ...]  # by date, then address
    options: VerificationOptions

    @property
    def overdue(self) -> int:
        return sum(i.overdue for i in self.items)


@dataclass(frozen=True, slots=True)
class VerificationCalendar:
    year: int
    month: int | None
    today: date
    months: tuple[Count, ...]  # the twelve months of ``year``
    days: tuple[Count, ...]  # the days of ``month`` (empty without one)
    total: int  # items due in the year
    overdue_before: int  # overdue items whose date is before the year (or the month) shown
    options: VerificationOptions


class VerificationService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str, filters: VerificationFilter | None) -> tuple[UserInfo, VerificationFilter]:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        filters = filters or VerificationFilter()
        for i in filters.building_ids:
            check_id("building_ids", i)
        for kind in filters.kinds:
            if kind not in KINDS:
                raise InvalidInput(f"kinds: one of {', '.join(KINDS)}, got {kind!r}")
        if len(filters.number) > 64:
            raise InvalidInput("number: at most 64 characters")
        return user, filters

    async def due(self, token: str, first: date, last: date, filters: VerificationFilter | None = None
                  ) -> VerificationList:
        """Meters and sensors due in [first, last], and those overdue before it (flagged)."""
        rules.check_period(first, last)
        user, filters = await self._viewer(token, filters)
        items, options, today = await asyncio.to_thread(self._items, user, filters)
        listed = [i for i in items if rules.listed(i.next_verification_on, first, last, _today_of(i, today))]
        return VerificationList(first, last, today[0], tuple(listed), options)

    async def today(self, token: str) -> date:
        """Today in the company city's time zone: the pages' default period."""
        user, _ = await self._viewer(token, None)
        return (await asyncio.to_thread(self._items, user, VerificationFilter()))[2][0]

    async def scheduled(self, token: str, first: date, last: date, filters: VerificationFilter | None = None
                        ) -> VerificationList:
        """Only the items whose date falls in [first, last] (a day or a month of the calendar; overdue ones of
        those flagged), without the earlier overdue ones."""
        rules.check_period(first, last)
        user, filters = await self._viewer(token, filters)
        items, options, today = await asyncio.to_thread(self._items, user, filters)
        return VerificationList(first, last, today[0],
                                tuple(i for i in items if first <= i.next_verification_on <= last), options)

    async def calendar(self, token: str, year: int, month: int | None = None,
                       filters: VerificationFilter | None = None) -> VerificationCalendar:
        """Counts per month of ``year`` and, with ``month``, per day of it (by model too)."""
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise InvalidInput(f"year: from 2000 to 2100, got {year!r}")
        if month is not None and (isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12):
            raise InvalidInput(f"month: from 1 to 12, got {month!r}")
        user, filters = await self._viewer(token, filters)
        items, options, today = await asyncio.to_thread(self._items, user, filters)
        counted = [(i.next_verification_on, i.overdue, i.model) for i in items]
        months = rules.month_counts(counted, year)
        days = rules.day_counts(counted, year, month) if month is not None else ()
        start = date(year, month or 1, 1)
        before = sum(1 for i in items if i.overdue and i.next_verification_on < start)
        return VerificationCalendar(year, month, today[0], months, days,
                                    sum(c.count for c in months), before, options)

    def _items(self, user: UserInfo, f: VerificationFilter
               ) -> tuple[list[VerificationItem], VerificationOptions, dict[int, date]]:
        """Every due-able item of the company passing ``f``; and each building's today (key 0: the company's)."""
        now = self.clock()
        with self.registry.connect() as db:
            meters = db.execute(
                "SELECT m.*, b.address, b.time_zone, p.number AS premise_number FROM meters m "
                "JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id "
                "WHERE m.company_id = ?", (user.company_id,)).fetchall()
            resources = _meter_resources(db, user)
            sensors = db.execute("SELECT s.* FROM meter_sensors s JOIN meters m ON m.id = s.meter_id "
                                 "WHERE m.company_id = ? AND s.next_verification_on IS NOT NULL "
                                 "ORDER BY s.serial", (user.company_id,)).fetchall()
            bound = _sensor_resources(db, user)
            buildings = db.execute("SELECT id, address FROM buildings WHERE company_id = ? ORDER BY address, id",
                                   (user.company_id,)).fetchall()
            city = db.execute("SELECT ci.time_zone FROM companies co JOIN cities ci ON ci.name = co.city "
                              "WHERE co.id = ?", (user.company_id,)).fetchone()
        today: dict[int, date] = {0: now.astimezone(zone(city["time_zone"])).date() if city else now.date()}
        items: list[VerificationItem] = []
        by_id = {m["id"]: m for m in meters}
        live = set()
        for m in meters:
            life = parse_lifecycle(m)
            if not rules.may_be_due(meter_status(life["commissioned_at"], life["decommissioned_at"], now, m["status"])):
                continue
            live.add(m["id"])
            today.setdefault(m["building_id"], now.astimezone(zone(m["time_zone"])).date())
            if m["next_verification_on"]:
                items.append(_item(m, None, date.fromisoformat(m["next_verification_on"]),
                                   resources.get(m["id"], ()), today[m["building_id"]]))
        for s in sensors:
            if s["meter_id"] in live:
                m = by_id[s["meter_id"]]
                items.append(_item(m, s, date.fromisoformat(s["next_verification_on"]),
                                   bound.get(s["id"]) or resources.get(m["id"], ()), today[m["building_id"]]))
        options = VerificationOptions(tuple((b["id"], b["address"]) for b in buildings),
                                      tuple(sorted({m["model"] for m in meters})),
                                      tuple(r for r in Resource if any(r in v for v in resources.values())))
        chosen_buildings = list_rules.effective(f.building_ids, (b for b, _ in options.buildings))
        chosen_models = list_rules.effective(f.models, options.models)
        chosen_resources = list_rules.effective((Resource(r) for r in f.resources), options.resources)
        chosen_roles = list_rules.effective((MeterRole(r) for r in f.roles), MeterRole)
        chosen_kinds = list_rules.effective(f.kinds, KINDS)
        passing = [i for i in items
                   if list_rules.allows(chosen_buildings, (i.building_id,))
                   and list_rules.allows(chosen_models, (i.model,))
                   and list_rules.allows(chosen_resources, i.resources)
                   and list_rules.allows(chosen_roles, (i.role,)) and list_rules.allows(chosen_kinds, (i.kind,))
                   and (list_rules.contains(f.number, i.meter_serial)
                        or list_rules.contains(f.number, i.sensor_serial or ""))]
        passing.sort(key=lambda i: (i.next_verification_on, i.address, list_rules.natural_key(i.premise_number or ""),
                                    i.meter_serial, i.sensor_serial or ""))
        return passing, options, today


def _item(m: sqlite3.Row, s: sqlite3.Row | None, next_on: date, resources: tuple[Resource, ...],
          today: date) -> VerificationItem:
    return VerificationItem(
        "meter" if s is None else "sensor", m["id"], None if s is None else s["id"], m["building_id"], m["address"],
        m["premise_number"], m["serial"], m["model"], MeterRole(m["role"]), None if s is None else s["serial"],
        None if s is None else s["kind"], next_on, resources, rules.overdue(next_on, today))


def _today_of(item: VerificationItem, today: dict[int, date]) -> date:
    return today.get(item.building_id, today[0])


def _meter_resources(db: sqlite3.Connection, user: UserInfo) -> dict[int, tuple[Resource, ...]]:
    out: dict[int, list[Resource]] = {}
    for r in db.execute("SELECT mc.meter_id, mc.resource FROM meter_channels mc JOIN meters m ON m.id = mc.meter_id "
                        "WHERE m.company_id = ? ORDER BY mc.meter_id, mc.number", (user.company_id,)):
        mine = out.setdefault(r["meter_id"], [])
        if Resource(r["resource"]) not in mine:
            mine.append(Resource(r["resource"]))
    return {k: tuple(v) for k, v in out.items()}


def _sensor_resources(db: sqlite3.Connection, user: UserInfo) -> dict[int, tuple[Resource, ...]]:
    """A sensor's resources: those of the measuring channels it is bound to."""
    out: dict[int, list[Resource]] = {}
    for r in db.execute("SELECT DISTINCT cs.sensor_id, c.resource FROM measuring_channel_sensors cs "
                        "JOIN measuring_channels c ON c.id = cs.channel_id JOIN meters m ON m.id = c.meter_id "
                        "WHERE m.company_id = ? ORDER BY cs.sensor_id, c.resource", (user.company_id,)):
        out.setdefault(r["sensor_id"], []).append(Resource(r["resource"]))
    return {k: tuple(v) for k, v in out.items()}
