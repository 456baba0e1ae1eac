"""The company card (manual 4.6.15) and the user's own profile and working mode (3.4).

The card holds what 4.6.15 shows beside the company's name and cities: legal name, INN, KPP,
OGRN, director, actual address, working hours, phone and the administrator's e-mail. Every user
of the company reads it (readers too); its administrator without reader status edits it, each
field checked by cloud/services/company_rules.py, and asks for the full version of the platform.
The name, the main city and the cities themselves stay with CompaniesService and CitiesService.

The profile is the signed-in user's own: login, name, role, reader status, company, the company's
cities and the city the pages open on (the working mode, kept here per user, server-side; a city
the company no longer works in falls back to the company's main city). Choosing it and changing
one's own password are personal, so any role may, readers too; a password is changed only in a
signed-in session (never with an API token), with the current password, and ends the user's other
sessions. Every change writes an audit entry in the same transaction (never a password).
Tests: tests/integration/test_company.py, tests/unit/cloud/test_company_rules.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cloud.services import audit, company_rules
from cloud.services.auth import AuthService, hash_password, require_administrator, token_hash, verify_password
from cloud.services.cities import CitiesService, CityInfo
from cloud.services.models import Forbidden, InvalidInput, NotFound, UserInfo, check_id
from cloud.services.users import check_password
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

if TYPE_CHECKING:
    from cloud.services.commands import CommandService


@dataclass(frozen=True, slots=True)
class CardFields:
    """The company card's editable fields ("" = not filled in)."""

    legal_name: str = ""
    inn: str = ""
    kpp: str = ""
    ogrn: str = ""
    director: str = ""  # ФИО руководителя
    address: str = ""  # фактический адрес
    hours: str = ""  # время работы
    phone: str = ""
    email: str = ""  # e-mail администратора


CARD_FIELDS = tuple(f.name for f in fields(CardFields))


@dataclass(frozen=True, slots=True)
class CompanyCard:
    id: int
    name: str
    city: str  # the main city
    card: CardFields
    cities: list[CityInfo]
    full_access_requested_at: datetime | None  # UTC


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: int
    login: str
    full_name: str
    role: str
    reader: bool
    company: str
    cities: list[CityInfo]  # the company's; the pages offer a choice only when there are several
    working_city: CityInfo | None  # the city the pages open on
    working_city_chosen: bool  # False: the company's main city by default
    may_change_password: bool  # not with an API token


def check_card(card: CardFields) -> CardFields:
    """Every field checked and normalised; the identifiers consistent with each other."""
    checked = CardFields(
        legal_name=company_rules.text("legal_name", card.legal_name),
        inn=company_rules.inn(card.inn),
        kpp=company_rules.kpp(card.kpp),
        ogrn=company_rules.ogrn(card.ogrn),
        director=company_rules.text("director", card.director, 200),
        address=company_rules.text("address", card.address),
        hours=company_rules.text("hours", card.hours, 200),
        phone=company_rules.phone(card.phone),
        email=company_rules.email(card.email),
    )
    company_rules.consistent(checked.inn, checked.kpp, checked.ogrn)
    return checked


