"""Settings «Объекты», «Помещения», «Собственники» and personal accounts (manual 4.6.1-4.6.4, 4.6.9):
what the settings pages show and do, over the registry services that own each table
(buildings.py, premises_admin.py, residents.py) and the weather stations (weather.py).

- Buildings with their map point and the nearest weather station (4.6.1, 4.6.2); adding and
  editing one (the address register check, skipped for a building under construction).
- Premises added and removed by number ranges and by name, area and residents edited (4.6.3),
  each row with its meters, owners and activation code; codes per premise or for the building
  (one week, activated premises skipped) and the printable sheet of them.
- Owners (4.6.4) and invitations by e-mail carrying the premise's activation code, sent through
  the cloud's SMTP settings (``smtp``, set from ``[cloud] smtp_*`` by the cloud process) with
  cloud/notifier.py's ``send``.
- Personal accounts (4.6.9), unique in the company.

Reads: dispatchers and engineers of the company, readers too; administrators get "not found"
(manual 2.3). Writes: a dispatcher without reader status (4.6: "Редактирование данных в разделе
осуществляется пользователем с ролью «диспетчер»"). Times shown are the building's local time.
Tests: tests/unit/cloud/test_objects_rules.py, tests/integration/test_objects.py, tests/ui/test_objects_ui.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from cloud import notifier
from cloud.notifier import SmtpSettings
from cloud.services import weather
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.buildings import BuildingDetails, BuildingsService
from cloud.services.cities import CitiesService, CityInfo
from cloud.services.models import InvalidInput, NotFound, PremiseInfo, UserInfo, check_id
from cloud.services.premises_admin import PremisesService, RangeResult
from cloud.services.residents import ActivationCode, ResidentsService
from cloud.services.sites import SitesService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

UNSET: Any = object()  # "leave as it is" for the edit calls (None is a value: it clears coordinates)


@dataclass(frozen=True, slots=True)
class StationInfo:
    code: str
    name: str
    latitude: float
    longitude: float
    distance_km: float  # from the building, great-circle, rounded to 0.1 km


@dataclass(frozen=True, slots=True)
class BuildingCard:
    """A building as «Объекты» lists it and «Объект» (4.6.2) shows it."""

    id: int
    address: str
    city_id: int | None
    city: str
    time_zone: str
    building_kind: str
    fias_code: str
    area_m2: float
    residents: int
    latitude: float | None
    longitude: float | None
    construction_unfinished: bool
    site: str
    premises: int
    meters: int
    station: StationInfo | None  # the nearest weather station; None without coordinates or stations


@dataclass(frozen=True, slots=True)
class CodeView:
    """A premise's newest activation code with its period in the building's local time."""

    code: str
    state: str  # "active", "expired" or "activated"
    created_at: datetime  # local, naive
    expires_at: datetime  # local, naive: valid up to and including this moment


@dataclass(frozen=True, slots=True)
class PremiseRow:
    id: int
    building_id: int
    number: str
    kind: str  # "apartment" or "nonresidential"
    area_m2: float
    residents: int
    account: str
    meters: int
    owners: int
    code: CodeView | None


@dataclass(frozen=True, slots=True)
class CodeCard:
    """One card of the printable sheet: a premise, its address and its valid code."""

    premise_id: int
    premise: str  # "кв. 5" / the premise's name
    address: str
    code: str
    expires_at: datetime  # local, naive


@dataclass(frozen=True, slots=True)
class CodeSheet:
    building_id: int
    address: str
    time_zone: str
    cards: tuple[CodeCard, ...]
    without_code: tuple[str, ...]  # premises with no valid unused code (none, expired or activated)


@dataclass(frozen=True, slots=True)
class OwnerRow:
    """A line of «Собственники» (4.6.4): a premise with one owner (or none), and its code."""

    premise_id: int
    premise: str
    kind: str
    code: CodeView | None
    resident_id: int | None
    full_name: str
    phone: str
    email: str
    registered_at: datetime | None  # local, naive: when the owner signed in with the code
    invited_at: datetime | None  # local, naive: the last invitation e-mail the server accepted
    last_login_at: datetime | None = None  # local, naive: the owner's last sign-in to the residents' app (4.6.4)


@dataclass(frozen=True, slots=True)
class Invitation:
    premise_id: int
    email: str
    expires_at: datetime  # the code's, local, naive
    sent: bool
    error: str | None  # the SMTP server's reason when not sent


def premise_label(number: str, kind: str) -> str:
    """How a premise is named on paper: "кв. 5" for an apartment, its name otherwise."""
    return f"кв. {number}" if kind == "apartment" else number


def invitation_message(sender: str, to: str, address: str, premise: str, code: str, expires_at: datetime,
                       time_zone: str, public_url: str = "") -> EmailMessage:
    """The invitation e-mail (Russian): the premise, the activation code and until when it is valid."""
    message = EmailMessage()
    message["Subject"] = f"Приглашение в ДомУчёт: {address}, {premise}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content("\n".join([
        "Здравствуйте!",
        "",
        f"Управляющая компания приглашает вас в личный кабинет ДомУчёт для помещения: {address}, {premise}.",
        "",
        f"Код активации: {code}",
        f"Код действует до {expires_at:%d.%m.%Y %H:%M} (время объекта, {time_zone}).",
        "",
        "Войдите в личный кабинет, введите код активации и укажите этот адрес электронной почты "
        "в качестве логина.",
        *([f"Регистрация: {public_url.rstrip('/')}/kv/register?code={code}", ""] if public_url else []),
        "Если вы не владелец этого помещения, просто удалите письмо.",
    ]))
    return message


class ObjectsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.smtp: SmtpSettings | None = None  # the cloud process sets it from [cloud] smtp_*; None: no e-mail
        self.public_url = ""  # [cloud] public_url: invitations link to the residents' registration there
        self.buildings_admin = BuildingsService(registry, auth)
        self.premises_admin = PremisesService(registry, auth)
        self.residents = ResidentsService(registry, auth, clock=lambda: self.clock())
        self.cities_service = CitiesService(registry, auth)
        self.sites_service = SitesService(registry, auth)

    async def _reader(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token),
                                        "building settings are not available to administrators")

    # --- buildings (4.6.1, 4.6.2) ----------------------------------------------------------------------
    async def buildings(self, token: str) -> list[BuildingCard]:
        """The company's buildings, by address, each with its nearest weather station."""
        user = await self._reader(token)
        return await asyncio.to_thread(self._cards, user, None)

    async def building(self, token: str, building_id: int) -> BuildingCard:
        user = await self._reader(token)
        check_id("building_id", building_id)
        cards = await asyncio.to_thread(self._cards, user, building_id)
        if not cards:
            raise NotFound(f"building {building_id} not found")
        return cards[0]

    def _cards(self, user: UserInfo, building_id: int | None) -> list[BuildingCard]:
        sql = ("SELECT b.*, (SELECT count(*) FROM premises p WHERE p.building_id = b.id) AS premises_count, "
               "(SELECT count(*) FROM meters m WHERE m.building_id = b.id) AS meters_count "
               "FROM buildings b WHERE b.company_id = ?")
        args: tuple[Any, ...] = (user.company_id,)
        if building_id is not None:
            sql += " AND b.id = ?"
            args += (building_id,)
        rows = self.registry.all(sql + " ORDER BY b.address", *args)
        stations = weather.stations(self.registry)
        return [self._card(r, stations) for r in rows]

    @staticmethod
    def _card(row: sqlite3.Row, stations: list[weather.Station]) -> BuildingCard:
        lat, lon = row["latitude"], row["longitude"]
        near = weather.nearest(stations, lat, lon)
        station = None if near is None or lat is None or lon is None else StationInfo(
            near.code, near.name, near.latitude, near.longitude,
            round(weather.distance_km(lat, lon, near.latitude, near.longitude), 1))
        return BuildingCard(row["id"], row["address"], row["city_id"], row["city"], row["time_zone"],
                            row["building_kind"], row["fias_code"], row["area_m2"], row["residents"], lat, lon,
                            bool(row["construction_unfinished"]), row["site"], row["premises_count"],
                            row["meters_count"], station)

    async def cities(self, token: str) -> list[CityInfo]:
        """The company's cities a building may be in (the add/edit form's choice)."""
        await self._reader(token)
        return await self.cities_service.list(token)

    async def sites(self, token: str) -> list[str]:
        """The company's edge sites a new building may be served by (an administrator registers sites)."""
        await self._reader(token)
        return [s.site for s in await self.sites_service.list(token)]

    async def create_building(self, token: str, *, address: str, city_id: int, area_m2: float, residents: int,
                              site: str, latitude: float | None = None, longitude: float | None = None,
                              construction_unfinished: bool = False, building_kind: str = "apartment_block",
                              fias_code: str = "") -> BuildingCard:
        """Add a building (a dispatcher); the address passes the register check unless construction is unfinished."""
        made: BuildingDetails = await self.buildings_admin.create_building(
            token, address=address, city_id=city_id, area_m2=area_m2, residents=residents, site=site,
            latitude=latitude, longitude=longitude, construction_unfinished=construction_unfinished,
            building_kind=building_kind, fias_code=fias_code)
        return await self.building(token, made.id)

    async def update_building(self, token: str, building_id: int, **changes: Any) -> BuildingCard:
        """Change the given fields of a building (a dispatcher): address, city_id, area_m2, residents,
        latitude and longitude (together), construction_unfinished, building_kind, fias_code."""
        allowed = {"address", "city_id", "area_m2", "residents", "latitude", "longitude", "construction_unfinished",
                   "building_kind", "fias_code"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InvalidInput(f"{unknown[0]}: not a field of a building's settings")
        await self.buildings_admin.update_building(token, building_id, **changes)
        return await self.building(token, building_id)

    # --- premises (4.6.3) --------------------------------------------------------------------------------
    async def premises(self, token: str, building_id: int) -> list[PremiseRow]:
        """The building's premises, apartments by number then the others by name, each with its
        meters, owners and newest activation code."""
        user = await self._reader(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._premises, user, building_id)

    def _premises(self, user: UserInfo, building_id: int) -> list[PremiseRow]:
        with self.registry.connect() as db:
            tz = self._zone(db, user, building_id)
            rows = db.execute(
                "SELECT p.*, (SELECT count(*) FROM meters m WHERE m.premise_id = p.id) AS meters_count, "
                "(SELECT count(*) FROM premise_residents r WHERE r.premise_id = p.id) AS owners_count, "
                "a.code, a.created_at AS code_created, a.expires_at AS code_expires, a.used_at AS code_used "
                "FROM premises p LEFT JOIN activation_codes a ON a.id = "
                "(SELECT max(id) FROM activation_codes WHERE premise_id = p.id) WHERE p.building_id = ? "
                "ORDER BY p.kind, CAST(p.number AS INTEGER), p.number", (building_id,)).fetchall()
        now = self.clock()
        return [PremiseRow(r["id"], r["building_id"], r["number"], r["kind"], r["area_m2"], r["residents"],
                           r["account"], r["meters_count"], r["owners_count"], self._code(r, tz, now)) for r in rows]

    @staticmethod
    def _code(row: sqlite3.Row, tz_name: str, now: datetime) -> CodeView | None:
        if row["code"] is None:
            return None
        tz = zone(tz_name)
        expires = datetime.fromisoformat(row["code_expires"])
        state = "activated" if row["code_used"] else "expired" if now > expires else "active"
        return CodeView(row["code"], state, utc_to_local(datetime.fromisoformat(row["code_created"]), tz),
                        utc_to_local(expires, tz))

    @staticmethod
    def _zone(db: sqlite3.Connection, user: UserInfo, building_id: int) -> str:
        row = db.execute("SELECT time_zone FROM buildings WHERE id = ? AND company_id = ?",
                         (building_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return str(row["time_zone"])

    async def add_premises(self, token: str, building_id: int, numbers: str, *, area_m2: float,
                           residents: int) -> RangeResult:
        """Add apartments by numbers ("1-120", "1-3, 7"); numbers present already are skipped and named."""
        return await self.premises_admin.create_range(token, building_id, numbers, area_m2=area_m2,
                                                      residents=residents)

    async def remove_premises(self, token: str, building_id: int, numbers: str) -> RangeResult:
        """Remove apartments by numbers: all or nothing; one with meters or owners refuses the call."""
        return await self.premises_admin.delete_range(token, building_id, numbers)

    async def add_named_premise(self, token: str, building_id: int, name: str, *, area_m2: float,
                                residents: int = 0) -> PremiseInfo:
        """Add a non-residential premise by its name (an office, a shop, the boiler room)."""
        return await self.premises_admin.create(token, building_id, number=name, area_m2=area_m2, residents=residents,
                                                kind="nonresidential")

    async def update_premise(self, token: str, premise_id: int, *, area_m2: float = UNSET,
                             residents: int = UNSET) -> PremiseInfo:
        """The inline edit of 4.6.3: area and number of residents."""
        given: dict[str, Any] = {k: v for k, v in (("area_m2", area_m2), ("residents", residents)) if v is not UNSET}
        if not given:
            raise InvalidInput("area_m2: give the area or the number of residents to change")
        return await self.premises_admin.update(token, premise_id, **given)

    async def remove_premise(self, token: str, premise_id: int) -> None:
        """Remove one premise; refused (naming why) when it has meters or owners."""
        await self.premises_admin.delete(token, premise_id)

    # --- activation codes (4.6.3) -------------------------------------------------------------------------
    async def generate_code(self, token: str, premise_id: int) -> ActivationCode:
        """A new code for the premise (valid one week); its unused earlier code stops working."""
        return await self.residents.generate(token, premise_id)

    async def generate_codes(self, token: str, building_id: int) -> list[ActivationCode]:
        """Codes for every premise of the building whose code was not activated (valid one week)."""
        return await self.residents.generate_for_building(token, building_id)

    async def code_sheet(self, token: str, building_id: int) -> CodeSheet:
        """The printable sheet: one card per premise with a valid unused code, and the premises without one."""
        card = await self.building(token, building_id)
        rows = await self.premises(token, building_id)
        cards = tuple(CodeCard(r.id, premise_label(r.number, r.kind), card.address, r.code.code, r.code.expires_at)
                      for r in rows if r.code is not None and r.code.state == "active")
        without = tuple(premise_label(r.number, r.kind) for r in rows if r.code is None or r.code.state != "active")
        return CodeSheet(card.id, card.address, card.time_zone, cards, without)

    # --- owners (4.6.4) -----------------------------------------------------------------------------------
    async def owners(self, token: str, building_id: int) -> list[OwnerRow]:
        """Each premise with each of its owners (a premise without owners: one line without a person)."""
        user = await self._reader(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._owners, user, building_id)

    def _owners(self, user: UserInfo, building_id: int) -> list[OwnerRow]:
        with self.registry.connect() as db:
            tz_name = self._zone(db, user, building_id)
            rows = db.execute(
                "SELECT p.id, p.number, p.kind, a.code, a.created_at AS code_created, a.expires_at AS code_expires, "
                "a.used_at AS code_used, r.id AS resident_id, r.full_name, r.phone, r.email, r.registered_at, "
                "r.last_login_at, "
                "(SELECT max(i.sent_at) FROM owner_invitations i WHERE i.premise_id = p.id AND i.resident_id = r.id) "
                "AS invited_at FROM premises p "
                "LEFT JOIN activation_codes a ON a.id = (SELECT max(id) FROM activation_codes WHERE premise_id = p.id) "
                "LEFT JOIN premise_residents pr ON pr.premise_id = p.id LEFT JOIN residents r ON r.id = pr.resident_id "
                "WHERE p.building_id = ? ORDER BY p.kind, CAST(p.number AS INTEGER), p.number, r.full_name",
                (building_id,)).fetchall()
        tz, now = zone(tz_name), self.clock()

        def local(text: str | None) -> datetime | None:
            return None if not text else utc_to_local(datetime.fromisoformat(text), tz)
        return [OwnerRow(r["id"], premise_label(r["number"], r["kind"]), r["kind"], self._code(r, tz_name, now),
                         r["resident_id"], r["full_name"] or "", r["phone"] or "", r["email"] or "",
                         local(r["registered_at"]), local(r["invited_at"]), local(r["last_login_at"]))
                for r in rows]

    async def invite_owner(self, token: str, premise_id: int, email: str, full_name: str,
                           phone: str = "") -> Invitation:
        """Add the owner and e-mail them the premise's activation code (the valid unused one, else a
        new one) through the cloud's SMTP server. Refused before anything changes when e-mail is off.
        The owner and the code stay when the server refuses the e-mail: the answer says why, and
        the code can be printed instead."""
        user = require_dispatcher(await self.auth.user(token))
        smtp = self.smtp
        if smtp is None:
            raise InvalidInput("email: e-mail is not set up on this server ([cloud] smtp_host); "
                               "print the activation code for the owner instead")
        check_id("premise_id", premise_id)
        owner, code, invitation_id, address = await self.residents.invite(token, premise_id, email, full_name, phone)
        tz_name = await asyncio.to_thread(self._premise_zone, user, premise_id)
        number, kind = await asyncio.to_thread(self._premise_name, premise_id)
        expires = utc_to_local(code.expires_at, zone(tz_name))
        message = invitation_message(smtp.sender, owner.email, address, premise_label(number, kind), code.code,
                                     expires, tz_name, self.public_url)
        (error,) = await asyncio.to_thread(notifier.send, smtp, [(owner.email, message)])
        await asyncio.to_thread(self._sent, invitation_id, error)
        return Invitation(premise_id, owner.email, expires, error is None, error)

    def _premise_zone(self, user: UserInfo, premise_id: int) -> str:
        row = self.registry.one("SELECT b.time_zone FROM premises p JOIN buildings b ON b.id = p.building_id "
                                "WHERE p.id = ? AND b.company_id = ?", premise_id, user.company_id)
        if row is None:
            raise NotFound(f"premise {premise_id} not found")
        return str(row["time_zone"])

    def _premise_name(self, premise_id: int) -> tuple[str, str]:
        row = self.registry.one("SELECT number, kind FROM premises WHERE id = ?", premise_id)
        if row is None:  # removed between the invitation and now
            raise NotFound(f"premise {premise_id} not found")
        return str(row["number"]), str(row["kind"])

    def _sent(self, invitation_id: int, error: str | None) -> None:
        with self.registry.connect() as db:
            if error is None:
                db.execute("UPDATE owner_invitations SET sent_at = ? WHERE id = ?",
                           (self.clock().isoformat(), invitation_id))
            else:
                db.execute("UPDATE owner_invitations SET error = ? WHERE id = ?", (error[:500], invitation_id))

    # --- personal accounts (4.6.9) ----------------------------------------------------------------------
    async def set_account(self, token: str, premise_id: int, account: str) -> PremiseInfo:
        """Set the premise's personal account (empty clears it); unique in the company."""
        return await self.premises_admin.update(token, premise_id, account=account)
