"""Meters in the registry and their lifecycle as dated periods (manual 4.5.2 "Добавление ПУ", 4.5.5;
DESIGN.md section 5): registering a meter of a catalogue model (protocol/catalogue.py gives its
channels) in a building, editing it, replacing it by a new one and decommissioning it.

A meter is expected to report from ``commissioned_at`` (the start of its first hourly period;
None: since its first archive) until ``decommissioned_at`` (the first period it no longer
reports). A replacement ends the old meter at ``at`` with its final readings and registers the new
one from ``at`` with its initial readings, linked by ``replaces_meter_id``: nothing of the old
meter is deleted. The ``status`` column is rewritten from the dates at every change.

Who: registering and editing, a dispatcher or engineer without reader status; replacement and
decommissioning are service procedures, a service engineer's (manual 2.3, 4.5.2). A building,
meter or communicator of another company is "not found". Every change writes its audit entries in
the same transaction. Tests: tests/integration/test_registry_admin.py, tests/integration/test_api_registry.py.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_engineer, require_operational_view, require_writer
from cloud.services.models import (
    MAX_VALUE,
    ChannelInfo,
    InvalidInput,
    MeterInfo,
    NotFound,
    UserInfo,
    check_day,
    check_id,
    meter_status,
    parse_lifecycle,
)
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.periods import zone
from protocol.vocabulary import PARAMETERS, ArchiveKind, MeterRole, Resource

_UNSET: Any = object()
_SERIAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
PHASES = ("A", "B", "C")
CONFIG_FIELDS = ("model", "tariffs", "inputs", "channel_resources", "calculator")


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel row as the registry keeps it."""

    number: int
    resource: str
    parameters: tuple[str, ...]
    tariff: str | None

    def info(self) -> ChannelInfo:
        return ChannelInfo(self.number, Resource(self.resource), self.parameters, self.tariff)


@dataclass(frozen=True, slots=True)
class Replacement:
    old: MeterInfo  # ended at ``at``, history kept
    new: MeterInfo  # from ``at``, replaces_meter_id = old.id


# --- checks of single values (pure) ------------------------------------------------------------

def _serial(field: str, value: object) -> str:
    serial = value.strip() if isinstance(value, str) else ""
    if not _SERIAL.match(serial):
        raise InvalidInput(f"{field}: 1 to 32 letters, digits, '.', '_' or '-', got {value!r}")
    return serial


def _role(value: object) -> MeterRole:
    try:
        return MeterRole(str(value))
    except ValueError:
        raise InvalidInput(f"role: one of {', '.join(r.value for r in MeterRole)}, got {value!r}") from None


