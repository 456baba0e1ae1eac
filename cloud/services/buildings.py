"""Registry details of buildings and meters that the settings pages change (manual 4.6 "Объекты"):
registering a building (address, city and its time zone, area, residents, edge site), its
address, area, residents, city, coordinates, type, ФИАС code and construction-unfinished flag,
deleting one with no meters; a meter's barcode and verification dates.

A building's address passes the address register check (cloud/services/objects_rules.py
``check_register_address``, the rule standing for ФИАС) unless the building is marked
construction unfinished: then it has no legal address yet and any text is kept (manual 4.6.2).

Reads: any dispatcher or engineer of the company (and readers). Buildings are the settings of 4.6
("Редактирование данных в разделе осуществляется пользователем с ролью «диспетчер»"): a dispatcher
without reader status changes them; a meter's passport is changed by a dispatcher or engineer
(``require_writer``); an object of another company is "not found". Every
change writes an audit entry with the fields before and after, in the same transaction (a call
that changes nothing writes none). Tests: tests/integration/test_registry_objects.py,
tests/integration/test_registry_admin.py.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view, require_writer
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_day, check_id
from cloud.services.objects_rules import check_building_kind, check_fias_code, check_register_address
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
    time_zone: str = ""  # the city's when registered (IANA name)
    area_m2: float = 0.0
    residents: int = 0
    site: str = ""  # the edge site that serves its meters
    building_kind: str = "apartment_block"  # тип строения: apartment_block, house or nonresidential
    fias_code: str = ""  # the house's ФИАС GUID, empty when not known


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
                           bool(row["construction_unfinished"]), row["time_zone"], row["area_m2"], row["residents"],
                           row["site"], row["building_kind"], row["fias_code"])


def _address(value: object) -> str:
    address = " ".join(value.split()) if isinstance(value, str) else ""
    if not address or len(address) > 300:
        raise InvalidInput("address: 1 to 300 characters")
    return address


MAX_AREA_M2 = 10_000_000.0  # ten square kilometres: more than any building or premise
MAX_RESIDENTS = 1_000_000  # a bound far above any building, well inside SQLite's INTEGER


def check_area(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0 \
            or value > MAX_AREA_M2:
        raise InvalidInput(f"{field}: square metres > 0 and <= {MAX_AREA_M2:g}, got {value!r}")
    return float(value)


def check_residents(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RESIDENTS:
        raise InvalidInput(f"{field}: a whole number >= 0 and <= {MAX_RESIDENTS}, got {value!r}")
    return value


def _coordinates(latitude: object, longitude: object) -> dict[str, Any]:
    """Coordinates are WGS 84 degrees and are set or cleared together."""
    if (latitude is None) != (longitude is None) or latitude is _UNSET or longitude is _UNSET:
        raise InvalidInput("latitude: give latitude and longitude together (both None clears them)")
    for field, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not -limit <= value <= limit):
            raise InvalidInput(f"{field}: -{limit} to {limit} degrees, got {value}")
    return {"latitude": latitude, "longitude": longitude}


def _city(db: sqlite3.Connection, user: UserInfo, city_id: object) -> sqlite3.Row:
    check_id("city_id", city_id)
    city = db.execute("SELECT c.* FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                      "WHERE c.id = ? AND cc.company_id = ?", (city_id, user.company_id)).fetchone()
    if city is None:
        raise InvalidInput(f"city_id: {city_id} is not a city of the company")
    return city


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
        check_id("building_id", building_id)
        row = await asyncio.to_thread(self.registry.one, "SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                                      building_id, user.company_id)
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return _building(row)

    async def create_building(self, token: str, *, address: str, city_id: int, area_m2: float, residents: int,
                              site: str, latitude: float | None = None, longitude: float | None = None,
                              construction_unfinished: bool = False, building_kind: str = "apartment_block",
                              fias_code: str = "") -> BuildingDetails:
        """Register a building of the company in one of its cities (whose time zone it takes), served by
        one of its edge sites (an administrator registers sites, cloud/services/sites.py). The address
        register check comes last, after the other fields: it is the one the flag skips."""
        user = require_dispatcher(await self.auth.user(token))
        values = {"address": _address(address), "area_m2": check_area("area_m2", area_m2),
                  "residents": check_residents("residents", residents), **_coordinates(latitude, longitude),
                  "construction_unfinished": int(bool(construction_unfinished)),
                  "building_kind": check_building_kind(building_kind), "fias_code": check_fias_code(fias_code)}
        return await asyncio.to_thread(self._create_building, user, city_id, site, values)

    def _create_building(self, user: UserInfo, city_id: int, site: str, values: dict[str, Any]) -> BuildingDetails:
        with self.registry.connect() as db:
            city = _city(db, user, city_id)
            if db.execute("SELECT 1 FROM edge_sites WHERE site = ? AND company_id = ?",
                          (site, user.company_id)).fetchone() is None:
                raise InvalidInput(f"site: {site!r} is not an edge site of the company "
                                   "(an administrator registers sites)")
            if not values["construction_unfinished"]:
                check_register_address(values["address"])
            if db.execute("SELECT 1 FROM buildings WHERE company_id = ? AND address = ?",
                          (user.company_id, values["address"])).fetchone():
                raise InvalidInput(f"address: the company has a building at {values['address']!r}")
            columns = {"company_id": user.company_id, "site": site, "city": city["name"], "city_id": city["id"],
                       "time_zone": city["time_zone"], **values}
            building_id = db.execute(
                f"INSERT INTO buildings ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608
                tuple(columns.values())).lastrowid
            after = _building(db.execute("SELECT * FROM buildings WHERE id = ?", (building_id,)).fetchone())
            audit.record(db, user, "building.create", f"building:{after.id}", None, _state(after))
        return after

    async def delete_building(self, token: str, building_id: int) -> None:
        """Delete a building with no meters, and its premises. A meter's history is never deleted:
        a building that has had meters stays (its meters are decommissioned instead)."""
        user = require_dispatcher(await self.auth.user(token))
        await asyncio.to_thread(self._delete_building, user, building_id)

    def _delete_building(self, user: UserInfo, building_id: int) -> None:
        check_id("building_id", building_id)
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                             (building_id, user.company_id)).fetchone()
            if row is None:
                raise NotFound(f"building {building_id} not found")
            meters = db.execute("SELECT count(*) FROM meters WHERE building_id = ?", (building_id,)).fetchone()[0]
            if meters:
                raise InvalidInput(f"building_id: building {building_id} has {meters} meter(s) registered; "
                                   "a building with meters is not deleted (decommission its meters instead)")
            premises = db.execute("SELECT number FROM premises WHERE building_id = ?", (building_id,)).fetchall()
            try:
                db.execute("DELETE FROM premises WHERE building_id = ?", (building_id,))
                db.execute("DELETE FROM buildings WHERE id = ?", (building_id,))
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(f"building_id: building {building_id} or its premises are still referenced "
                                   f"(residents, activation codes or settings): {exc}") from exc
            audit.record(db, user, "building.delete", f"building:{building_id}",
                         {**_state(_building(row)), "premises": [p["number"] for p in premises]}, None)

    async def update_building(self, token: str, building_id: int, *, city_id: int | None = _UNSET,
                              latitude: float | None = _UNSET, longitude: float | None = _UNSET,
                              construction_unfinished: bool | None = _UNSET, address: str = _UNSET,
                              area_m2: float = _UNSET, residents: int = _UNSET, building_kind: str = _UNSET,
                              fias_code: str = _UNSET) -> BuildingDetails:
        """Change what is given; coordinates are WGS 84 degrees and are set or cleared together. A new
        city brings its time zone. The edge site is an administrator's (``SitesService.assign_building``).
        The address as it will be passes the register check unless the building stays (or becomes)
        construction unfinished: clearing the flag checks the address kept so far."""
        user = require_dispatcher(await self.auth.user(token))
        changes: dict[str, Any] = {}
        if latitude is not _UNSET or longitude is not _UNSET:
            changes.update(_coordinates(latitude, longitude))
        if address is not _UNSET:
            changes["address"] = _address(address)
        if area_m2 is not _UNSET:
            changes["area_m2"] = check_area("area_m2", area_m2)
        if residents is not _UNSET:
            changes["residents"] = check_residents("residents", residents)
        if building_kind is not _UNSET:
            changes["building_kind"] = check_building_kind(building_kind)
        if fias_code is not _UNSET:
            changes["fias_code"] = check_fias_code(fias_code)
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
        check_id("building_id", building_id)
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                             (building_id, user.company_id)).fetchone()
            if row is None:
                raise NotFound(f"building {building_id} not found")
            if "city_id" in changes:
                city = _city(db, user, changes["city_id"])
                changes["city"] = city["name"]  # the name column the accounting pages show
                if city["id"] != row["city_id"]:
                    changes["time_zone"] = city["time_zone"]
            if "address" in changes and db.execute(
                    "SELECT 1 FROM buildings WHERE company_id = ? AND address = ? AND id != ?",
                    (user.company_id, changes["address"], building_id)).fetchone():
                raise InvalidInput(f"address: the company has a building at {changes['address']!r}")
            unfinished = changes.get("construction_unfinished", row["construction_unfinished"])
            if not unfinished and ("address" in changes or "construction_unfinished" in changes):
                check_register_address(changes.get("address", row["address"]))
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
        check_id("meter_id", meter_id)
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
                if value is not None:
                    check_day(field, value)
                changes[field] = value.isoformat() if value is not None else None
        return await asyncio.to_thread(self._update_meter, user, meter_id, changes)

    def _update_meter(self, user: UserInfo, meter_id: int, changes: dict[str, Any]) -> MeterPassport:
        check_id("meter_id", meter_id)
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
