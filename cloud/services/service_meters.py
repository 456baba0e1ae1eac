"""The service engineer's meters list (manual 4.5.1) and a meter's measuring channels (ИИК, 4.5.3).

List: the company's meters with the filters of 4.5.1 (building, premise, model, number, barcode,
apartment/building meter, resource, line type, active), tiles grouped by premise with the building
meters first; only a service engineer may add a meter (``may_add``; the wizard is
cloud/services/meter_wizard.py). Channels: the meter's device channels with their resource numbers,
its sensors with passport data and verification dates, and its ИИК, simple or composite, with the
instruments each is made of. Rules: cloud/services/service_meters_rules.py.

Who: reads, dispatchers and engineers (and readers); an administrator none (NotFound, manual 2.3).
Sensor passports are written by a dispatcher or engineer (``require_writer``, like the meter's own
passport in buildings.py); channels and their sensor bindings only by a dispatcher (4.5.3). Another
company's meter or sensor is NotFound. Every change is audited in its transaction.
Tests: tests/unit/cloud/test_service_meters_rules.py, tests/integration/test_service_meters.py.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from cloud.services import audit, verification_rules
from cloud.services import service_meters_rules as rules
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view, require_writer
from cloud.services.models import (
    InvalidInput,
    NotFound,
    Role,
    UserInfo,
    check_day,
    check_id,
    meter_status,
    parse_lifecycle,
)
from cloud.services.service_meters_rules import Member, RuleError
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

_REFUSAL = "the service section is not available to administrators"
_SERIAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._/-]{0,31}$")
_UNSET: Any = object()
MAX_TILES = 2000  # tiles on one page; the rest are counted (``total``) and reached by filtering
MAX_TEXT = 64


# --- what the callers get ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MeterFilter:
    """The 4.5.1 filters; an empty choice, or every option chosen, lets everything through."""

    building_ids: tuple[int, ...] = ()
    premise_ids: tuple[int, ...] = ()
    models: tuple[str, ...] = ()
    number: str = ""  # part of the serial
    barcode: str = ""  # part of the barcode
    roles: tuple[MeterRole, ...] = ()  # individual (ИПУ) / common (ОДПУ)
    resources: tuple[Resource, ...] = ()
    line_types: tuple[str, ...] = ()  # tcp, gprs, lora, unknown
    active: bool | None = None  # True: in service now; False: not; None: all


@dataclass(frozen=True, slots=True)
class MeterTile:
    id: int
    serial: str
    model: str
    role: MeterRole
    building_id: int
    address: str
    premise_id: int | None
    premise_number: str | None
    resources: tuple[Resource, ...]
    line_type: str
    communicator: str
    barcode: str
    status: str  # "commissioning", "in_service", "decommissioned" (models.meter_status)
    next_verification_on: date | None
    verification_overdue: bool = False  # in service and its next verification was before the building's today


@dataclass(frozen=True, slots=True)
class MeterGroup:
    """The tiles of one premise, or of a building's building meters (``premise_id`` None)."""

    building_id: int
    address: str
    premise_id: int | None
    premise_number: str | None
    meters: tuple[MeterTile, ...]


@dataclass(frozen=True, slots=True)
class Option:
    id: int
    label: str
    building_id: int | None = None  # a premise's building


@dataclass(frozen=True, slots=True)
class FilterOptions:
    buildings: tuple[Option, ...]
    premises: tuple[Option, ...]
    models: tuple[str, ...]
    resources: tuple[Resource, ...]
    line_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceMeters:
    groups: tuple[MeterGroup, ...]
    total: int  # meters matching the filters
    shown: int  # of them, on this page (at most MAX_TILES)
    options: FilterOptions
    may_add: bool  # the caller may add a meter (a service engineer, manual 4.5.1)


