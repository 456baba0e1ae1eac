"""The residents' app (manual 3.6, the КВ application): what a resident sees of their home.

A resident signs in with their e-mail and password (set when they registered with a premise's
activation code, cloud/services/residents.py) and gets a session of their own: its token lives in
``resident_sessions``, never in the staff's ``sessions``, so it cannot act as a staff user and a staff
token is not a resident's. Sessions end within a day (manual 3.5), failed sign-ins are throttled like
the staff's (login_guard, under the key ``resident:<e-mail>``), and a registration with a valid code
clears them: the code proves the person.

Every call is about the caller's own premises: a premise that is not theirs is NotFound, whoever
owns it, in whichever company (a resident may own premises of several companies). Consumption
follows the premise page's rules (manual 4.1.6, AccountingService.premise_consumption_in) within the
premise's company; meters come with their newest readings and dates; tickets go to the dispatch
desk (cloud/services/desk.py) and come back with their stages; notices are the published ones of
the buildings of their premises (cloud/services/notices.py).
Tests: tests/integration/test_resident_app.py.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cloud.reports.readings import latest_readings, parameter_of, tariff_of
from cloud.services import login_guard
from cloud.services.auth import DUMMY_HASH, token_hash, verify_password
from cloud.services.desk import StageMark, Ticket
from cloud.services.models import (
    AuthError,
    Granularity,
    InvalidInput,
    LoginThrottled,
    MeterInfo,
    NotFound,
    PremiseConsumption,
    Role,
    UserInfo,
    check_day,
    check_id,
)
from cloud.services.notices import ResidentNotice
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import zone
from protocol.vocabulary import PARAMETERS, Resource

if TYPE_CHECKING:
    from cloud.services.accounting import AccountingService
    from cloud.services.desk import DeskService
    from cloud.services.notices import NoticesService
    from cloud.services.residents import ResidentsService

TICKETS_PER_DAY = 20  # a resident's tickets in 24 hours: more is a stuck button or a script, not a home
READINGS_LOOKBACK_DAYS = 62  # how far back a meter's newest reading is looked for


@dataclass(frozen=True, slots=True)
class HomePremise:
    """A premise of the resident's, as the app names it."""

    id: int
    building_id: int
    address: str
    city: str
    number: str
    kind: str  # "apartment" or "nonresidential"
    area_m2: float
    company: str
    time_zone: str
    resources: tuple[Resource, ...]  # what its meters measure: the resource switch offers only these (4.1.6)
    today: date  # in the building's time zone


@dataclass(frozen=True, slots=True)
class ResidentHome:
    resident_id: int
    email: str  # the login
    full_name: str
    phone: str
    premises: tuple[HomePremise, ...]


@dataclass(frozen=True, slots=True)
class ResidentSession:
    token: str
    home: ResidentHome
    expires_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class MeterReading:
    channel: int
    resource: Resource
    tariff: str  # "total", or "T1".."T4" for an electricity tariff zone
    value: float | None  # None: no reading in the last READINGS_LOOKBACK_DAYS days
    unit: str
    at: datetime | None  # the building's local time of the reading


@dataclass(frozen=True, slots=True)
class HomeMeter:
    id: int
    serial: str
    model: str
    resources: tuple[Resource, ...]
    status: str  # "in_service", "commissioning", "decommissioned"
    readings: tuple[MeterReading, ...]


@dataclass(frozen=True, slots=True)
class ResidentTicket:
    ticket: Ticket
    stages: tuple[StageMark, ...]  # the stages reached, oldest first


def _email(value: str) -> str:
    return value.strip().lower()


def _guard_key(email: str) -> str:
    return f"resident:{email}"