def _reporting_day(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 28:
        raise InvalidInput(f"reporting_day: a day of month 1 to 28, got {value!r}")
    return value


MAX_CT_RATIO = 100_000  # far above any current transformer (e.g. 10000/5 A is 2000)


def _ct_ratio(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0 \
            or value > MAX_CT_RATIO:
        raise InvalidInput(f"ct_ratio: a current-transformer ratio > 0 and <= {MAX_CT_RATIO}, got {value!r}")
    return float(value)


def _phase(value: object) -> str | None:
    if value is not None and value not in PHASES:
        raise InvalidInput(f"phase: one of {', '.join(PHASES)} or none, got {value!r}")
    return value  # type: ignore[return-value]


def _communicator(value: object) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) > 200 or not text.isprintable():
        raise InvalidInput("communicator: up to 200 printable characters")
    return text


def _installed_on(value: object) -> date | None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise InvalidInput(f"installed_on: a date or none, got {value!r}")
    if value is not None:
        check_day("installed_on", value)
    return value  # type: ignore[return-value]


def period_start(field: str, value: object) -> datetime:
    """An aware datetime on the start of an hour, in UTC: the registry's form of a lifecycle instant."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field}: a date and time with a UTC offset, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field}: needs a UTC offset (the start of an hourly period)")
    if value.minute or value.second or value.microsecond:
        raise InvalidInput(f"{field}: must be the start of an hour (an hourly period), got {value.isoformat()}")
    check_day(field, value)  # before the conversion to UTC, which could overflow
    return value.astimezone(UTC)


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


# --- channels from the catalogue --------------------------------------------------------------

def model_spec(model: str) -> catalogue.ModelSpec:
    try:
        return catalogue.model(model)
    except catalogue.UnknownModel as exc:
        raise InvalidInput(f"model: {exc}") from None


def configure(model: str, *, tariffs: int | None = None, inputs: int | None = None,
              channel_resources: Mapping[int, str] | None = None, calculator: str | None = None,
              previous: Iterable[Channel] = ()) -> tuple[catalogue.ModelSpec, tuple[Channel, ...]]:
    """The model's catalogue entry in the configuration asked for, and its channel rows. What is not
    asked for follows ``previous`` (the channels of the meter edited or replaced) where the model
    allows it: tariff zones, pulse inputs, the resource chosen for a channel."""
    spec = model_spec(model)
    previous = tuple(previous)
    try:
        if calculator is not None:
            spec = spec.with_calculator(calculator)
    except ValueError as exc:
        raise InvalidInput(f"calculator: {exc}") from None
    if tariffs is None and spec.tariffs and previous:
        zones = sum(1 for c in previous if c.tariff and c.tariff != "total")
        tariffs = zones if 1 <= zones <= catalogue.MAX_TARIFFS else None
    if tariffs is not None and tariffs != spec.tariffs:
        if isinstance(tariffs, bool) or not isinstance(tariffs, int):
            raise InvalidInput(f"tariffs: a whole number, got {tariffs!r}")
        try:
            spec = spec.with_tariffs(tariffs)
        except ValueError as exc:
            raise InvalidInput(f"tariffs: {exc}") from None
    if inputs is None and model == catalogue.PULSE_927 and len(previous) in catalogue.PULSE_INPUTS:
        inputs = len(previous)
    if inputs is not None and (model != catalogue.PULSE_927 or inputs != len(spec.channels)):
        try:
            spec = spec.with_inputs(inputs)
        except ValueError as exc:
            raise InvalidInput(f"inputs: {exc}") from None
    chosen = {c.number: c.resource for c in previous}
    chosen.update(channel_resources or {})
    for number, resource in sorted(chosen.items()):
        try:
            channel = spec.channel(number)
        except catalogue.UnknownChannel as exc:
            if channel_resources and number in channel_resources:
                raise InvalidInput(f"channel_resources: {exc}") from None
            continue
        if channel.resource.value == resource:
            continue
        asked = bool(channel_resources and number in channel_resources)
        try:
            spec = spec.with_resource(Resource(resource), number)
        except ValueError as exc:
            if asked:
                raise InvalidInput(f"channel_resources: {exc}") from None  # previous choices only where allowed
    return spec, tuple(Channel(c.number, c.resource.value, c.parameters, c.tariff) for c in spec.channels)


def archives_text(spec: catalogue.ModelSpec, kinds: Iterable[str] | None) -> str:
    """The meter's "archives" text ("hour, day, integral"): the archive kinds it is read for (all the
    model keeps by default, manual 4.5.5 "выбрать типы передаваемых архивов") and their natures."""
    kept = {a.kind.value: a for a in spec.archives}
    wanted = list(dict.fromkeys(kinds)) if kinds is not None else list(kept)
    if not wanted:
        raise InvalidInput("archive_kinds: at least one archive kind")
    for kind in wanted:
        if kind not in kept:
            raise InvalidInput(f"archive_kinds: {spec.name} keeps no {kind!r} archive; it keeps "
                               f"{', '.join(kept)}")
    wanted.sort(key=list(kept).index)
    natures = dict.fromkeys(kept[k].nature.value for k in wanted)
    return ", ".join([*wanted, *natures])


def _kinds_of(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip() in ("hour", "day", "month")]


def _kept_kinds(spec: catalogue.ModelSpec, archives: str) -> list[str] | None:
    """The archive kinds a meter was read for that ``spec`` keeps too (None: none of them, so all of its own)."""
    return [k for k in _kinds_of(archives) if spec.has_archive(ArchiveKind(k))] or None


_PLAIN_FIELDS = ("serial", "role", "premise_id", "communicator", "communicator_id", "reporting_day", "ct_ratio",
                 "phase", "installed_on", "commissioned_at")


def _edited_config(row: sqlite3.Row, changes: Mapping[str, Any],
                   channels: tuple[Channel, ...]) -> tuple[dict[str, Any], tuple[Channel, ...]]:
    """The model, tariffs and archives columns an edit sets, and the meter's channels after it (rederived
    from the catalogue when the edit names a configuration field, else as they are)."""
    if not any(f in changes for f in CONFIG_FIELDS):
        if "archive_kinds" not in changes:
            return {}, channels
        return {"archives": archives_text(model_spec(row["model"]), changes["archive_kinds"])}, channels
    model = changes.get("model", row["model"])
    spec, derived = configure(model, tariffs=changes.get("tariffs"), inputs=changes.get("inputs"),
                              channel_resources=changes.get("channel_resources"),
                              calculator=changes.get("calculator"), previous=channels)
    kinds = changes.get("archive_kinds", _kept_kinds(spec, row["archives"]))
    return {"model": model, "tariffs": spec.tariffs, "archives": archives_text(spec, kinds)}, derived


def _edited_state(row: sqlite3.Row, columns: Mapping[str, Any], changes: Mapping[str, Any],
                  channels: tuple[Channel, ...]) -> dict[str, Any]:
    """The meter's lifecycle, role and premise after an edit, checked against its channels."""
    life = parse_lifecycle(row)
    if "commissioned_at" in columns and row["replaces_meter_id"] is not None \
            and columns["commissioned_at"] != life["commissioned_at"]:
        raise InvalidInput(f"commissioned_at: meter {row['serial']} replaced meter {row['replaces_meter_id']} "
                           "at that period; it changes with the replacement only")
    state: dict[str, Any] = {"role": row["role"], "premise_id": row["premise_id"], **life}
    state.update({k: v for k, v in columns.items() if k in state})
    state["initial_readings"] = check_readings("initial_readings",
                                               changes.get("initial_readings", life["initial_readings"]), channels)
    check_readings("final_readings", life["final_readings"], channels)
    _check_electricity(state, channels)
    if state["initial_readings"] and state["commissioned_at"] is None:
        raise InvalidInput("initial_readings: give commissioned_at, the period they were read at")
    return state


