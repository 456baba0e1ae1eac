"""The add-meter wizard and the meter view (manual 4.5.2), the 4.5.7 warning about a heat meter in a
building with no heating season.

The wizard checks a draft step by step (the rules: cloud/services/wizard_rules.py; what needs the
registry - the building, premise, serial, communicator - here), reads a LoRaWAN device's electronic
passport from the radio packets its building's edge received, and at confirmation: creates the
communicator of a built-in or new line (CommunicatorsService), the meter (MetersService.create, with
its barcode and verification dates), the kit composition and model options (``meter_kits``,
``meter_kit_parts``), then pushes the site's meter list to the edge (a ``meter_config`` command, the
path every registry change reaches the edge by). A heat meter added to a building whose heating
season was never set gets a warning: a ``device_events`` row (source cloud, code
``heat_meter_without_season``) that the event journal (4.2.2) shows, and the confirmation says it.

Who: only a service engineer without reader status adds a meter or changes its admin password (manual
2.3, 4.5.1); the meter view is any dispatcher's or engineer's, readers' too; administrators see
neither. Another company's building, premise, meter or communicator is "not found". Every change is
audited. Tests: tests/unit/cloud/test_wizard_rules.py, tests/integration/test_wizard.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cloud.services import audit, heating
from cloud.services import wizard_rules as rules
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_engineer, require_operational_view
from cloud.services.buildings import BuildingsService
from cloud.services.communicators import CommunicatorInfo, CommunicatorSpec, CommunicatorsService, validate
from cloud.services.meters_admin import MetersService
from cloud.services.models import (
    BuildingSummary,
    ChannelInfo,
    InvalidInput,
    MeterInfo,
    NotFound,
    PremiseInfo,
    Role,
    UserInfo,
    check_id,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue, lorawan_up
from protocol.periods import from_device_seconds

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

log = logging.getLogger(__name__)

NO_SEASON_CODE = "heat_meter_without_season"
EVENT_COLUMNS = ("company", "site", "id", "meter", "at", "code", "severity", "source", "detail")
PASSPORT_LOOKBACK = timedelta(days=30)  # a passport older than this is not the device on site today
_REFUSAL = "meters are not available to administrators"
_PASSPORT_SQL = (
    "SELECT at, payload FROM {db}.radio_packets FINAL WHERE site = {site:String} AND lower(dev_eui) = {eui:String} "
    "AND direction = 'up' AND f_port = {port:UInt8} AND startsWith(lower(payload), {template:String}) "
    "AND at >= {since:DateTime64(3)} ORDER BY at DESC LIMIT 1")


ADDING = "adding a meter and changing its settings"  # what only a service engineer does here (4.5.1)


# --- what the callers get ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A model the wizard offers, with what its configuration step asks."""

    name: str
    title: str  # Russian
    roles: tuple[str, ...]  # the meter types it may be installed as
    line_kinds: tuple[str, ...]  # communicator kinds: ("lora",) or ("tcp", "gprs")
    builtin_line: bool  # has a built-in module (data from the passport)
    channels: tuple[ChannelInfo, ...]  # in the default configuration
    archive_kinds: tuple[str, ...]
    options: tuple[str, ...]  # calculator, inputs, channel_resources, tariffs, phases, kit, verified_on ...


@dataclass(frozen=True, slots=True)
class KitLine:
    kind: str
    serial: str
    channel: int | None
    model: str


@dataclass(frozen=True, slots=True)
class Review:
    """Step 6: what will be created, in words and figures."""

    model: str
    model_title: str
    role: str
    building_id: int
    address: str
    premise_number: str | None
    serial: str
    barcode: str
    line_mode: str
    communicator: str  # the link text
    communicator_kind: str
    channels: tuple[ChannelInfo, ...]
    archives: str
    calculator: str | None
    kit: tuple[KitLine, ...]
    tariffs: int
    phases: int | None
    phase: str | None
    ct_ratio: float
    admin_password: str  # "factory" or "set"
    verified_on: date | None
    next_verification_on: date | None
    warnings: tuple[str, ...]  # codes: NO_SEASON_CODE, a heat meter in a building with no heating season (4.5.7)