@dataclass(frozen=True, slots=True)
class DeviceChannelInfo:
    number: int
    resource: Resource
    resource_number: int  # its number among the meter's channels of that resource
    parameters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensorInfo:
    id: int
    meter_id: int
    kind: str  # flow_transducer, temperature_sensor, water_meter, pulse_meter
    model: str
    serial: str
    verified_on: date | None
    next_verification_on: date | None
    channel_ids: tuple[int, ...] = ()  # the ИИК it is bound to
    verification_overdue: bool = False  # its next verification was before the building's today


@dataclass(frozen=True, slots=True)
class ChannelMember:
    sensor_id: int | None  # None: the meter itself
    serial: str  # the sensor's or the meter's
    quantity: str


@dataclass(frozen=True, slots=True)
class MeasuringChannel:
    id: int
    meter_id: int
    resource: Resource
    resource_number: int
    parameter: str
    kind: str  # "simple" or "composite"
    device_channel: int | None  # None: the meter no longer has that channel (reconfigured): fix or delete it
    members: tuple[ChannelMember, ...]
    updated_by: str | None
    updated_at: datetime  # local time of the building


@dataclass(frozen=True, slots=True)
class MeterChannels:
    meter_id: int
    serial: str
    model: str
    role: MeterRole
    address: str
    premise_number: str | None
    status: str
    device_channels: tuple[DeviceChannelInfo, ...]
    sensors: tuple[SensorInfo, ...]
    channels: tuple[MeasuringChannel, ...]
    may_edit: bool  # channels and bindings: a dispatcher (4.5.3)
    may_edit_sensors: bool  # sensor passports: a dispatcher or engineer
    sensor_quantities: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(rules.SENSOR_QUANTITIES),
                                                          hash=False)


# --- the service ---------------------------------------------------------------------------------

