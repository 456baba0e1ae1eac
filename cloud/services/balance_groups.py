"""Balance groups: the editor (manual 4.6.6) and their consumption and imbalance (4.1.8).

Where a resource enters a building at several points, a group balances one root meter
(usually a building meter) against its child meters, each counted with the sign + or −:
imbalance = root − (Σ children + − Σ children −), in units and in % of the root (DESIGN.md
section 5). The periods follow the building page (4.1.2): the days of a month or the months
of a year, each meter's month by its own reporting day; a missing value is never invented, so a
period whose root or any child lacks a value has no imbalance, and neither has one still running.

A group is a dispatcher's setting (not a reader's): a non-empty name unique in the building, a
resource, a root meter of the building measuring it, members measuring it too, never the root,
all of the same building and company; every change is audit-logged. Reads are the accounting
section's: the company's buildings only, administrators not at all.
Tests: tests/unit/cloud/test_balance_group_rules.py, tests/integration/test_balance_groups.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cloud.services import audit
from cloud.services import consumption as calc
from cloud.services import meter_series as series
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.balance_rules import period_total, signed_figure
from cloud.services.meter_series import Cell
from cloud.services.models import (
    BuildingSummary,
    ConsumptionPoint,
    Figure,
    Granularity,
    InvalidInput,
    MeterInfo,
    NotFound,
    UserInfo,
    check_day,
    check_id,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, MeterRole, Resource

NAME_LENGTH = 200
MAX_MEMBERS = 5000
SIGNS = ("+", "-")
GRANULARITIES = (Granularity.DAY, Granularity.MONTH)


@dataclass(frozen=True, slots=True)
class GroupMeter:
    """A meter of a group: the root, or a child counted with ``sign``."""

    meter_id: int
    serial: str
    role: MeterRole  # common (building meter) or individual
    premise_number: str | None
    sign: str  # "+" or "-" for a child; "root" for the root meter


@dataclass(frozen=True, slots=True)
class BalanceGroup:
    id: int
    building_id: int
    name: str
    resource: Resource
    root: GroupMeter
    members: tuple[GroupMeter, ...]  # the children, in the building's meter order


@dataclass(frozen=True, slots=True)
class GroupPoint:
    """One period of a group: the root against the signed children's sum, and their imbalance."""

    period: datetime  # local start
    root: Cell
    children: Cell  # Σ + − Σ −: the known part; not complete when some child lacks a value
    imbalance: float | None  # root − children; null unless both are complete and the period is over
    imbalance_pct: float | None  # in % of the root; null as above or when the root is not above zero


@dataclass(frozen=True, slots=True)
class MeterConsumption:
    """One meter of the group over the view: per period and in total, with its sign."""

    meter: GroupMeter
    periods: tuple[Cell, ...]  # aligned with the points
    total: Cell


@dataclass(frozen=True, slots=True)
class GroupConsumption:
    group: BalanceGroup
    building: BuildingSummary
    unit: str  # "Gcal", "m3", "kWh" (electricity: the total channels; tariff zones are not balanced)
    granularity: Granularity
    period: date
    points: tuple[GroupPoint, ...]  # the periods that overlap the meters' data
    root_total: Cell
    children_total: Cell
    imbalance: float | None  # of the whole view: null unless every period of it up to now is complete
    imbalance_pct: float | None
    pending: tuple[datetime, ...]  # periods that keep the view's imbalance open (incomplete, running, not arrived)
    meters: tuple[MeterConsumption, ...]  # the root first, then the children
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupDraft:
    """What an editor sends: the group's name, resource, root meter and children with signs."""

    name: str
    resource: Resource
    root_meter_id: int
    members: tuple[tuple[int, str], ...] = ()  # (meter id, "+" or "-")


def measures(meter: MeterInfo, resource: Resource) -> bool:
    """Whether the meter has a channel that counts ``resource`` (its consumption parameter)."""
    parameter = CONSUMPTION_PARAMETER[resource]
    return any(c.resource is resource and parameter in c.parameters for c in meter.channels)


