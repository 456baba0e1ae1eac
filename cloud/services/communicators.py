"""Communicators (КУ, DESIGN.md section 4; manual 4.5.6 «Связь»): how a meter reaches the edge — TCP
host and port, GPRS modem identifiers (two are mandatory: the IMEI and the SIM card's ICCID or phone
number), or LoRaWAN (DevEUI, device class, LoRaWAN version); built into the meter or external, its
name and building, and which meters use each one.

Reads: dispatchers and engineers of the company (and readers). Writes: a dispatcher or engineer
without reader status. A built-in communicator serves exactly one meter; an external one may
serve several (a primary kit). Objects of another company are "not found". Every change writes
an audit entry in the same transaction. Tests: tests/integration/test_registry_objects.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import sqlite3
from dataclasses import asdict, dataclass, replace
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_operational_view, require_writer
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_id
from cloud.storage.registry import Registry

KINDS = ("tcp", "gprs", "lora")
PLACEMENTS = ("builtin", "external")
LORA_CLASSES = ("A", "B", "C")
LORAWAN_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*$")
_IMEI = re.compile(r"^\d{15}$")
_ICCID = re.compile(r"^\d{18,22}$")
_PHONE = re.compile(r"^\+?\d{6,15}$")
_DEV_EUI = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True, slots=True)
class CommunicatorSpec:
    """What a user enters; only the fields of the kind are kept."""

    kind: str
    placement: str
    serial: str = ""
    host: str | None = None
    port: int | None = None
    imei: str | None = None
    iccid: str | None = None
    phone: str | None = None
    dev_eui: str | None = None
    lora_class: str | None = None
    lorawan_version: str | None = None
    name: str = ""  # «название коммуникатора» (manual 4.5.6)
    building_id: int | None = None  # «объект»: the building it stands in (none: not tied to one)


@dataclass(frozen=True, slots=True)
class CommunicatorInfo:
    id: int
    spec: CommunicatorSpec
    meter_ids: tuple[int, ...]  # the meters that use it


def validate(spec: CommunicatorSpec) -> CommunicatorSpec:
    """The spec normalised (DevEUI lower-case, fields of other kinds dropped), or InvalidInput naming the field."""
    if spec.kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}, got {spec.kind!r}")
    if spec.placement not in PLACEMENTS:
        raise InvalidInput(f"placement: one of {', '.join(PLACEMENTS)}, got {spec.placement!r}")
    serial = spec.serial.strip()
    if len(serial) > 64:
        raise InvalidInput("serial: up to 64 characters")
    name = spec.name.strip() if isinstance(spec.name, str) else ""
    if len(name) > 100 or not name.isprintable():
        raise InvalidInput("name: up to 100 printable characters")
    if spec.building_id is not None:
        check_id("building_id", spec.building_id)
    return replace(_line(spec, serial), name=name, building_id=spec.building_id)


def _line(spec: CommunicatorSpec, serial: str) -> CommunicatorSpec:
    """The line parameters of the spec's kind, checked."""
    clean = CommunicatorSpec(spec.kind, spec.placement, serial)
    if spec.kind == "tcp":
        host = (spec.host or "").strip()
        if not _host_ok(host):
            raise InvalidInput(f"host: an IP address or a host name, got {spec.host!r}")
        if not isinstance(spec.port, int) or not 1 <= spec.port <= 65535:
            raise InvalidInput(f"port: 1 to 65535, got {spec.port!r}")
        return CommunicatorSpec(clean.kind, clean.placement, serial, host=host, port=spec.port)
    if spec.kind == "gprs":
        if not _IMEI.match(spec.imei or ""):
            raise InvalidInput(f"imei: 15 digits, got {spec.imei!r}")
        if spec.iccid and not _ICCID.match(spec.iccid):
            raise InvalidInput(f"iccid: 18 to 22 digits, got {spec.iccid!r}")
        if spec.phone and not _PHONE.match(spec.phone):
            raise InvalidInput(f"phone: 6 to 15 digits with an optional '+', got {spec.phone!r}")
        if not spec.iccid and not spec.phone:  # manual 4.5.6: two mandatory GPRS identifiers
            raise InvalidInput("iccid: a GPRS line needs two identifiers: the modem's IMEI and its SIM card's "
                               "ICCID or phone number")
        return CommunicatorSpec(clean.kind, clean.placement, serial, imei=spec.imei, iccid=spec.iccid or None,
                                phone=spec.phone or None)
    dev_eui = (spec.dev_eui or "").strip().lower().replace(":", "").replace("-", "")
    if not _DEV_EUI.match(dev_eui):
        raise InvalidInput(f"dev_eui: 16 hexadecimal digits, got {spec.dev_eui!r}")
    if spec.lora_class not in LORA_CLASSES:
        raise InvalidInput(f"lora_class: one of {', '.join(LORA_CLASSES)}, got {spec.lora_class!r}")
    if spec.lorawan_version not in LORAWAN_VERSIONS:
        raise InvalidInput(f"lorawan_version: one of {', '.join(LORAWAN_VERSIONS)}, got {spec.lorawan_version!r}")
    return CommunicatorSpec(clean.kind, clean.placement, serial, dev_eui=dev_eui, lora_class=spec.lora_class,
                            lorawan_version=spec.lorawan_version)


def _check_building(db: sqlite3.Connection, user: UserInfo, building_id: int | None) -> None:
    if building_id is not None and db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                                              (building_id, user.company_id)).fetchone() is None:
        raise NotFound(f"building {building_id} not found")


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST.match(host))
    return True