class ResidentAppService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, residents: ResidentsService,
                 accounting: AccountingService, desk: DeskService, notices: NoticesService,
                 session_hours: float = 24.0) -> None:
        if not 0 < session_hours <= 24:
            raise ValueError("sessions must expire within a day (manual 3.5)")
        self.registry = registry
        self.ch = clickhouse
        self.residents = residents
        self.accounting = accounting
        self.desk = desk
        self.notices = notices
        self.session_ttl = timedelta(hours=session_hours)
        # "today" of the premises (Services.set_clock sets it in tests and the demo); sessions use real time
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- signing in ---------------------------------------------------------------------------------
    async def login(self, email: str, password: str, address: str = "") -> ResidentSession:
        """A new session for the resident with this e-mail and password, or AuthError / LoginThrottled."""
        return await asyncio.to_thread(self._login, _email(email), password, address)

    def _login(self, email: str, password: str, address: str) -> ResidentSession:
        now = datetime.now(UTC)
        with self.registry.connect() as db:
            try:
                attempt = login_guard.reserve(db, _guard_key(email), address, now)
            except login_guard.Throttled as exc:
                raise LoginThrottled(str(exc), exc.wait_s, exc.locked) from None
        row = self.registry.one("SELECT id, password_hash FROM residents WHERE email = ?", email)
        stored = row["password_hash"] if row is not None and row["password_hash"] else DUMMY_HASH
        ok = verify_password(password, stored)
        if row is None or not row["password_hash"] or not ok:
            with self.registry.connect() as db:
                login_guard.failed(db, attempt, None)
            raise AuthError("wrong e-mail or password")
        return self._open(row["id"], now, attempt)

    def _open(self, resident_id: int, now: datetime, attempt: login_guard.Attempt | None) -> ResidentSession:
        token = secrets.token_urlsafe(32)
        expires = now + self.session_ttl
        with self.registry.connect() as db:
            if attempt is not None:
                login_guard.succeeded(db, attempt)
            db.execute("DELETE FROM resident_sessions WHERE expires_at < ?", (now.isoformat(),))
            db.execute("INSERT INTO resident_sessions VALUES (?, ?, ?, ?)",
                       (token_hash(token), resident_id, now.isoformat(), expires.isoformat()))
            db.execute("UPDATE residents SET last_login_at = ? WHERE id = ?", (now.isoformat(), resident_id))
        return ResidentSession(token, self._home(resident_id), expires)

    async def register(self, code: str, email: str, full_name: str, phone: str, password: str) -> ResidentSession:
        """Register with a premise's activation code (ResidentsService.register) and sign in at once."""
        resident = await self.residents.register(code, email, full_name, phone, password)

        def open_session() -> ResidentSession:
            with self.registry.connect() as db:
                login_guard.unlock(db, _guard_key(resident.email))  # the code proved who they are
            return self._open(resident.id, datetime.now(UTC), None)
        return await asyncio.to_thread(open_session)

    async def logout(self, token: str) -> None:
        def end() -> None:
            with self.registry.connect() as db:
                db.execute("DELETE FROM resident_sessions WHERE token_hash = ?", (token_hash(token),))
        await asyncio.to_thread(end)

    async def home(self, token: str) -> ResidentHome:
        """The signed-in resident and their premises, or AuthError."""
        return await asyncio.to_thread(lambda: self._home(self._resident_id(token)))

    def _resident_id(self, token: str | None) -> int:
        if not token:
            raise AuthError("not signed in")
        row = self.registry.one("SELECT resident_id FROM resident_sessions WHERE token_hash = ? AND expires_at > ?",
                                token_hash(token), datetime.now(UTC).isoformat())
        if row is None:
            raise AuthError("session expired or unknown")
        return int(row["resident_id"])

    def _home(self, resident_id: int) -> ResidentHome:
        person = self.registry.one("SELECT * FROM residents WHERE id = ?", resident_id)
        if person is None:
            raise AuthError("this resident no longer exists")
        rows = self.registry.all(
            "SELECT p.id, p.building_id, p.number, p.kind, p.area_m2, b.address, b.city, b.time_zone, "
            "c.name AS company, (SELECT group_concat(DISTINCT mc.resource) FROM meters m JOIN meter_channels mc "
            "ON mc.meter_id = m.id WHERE m.premise_id = p.id) AS resources FROM premise_residents pr "
            "JOIN premises p ON p.id = pr.premise_id JOIN buildings b ON b.id = p.building_id "
            "JOIN companies c ON c.id = b.company_id WHERE pr.resident_id = ? "
            "ORDER BY b.address, CAST(p.number AS INTEGER), p.number", resident_id)
        now = self.clock()
        premises = tuple(HomePremise(
            r["id"], r["building_id"], r["address"], r["city"], r["number"], r["kind"], float(r["area_m2"] or 0),
            r["company"], r["time_zone"], _resources(r["resources"]), now.astimezone(zone(r["time_zone"])).date())
            for r in rows)
        return ResidentHome(person["id"], person["email"], person["full_name"], person["phone"], premises)

    # --- the premise ---------------------------------------------------------------------------------
    def _own(self, token: str, premise_id: int) -> tuple[int, UserInfo, str]:
        """(resident id, a read-only scope of the premise's company, the building's time zone), after
        checking that the premise is the resident's: any other premise is NotFound."""
        resident_id = self._resident_id(token)
        check_id("premise_id", premise_id)
        row = self.registry.one(
            "SELECT b.company_id, c.name, c.city, b.time_zone, r.email, r.full_name FROM premise_residents pr "
            "JOIN premises p ON p.id = pr.premise_id JOIN buildings b ON b.id = p.building_id "
            "JOIN companies c ON c.id = b.company_id JOIN residents r ON r.id = pr.resident_id "
            "WHERE pr.resident_id = ? AND pr.premise_id = ?", resident_id, premise_id)
        if row is None:
            raise NotFound(f"premise {premise_id} not found")
        # the accounting reads take a user for their company scope: this one reads, and only this company
        scope = UserInfo(id=0, login=row["email"], full_name=row["full_name"], role=Role.DISPATCHER, reader=True,
                         company_id=row["company_id"], company_name=row["name"], city=row["city"])
        return resident_id, scope, row["time_zone"]

    async def consumption(self, token: str, premise_id: int, resource: Resource, granularity: Granularity,
                          period: date) -> PremiseConsumption:
        """The premise's consumption of ``resource`` (manual 4.1.6: the hours of a day, the days of a
        month or the months of a year), by the rules of the staff's premise page."""
        check_day("period", period)
        _, scope, _ = await asyncio.to_thread(self._own, token, premise_id)
        return await self.accounting.premise_consumption_in(scope, premise_id, resource, granularity, period)

    async def meters(self, token: str, premise_id: int) -> list[HomeMeter]:
        """The premise's meters, each channel with its newest reading and the date of it."""
        _, scope, tz_name = await asyncio.to_thread(self._own, token, premise_id)
        found = await asyncio.to_thread(self.accounting._meters, "m.premise_id = ? AND m.company_id = ?",
                                        premise_id, scope.company_id)
        tz = zone(tz_name)
        newest = await latest_readings(self.ch, scope.company_id, [(m, tz) for m in found], self.clock(),
                                       READINGS_LOOKBACK_DAYS)
        return [_home_meter(m, newest) for m in found]

    # --- the dispatch desk and notices ------------------------------------------------------------
    async def tickets(self, token: str) -> list[Ticket]:
        """The resident's tickets, newest first."""
        return await self.desk.resident_tickets(await asyncio.to_thread(self._resident_id, token))

    async def ticket(self, token: str, ticket_id: int) -> ResidentTicket:
        ticket, stages = await self.desk.resident_ticket(await asyncio.to_thread(self._resident_id, token), ticket_id)
        return ResidentTicket(ticket, stages)

    async def submit_ticket(self, token: str, premise_id: int, description: str) -> Ticket:
        """A ticket to the dispatch desk about the premise (manual 4.5.9): registered, then the dispatcher
        qualifies it. At most TICKETS_PER_DAY in 24 hours."""
        resident_id, _, _ = await asyncio.to_thread(self._own, token, premise_id)
        since = (self.clock().astimezone(UTC) - timedelta(days=1)).isoformat()  # the desk's clock stamps them
        recent = await asyncio.to_thread(self.registry.one, "SELECT count(*) AS n FROM desk_tickets "
                                         "WHERE author_resident_id = ? AND created_at > ?", resident_id, since)
        if recent is not None and recent["n"] >= TICKETS_PER_DAY:
            raise InvalidInput(f"description: {TICKETS_PER_DAY} tickets in a day at most; "
                               "call the dispatch desk if it is urgent")
        return await self.desk.submit_by_resident(resident_id, premise_id, description)

    async def notices_for(self, token: str) -> list[ResidentNotice]:
        """The published notices current today for the buildings of the resident's premises."""
        return await self.notices.for_resident(await asyncio.to_thread(self._resident_id, token))


def _resources(text: str | None) -> tuple[Resource, ...]:
    found = set((text or "").split(","))
    return tuple(r for r in Resource if r.value in found)


def _home_meter(meter: MeterInfo, newest: dict) -> HomeMeter:
    readings = []
    for channel in meter.channels:
        parameter = parameter_of(channel)
        if parameter is None:
            continue
        hit = newest.get((meter.id, channel.number))
        readings.append(MeterReading(channel.number, channel.resource, tariff_of(meter, channel),
                                     None if hit is None else hit.value, PARAMETERS[parameter].unit,
                                     None if hit is None else hit.at))
    return HomeMeter(meter.id, meter.serial, meter.model, meter.resources, meter.status, tuple(readings))

