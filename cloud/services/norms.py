"""Consumption norms (нормативы потребления): what the building balance report (manual 4.3.3) compares the
apartment meters with. Per company and resource, optionally overridden per building: heat in Gcal per m²
of area per month, every other resource per resident per month (m³ of water, gas and sewage, kWh of
electricity), as the specific consumption of 4.1.1 and 4.1.4 divides them.

Who: reading, dispatchers and engineers (readers too); an administrator none (NotFound, manual 2.3).
Setting or clearing a norm is a dispatcher's setting (not a reader's), audited in its transaction with
the value before and after. A norm is above zero and below a sane maximum per resource (a typing
mistake must not make every ratio of the report absurd). Table: cloud/storage/registry_ddl/norms.py.
Tests: tests/integration/test_norms.py, tests/unit/cloud/test_reports_balance_rules.py.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.services import audit
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import InvalidInput, NotFound, Role, UserInfo, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, Resource

_REFUSAL = "consumption norms are not available to administrators"

# heat per m² of area (4.1.1), the others per resident
BASIS: dict[Resource, str] = {r: "area" if r is Resource.HEAT else "resident" for r in Resource}
# the largest norm per month that is not a typing mistake: well above any regional norm (cold water is
# 3-7 m³, electricity 50-400 kWh per resident, heat 0.01-0.05 Gcal per m²; gas with a boiler more)
MAXIMUM: dict[Resource, float] = {
    Resource.HEAT: 1.0, Resource.HOT_WATER: 100.0, Resource.COLD_WATER: 100.0, Resource.SEWAGE: 200.0,
    Resource.GAS: 1000.0, Resource.ELECTRICITY: 5000.0,
}


def unit_of(resource: Resource) -> str:
    """The unit of the amount a norm is of: "Gcal", "m3" or "kWh" (per m² or per resident per month)."""
    return PARAMETERS[CONSUMPTION_PARAMETER[resource]].unit


@dataclass(frozen=True, slots=True)
class Norm:
    """One resource's norm per month: the company's, the building's own (building view) and the one in force."""

    resource: Resource
    unit: str  # of the amount: "Gcal", "m3", "kWh"
    basis: str  # "area" (per m², heat) or "resident"
    maximum: float  # the largest value accepted
    company: float | None  # the company's norm; None: not set
    building: float | None = None  # the building's own, overriding the company's (building view only)
    in_force: float | None = None  # the building's own, else the company's

    @property
    def source(self) -> str | None:
        """Where the norm in force comes from: "building", "company", or None when there is none."""
        if self.building is not None:
            return "building"
        return "company" if self.company is not None else None


@dataclass(frozen=True, slots=True)
class NormsTable:
    """Every resource's norm for the company (``building_id`` None) or for one of its buildings."""

    building_id: int | None
    address: str | None
    norms: tuple[Norm, ...]  # in the order of protocol.vocabulary.Resource
    editable: bool  # the caller may set and clear them: a dispatcher without reader status
    buildings: tuple[tuple[int, str], ...]  # the company's buildings (id, address), for choosing one

    def norm(self, resource: Resource) -> Norm:
        return next(n for n in self.norms if n.resource is resource)


def parse_resource(value: object) -> Resource:
    """``value`` as a Resource, or InvalidInput naming "resource"."""
    if isinstance(value, Resource):
        return value
    if isinstance(value, str) and value in {r.value for r in Resource}:
        return Resource(value)
    raise InvalidInput(f"resource: one of {', '.join(r.value for r in Resource)}, got {value!r}")


def check_norm(resource: Resource, value: object) -> float:
    """``value`` as a norm of ``resource``: a finite number above 0 and at most MAXIMUM, else InvalidInput
    naming "value"."""
    limit = MAXIMUM[resource]
    per = "m²" if BASIS[resource] == "area" else "resident"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= limit:
        raise InvalidInput(f"value: a {resource.value} norm is a number above 0 and at most {limit:g} "
                           f"{unit_of(resource)} per {per} per month, got {value!r}")
    return float(value)


class NormsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse  # unused: the norms live in the registry; the container passes every service both
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    async def norms(self, token: str, building_id: int | None = None) -> NormsTable:
        """The company's norms, or with ``building_id`` the building's: its own, the company's and the one in force."""
        user = await self._viewer(token)
        return await asyncio.to_thread(self._read, user, building_id)

    async def in_force(self, token: str, building_id: int) -> dict[Resource, float]:
        """The norm in force per resource for the building (resources without one are left out)."""
        table = await self.norms(token, building_id)
        return {n.resource: n.in_force for n in table.norms if n.in_force is not None}

    async def set_norm(self, token: str, resource: Resource | str, value: float,
                       building_id: int | None = None) -> NormsTable:
        """Set the company's norm of ``resource`` (or the building's own): a dispatcher; audited."""
        user = require_dispatcher(await self._viewer(token))
        kind = parse_resource(resource)
        amount = check_norm(kind, value)
        return await asyncio.to_thread(self._write, user, kind, amount, building_id)

    async def clear_norm(self, token: str, resource: Resource | str, building_id: int | None = None) -> NormsTable:
        """Remove the company's norm of ``resource`` (or the building's own, so the company's is in force again)."""
        user = require_dispatcher(await self._viewer(token))
        return await asyncio.to_thread(self._write, user, parse_resource(resource), None, building_id)

    # --- registry ------------------------------------------------------------------------------
    def _scope(self, db: sqlite3.Connection, user: UserInfo, building_id: int | None) -> str | None:
        """The building's address if it is of the user's company (None for the company view), else NotFound."""
        if building_id is None:
            return None
        check_id("building_id", building_id)
        row = db.execute("SELECT address FROM buildings WHERE id = ? AND company_id = ?",
                         (building_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return str(row["address"])

    def _read(self, user: UserInfo, building_id: int | None) -> NormsTable:
        with self.registry.reading() as db:
            return self._table(db, user, building_id)

    def _table(self, db: sqlite3.Connection, user: UserInfo, building_id: int | None) -> NormsTable:
        address = self._scope(db, user, building_id)
        company = {r["resource"]: r["value"] for r in db.execute(
            "SELECT resource, value FROM consumption_norms WHERE company_id = ? AND building_id IS NULL",
            (user.company_id,))}
        own = {} if building_id is None else {r["resource"]: r["value"] for r in db.execute(
            "SELECT resource, value FROM consumption_norms WHERE company_id = ? AND building_id = ?",
            (user.company_id, building_id))}
        norms = []
        for r in Resource:
            c, b = company.get(r.value), own.get(r.value)
            norms.append(Norm(r, unit_of(r), BASIS[r], MAXIMUM[r], c, b, b if b is not None else c))
        buildings = tuple((int(row["id"]), str(row["address"])) for row in db.execute(
            "SELECT id, address FROM buildings WHERE company_id = ? ORDER BY address", (user.company_id,)))
        editable = user.role is Role.DISPATCHER and not user.reader
        return NormsTable(building_id, address, tuple(norms), editable, buildings)

    def _write(self, user: UserInfo, resource: Resource, value: float | None, building_id: int | None) -> NormsTable:
        with self.registry.connect() as db:
            self._scope(db, user, building_id)
            where = "building_id IS NULL" if building_id is None else "building_id = ?"
            args: tuple = (user.company_id, resource.value) + (() if building_id is None else (building_id,))
            row = db.execute(f"SELECT id, value FROM consumption_norms WHERE company_id = ? AND resource = ? "  # noqa: S608 - fixed clauses
                             f"AND {where}", args).fetchone()
            before = None if row is None else row["value"]
            if before != value:
                if row is not None:
                    db.execute("DELETE FROM consumption_norms WHERE id = ?", (row["id"],))
                if value is not None:
                    db.execute("INSERT INTO consumption_norms (company_id, building_id, resource, value, updated_by, "
                               "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                               (user.company_id, building_id, resource.value, value, user.id,
                                self.clock().astimezone(UTC).isoformat()))
                obj = f"company:{user.company_id}" if building_id is None else f"building:{building_id}"
                audit.record(db, user, "consumption_norm.set" if value is not None else "consumption_norm.clear", obj,
                             None if before is None else {"resource": resource.value, "value": before},
                             None if value is None else {"resource": resource.value, "value": value})
            return self._table(db, user, building_id)