_COLUMNS = tuple(CommunicatorSpec.__slots__)  # type: ignore[attr-defined]


def _spec(row: sqlite3.Row) -> CommunicatorSpec:
    return CommunicatorSpec(**{c: row[c] for c in _COLUMNS})


def _state(info: CommunicatorInfo) -> dict[str, Any]:
    return {**{k: v for k, v in asdict(info.spec).items() if v not in (None, "")}, "meters": list(info.meter_ids)}


class CommunicatorsService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def _reader(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "communicators are not available to administrators")

    async def list(self, token: str) -> list[CommunicatorInfo]:
        user = await self._reader(token)

        def read() -> list[CommunicatorInfo]:
            with self.registry.connect() as db:
                rows = db.execute("SELECT * FROM communicators WHERE company_id = ? ORDER BY id",
                                  (user.company_id,)).fetchall()
                return [self._info(db, r) for r in rows]
        return await asyncio.to_thread(read)

    async def get(self, token: str, communicator_id: int) -> CommunicatorInfo:
        user = await self._reader(token)

        def read() -> CommunicatorInfo:
            with self.registry.connect() as db:
                return self._info(db, self._row(db, user, communicator_id))
        return await asyncio.to_thread(read)

    async def create(self, token: str, spec: CommunicatorSpec) -> CommunicatorInfo:
        user = require_writer(await self.auth.user(token))
        clean = validate(spec)
        return await asyncio.to_thread(self._create, user, clean)

    def _create(self, user: UserInfo, spec: CommunicatorSpec) -> CommunicatorInfo:
        with self.registry.connect() as db:
            _check_building(db, user, spec.building_id)
            try:
                new_id = db.execute(f"INSERT INTO communicators (company_id, {', '.join(_COLUMNS)}) "  # noqa: S608
                                    f"VALUES (?, {', '.join('?' for _ in _COLUMNS)})",
                                    (user.company_id, *(getattr(spec, c) for c in _COLUMNS))).lastrowid
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(f"dev_eui: {spec.dev_eui} is registered already") from exc
            info = CommunicatorInfo(int(new_id or 0), spec, ())
            audit.record(db, user, "communicator.create", f"communicator:{info.id}", None, _state(info))
        return info

    async def update(self, token: str, communicator_id: int, spec: CommunicatorSpec) -> CommunicatorInfo:
        """Replace the communicator's fields; a built-in one must still serve at most one meter."""
        user = require_writer(await self.auth.user(token))
        clean = validate(spec)
        return await asyncio.to_thread(self._update, user, communicator_id, clean)

    def _update(self, user: UserInfo, communicator_id: int, spec: CommunicatorSpec) -> CommunicatorInfo:
        with self.registry.connect() as db:
            before = self._info(db, self._row(db, user, communicator_id))
            _check_building(db, user, spec.building_id)
            if spec.placement == "builtin" and len(before.meter_ids) > 1:
                raise InvalidInput(f"placement: a built-in communicator serves one meter, this one serves "
                                   f"{len(before.meter_ids)}")
            try:
                db.execute(f"UPDATE communicators SET {', '.join(f'{c} = ?' for c in _COLUMNS)} "  # noqa: S608
                           "WHERE id = ?", (*(getattr(spec, c) for c in _COLUMNS), communicator_id))
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(f"dev_eui: {spec.dev_eui} is registered already") from exc
            after = CommunicatorInfo(communicator_id, spec, before.meter_ids)
            audit.record(db, user, "communicator.update", f"communicator:{communicator_id}", _state(before),
                         _state(after))
        return after

    async def attach(self, token: str, meter_id: int, communicator_id: int | None) -> None:
        """Make the meter use the communicator (None: no communicator)."""
        user = require_writer(await self.auth.user(token))
        await asyncio.to_thread(self._attach, user, meter_id, communicator_id)

    def _attach(self, user: UserInfo, meter_id: int, communicator_id: int | None) -> None:
        with self.registry.connect() as db:
            meter = db.execute("SELECT id, serial, communicator_id FROM meters WHERE id = ? AND company_id = ?",
                               (meter_id, user.company_id)).fetchone()
            if meter is None:
                raise NotFound(f"meter {meter_id} not found")
            if communicator_id is not None:
                info = self._info(db, self._row(db, user, communicator_id))
                others = [m for m in info.meter_ids if m != meter_id]
                if info.spec.placement == "builtin" and others:
                    raise InvalidInput(f"communicator_id: built-in communicator {communicator_id} already "
                                       f"serves meter {others[0]}")
            if meter["communicator_id"] == communicator_id:
                return
            db.execute("UPDATE meters SET communicator_id = ? WHERE id = ?", (communicator_id, meter_id))
            audit.record(db, user, "meter.communicator", f"meter:{meter_id}",
                         {"communicator_id": meter["communicator_id"]}, {"communicator_id": communicator_id})

    @staticmethod
    def _row(db: sqlite3.Connection, user: UserInfo, communicator_id: int) -> sqlite3.Row:
        row = db.execute("SELECT * FROM communicators WHERE id = ? AND company_id = ?",
                         (communicator_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"communicator {communicator_id} not found")
        return row

    @staticmethod
    def _info(db: sqlite3.Connection, row: sqlite3.Row) -> CommunicatorInfo:
        meters = db.execute("SELECT id FROM meters WHERE communicator_id = ? ORDER BY id", (row["id"],)).fetchall()
        return CommunicatorInfo(row["id"], _spec(row), tuple(m[0] for m in meters))