class ServiceMetersService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    # --- the list (4.5.1) --------------------------------------------------------------------------

    async def meters(self, token: str, filters: MeterFilter | None = None) -> ServiceMeters:
        """The company's meters that pass ``filters``, grouped by premise (building meters first)."""
        user = await self._viewer(token)
        filters = filters or MeterFilter()
        for i in (*filters.building_ids, *filters.premise_ids):
            check_id("building_ids/premise_ids", i)
        for kind in filters.line_types:
            if kind not in rules.LINE_TYPES:
                raise InvalidInput(f"line_types: one of {', '.join(rules.LINE_TYPES)}, got {kind!r}")
        if len(filters.number) > MAX_TEXT or len(filters.barcode) > MAX_TEXT:
            raise InvalidInput(f"number/barcode: at most {MAX_TEXT} characters")
        return await asyncio.to_thread(self._meters, user, filters)

    def _meters(self, user: UserInfo, f: MeterFilter) -> ServiceMeters:
        with self.registry.connect() as db:
            tiles = _tiles(db, user, self.clock())
            buildings = db.execute("SELECT id, address FROM buildings WHERE company_id = ? ORDER BY address, id",
                                   (user.company_id,)).fetchall()
            premises = db.execute("SELECT p.id, p.number, p.building_id, b.address FROM premises p JOIN buildings b "
                                  "ON b.id = p.building_id WHERE b.company_id = ?", (user.company_id,)).fetchall()
        options = FilterOptions(
            tuple(Option(b["id"], b["address"]) for b in buildings),
            tuple(Option(p["id"], f"{p['address']}, {p['number']}", p["building_id"]) for p in sorted(
                premises, key=lambda p: (p["address"], rules.natural_key(p["number"])))),
            tuple(sorted({t.model for t in tiles})),
            tuple(r for r in Resource if any(r in t.resources for t in tiles)),
            tuple(k for k in rules.LINE_TYPES if any(t.line_type == k for t in tiles)))
        chosen = {
            "building": rules.effective(f.building_ids, (o.id for o in options.buildings)),
            "premise": rules.effective(f.premise_ids, (o.id for o in options.premises)),
            "model": rules.effective(f.models, options.models),
            "role": rules.effective((MeterRole(r) for r in f.roles), MeterRole),
            "resource": rules.effective((Resource(r) for r in f.resources), options.resources),
            "line": rules.effective(f.line_types, options.line_types),
        }
        passing = [t for t in tiles
                   if rules.allows(chosen["building"], (t.building_id,))
                   and rules.allows(chosen["premise"], (t.premise_id,))
                   and rules.allows(chosen["model"], (t.model,)) and rules.allows(chosen["role"], (t.role,))
                   and rules.allows(chosen["resource"], t.resources) and rules.allows(chosen["line"], (t.line_type,))
                   and rules.contains(f.number, t.serial) and rules.contains(f.barcode, t.barcode)
                   and (f.active is None or (t.status == "in_service") == f.active)]
        passing.sort(key=lambda t: (rules.group_key(t.address, t.building_id, t.premise_number), t.serial))
        shown = passing[:MAX_TILES]
        groups: list[MeterGroup] = []
        for tile in shown:
            if groups and (groups[-1].building_id, groups[-1].premise_id) == (tile.building_id, tile.premise_id):
                last = groups[-1]
                groups[-1] = MeterGroup(last.building_id, last.address, last.premise_id, last.premise_number,
                                        (*last.meters, tile))
            else:
                groups.append(MeterGroup(tile.building_id, tile.address, tile.premise_id, tile.premise_number, (tile,)))
        may_add = user.role is Role.ENGINEER and not user.reader
        return ServiceMeters(tuple(groups), len(passing), len(shown), options, may_add)

    # --- channels (4.5.3) ----------------------------------------------------------------------------

    async def channels(self, token: str, meter_id: int) -> MeterChannels:
        """The meter's device channels, sensors and measuring channels."""
        user = await self._viewer(token)
        check_id("meter_id", meter_id)
        return await asyncio.to_thread(self._read_channels, user, meter_id)

    def _read_channels(self, user: UserInfo, meter_id: int) -> MeterChannels:
        with self.registry.connect() as db:
            return self._channels_of(db, user, _meter(db, user, meter_id))

    def _channels_of(self, db: sqlite3.Connection, user: UserInfo, meter: sqlite3.Row) -> MeterChannels:
        devices = _devices(db, meter["id"])
        numbers = rules.resource_numbers(devices)
        tz = zone(meter["time_zone"])
        today = self.clock().astimezone(tz).date()
        life = parse_lifecycle(meter)
        status = meter_status(life["commissioned_at"], life["decommissioned_at"], self.clock(), meter["status"])
        sensors = tuple(replace(s, verification_overdue=verification_rules.may_be_due(status) and bool(
            s.next_verification_on and verification_rules.overdue(s.next_verification_on, today)))
            for s in _sensors(db, meter["id"]))
        serial_of = {s.id: s.serial for s in sensors}
        out = []
        for row in db.execute("SELECT c.*, u.full_name FROM measuring_channels c LEFT JOIN users u ON u.id = "
                              "c.updated_by WHERE c.meter_id = ? ORDER BY c.resource, c.resource_number, c.parameter",
                              (meter["id"],)).fetchall():
            members = _members(db, row)
            device = rules.device_channel(devices, row["resource"], row["resource_number"])
            out.append(MeasuringChannel(
                row["id"], meter["id"], Resource(row["resource"]), row["resource_number"], row["parameter"],
                "simple" if len(members) == 1 else "composite", device.number if device else None,
                tuple(ChannelMember(m.sensor_id, meter["serial"] if m.sensor_id is None else serial_of[m.sensor_id],
                                    m.quantity) for m in members),
                row["full_name"], utc_to_local(datetime.fromisoformat(row["updated_at"]), tz)))
        return MeterChannels(
            meter["id"], meter["serial"], meter["model"], MeterRole(meter["role"]), meter["address"],
            meter["premise_number"], status,
            tuple(DeviceChannelInfo(d.number, Resource(d.resource), numbers[d.number][1], d.parameters)
                  for d in devices),
            sensors, tuple(out),
            may_edit=user.role is Role.DISPATCHER and not user.reader and status != "decommissioned",
            may_edit_sensors=user.role in (Role.DISPATCHER, Role.ENGINEER) and not user.reader
            and status != "decommissioned")

    async def create_channel(self, token: str, meter_id: int, *, resource: str, resource_number: int,
                             parameter: str, members: Sequence[Member]) -> MeasuringChannel:
        """Add an ИИК to the meter (a dispatcher; audited)."""
        user = require_dispatcher(await self._viewer(token))
        check_id("meter_id", meter_id)
        return await asyncio.to_thread(self._save_channel, user, meter_id, None, resource, resource_number,
                                       parameter, list(members))

    async def update_channel(self, token: str, channel_id: int, *, resource: str, resource_number: int,
                             parameter: str, members: Sequence[Member]) -> MeasuringChannel:
        """Change an ИИК: its resource, number, parameter and instruments (a dispatcher; audited)."""
        user = require_dispatcher(await self._viewer(token))
        check_id("channel_id", channel_id)
        return await asyncio.to_thread(self._update_channel, user, channel_id, resource, resource_number,
                                       parameter, list(members))

    def _update_channel(self, user: UserInfo, channel_id: int, resource: str, resource_number: int,
                        parameter: str, members: list[Member]) -> MeasuringChannel:
        with self.registry.connect() as db:
            meter_id = _channel_row(db, user, channel_id)["meter_id"]
        return self._save_channel(user, meter_id, channel_id, resource, resource_number, parameter, members)

    def _save_channel(self, user: UserInfo, meter_id: int, channel_id: int | None, resource: str,
                      resource_number: int, parameter: str, members: list[Member]) -> MeasuringChannel:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            meter = _meter(db, user, meter_id)
            _check_open(meter, self.clock())
            checked = rules.check_channel(_devices(db, meter_id), {s.id: rules.Sensor(s.id, s.kind, s.serial)
                                                                   for s in _sensors(db, meter_id)},
                                          resource, resource_number, parameter, members)
            rules.check_unique([(r["id"], r["resource"], r["resource_number"], r["parameter"]) for r in db.execute(
                "SELECT * FROM measuring_channels WHERE meter_id = ?", (meter_id,))], channel_id, resource,
                resource_number, parameter)
            meter_quantity = next((m.quantity for m in checked.members if m.sensor_id is None), None)
            before = None
            if channel_id is None:
                channel_id = int(db.execute(
                    "INSERT INTO measuring_channels (meter_id, resource, resource_number, parameter, meter_quantity, "
                    "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (meter_id, resource, resource_number, parameter, meter_quantity, user.id, now)).lastrowid or 0)
            else:
                old = _channel_row(db, user, channel_id)
                before = _channel_state(old, _members(db, old))
                db.execute("UPDATE measuring_channels SET resource = ?, resource_number = ?, parameter = ?, "
                           "meter_quantity = ?, updated_by = ?, updated_at = ? WHERE id = ?",
                           (resource, resource_number, parameter, meter_quantity, user.id, now, channel_id))
                db.execute("DELETE FROM measuring_channel_sensors WHERE channel_id = ?", (channel_id,))
            db.executemany("INSERT INTO measuring_channel_sensors (channel_id, sensor_id, quantity) VALUES (?, ?, ?)",
                           [(channel_id, m.sensor_id, m.quantity) for m in checked.members if m.sensor_id is not None])
            row = _channel_row(db, user, channel_id)
            after = _channel_state(row, _members(db, row))
            audit.record(db, user, "measuring_channel.create" if before is None else "measuring_channel.update",
                         f"measuring_channel:{channel_id}", before, {"meter_id": meter_id, **after})
            return next(c for c in self._channels_of(db, user, meter).channels if c.id == channel_id)

    async def delete_channel(self, token: str, channel_id: int) -> None:
        """Delete an ИИК (a dispatcher; audited); its sensors stay."""
        user = require_dispatcher(await self._viewer(token))
        check_id("channel_id", channel_id)
        await asyncio.to_thread(self._delete_channel, user, channel_id)

    def _delete_channel(self, user: UserInfo, channel_id: int) -> None:
        with self.registry.connect() as db:
            row = _channel_row(db, user, channel_id)
            _check_open(_meter(db, user, row["meter_id"]), self.clock())
            before = _channel_state(row, _members(db, row))
            db.execute("DELETE FROM measuring_channel_sensors WHERE channel_id = ?", (channel_id,))
            db.execute("DELETE FROM measuring_channels WHERE id = ?", (channel_id,))
            audit.record(db, user, "measuring_channel.delete", f"measuring_channel:{channel_id}",
                         {"meter_id": row["meter_id"], **before}, None)

    async def bind_sensor(self, token: str, sensor_id: int, bindings: Sequence[tuple[int, str]]) -> MeterChannels:
        """Make ``bindings`` (channel id, the quantity the sensor registers there) the sensor's channels: it
        leaves the others. Every channel touched must still keep the rules (a dispatcher; audited)."""
        user = require_dispatcher(await self._viewer(token))
        check_id("sensor_id", sensor_id)
        wanted: dict[int, str] = {}
        for channel_id, quantity in bindings:
            check_id("bindings", channel_id)
            if channel_id in wanted:
                raise InvalidInput(f"bindings: channel {channel_id} is listed twice")
            wanted[channel_id] = quantity
        return await asyncio.to_thread(self._bind, user, sensor_id, wanted)

    def _bind(self, user: UserInfo, sensor_id: int, wanted: dict[int, str]) -> MeterChannels:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            sensor = _sensor_row(db, user, sensor_id)
            meter = _meter(db, user, sensor["meter_id"])
            _check_open(meter, self.clock())
            devices = _devices(db, meter["id"])
            sensors = {s.id: rules.Sensor(s.id, s.kind, s.serial) for s in _sensors(db, meter["id"])}
            rows = {r["id"]: r for r in db.execute("SELECT * FROM measuring_channels WHERE meter_id = ?",
                                                   (meter["id"],)).fetchall()}
            for channel_id in wanted:
                if channel_id not in rows:
                    raise InvalidInput(f"bindings: the meter has no measuring channel {channel_id}")
            for channel_id, row in rows.items():
                old = _members(db, row)
                kept = [m for m in old if m.sensor_id != sensor_id]
                new = [*kept, Member(sensor_id, wanted[channel_id])] if channel_id in wanted else kept
                if sorted(new, key=_member_key) == sorted(old, key=_member_key):
                    continue
                try:
                    rules.check_channel(devices, sensors, row["resource"], row["resource_number"],
                                        row["parameter"], new)
                except RuleError as error:
                    raise RuleError(error.reason, f"measuring channel {row['resource']} {row['resource_number']} "
                                    f"{row['parameter']}: {error}", **error.params,
                                    channel=f"{row['resource']}:{row['resource_number']}:{row['parameter']}") from None
                db.execute("DELETE FROM measuring_channel_sensors WHERE channel_id = ? AND sensor_id = ?",
                           (channel_id, sensor_id))
                if channel_id in wanted:
                    db.execute("INSERT INTO measuring_channel_sensors (channel_id, sensor_id, quantity) "
                               "VALUES (?, ?, ?)", (channel_id, sensor_id, wanted[channel_id]))
                db.execute("UPDATE measuring_channels SET updated_by = ?, updated_at = ? WHERE id = ?",
                           (user.id, now, channel_id))
                audit.record(db, user, "measuring_channel.bind", f"measuring_channel:{channel_id}",
                             _channel_state(row, old), _channel_state(row, new))
            return self._channels_of(db, user, meter)

    # --- sensors -------------------------------------------------------------------------------------

    async def add_sensor(self, token: str, meter_id: int, *, kind: str, serial: str, model: str = "",
                         verified_on: date | None = None, next_verification_on: date | None = None) -> SensorInfo:
        """Register a sensor of the meter with its passport and verification dates (a dispatcher or engineer)."""
        user = require_writer(await self._viewer(token))
        check_id("meter_id", meter_id)
        values = _sensor_values({"kind": kind, "serial": serial, "model": model, "verified_on": verified_on,
                                 "next_verification_on": next_verification_on})
        return await asyncio.to_thread(self._add_sensor, user, meter_id, values)

    def _add_sensor(self, user: UserInfo, meter_id: int, values: dict[str, Any]) -> SensorInfo:
        with self.registry.connect() as db:
            meter = _meter(db, user, meter_id)
            _check_open(meter, self.clock())
            _check_sensor_serial(db, meter_id, values["serial"], None)
            _check_dates(values["verified_on"], values["next_verification_on"])
            sensor_id = int(db.execute(
                "INSERT INTO meter_sensors (meter_id, kind, model, serial, verified_on, next_verification_on, "
                "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (meter_id, values["kind"], values["model"], values["serial"], values["verified_on"],
                 values["next_verification_on"], user.id, self.clock().astimezone(UTC).isoformat())).lastrowid or 0)
            after = _sensor_info(db, _sensor_row(db, user, sensor_id))
            audit.record(db, user, "sensor.create", f"sensor:{sensor_id}", None, _sensor_state(after))
            return after

    async def update_sensor(self, token: str, sensor_id: int, *, kind: str = _UNSET, serial: str = _UNSET,
                            model: str = _UNSET, verified_on: date | None = _UNSET,
                            next_verification_on: date | None = _UNSET) -> SensorInfo:
        """Change a sensor's passport or verification dates; a new kind must still register what its channels
        use (a dispatcher or engineer)."""
        user = require_writer(await self._viewer(token))
        check_id("sensor_id", sensor_id)
        given = {k: v for k, v in (("kind", kind), ("serial", serial), ("model", model), ("verified_on", verified_on),
                                   ("next_verification_on", next_verification_on)) if v is not _UNSET}
        return await asyncio.to_thread(self._update_sensor, user, sensor_id, _sensor_values(given))

    def _update_sensor(self, user: UserInfo, sensor_id: int, changes: dict[str, Any]) -> SensorInfo:
        with self.registry.connect() as db:
            row = _sensor_row(db, user, sensor_id)
            _check_open(_meter(db, user, row["meter_id"]), self.clock())
            before = _sensor_info(db, row)
            if "serial" in changes:
                _check_sensor_serial(db, row["meter_id"], changes["serial"], sensor_id)
            _check_dates(changes.get("verified_on", row["verified_on"]),
                         changes.get("next_verification_on", row["next_verification_on"]))
            kind = changes.get("kind", row["kind"])
            for binding in db.execute("SELECT quantity FROM measuring_channel_sensors WHERE sensor_id = ?",
                                      (sensor_id,)):
                if binding["quantity"] not in rules.SENSOR_QUANTITIES[kind]:
                    raise RuleError("kind_breaks_binding", f"kind: a {kind} cannot register {binding['quantity']}, "
                                    "which one of its channels uses it for", kind=kind, quantity=binding["quantity"])
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours
                db.execute(f"UPDATE meter_sensors SET {assignments} WHERE id = ?",  # noqa: S608
                           (*changes.values(), sensor_id))
            after = _sensor_info(db, _sensor_row(db, user, sensor_id))
            if after != before:
                audit.record(db, user, "sensor.update", f"sensor:{sensor_id}", _sensor_state(before),
                             _sensor_state(after))
            return after

    async def remove_sensor(self, token: str, sensor_id: int) -> None:
        """Remove a sensor bound to no channel (a dispatcher or engineer; audited)."""
        user = require_writer(await self._viewer(token))
        check_id("sensor_id", sensor_id)
        await asyncio.to_thread(self._remove_sensor, user, sensor_id)

    def _remove_sensor(self, user: UserInfo, sensor_id: int) -> None:
        with self.registry.connect() as db:
            row = _sensor_row(db, user, sensor_id)
            _check_open(_meter(db, user, row["meter_id"]), self.clock())
            info = _sensor_info(db, row)
            if info.channel_ids:
                raise RuleError("sensor_bound", f"sensor {info.serial} is bound to {len(info.channel_ids)} measuring "
                                "channel(s): unbind it first", serial=info.serial, count=len(info.channel_ids))
            db.execute("DELETE FROM meter_sensors WHERE id = ?", (sensor_id,))
            audit.record(db, user, "sensor.delete", f"sensor:{sensor_id}", _sensor_state(info), None)


# --- registry rows -------------------------------------------------------------------------------

def _tiles(db: sqlite3.Connection, user: UserInfo, now: datetime) -> list[MeterTile]:
    rows = db.execute(
        "SELECT m.*, b.address, b.time_zone, p.number AS premise_number, c.kind AS line_kind FROM meters m "
        "JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id "
        "LEFT JOIN communicators c ON c.id = m.communicator_id WHERE m.company_id = ?", (user.company_id,)).fetchall()
    resources: dict[int, list[Resource]] = {}
    for r in db.execute("SELECT mc.meter_id, mc.resource FROM meter_channels mc JOIN meters m ON m.id = mc.meter_id "
                        "WHERE m.company_id = ? ORDER BY mc.meter_id, mc.number", (user.company_id,)):
        mine = resources.setdefault(r["meter_id"], [])
        if Resource(r["resource"]) not in mine:
            mine.append(Resource(r["resource"]))
    out = []
    for r in rows:
        life = parse_lifecycle(r)
        status = meter_status(life["commissioned_at"], life["decommissioned_at"], now, r["status"])
        next_on = date.fromisoformat(r["next_verification_on"]) if r["next_verification_on"] else None
        today = now.astimezone(zone(r["time_zone"])).date()
        out.append(MeterTile(
            r["id"], r["serial"], r["model"], MeterRole(r["role"]), r["building_id"], r["address"], r["premise_id"],
            r["premise_number"], tuple(resources.get(r["id"], ())), rules.line_type(r["line_kind"], r["communicator"]),
            r["communicator"], r["barcode"], status, next_on,
            verification_rules.may_be_due(status) and next_on is not None
            and verification_rules.overdue(next_on, today)))
    return out


def _meter(db: sqlite3.Connection, user: UserInfo, meter_id: int) -> sqlite3.Row:
    row = db.execute("SELECT m.*, b.address, b.time_zone, p.number AS premise_number FROM meters m "
                     "JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id "
                     "WHERE m.id = ? AND m.company_id = ?", (meter_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"meter {meter_id} not found")
    return row


def _check_open(meter: sqlite3.Row, now: datetime) -> None:
    """A decommissioned meter's channels and sensors are history: they are not changed any more."""
    life = parse_lifecycle(meter)
    if meter_status(life["commissioned_at"], life["decommissioned_at"], now, meter["status"]) == "decommissioned":
        raise RuleError("meter_decommissioned", f"meter {meter['serial']} is decommissioned: its channels and "
                        "sensors are kept as they were", serial=meter["serial"])


def _devices(db: sqlite3.Connection, meter_id: int) -> list[rules.DeviceChannel]:
    return [rules.DeviceChannel(r["number"], r["resource"], tuple(r["parameters"].split(",")))
            for r in db.execute("SELECT * FROM meter_channels WHERE meter_id = ? ORDER BY number", (meter_id,))]


def _sensors(db: sqlite3.Connection, meter_id: int) -> tuple[SensorInfo, ...]:
    return tuple(_sensor_info(db, r) for r in db.execute(
        "SELECT * FROM meter_sensors WHERE meter_id = ? ORDER BY kind, serial", (meter_id,)).fetchall())


def _sensor_row(db: sqlite3.Connection, user: UserInfo, sensor_id: int) -> sqlite3.Row:
    row = db.execute("SELECT s.* FROM meter_sensors s JOIN meters m ON m.id = s.meter_id WHERE s.id = ? "
                     "AND m.company_id = ?", (sensor_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"sensor {sensor_id} not found")
    return row


def _sensor_info(db: sqlite3.Connection, row: sqlite3.Row) -> SensorInfo:
    channels = tuple(r[0] for r in db.execute(
        "SELECT channel_id FROM measuring_channel_sensors WHERE sensor_id = ? ORDER BY channel_id", (row["id"],)))
    return SensorInfo(row["id"], row["meter_id"], row["kind"], row["model"], row["serial"],
                      date.fromisoformat(row["verified_on"]) if row["verified_on"] else None,
                      date.fromisoformat(row["next_verification_on"]) if row["next_verification_on"] else None,
                      channels)


def _channel_row(db: sqlite3.Connection, user: UserInfo, channel_id: int) -> sqlite3.Row:
    row = db.execute("SELECT c.* FROM measuring_channels c JOIN meters m ON m.id = c.meter_id WHERE c.id = ? "
                     "AND m.company_id = ?", (channel_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"measuring channel {channel_id} not found")
    return row


def _members(db: sqlite3.Connection, row: sqlite3.Row) -> list[Member]:
    out = [Member(None, row["meter_quantity"])] if row["meter_quantity"] else []
    out += [Member(r["sensor_id"], r["quantity"]) for r in db.execute(
        "SELECT sensor_id, quantity FROM measuring_channel_sensors WHERE channel_id = ? ORDER BY sensor_id",
        (row["id"],))]
    return out


def _member_key(m: Member) -> tuple[int, str]:
    return (m.sensor_id or 0, m.quantity)


def _channel_state(row: sqlite3.Row, members: Sequence[Member]) -> dict[str, Any]:
    return {"resource": row["resource"], "resource_number": row["resource_number"], "parameter": row["parameter"],
            "members": [["meter" if m.sensor_id is None else f"sensor:{m.sensor_id}", m.quantity]
                        for m in sorted(members, key=_member_key)]}


def _sensor_state(info: SensorInfo) -> dict[str, Any]:
    return {"meter_id": info.meter_id, "kind": info.kind, "model": info.model, "serial": info.serial,
            "verified_on": info.verified_on.isoformat() if info.verified_on else None,
            "next_verification_on": info.next_verification_on.isoformat() if info.next_verification_on else None}


def _sensor_values(given: dict[str, Any]) -> dict[str, Any]:
    """The sensor fields checked, as the registry keeps them (dates as ISO text)."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name == "kind":
            if value not in rules.SENSOR_QUANTITIES:
                raise InvalidInput(f"kind: one of {', '.join(rules.SENSOR_QUANTITIES)}, got {value!r}")
            out[name] = value
        elif name == "serial":
            text = str(value).strip() if isinstance(value, str) else ""
            if not _SERIAL.match(text):
                raise InvalidInput(f"serial: 1 to 32 letters, digits, '.', '/', '_' or '-', got {value!r}")
            out[name] = text
        elif name == "model":
            model = value.strip() if isinstance(value, str) else None
            if model is None or len(model) > MAX_TEXT or not model.isprintable():
                raise InvalidInput(f"model: up to {MAX_TEXT} printable characters, got {value!r}")
            out[name] = model
        else:
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise InvalidInput(f"{name}: a date or nothing, got {value!r}")
            out[name] = check_day(name, value).isoformat() if value is not None else None
    return out


def _check_dates(verified_on: str | None, next_on: str | None) -> None:
    if verified_on and next_on and next_on <= verified_on:
        raise InvalidInput(f"next_verification_on: {next_on} must be after verified_on {verified_on}")


def _check_sensor_serial(db: sqlite3.Connection, meter_id: int, serial: str, sensor_id: int | None) -> None:
    taken = db.execute("SELECT id FROM meter_sensors WHERE meter_id = ? AND serial = ? AND id IS NOT ?",
                       (meter_id, serial, sensor_id)).fetchone()
    if taken is not None:
        raise InvalidInput(f"serial: sensor {taken['id']} of the meter has serial {serial!r}")
