"""Registry details of buildings and meters that the settings pages change (manual 4.6 "Объекты"):
a building's city, coordinates and construction-unfinished flag; a meter's barcode and
verification dates.

Reads: any dispatcher or engineer of the company (and readers). Writes: a dispatcher or engineer
without reader status (``require_writer``); an object of another company is "not found". Every
change writes an audit entry with the fields before and after, in the same transaction (a call
that changes nothing writes none). Tests: tests/integration/test_registry_objects.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_operational_view, require_writer
from cloud.services.models import InvalidInput, NotFound, UserInfo
from cloud.storage.registry import Registry

_UNSET: Any = object()  # "leave as it is" (None is a value: it clears a coordinate or a date)


@dataclass(frozen=True, slots=True)
class BuildingDetails:
    id: int
    address: str
    city_id: int | None
    city: str
    latitude: float | None
    longitude: float | None
    construction_unfinished: bool


@dataclass(frozen=True, slots=True)
class MeterPassport:
    id: int
    serial: str
    barcode: str
    verified_on: date | None
    next_verification_on: date | None
    communicator_id: int | None


def _building(row: sqlite3.Row) -> BuildingDetails:
    return BuildingDetails(row["id"], row["address"], row["city_id"], row["city"], row["latitude"], row["longitude"],
                           bool(row["construction_unfinished"]))


def _passport(row: sqlite3.Row) -> MeterPassport:
    return MeterPassport(row["id"], row["serial"], row["barcode"],
                         date.fromisoformat(row["verified_on"]) if row["verified_on"] else None,
                         date.fromisoformat(row["next_verification_on"]) if row["next_verification_on"] else None,
                         row["communicator_id"])


def _state(obj: BuildingDetails | MeterPassport) -> dict[str, Any]:
    out = {}
    for name in obj.__slots__:  # type: ignore[attr-defined]
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, date) else value
    return out


class BuildingsService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def _reader(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "buildings and meters are not available to administrators")

    async def building(self, token: str, building_id: int) -> BuildingDetails:
        user = await self._reader(token)
        row = await asyncio.to_thread(self.registry.one, "SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                                      building_id, user.company_id)
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return _building(row)

    async def update_building(self, token: str, building_id: int, *, city_id: int | None = _UNSET,
                              latitude: float | None = _UNSET, longitude: float | None = _UNSET,
                              construction_unfinished: bool | None = _UNSET) -> BuildingDetails:
        """Change what is given; coordinates are WGS 84 degrees and are set or cleared together."""
        user = require_writer(await self.auth.user(token))
        changes: dict[str, Any] = {}
        if latitude is not _UNSET or longitude is not _UNSET:
            if (latitude is None) != (longitude is None) or latitude is _UNSET or longitude is _UNSET:
                raise InvalidInput("latitude: give latitude and longitude together (both None clears them)")
            if latitude is not None and not -90 <= latitude <= 90:
                raise InvalidInput(f"latitude: -90 to 90 degrees, got {latitude}")
            if longitude is not None and not -180 <= longitude <= 180:
                raise InvalidInput(f"longitude: -180 to 180 degrees, got {longitude}")
            changes.update(latitude=latitude, longitude=longitude)
        if construction_unfinished is not _UNSET:
            if construction_unfinished is None:
                raise InvalidInput("construction_unfinished: true or false")
            changes["construction_unfinished"] = int(construction_unfinished)
        if city_id is not _UNSET:
            if city_id is None:
                raise InvalidInput("city_id: a building is always in a city")
            changes["city_id"] = city_id
        return await asyncio.to_thread(self._update_building, user, building_id, changes)

    def _update_building(self, user: UserInfo, building_id: int, changes: dict[str, Any]) -> BuildingDetails:
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                             (building_id, user.company_id)).fetchone()
            if row is None:
                raise NotFound(f"building {building_id} not found")
            if "city_id" in changes:
                city = db.execute("SELECT c.name FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                                  "WHERE c.id = ? AND cc.company_id = ?",
                                  (changes["city_id"], user.company_id)).fetchone()
                if city is None:
                    raise InvalidInput(f"city_id: {changes['city_id']} is not a city of the company")
                changes["city"] = city["name"]  # the name column the accounting pages show
            before = _building(row)
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours
                db.execute(f"UPDATE buildings SET {assignments} WHERE id = ?", (*changes.values(), building_id))  # noqa: S608
            after = _building(db.execute("SELECT * FROM buildings WHERE id = ?", (building_id,)).fetchone())
            if after != before:
                audit.record(db, user, "building.update", f"building:{building_id}", _state(before), _state(after))
        return after

    async def meter(self, token: str, meter_id: int) -> MeterPassport:
        user = await self._reader(token)
        row = await asyncio.to_thread(self.registry.one, "SELECT * FROM meters WHERE id = ? AND company_id = ?",
                                      meter_id, user.company_id)
        if row is None:
            raise NotFound(f"meter {meter_id} not found")
        return _passport(row)

    async def update_meter(self, token: str, meter_id: int, *, barcode: str | None = None,
                           verified_on: date | None = _UNSET,
                           next_verification_on: date | None = _UNSET) -> MeterPassport:
        user = require_writer(await self.auth.user(token))
        changes: dict[str, Any] = {}
        if barcode is not None:
            barcode = barcode.strip()
            if len(barcode) > 64 or not barcode.isprintable():
                raise InvalidInput("barcode: up to 64 printable characters")
            changes["barcode"] = barcode
        for field, value in (("verified_on", verified_on), ("next_verification_on", next_verification_on)):
            if value is not _UNSET:
                if value is not None and not isinstance(value, date):
                    raise InvalidInput(f"{field}: a date or None, got {value!r}")
                changes[field] = value.isoformat() if value is not None else None
        return await asyncio.to_thread(self._update_meter, user, meter_id, changes)

    def _update_meter(self, user: UserInfo, meter_id: int, changes: dict[str, Any]) -> MeterPassport:
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM meters WHERE id = ? AND company_id = ?",
                             (meter_id, user.company_id)).fetchone()
            if row is None:
                raise NotFound(f"meter {meter_id} not found")
            before = _passport(row)
            verified = changes.get("verified_on", row["verified_on"])
            upcoming = changes.get("next_verification_on", row["next_verification_on"])
            if verified and upcoming and upcoming <= verified:
                raise InvalidInput("next_verification_on: must be after verified_on")
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours
                db.execute(f"UPDATE meters SET {assignments} WHERE id = ?", (*changes.values(), meter_id))  # noqa: S608
            after = _passport(db.execute("SELECT * FROM meters WHERE id = ?", (meter_id,)).fetchone())
            if after != before:
                audit.record(db, user, "meter.update_passport", f"meter:{meter_id}", _state(before), _state(after))
        return after