def check_readings(field: str, readings: object, channels: Iterable[Channel]) -> dict[str, float]:
    """``{"channel:parameter": reading}`` checked against the meter's counters: each key a channel of the
    meter and one of its counter parameters, each reading finite and >= 0 (domain units)."""
    if readings is None:
        return {}
    if not isinstance(readings, Mapping):
        raise InvalidInput(f"{field}: an object of \"channel:parameter\" -> reading")
    counters = {(c.number, p) for c in channels for p in c.parameters if PARAMETERS[p].summable}
    out: dict[str, float] = {}
    for key, value in readings.items():
        number, _, parameter = str(key).partition(":")
        if not number.strip().isdigit() or (int(number), parameter.strip()) not in counters:
            known = ", ".join(f"{n}:{p}" for n, p in sorted(counters)) or "none"
            raise InvalidInput(f"{field}: {key!r} is no counter of the meter; its counters are {known}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_VALUE:
            raise InvalidInput(f"{field}: {key}: a finite reading >= 0 and <= {MAX_VALUE:g}, got {value!r}")
        out[f"{int(number)}:{parameter.strip()}"] = float(value)
    return out


# --- the service ----------------------------------------------------------------------------------

class MetersService:
    def __init__(self, registry: Registry, auth: AuthService,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = registry
        self.auth = auth
        self.clock = clock

    async def get(self, token: str, meter_id: int) -> MeterInfo:
        user = require_operational_view(await self.auth.user(token), "meters are not available to administrators")

        def read() -> MeterInfo:
            with self.registry.connect() as db:
                return self._info(db, self._row(db, user, meter_id))
        return await asyncio.to_thread(read)

    # --- registration ------------------------------------------------------------------------
    async def create(self, token: str, *, building_id: int, serial: str, model: str, role: str,
                     premise_id: int | None = None, communicator: str = "", communicator_id: int | None = None,
                     archive_kinds: Iterable[str] | None = None, reporting_day: int = 1, ct_ratio: float = 1.0,
                     phase: str | None = None, tariffs: int | None = None, inputs: int | None = None,
                     channel_resources: Mapping[int, str] | None = None, calculator: str | None = None,
                     installed_on: date | None = None, commissioned_at: datetime | None = None,
                     initial_readings: Mapping[str, float] | None = None, barcode: str = "",
                     verified_on: date | None = None, next_verification_on: date | None = None) -> MeterInfo:
        """Register a meter; its channels come from the catalogue entry of ``model`` (configured by
        ``tariffs``, ``inputs``, ``channel_resources`` and ``calculator`` where the model has them).
        The barcode and verification dates are the add-meter wizard's (manual 4.5.2)."""
        user = require_writer(await self.auth.user(token))
        passport = _passport_fields(barcode, verified_on, next_verification_on)
        spec, channels = configure(model, tariffs=tariffs, inputs=inputs, channel_resources=channel_resources,
                                   calculator=calculator)
        values = {
            "serial": _serial("serial", serial), "model": model, "role": _role(role).value,
            "communicator": _communicator(communicator), "archives": archives_text(spec, archive_kinds),
            "reporting_day": _reporting_day(reporting_day), "ct_ratio": _ct_ratio(ct_ratio), "phase": _phase(phase),
            "tariffs": spec.tariffs, "installed_on": _installed_on(installed_on),
            "commissioned_at": None if commissioned_at is None else period_start("commissioned_at", commissioned_at),
            "initial_readings": check_readings("initial_readings", initial_readings, channels), **passport}
        _check_electricity(values, channels)
        if values["initial_readings"] and values["commissioned_at"] is None:
            raise InvalidInput("initial_readings: give commissioned_at, the period they were read at")
        return await asyncio.to_thread(self._create, user, building_id, premise_id, communicator_id, values, channels)

    def _create(self, user: UserInfo, building_id: int, premise_id: int | None, communicator_id: int | None,
                values: dict[str, Any], channels: tuple[Channel, ...]) -> MeterInfo:
        with self.registry.connect() as db:
            building = self._building(db, user, building_id)
            _check_place(db, building["id"], MeterRole(values["role"]), premise_id)
            self._check_communicator(db, user, communicator_id, None)
            _check_dates(values["installed_on"], values["commissioned_at"], None, building["time_zone"])
            self._check_serial(db, user, values["serial"], None, "serial")
            meter_id = _insert(db, {**values, "company_id": user.company_id, "building_id": building_id,
                                    "premise_id": premise_id, "communicator_id": communicator_id}, channels,
                               self.clock())
            after = self._info(db, self._row(db, user, meter_id))
            audit.record(db, user, "meter.create", f"meter:{meter_id}", None, _state(after))
        return after

    # --- editing --------------------------------------------------------------------------------
    async def update(self, token: str, meter_id: int, **changes: Any) -> MeterInfo:
        """Change the given fields: serial, model, tariffs, inputs, channel_resources, calculator,
        archive_kinds, role, premise_id, communicator, communicator_id, reporting_day, ct_ratio, phase,
        installed_on, commissioned_at, initial_readings. The end of service and the replacement link
        change only through ``decommission`` and ``replace``. A new configuration (model, tariffs,
        inputs, resources) rederives the channels from the catalogue."""
        user = require_writer(await self.auth.user(token))
        allowed = {*CONFIG_FIELDS, "serial", "archive_kinds", "role", "premise_id", "communicator", "communicator_id",
                   "reporting_day", "ct_ratio", "phase", "installed_on", "commissioned_at", "initial_readings"}
        if unknown := sorted(set(changes) - allowed):
            raise InvalidInput(f"{unknown[0]}: not a field that can be edited (the end of service and replacements "
                               "change through decommission and replace)")
        checks: dict[str, Callable[[Any], Any]] = {
            "serial": lambda v: _serial("serial", v), "role": lambda v: _role(v).value,
            "communicator": _communicator, "reporting_day": _reporting_day, "ct_ratio": _ct_ratio,
            "phase": _phase, "installed_on": _installed_on,
            "commissioned_at": lambda v: None if v is None else period_start("commissioned_at", v)}
        checked = {k: checks[k](v) if k in checks else v for k, v in changes.items()}
        return await asyncio.to_thread(self._update, user, meter_id, checked)

    def _update(self, user: UserInfo, meter_id: int, changes: dict[str, Any]) -> MeterInfo:
        with self.registry.connect() as db:
            row = self._row(db, user, meter_id)
            before = self._info(db, row)
            columns, channels = _edited_config(row, changes, _channels(db, meter_id))
            columns.update({name: changes[name] for name in _PLAIN_FIELDS if name in changes})
            state = _edited_state(row, columns, changes, channels)
            building = self._building(db, user, row["building_id"])
            if "role" in columns or "premise_id" in columns:
                _check_place(db, building["id"], MeterRole(state["role"]), state["premise_id"])
            if "communicator_id" in columns:
                self._check_communicator(db, user, columns["communicator_id"], meter_id)
            _check_dates(state["installed_on"], state["commissioned_at"], state["decommissioned_at"],
                         building["time_zone"])
            if "serial" in columns:
                self._check_serial(db, user, columns["serial"], meter_id, "serial")
            columns["initial_readings"] = state["initial_readings"]
            _write(db, meter_id, columns, channels if "model" in columns else None,
                   state["commissioned_at"], state["decommissioned_at"], row["status"], self.clock())
            after = self._info(db, self._row(db, user, meter_id))
            if after != before:
                audit.record(db, user, "meter.update", f"meter:{meter_id}", _state(before), _state(after))
        return after

    # --- the end of service -----------------------------------------------------------------------
    async def decommission(self, token: str, meter_id: int, at: datetime,
                           final_readings: Mapping[str, float] | None = None) -> MeterInfo:
        """Take the meter out of service from the hourly period ``at`` on (manual 4.5.5 "Выбытие ПУ");
        its row, channels and stored series stay."""
        user = require_engineer(await self.auth.user(token), "replacement and decommissioning")
        at = period_start("at", at)

        def write() -> MeterInfo:
            with self.registry.connect() as db:
                row = self._row(db, user, meter_id)
                before = self._info(db, row)
                _check_end(row, before, at)
                final = check_readings("final_readings", final_readings, _channels(db, meter_id))
                self._end(db, meter_id, before, at, final)
                after = self._info(db, self._row(db, user, meter_id))
                audit.record(db, user, "meter.decommission", f"meter:{meter_id}", _state(before), _state(after))
            return after
        return await asyncio.to_thread(write)

    async def replace(self, token: str, meter_id: int, *, new_serial: str, at: datetime,
                      old_final_readings: Mapping[str, float] | None = None,
                      new_initial_readings: Mapping[str, float] | None = None, new_model: str | None = None,
                      tariffs: int | None = None, inputs: int | None = None,
                      channel_resources: Mapping[int, str] | None = None, calculator: str | None = None,
                      communicator: str | None = None, communicator_id: int | None = None,
                      installed_on: date | None = None) -> Replacement:
        """Replace the meter by a new one from the hourly period ``at`` (manual 4.5.5 "решение о замене
        ПУ"), in one transaction: the old meter ends at ``at`` with its final readings and keeps its
        history; the new one, ``replaces_meter_id`` = the old, starts at ``at`` with its initial readings
        in the same building, premise and role. Its channels are the old meter's (or, with ``new_model``,
        the catalogue's, keeping the old choices where the model allows them); its communicator is the
        one given, else the old one's unless that was built into the old meter; ``installed_on``
        defaults to the building's local date of ``at``."""
        user = require_engineer(await self.auth.user(token), "replacement and decommissioning")
        at = period_start("at", at)
        serial = _serial("new_serial", new_serial)
        text = None if communicator is None else _communicator(communicator)
        installed_on = _installed_on(installed_on)
        config: dict[str, Any] = {"tariffs": tariffs, "inputs": inputs, "channel_resources": channel_resources,
                  "calculator": calculator}
        if new_model is None and any(v is not None for v in config.values()):
            raise InvalidInput("new_model: give the new meter's model to configure its channels anew")

        def write() -> Replacement:
            with self.registry.connect() as db:
                row = self._row(db, user, meter_id)
                old = self._info(db, row)
                _check_end(row, old, at)
                old_channels = _channels(db, meter_id)
                final = check_readings("old_final_readings", old_final_readings, old_channels)
                if new_model is None:
                    model, channels, archives = row["model"], old_channels, row["archives"]
                    kept_tariffs = row["tariffs"]
                else:
                    spec, channels = configure(new_model, previous=old_channels, **config)
                    model, kept_tariffs = new_model, spec.tariffs
                    archives = archives_text(spec, _kept_kinds(spec, row["archives"]))
                initial = check_readings("new_initial_readings", new_initial_readings, channels)
                building = self._building(db, user, row["building_id"])
                self._check_serial(db, user, serial, None, "new_serial")
                link_id = communicator_id if communicator_id is not None else self._kept_link(db, row)
                self._check_communicator(db, user, link_id, meter_id)
                values = {"serial": serial, "model": model, "role": row["role"], "archives": archives,
                          "communicator": text if text is not None else row["communicator"],
                          "reporting_day": row["reporting_day"], "ct_ratio": row["ct_ratio"], "phase": row["phase"],
                          "tariffs": kept_tariffs, "commissioned_at": at, "initial_readings": initial,
                          "installed_on": installed_on or at.astimezone(zone(building["time_zone"])).date()}
                _check_dates(values["installed_on"], at, None, building["time_zone"])
                if not any(c.resource == Resource.ELECTRICITY.value for c in channels):
                    values.update(ct_ratio=1.0, phase=None)
                self._end(db, meter_id, old, at, final)
                new_id = _insert(db, {**values, "company_id": user.company_id, "building_id": row["building_id"],
                                      "premise_id": row["premise_id"], "communicator_id": link_id,
                                      "replaces_meter_id": meter_id, "barcode": ""}, channels, self.clock())
                ended = self._info(db, self._row(db, user, meter_id))
                new = self._info(db, self._row(db, user, new_id))
                audit.record(db, user, "meter.replace", f"meter:{meter_id}", _state(old),
                             {**_state(ended), "replaced_by": new_id})
                audit.record(db, user, "meter.create", f"meter:{new_id}", None, _state(new))
            return Replacement(ended, new)
        return await asyncio.to_thread(write)

    def _end(self, db: sqlite3.Connection, meter_id: int, before: MeterInfo, at: datetime,
             final: dict[str, float]) -> None:
        db.execute("UPDATE meters SET decommissioned_at = ?, final_readings = ?, status = ? WHERE id = ?",
                   (_iso(at), json.dumps(final, sort_keys=True),
                    meter_status(before.commissioned_at, at, self.clock()), meter_id))

    # --- lookups -------------------------------------------------------------------------------------
    @staticmethod
    def _row(db: sqlite3.Connection, user: UserInfo, meter_id: int) -> sqlite3.Row:
        check_id("meter_id", meter_id)
        row = db.execute("SELECT m.*, p.number AS premise_number FROM meters m LEFT JOIN premises p "
                         "ON p.id = m.premise_id WHERE m.id = ? AND m.company_id = ?",
                         (meter_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"meter {meter_id} not found")
        return row

    @staticmethod
    def _building(db: sqlite3.Connection, user: UserInfo, building_id: int) -> sqlite3.Row:
        check_id("building_id", building_id)
        row = db.execute("SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                         (building_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return row

    @staticmethod
    def _check_serial(db: sqlite3.Connection, user: UserInfo, serial: str, meter_id: int | None, field: str) -> None:
        taken = db.execute("SELECT id FROM meters WHERE company_id = ? AND serial = ? AND id IS NOT ?",
                           (user.company_id, serial, meter_id)).fetchone()
        if taken is not None:
            raise InvalidInput(f"{field}: meter {taken['id']} of the company has serial {serial!r}")

    @staticmethod
    def _check_communicator(db: sqlite3.Connection, user: UserInfo, communicator_id: int | None,
                            meter_id: int | None) -> None:
        """A communicator of the company; a built-in one serves only one meter in service."""
        if communicator_id is None:
            return
        check_id("communicator_id", communicator_id)
        row = db.execute("SELECT placement FROM communicators WHERE id = ? AND company_id = ?",
                         (communicator_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"communicator {communicator_id} not found")
        if row["placement"] == "builtin":
            other = db.execute("SELECT id FROM meters WHERE communicator_id = ? AND id IS NOT ? AND "
                               "decommissioned_at IS NULL AND status != 'decommissioned'",
                               (communicator_id, meter_id)).fetchone()
            if other is not None:
                raise InvalidInput(f"communicator_id: built-in communicator {communicator_id} already serves "
                                   f"meter {other['id']}")

    @staticmethod
    def _kept_link(db: sqlite3.Connection, row: sqlite3.Row) -> int | None:
        """The old meter's communicator for its replacement, unless it was built into the old meter."""
        if row["communicator_id"] is None:
            return None
        placement = db.execute("SELECT placement FROM communicators WHERE id = ?", (row["communicator_id"],)).fetchone()
        return None if placement is None or placement["placement"] == "builtin" else row["communicator_id"]

    def _info(self, db: sqlite3.Connection, row: sqlite3.Row) -> MeterInfo:
        life = parse_lifecycle(row)
        return MeterInfo(id=row["id"], serial=row["serial"], model=row["model"], role=MeterRole(row["role"]),
                         building_id=row["building_id"], premise_id=row["premise_id"],
                         premise_number=row["premise_number"],
                         channels=tuple(c.info() for c in _channels(db, row["id"])),
                         communicator=row["communicator"], archives=row["archives"],
                         status=meter_status(life["commissioned_at"], life["decommissioned_at"], self.clock(),
                                             row["status"]), **life)


# --- registry rows ----------------------------------------------------------------------------------

def _channels(db: sqlite3.Connection, meter_id: int) -> tuple[Channel, ...]:
    rows = db.execute("SELECT * FROM meter_channels WHERE meter_id = ? ORDER BY number", (meter_id,)).fetchall()
    return tuple(Channel(r["number"], r["resource"], tuple(r["parameters"].split(",")), r["tariff"]) for r in rows)


def _column(value: object) -> object:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return _iso(value) if isinstance(value, datetime | date) else value


def _insert(db: sqlite3.Connection, values: dict[str, Any], channels: tuple[Channel, ...], now: datetime) -> int:
    columns = {**values, "status": meter_status(values.get("commissioned_at"), None, now)}
    meter_id = int(db.execute(
        f"INSERT INTO meters ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608 - our names
        tuple(_column(v) for v in columns.values())).lastrowid or 0)
    _write_channels(db, meter_id, channels)
    return meter_id


def _write(db: sqlite3.Connection, meter_id: int, columns: dict[str, Any], channels: tuple[Channel, ...] | None,
           commissioned_at: datetime | None, decommissioned_at: datetime | None, stored: str, now: datetime) -> None:
    columns = {**columns, "status": meter_status(commissioned_at, decommissioned_at, now, stored)}
    assignments = ", ".join(f"{column} = ?" for column in columns)  # column names are ours
    db.execute(f"UPDATE meters SET {assignments} WHERE id = ?",  # noqa: S608
               (*(_column(v) for v in columns.values()), meter_id))
    if channels is not None:
        db.execute("DELETE FROM meter_channels WHERE meter_id = ?", (meter_id,))
        _write_channels(db, meter_id, channels)


def _write_channels(db: sqlite3.Connection, meter_id: int, channels: tuple[Channel, ...]) -> None:
    db.executemany("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) VALUES (?, ?, ?, ?, ?)",
                   [(meter_id, c.number, c.resource, ",".join(c.parameters), c.tariff) for c in channels])


def _check_place(db: sqlite3.Connection, building_id: int, role: MeterRole, premise_id: int | None) -> None:
    """An apartment (individual) meter is in a premise of its building; a building (common) meter in none."""
    if role is MeterRole.COMMON:
        if premise_id is not None:
            raise InvalidInput("premise_id: a common (building) meter is in no premise")
        return
    if premise_id is None:
        raise InvalidInput("premise_id: an individual meter needs a premise of its building")
    check_id("premise_id", premise_id)
    found = db.execute("SELECT 1 FROM premises WHERE id = ? AND building_id = ?", (premise_id, building_id)).fetchone()
    if found is None:
        raise InvalidInput(f"premise_id: building {building_id} has no premise {premise_id}")


def _passport_fields(barcode: object, verified_on: object, next_verification_on: object) -> dict[str, Any]:
    """The barcode and verification dates of a new meter, checked (the rules of BuildingsService.update_meter)."""
    text = barcode.strip() if isinstance(barcode, str) else None
    if text is None or len(text) > 64 or not text.isprintable():
        raise InvalidInput("barcode: up to 64 printable characters")
    out: dict[str, Any] = {"barcode": text}
    for field, value in (("verified_on", verified_on), ("next_verification_on", next_verification_on)):
        if value is not None:
            if not isinstance(value, date) or isinstance(value, datetime):
                raise InvalidInput(f"{field}: a date or none, got {value!r}")
            check_day(field, value)
            out[field] = value
    if verified_on and next_verification_on and next_verification_on <= verified_on:  # type: ignore[operator]
        raise InvalidInput("next_verification_on: must be after verified_on")
    return out


def _check_electricity(values: Mapping[str, Any], channels: Iterable[Channel]) -> None:
    if any(c.resource == Resource.ELECTRICITY.value for c in channels):
        return
    if values.get("ct_ratio", 1.0) != 1.0:
        raise InvalidInput(f"ct_ratio: a current-transformer ratio is for electricity meters only, got "
                           f"{values['ct_ratio']}")
    if values.get("phase") is not None:
        raise InvalidInput("phase: a phase is for single-phase electricity meters only")


def _check_dates(installed_on: date | None, commissioned_at: datetime | None, decommissioned_at: datetime | None,
                 time_zone: str) -> None:
    if installed_on and commissioned_at and installed_on > commissioned_at.astimezone(zone(time_zone)).date():
        raise InvalidInput(f"installed_on: {installed_on} is after the commissioning "
                           f"({commissioned_at.astimezone(zone(time_zone)).date()} local)")
    if commissioned_at and decommissioned_at and commissioned_at >= decommissioned_at:
        raise InvalidInput(f"commissioned_at: must be before the decommissioning at {decommissioned_at.isoformat()}")


def _check_end(row: sqlite3.Row, meter: MeterInfo, at: datetime) -> None:
    """The meter may end at ``at``: it is not decommissioned and ``at`` is after its commissioning."""
    if meter.decommissioned_at is not None or row["status"] == "decommissioned":
        since = f" since {meter.decommissioned_at.isoformat()}" if meter.decommissioned_at else ""
        raise InvalidInput(f"meter_id: meter {meter.serial} is decommissioned{since}")
    if meter.commissioned_at is not None and at <= meter.commissioned_at:
        raise InvalidInput(f"at: {at.isoformat()} is not after the commissioning of meter {meter.serial} at "
                           f"{meter.commissioned_at.isoformat()}")


def _state(meter: MeterInfo) -> dict[str, Any]:
    """A meter as its audit entries record it."""
    out: dict[str, Any] = {}
    for name in meter.__slots__:  # type: ignore[attr-defined]
        value = getattr(meter, name)
        if name == "channels":
            value = [{"number": c.number, "resource": c.resource.value, "parameters": list(c.parameters),
                      "tariff": c.tariff} for c in value]
        out[name] = _column(value) if not isinstance(value, dict) else value
    return out