def validate(draft: GroupDraft, meters: Sequence[MeterInfo], others: Iterable[str]) -> GroupDraft:
    """The draft with its name trimmed, or InvalidInput naming the field: ``meters`` are the
    building's (company-scoped) meters, ``others`` the names of the building's other groups."""
    name = draft.name.strip() if isinstance(draft.name, str) else ""
    if not name:
        raise InvalidInput("name: a balance group needs a name")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"name: at most {NAME_LENGTH} characters, got {len(name)}")
    if name.casefold() in {n.casefold() for n in others}:
        raise InvalidInput(f"name: the building already has a balance group named {name!r}")
    try:
        resource = Resource(draft.resource)
    except ValueError:
        raise InvalidInput(f"resource: one of {', '.join(r.value for r in Resource)}, got {draft.resource!r}") from None
    by_id = {m.id: m for m in meters}
    check_id("root_meter_id", draft.root_meter_id)
    root = by_id.get(draft.root_meter_id)
    if root is None:
        raise InvalidInput(f"root_meter_id: meter {draft.root_meter_id} is not a meter of this building")
    if not measures(root, resource):
        raise InvalidInput(f"root_meter_id: meter {root.serial} does not measure {resource.value}")
    if len(draft.members) > MAX_MEMBERS:
        raise InvalidInput(f"members: at most {MAX_MEMBERS}, got {len(draft.members)}")
    seen: set[int] = set()
    for index, (meter_id, sign) in enumerate(draft.members):
        where = f"members[{index}]"
        check_id(f"{where}.meter_id", meter_id)
        if sign not in SIGNS:
            raise InvalidInput(f"{where}.sign: '+' or '-', got {sign!r}")
        meter = by_id.get(meter_id)
        if meter is None:
            raise InvalidInput(f"{where}.meter_id: meter {meter_id} is not a meter of this building")
        if meter_id == root.id:
            raise InvalidInput(f"{where}.meter_id: the root meter {root.serial} cannot be its own child")
        if meter_id in seen:
            raise InvalidInput(f"{where}.meter_id: meter {meter.serial} is listed twice")
        if not measures(meter, resource):
            raise InvalidInput(f"{where}.meter_id: meter {meter.serial} does not measure {resource.value}")
        seen.add(meter_id)
    return GroupDraft(name, resource, root.id, tuple((m, s) for m, s in draft.members))


def group_point(label: datetime, root: Figure, children: Figure, over: bool) -> GroupPoint:
    """A period's point: the imbalance only for a period that is over with both sides complete."""
    diff, pct = calc.imbalance(root, children) if over else (None, None)
    return GroupPoint(label, Cell.of(root), Cell.of(children), diff, pct)


class BalanceGroupsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope checks and registry reads
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- reads -----------------------------------------------------------------------------
    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token),
                                        "balance groups are not available to administrators")

    async def groups(self, token: str, building_id: int) -> list[BalanceGroup]:
        """The building's groups by name."""
        await self._viewer(token)
        await self.accounting.building(token, building_id)  # scope: NotFound for another company's
        meters = await self.accounting.meters(token, building_id)
        return await asyncio.to_thread(self._groups, building_id, meters)

    async def group(self, token: str, group_id: int) -> BalanceGroup:
        user = await self._viewer(token)
        building_id = await asyncio.to_thread(self._building_of, user, group_id)
        meters = await self.accounting.meters(token, building_id)
        found = await asyncio.to_thread(self._groups, building_id, meters, group_id)
        if not found:
            raise NotFound(f"balance group {group_id} not found")
        return found[0]

    async def candidates(self, token: str, building_id: int, resource: Resource) -> list[MeterInfo]:
        """The building's meters that measure ``resource``: those a group of it may hold."""
        await self._viewer(token)
        return [m for m in await self.accounting.meters(token, building_id) if measures(m, resource)]

    def _building_of(self, user: UserInfo, group_id: int) -> int:
        check_id("group_id", group_id)
        row = self.registry.one("SELECT g.building_id FROM balance_groups g JOIN buildings b ON b.id = g.building_id "
                                "WHERE g.id = ? AND b.company_id = ?", group_id, user.company_id)
        if row is None:
            raise NotFound(f"balance group {group_id} not found")
        return int(row["building_id"])

    def _groups(self, building_id: int, meters: list[MeterInfo], group_id: int | None = None) -> list[BalanceGroup]:
        by_id = {m.id: m for m in meters}
        order = {m.id: i for i, m in enumerate(meters)}
        where, args = ("building_id = ?", [building_id]) if group_id is None else ("id = ?", [group_id])
        groups = self.registry.all(f"SELECT * FROM balance_groups WHERE {where} ORDER BY name", *args)  # noqa: S608 - fixed clauses
        if not groups:
            return []
        marks = ",".join("?" * len(groups))
        members: dict[int, list[tuple[int, str]]] = {}
        for r in self.registry.all(f"SELECT * FROM balance_group_members WHERE group_id IN ({marks})",  # noqa: S608 - placeholders only
                                   *[g["id"] for g in groups]):
            members.setdefault(r["group_id"], []).append((r["meter_id"], r["sign"]))
        out = []
        for g in groups:
            children = sorted(members.get(g["id"], []), key=lambda ms: order.get(ms[0], 0))
            out.append(BalanceGroup(g["id"], g["building_id"], g["name"], Resource(g["resource"]),
                                    _group_meter(by_id[g["root_meter_id"]], "root"),
                                    tuple(_group_meter(by_id[m], s) for m, s in children)))
        return out

    # --- the editor (4.6.6) ----------------------------------------------------------------
    async def create(self, token: str, building_id: int, draft: GroupDraft) -> BalanceGroup:
        user = require_dispatcher(await self._viewer(token))
        await self.accounting.building(token, building_id)
        meters = await self.accounting.meters(token, building_id)
        group_id = await asyncio.to_thread(self._write, user, building_id, None, draft, meters)
        return await self.group(token, group_id)

    async def update(self, token: str, group_id: int, draft: GroupDraft) -> BalanceGroup:
        """Replace the group's name, resource, root and children with the draft's."""
        user = require_dispatcher(await self._viewer(token))
        building_id = await asyncio.to_thread(self._building_of, user, group_id)
        meters = await self.accounting.meters(token, building_id)
        await asyncio.to_thread(self._write, user, building_id, group_id, draft, meters)
        return await self.group(token, group_id)

    async def delete(self, token: str, group_id: int) -> None:
        user = require_dispatcher(await self._viewer(token))
        building_id = await asyncio.to_thread(self._building_of, user, group_id)
        meters = await self.accounting.meters(token, building_id)
        before = await asyncio.to_thread(self._groups, building_id, meters, group_id)
        await asyncio.to_thread(self._delete, user, group_id, _audit_state(before[0]) if before else None)

    def _write(self, user: UserInfo, building_id: int, group_id: int | None, draft: GroupDraft,
               meters: list[MeterInfo]) -> int:
        before = None
        if group_id is not None:
            found = self._groups(building_id, meters, group_id)
            before = _audit_state(found[0]) if found else None
        with self.registry.connect() as db:
            others = [r["name"] for r in db.execute("SELECT id, name FROM balance_groups WHERE building_id = ?",
                                                    (building_id,)) if r["id"] != group_id]
            clean = validate(draft, [m for m in meters if m.building_id == building_id], others)
            try:
                if group_id is None:
                    group_id = int(db.execute(
                        "INSERT INTO balance_groups (building_id, name, resource, root_meter_id, created_by, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (building_id, clean.name, clean.resource.value, clean.root_meter_id, user.id,
                         self.clock().astimezone(UTC).isoformat())).lastrowid or 0)
                else:
                    db.execute("UPDATE balance_groups SET name = ?, resource = ?, root_meter_id = ? WHERE id = ?",
                               (clean.name, clean.resource.value, clean.root_meter_id, group_id))
                    db.execute("DELETE FROM balance_group_members WHERE group_id = ?", (group_id,))
            except sqlite3.IntegrityError as exc:  # a concurrent save took the name first
                raise InvalidInput(f"name: the building already has a balance group named {clean.name!r}") from exc
            db.executemany("INSERT INTO balance_group_members (group_id, meter_id, sign) VALUES (?, ?, ?)",
                           [(group_id, m, s) for m, s in clean.members])
            after = {"building_id": building_id, "name": clean.name, "resource": clean.resource.value,
                     "root_meter_id": clean.root_meter_id, "members": [[m, s] for m, s in clean.members]}
            audit.record(db, user, "balance_group.create" if before is None else "balance_group.update",
                         f"balance_group:{group_id}", before, after)
        return group_id

    def _delete(self, user: UserInfo, group_id: int, before: dict | None) -> None:
        with self.registry.connect() as db:
            db.execute("DELETE FROM balance_group_members WHERE group_id = ?", (group_id,))
            db.execute("DELETE FROM balance_groups WHERE id = ?", (group_id,))
            audit.record(db, user, "balance_group.delete", f"balance_group:{group_id}", before, None)

    # --- consumption (4.1.8) ---------------------------------------------------------------
    async def consumption(self, token: str, group_id: int, granularity: Granularity,
                          period: date) -> GroupConsumption:
        """The group over the days of the month (granularity day) or the months of the year (month) of ``period``."""
        if granularity not in GRANULARITIES:
            raise InvalidInput(f"granularity: day or month, got {granularity.value!r}")
        check_day("period", period)
        user = await self._viewer(token)
        group = await self.group(token, group_id)
        building = await self.accounting.building(token, group.building_id)
        meters = {m.id: m for m in await self.accounting.meters(token, group.building_id)}
        tz = zone(building.time_zone)
        chosen = [group.root, *group.members]
        chans = [c for c in await asyncio.to_thread(series.channels, self.registry,
                                                    [meters[g.meter_id] for g in chosen], [group.resource])
                 if c.tariff == calc.TOTAL]
        span = await series.data_span(self.ch, user.company_id, [g.serial for g in chosen], tz)
        labels = [s for s in calc.period_starts(granularity, period) if series.overlaps(span, granularity, s)]
        found = await series.amounts(self.ch, user.company_id, chans, granularity, labels, tz)
        n = len(labels)

        def figures(meter_ids: set[int]) -> list[Figure]:
            return calc.combine([found[c.key] for c in chans if c.meter.id in meter_ids], n)

        root = figures({group.root.meter_id})
        added = figures({g.meter_id for g in group.members if g.sign == "+"})
        subtracted = figures({g.meter_id for g in group.members if g.sign == "-"})
        children = [signed_figure(a, s) for a, s in zip(added, subtracted, strict=True)]
        now = utc_to_local(self.clock(), tz)
        points = tuple(group_point(label, r, c, calc.span(granularity, label)[1] <= now)
                       for label, r, c in zip(labels, root, children, strict=True))
        has_children = bool(group.members)
        total = period_total([ConsumptionPoint(p.period, p.root.value, p.children.value, p.children.complete,
                                               p.imbalance, p.imbalance_pct, p.root.complete, rf, cf)
                              for p, rf, cf in zip(points, root, children, strict=True)],
                             granularity, period, now, True, has_children)
        rows = []
        for g in chosen:
            per = figures({g.meter_id})
            rows.append(MeterConsumption(g, tuple(Cell.of(f) for f in per), Cell.of(calc.total(per))))
        return GroupConsumption(group, building, PARAMETERS[CONSUMPTION_PARAMETER[group.resource]].unit, granularity,
                                period, points, Cell.of(total.building), Cell.of(total.apartments), total.imbalance,
                                total.imbalance_pct, total.pending, tuple(rows),
                                series.derived_from(chans, granularity))


def _group_meter(meter: MeterInfo, sign: str) -> GroupMeter:
    return GroupMeter(meter.id, meter.serial, meter.role, meter.premise_number, sign)


def _audit_state(group: BalanceGroup) -> dict:
    return {"building_id": group.building_id, "name": group.name, "resource": group.resource.value,
            "root_meter_id": group.root.meter_id, "members": [[m.meter_id, m.sign] for m in group.members]}