@dataclass(frozen=True, slots=True)
class StepCheck:
    step: str
    ok: bool
    serial: str  # as checked (from the barcode when none was typed)
    review: Review | None  # from the "config" step on


@dataclass(frozen=True, slots=True)
class DevicePassport:
    """The newest electronic passport a LoRaWAN device sent to the building's edge."""

    dev_eui: str
    model: str | None  # the catalogue's name; None for a model code it does not know
    model_code: int
    serial: str
    firmware: str
    verified_on: date  # the device's local date of verification
    inputs: tuple[str, ...]  # resource of channel 1, 2, ...
    received_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class WizardResult:
    meter: MeterInfo
    communicator_id: int | None
    warnings: tuple[str, ...]
    config_command: str | None  # the meter_config command that carries the new meter list to the edge
    config_problem: str | None  # why the list was not pushed (the meter is created all the same)


@dataclass(frozen=True, slots=True)
class MeterView:
    """«Просмотр ПУ»: the meter, where it is, its line, kit, options and verification dates."""

    meter: MeterInfo
    model_title: str
    address: str
    city: str
    time_zone: str
    barcode: str
    verified_on: date | None
    next_verification_on: date | None
    communicator: CommunicatorInfo | None
    calculator: str | None
    phases: int | None
    admin_password: str  # "factory", "set" or "" (not an electricity meter)
    kit: tuple[KitLine, ...]
    documents: int
    may_service: bool  # the caller may run service procedures and change its settings (an engineer)


# --- the service -----------------------------------------------------------------------------------------