def _cities(db: sqlite3.Connection, company_id: int) -> list[CityInfo]:
    rows = db.execute("SELECT c.*, (SELECT count(*) FROM buildings b WHERE b.city_id = c.id AND b.company_id = ?) "
                      "AS buildings FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                      "WHERE cc.company_id = ? ORDER BY c.name", (company_id, company_id)).fetchall()
    return [CityInfo(r["id"], r["name"], r["time_zone"], r["buildings"]) for r in rows]


def _card_row(db: sqlite3.Connection, company_id: int) -> tuple[CardFields, datetime | None]:
    row = db.execute("SELECT * FROM company_cards WHERE company_id = ?", (company_id,)).fetchone()
    if row is None:
        return CardFields(), None
    requested = row["full_access_requested_at"]
    return (CardFields(**{name: row[name] for name in CARD_FIELDS}),
            datetime.fromisoformat(requested) if requested else None)


class ProfileService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.cities = CitiesService(registry, auth)

    # --- the company card (4.6.15) ---

    async def card(self, token: str) -> CompanyCard:
        """The user's own company's card (any role, readers too)."""
        user = await self.auth.user(token)
        return await asyncio.to_thread(self._card, user.company_id)

    def _card(self, company_id: int) -> CompanyCard:
        with self.registry.connect() as db:
            company = db.execute("SELECT * FROM companies WHERE id = ?", (company_id,)).fetchone()
            if company is None:
                raise NotFound(f"company {company_id} not found")
            card, requested = _card_row(db, company_id)
            return CompanyCard(company_id, company["name"], company["city"], card, _cities(db, company_id), requested)

    async def update_card(self, token: str, card: CardFields) -> CompanyCard:
        """Replace the card's fields (an administrator); refused as a whole when any field is wrong."""
        admin = require_administrator(await self.auth.user(token))
        checked = check_card(card)
        return await asyncio.to_thread(self._update_card, admin, checked)

    def _update_card(self, admin: UserInfo, checked: CardFields) -> CompanyCard:
        with self.registry.connect() as db:
            before, _ = _card_row(db, admin.company_id)
            db.execute("INSERT OR IGNORE INTO company_cards (company_id) VALUES (?)", (admin.company_id,))
            assignments = ", ".join(f"{name} = ?" for name in CARD_FIELDS)  # column names are ours
            db.execute(f"UPDATE company_cards SET {assignments} WHERE company_id = ?",  # noqa: S608
                       (*(getattr(checked, name) for name in CARD_FIELDS), admin.company_id))
            if checked != before:
                old, new = asdict(before), asdict(checked)
                changed = [k for k in CARD_FIELDS if old[k] != new[k]]
                audit.record(db, admin, "company.card", f"company:{admin.company_id}",
                             {k: old[k] for k in changed}, {k: new[k] for k in changed})
        return self._card(admin.company_id)

    async def request_full_access(self, token: str) -> CompanyCard:
        """Ask for the full version of the platform (an administrator, 4.6.15); asked once, kept with its time."""
        admin = require_administrator(await self.auth.user(token))
        now = self.clock()
        return await asyncio.to_thread(self._request, admin, now)

    def _request(self, admin: UserInfo, now: datetime) -> CompanyCard:
        with self.registry.connect() as db:
            _, requested = _card_row(db, admin.company_id)
            if requested is not None:
                raise InvalidInput(f"full_access: already requested on {requested:%Y-%m-%d %H:%M} UTC")
            db.execute("INSERT OR IGNORE INTO company_cards (company_id) VALUES (?)", (admin.company_id,))
            db.execute("UPDATE company_cards SET full_access_requested_at = ? WHERE company_id = ?",
                       (now.astimezone(UTC).isoformat(), admin.company_id))
            audit.record(db, admin, "company.full_access_request", f"company:{admin.company_id}", None,
                         {"requested_at": now.astimezone(UTC).isoformat()})
        return self._card(admin.company_id)

    # --- the profile and working mode (3.4) ---

    async def profile(self, token: str) -> Profile:
        """The signed-in user's own profile with the city the pages open on."""
        user = await self.auth.user(token)
        return await asyncio.to_thread(self._profile, user)

    def _profile(self, user: UserInfo) -> Profile:
        with self.registry.connect() as db:
            cities = _cities(db, user.company_id)
            chosen = db.execute("SELECT city_id FROM user_working_modes WHERE user_id = ?", (user.id,)).fetchone()
        by_id = {c.id: c for c in cities}
        working = by_id.get(chosen["city_id"]) if chosen is not None else None
        is_chosen = working is not None
        if working is None:  # never chosen, or the company left that city: its main city
            working = next((c for c in cities if c.name == user.city), cities[0] if cities else None)
        return Profile(user.id, user.login, user.full_name, user.role.value, user.reader, user.company_name,
                       cities, working, is_chosen, user.via_token is None)

    async def working_city(self, token: str) -> CityInfo | None:
        """The city the user's pages open on (what the pages' city selection starts from)."""
        return (await self.profile(token)).working_city

    async def set_working_city(self, token: str, city_id: int) -> Profile:
        """Choose the city the pages open on, among the company's cities (any role: it is personal)."""
        user = await self.auth.user(token)
        check_id("city_id", city_id)
        return await asyncio.to_thread(self._set_city, user, city_id)

    def _set_city(self, user: UserInfo, city_id: int) -> Profile:
        with self.registry.connect() as db:
            city = db.execute("SELECT c.name FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                              "WHERE c.id = ? AND cc.company_id = ?", (city_id, user.company_id)).fetchone()
            if city is None:
                raise InvalidInput(f"city_id: {city_id} is not a city of the company")
            before = db.execute("SELECT c.name FROM user_working_modes m JOIN cities c ON c.id = m.city_id "
                                "WHERE m.user_id = ?", (user.id,)).fetchone()
            db.execute("INSERT INTO user_working_modes (user_id, city_id) VALUES (?, ?) "
                       "ON CONFLICT (user_id) DO UPDATE SET city_id = excluded.city_id", (user.id, city_id))
            if before is None or before["name"] != city["name"]:
                audit.record(db, user, "profile.city", f"user:{user.id}",
                             {"city": before["name"]} if before else None, {"city": city["name"]})
        return self._profile(user)

    async def change_password(self, token: str, current: str, new: str) -> None:
        """Change one's own password: the current one first; the user's other sessions end."""
        user = await self.auth.user(token)
        if user.via_token is not None:
            raise Forbidden("a password is changed in a signed-in session, not with an API token")
        if not current:
            raise InvalidInput("current_password: type your current password")
        check_password(new)
        if new == current:
            raise InvalidInput("new_password: must differ from the current password")
        stored = await asyncio.to_thread(self.registry.one, "SELECT password_hash FROM users WHERE id = ?", user.id)
        if stored is None:
            raise NotFound(f"user {user.id} not found")
        if not await asyncio.to_thread(verify_password, current, stored["password_hash"]):
            raise InvalidInput("current_password: wrong password")
        hashed = await asyncio.to_thread(hash_password, new)
        await asyncio.to_thread(self._store_password, user, token, hashed)

    def _store_password(self, user: UserInfo, token: str, hashed: str) -> None:
        with self.registry.connect() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (hashed, user.id))
            ended = db.execute("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?",
                               (user.id, token_hash(token))).rowcount
            audit.record(db, user, "profile.password", f"user:{user.id}", None,
                         {"password": "changed", "other_sessions_ended": ended})