class MeterWizardService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # the registry services the wizard builds on, reading "now" from this one's clock
        self.meters = MetersService(registry, auth, clock=lambda: self.clock())
        self.communicators = CommunicatorsService(registry, auth)
        self.buildings = BuildingsService(registry, auth)
        self.accounting = AccountingService(registry, clickhouse, auth)

    # --- the wizard's lists ----------------------------------------------------------------------------
    async def models(self, token: str) -> list[ModelChoice]:
        """The models a meter may be added as, each with what its configuration step asks."""
        require_engineer(await self.auth.user(token), ADDING)
        return [_choice(spec) for spec in catalogue.MODELS.values()]

    async def buildings_list(self, token: str) -> list[BuildingSummary]:
        require_engineer(await self.auth.user(token), ADDING)
        return await self.accounting.buildings(token)

    async def premises(self, token: str, building_id: int) -> list[PremiseInfo]:
        require_engineer(await self.auth.user(token), ADDING)
        return await self.accounting.premises(token, building_id)

    async def line_choices(self, token: str, model: str) -> list[CommunicatorInfo]:
        """The company's communicators a meter of ``model`` could use: of a kind it talks over, and a
        built-in one only while it serves no meter."""
        require_engineer(await self.auth.user(token), ADDING)
        kinds = rules.line_kinds(model)
        return [c for c in await self.communicators.list(token)
                if c.spec.kind in kinds and not (c.spec.placement == "builtin" and c.meter_ids)]

    # --- checking ------------------------------------------------------------------------------------
    async def check(self, token: str, draft: rules.Draft, step: str) -> StepCheck:
        """Check the draft through ``step`` (InvalidInput names the first problem and its field); from
        "config" on, the review of what will be created."""
        user = require_engineer(await self.auth.user(token), ADDING)
        return await asyncio.to_thread(self._check, user, draft, step)

    def _check(self, user: UserInfo, draft: rules.Draft, step: str) -> StepCheck:
        with self.registry.connect() as db:
            existing = _existing(db, user, draft)
            checked = rules.check_through(draft, step, existing)
            plain = checked.draft if isinstance(checked, rules.Configured) else checked
            _check_registry(db, user, plain, step)
            if not isinstance(checked, rules.Configured):
                return StepCheck(step, True, plain.serial, None)
            return StepCheck(step, True, plain.serial, self._review(db, user, checked, existing)[1])

    def _checked(self, user: UserInfo, draft: rules.Draft) -> tuple[rules.Configured, Review, rules.LineChoice]:
        """Every step of the draft checked against the rules and the registry, for the confirmation."""
        with self.registry.connect() as db:
            existing = _existing(db, user, draft)
            configured = rules.check_through(draft, "review", existing)
            if not isinstance(configured, rules.Configured):
                raise InvalidInput("step: the draft did not reach the review")
            _check_registry(db, user, configured.draft, "review")
            line, review = self._review(db, user, configured, existing)
            return configured, review, line

    def _review(self, db: sqlite3.Connection, user: UserInfo, configured: rules.Configured,
                existing: CommunicatorSpec | None) -> tuple[rules.LineChoice, Review]:
        d = configured.draft
        building = _building(db, user, d.building_id)
        premise = None if d.premise_id is None else db.execute(
            "SELECT number FROM premises WHERE id = ?", (d.premise_id,)).fetchone()["number"]
        line = d.line
        spec = existing if line is not None and line.mode == "existing" else line.spec if line else None
        if line is None or spec is None:
            raise InvalidInput("line.mode: choose the communication line")
        warnings = []
        if rules.measures_heat(configured.channels) and _season(db, building["id"]) is None:
            warnings.append(NO_SEASON_CODE)
        return line, Review(d.model, configured.spec.title, d.role, building["id"], building["address"], premise,
                      d.serial, d.barcode, line.mode, rules.communicator_text(d, spec), spec.kind,
                      tuple(c.info() for c in configured.channels), configured.archives, d.calculator,
                      tuple(KitLine(p.kind, p.serial, p.channel, p.model) for p in d.kit), configured.spec.tariffs,
                      d.phases, d.phase, d.ct_ratio, "set" if d.admin_password else "factory", d.verified_on,
                      d.next_verification_on, tuple(warnings))

    # --- the passport -----------------------------------------------------------------------------------
    async def passport(self, token: str, building_id: int, dev_eui: str) -> DevicePassport | None:
        """The newest passport the device ``dev_eui`` sent through the building's edge in the last
        PASSPORT_LOOKBACK; None when it sent none (the engineer types the data, or wakes the device)."""
        user = require_engineer(await self.auth.user(token), ADDING)
        eui = validate(CommunicatorSpec("lora", "builtin", dev_eui=dev_eui, lora_class="A",
                                                           lorawan_version="1.0.2")).dev_eui or ""
        row = await asyncio.to_thread(self._building_row, user, building_id)
        found = await self.ch.query(_PASSPORT_SQL, {
            "site": row["site"], "eui": eui, "port": lorawan_up.FPORT_DATA,
            "template": f"{lorawan_up.TEMPLATE_PASSPORT:02x}", "since": self.clock() - PASSPORT_LOOKBACK})
        if not found:
            return None
        at, payload = found[0]
        try:
            frame = lorawan_up.decode(bytes.fromhex(payload))
        except (ValueError, lorawan_up.DecodeError) as exc:
            raise InvalidInput(f"dev_eui: the newest passport of {eui} does not decode ({exc}); wake the device "
                               "for a new one") from None
        if not isinstance(frame, lorawan_up.Passport):
            return None
        model = next((m.name for m in catalogue.MODELS.values() if m.code == frame.model), None)
        received = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return DevicePassport(eui, model, frame.model, str(frame.serial), frame.firmware_text,
                              from_device_seconds(frame.verified).date(), tuple(r.name.lower() for r in frame.inputs),
                              received)

    def _building_row(self, user: UserInfo, building_id: int) -> sqlite3.Row:
        with self.registry.connect() as db:
            return _building(db, user, building_id)

    # --- confirmation ----------------------------------------------------------------------------------
    async def confirm(self, token: str, draft: rules.Draft) -> WizardResult:
        """Create the meter the draft describes (every step checked again), and push the site's meter
        list to the edge."""
        user = require_engineer(await self.auth.user(token), ADDING)
        configured, review, line = await asyncio.to_thread(self._checked, user, draft)
        d = configured.draft
        created: CommunicatorInfo | None = None
        if line.mode == "existing" or line.spec is None:
            communicator_id = line.communicator_id
        else:
            created = await self.communicators.create(token, replace(line.spec, building_id=d.building_id))
            communicator_id = created.id
        try:
            meter = await self.meters.create(token, communicator=review.communicator,
                                             communicator_id=communicator_id, **rules.create_arguments(configured))
        except BaseException:
            if created is not None:  # the line was made for this meter only: it goes with it
                await asyncio.to_thread(self._drop_communicator, user, created)
            raise
        await asyncio.to_thread(self._save_kit, user, meter.id, d)
        if meter.commissioned_at is None:  # with a date it is in service already, installed before
            await asyncio.to_thread(self._await_installation, meter.id)
        warnings = review.warnings
        if NO_SEASON_CODE in warnings:
            await self._warn_no_season(user, meter, review)
        command, problem = await self._push(token, user, d.building_id)
        log.info("event=meter_added meter=%s serial=%s model=%s user=%s", meter.id, meter.serial, meter.model,
                 user.login)
        return WizardResult(meter, communicator_id, warnings, command, problem)

    def _drop_communicator(self, user: UserInfo, info: CommunicatorInfo) -> None:
        with self.registry.connect() as db:
            if db.execute("SELECT 1 FROM meters WHERE communicator_id = ?", (info.id,)).fetchone() is None:
                db.execute("DELETE FROM communicators WHERE id = ?", (info.id,))
                audit.record(db, user, "communicator.delete", f"communicator:{info.id}",
                             {"reason": "the meter it was created for was not added"}, None)

    def _await_installation(self, meter_id: int) -> None:
        """The meter is not polled until its «Установка ПУ» commissions it (manual 4.5.5: archives
        reach the system once that procedure is complete): an out-of-service interval from now,
        which the commissioning closes at its actual date."""
        now = self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        with self.registry.connect() as db:
            db.execute("INSERT INTO meter_outages (meter_id, procedure_id, from_at) VALUES (?, NULL, ?)",
                       (meter_id, now.isoformat(timespec="microseconds")))  # procedures' fixed-width text

    def _save_kit(self, user: UserInfo, meter_id: int, d: rules.Draft) -> None:
        with self.registry.connect() as db:
            db.execute("INSERT INTO meter_kits (meter_id, calculator, phases, admin_password, created_by, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (meter_id, d.calculator, d.phases, d.admin_password, user.id,
                                                     self.clock().astimezone(UTC).isoformat()))
            db.executemany("INSERT INTO meter_kit_parts (meter_id, position, kind, serial, channel, model) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           [(meter_id, i, p.kind, p.serial, p.channel, p.model) for i, p in enumerate(d.kit, 1)])
            audit.record(db, user, "meter.kit", f"meter:{meter_id}", None, {
                "calculator": d.calculator, "phases": d.phases,
                "admin_password": "set" if d.admin_password else "factory",
                "kit": [{"kind": p.kind, "serial": p.serial, "channel": p.channel, "model": p.model} for p in d.kit]})

    async def _warn_no_season(self, user: UserInfo, meter: MeterInfo, review: Review) -> None:
        """The 4.5.7 warning in the event journal: a heat meter in a building with no heating season."""
        row = await asyncio.to_thread(self._building_row, user, review.building_id)
        now = self.clock().astimezone(UTC)
        key = f"{user.company_id}|{meter.id}|{NO_SEASON_CODE}"
        event_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1
        detail = {"building_id": review.building_id, "address": review.address, "meter_id": meter.id,
                  "text": f"heat meter {meter.serial} added to {review.address}, whose heating season is not set"}
        await self.ch.insert("device_events", [(user.company_id, row["site"], event_id, meter.serial,
                                                round(now.timestamp() * 1000), NO_SEASON_CODE, "warning", "cloud",
                                                json.dumps(detail, ensure_ascii=False, sort_keys=True))],
                             EVENT_COLUMNS)
        log.warning("event=%s company=%s building=%s meter=%s", NO_SEASON_CODE, user.company_id,
                    review.building_id, meter.serial)

    async def _push(self, token: str, user: UserInfo, building_id: int | None) -> tuple[str | None, str | None]:
        """Send the site's meter list with the new meter to the edge; a list the edge would refuse is reported,
        not raised: the meter exists, and the engineer fixes what the reason names."""
        row = await asyncio.to_thread(self._building_row, user, building_id or 0)
        try:
            command = await self.commands.issue(token, "meter_config", site=row["site"])
        except InvalidInput as exc:
            return None, str(exc)
        return command.id, None

    # --- the meter view --------------------------------------------------------------------------------
    async def view(self, token: str, meter_id: int) -> MeterView:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        meter = await self.meters.get(token, meter_id)
        passport = await self.buildings.meter(token, meter_id)
        communicator = None if passport.communicator_id is None else \
            await self.communicators.get(token, passport.communicator_id)

        def read() -> MeterView:
            with self.registry.connect() as db:
                building = _building(db, user, meter.building_id)
                kit = db.execute("SELECT * FROM meter_kits WHERE meter_id = ?", (meter_id,)).fetchone()
                parts = db.execute("SELECT * FROM meter_kit_parts WHERE meter_id = ? ORDER BY position",
                                   (meter_id,)).fetchall()
                documents = db.execute("SELECT count(*) FROM meter_documents WHERE meter_id = ?",
                                       (meter_id,)).fetchone()[0]
            try:
                title = catalogue.model(meter.model).title
            except catalogue.UnknownModel:
                title = meter.model
            password = ""
            if meter.model in catalogue.FACTORY_PASSWORDS:
                password = "set" if kit is not None and kit["admin_password"] else "factory"
            return MeterView(meter, title, building["address"], building["city"], building["time_zone"],
                             passport.barcode, passport.verified_on, passport.next_verification_on, communicator,
                             kit["calculator"] if kit else None, kit["phases"] if kit else None, password,
                             tuple(KitLine(p["kind"], p["serial"], p["channel"], p["model"]) for p in parts),
                             int(documents), not user.reader and user.role is Role.ENGINEER)
        return await asyncio.to_thread(read)

    async def set_admin_password(self, token: str, meter_id: int, password: str | None) -> MeterView:
        """Record the meter's admin password the module must use (manual 4.5.2, 941LW "Пароль"); None or
        the factory password: restore the factory one."""
        user = require_engineer(await self.auth.user(token), ADDING)
        check_id("meter_id", meter_id)
        meter = await self.meters.get(token, meter_id)
        factory = catalogue.FACTORY_PASSWORDS.get(meter.model)
        if factory is None:
            raise InvalidInput(f"meter_id: a {meter.model} has no admin password the module keeps")
        if password is not None:
            password = rules.check_config(rules.Draft(role=meter.role.value, model=meter.model, phases=3,
                                                      admin_password=password)).draft.admin_password

        def write() -> None:
            with self.registry.connect() as db:
                row = db.execute("SELECT admin_password FROM meter_kits WHERE meter_id = ?", (meter_id,)).fetchone()
                before = "set" if row is not None and row["admin_password"] else "factory"
                if row is None:
                    db.execute("INSERT INTO meter_kits (meter_id, admin_password, created_by, created_at) "
                               "VALUES (?, ?, ?, ?)", (meter_id, password, user.id,
                                                       self.clock().astimezone(UTC).isoformat()))
                else:
                    db.execute("UPDATE meter_kits SET admin_password = ? WHERE meter_id = ?", (password, meter_id))
                audit.record(db, user, "meter.admin_password", f"meter:{meter_id}", {"admin_password": before},
                             {"admin_password": "set" if password else "factory"})
        await asyncio.to_thread(write)
        return await self.view(token, meter_id)

    async def restore_factory_password(self, token: str, meter_id: int) -> MeterView:
        """Make the module use the model's factory password again (manual 4.5.2: a password given by mistake)."""
        return await self.set_admin_password(token, meter_id, None)


# --- helpers --------------------------------------------------------------------------------------------

def _choice(spec: catalogue.ModelSpec) -> ModelChoice:
    options = ["archive_kinds", "verified_on"]
    name = spec.name
    if name == catalogue.RADIO_929:
        options += ["calculator", "kit"]
    elif name in catalogue.CALCULATORS:
        options += ["kit"]
    elif name in rules.COMPACT_MODELS:
        options += ["channel_resources", "kit"]
    elif name == rules.WATER_926:
        options += ["channel_resources", "kit"]
    elif name == catalogue.PULSE_927:
        options += ["inputs", "channel_resources", "kit"]
    elif name == catalogue.ELECTRICITY_941:
        options += ["tariffs", "phases", "ct_ratio", "admin_password"]
    roles = tuple(r.value for r in rules.ROLES.get(name, ())) or ("individual", "common")
    kinds = rules.line_kinds(name)
    return ModelChoice(name, spec.title, roles, kinds, kinds == ("lora",),
                       tuple(ChannelInfo(c.number, c.resource, c.parameters, c.tariff) for c in spec.channels),
                       tuple(a.kind.value for a in spec.archives), tuple(options))


def _building(db: sqlite3.Connection, user: UserInfo, building_id: int | None) -> sqlite3.Row:
    if building_id is None:
        raise InvalidInput("building_id: choose the building")
    check_id("building_id", building_id)
    row = db.execute("SELECT * FROM buildings WHERE id = ? AND company_id = ?",
                     (building_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"building {building_id} not found")
    return row


def _existing(db: sqlite3.Connection, user: UserInfo, draft: rules.Draft) -> CommunicatorSpec | None:
    """The spec of the communicator an "existing" line names (another company's is not found)."""
    line = draft.line
    if line is None or line.mode != "existing" or line.communicator_id is None:
        return None
    check_id("line.communicator_id", line.communicator_id)
    row = db.execute("SELECT * FROM communicators WHERE id = ? AND company_id = ?",
                     (line.communicator_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"communicator {line.communicator_id} not found")
    return CommunicatorSpec(**{c: row[c] for c in CommunicatorSpec.__slots__})  # type: ignore[attr-defined]


def _check_registry(db: sqlite3.Connection, user: UserInfo, d: rules.Draft, step: str) -> None:
    """What the steps through ``step`` need of the registry: the building and premise, a free serial, a
    communicator that may take the meter, a DevEUI not registered yet."""
    upto = rules.STEPS.index(step)
    if upto >= 1:
        building = _building(db, user, d.building_id)
        if d.premise_id is not None and db.execute("SELECT 1 FROM premises WHERE id = ? AND building_id = ?",
                                                   (d.premise_id, building["id"])).fetchone() is None:
            raise InvalidInput(f"premise_id: the building {building['address']} has no premise {d.premise_id}")
    if upto >= 2:
        taken = db.execute("SELECT id FROM meters WHERE company_id = ? AND serial = ?",
                           (user.company_id, d.serial)).fetchone()
        if taken is not None:
            raise InvalidInput(f"serial: meter {taken['id']} of the company has serial {d.serial!r} already")
    if upto >= 3 and d.line is not None:
        if d.line.mode == "existing" and d.line.communicator_id is not None:
            other = db.execute("SELECT m.id FROM meters m JOIN communicators c ON c.id = m.communicator_id "
                               "WHERE c.id = ? AND c.placement = 'builtin' AND m.decommissioned_at IS NULL "
                               "AND m.status != 'decommissioned'", (d.line.communicator_id,)).fetchone()
            if other is not None:
                raise InvalidInput(f"line.communicator_id: built-in communicator {d.line.communicator_id} already "
                                   f"serves meter {other['id']}")
        spec = d.line.spec
        if d.line.mode != "existing" and spec is not None and spec.dev_eui and db.execute(
                "SELECT 1 FROM communicators WHERE dev_eui = ?", (spec.dev_eui,)).fetchone() is not None:
            raise InvalidInput(f"line.spec.dev_eui: {spec.dev_eui} is registered already; choose it from the list")


def _season(db: sqlite3.Connection, building_id: int) -> str | None:
    """The building's season in force (None: never set, or every setting undone): cloud/services/heating.py's
    own reading of its ``heating_seasons`` rows."""
    return heating._latest_season(heating._changes_of(db, [building_id]).get(building_id, []))

