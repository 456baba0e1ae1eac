"""The event journal (manual 4.2.2) and e-mail subscriptions to events (4.6.13).

The journal reads ``device_events`` of one building's meters over local days of the building:
what the devices sent (tampering, magnet, leak ...), what the edge noted about a meter (clock
corrected, periods lost) and what the cloud found (a suspect value, cloud/services/plausibility.py).
Each event is classified by the meter's type (the registry's meters.role), by its effect and by
its kind (protocol/event_classes.py holds the mapping); filters on each are multi-selects where
choosing all is choosing none. Events are grouped per meter in time order, and each meter is
followed by its current state: service status, last archive period, last counter readings.

A subscription belongs to one dispatcher or engineer (readers only look, administrators see
none): meter types, effects and kinds, at least one of each, and an e-mail address;
cloud/notifier.py sends the e-mails. Scope as in cloud/services/accounting.py: another company's
building or another user's subscription is "not found". Every subscription change is audited.
Tests: tests/unit/cloud/test_event_rules.py, tests/integration/test_events.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from cloud.services import audit
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_operational_view, require_writer
from cloud.services.models import (
    BuildingSummary,
    InvalidInput,
    MeterInfo,
    NotFound,
    UserInfo,
    check_day,
    check_id,
    meter_status,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import event_classes as ec
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import PARAMETERS

MAX_DAYS = 366  # days of one journal
MAX_EVENTS = 5000  # events one journal shows (the newest are kept; ``truncated`` says so)
MAX_SCAN = 50_000  # stored events read for one journal before the effect filter
STATE_RECENT_DAYS = 3  # a meter's state: the archive window looked at before its whole history
DEFAULT_DAYS = 7  # the journal opens on the last week, today included
MAX_SUBSCRIPTIONS = 50  # per user
MAX_EMAIL = 254  # RFC 5321 path length
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
COUNTERS = sorted(p.code for p in PARAMETERS.values() if p.summable)
# a meter's newest counter readings (EventsService._states): over its whole history, and from {since} on
_STATE_ALL = ("SELECT meter, channel, parameter, argMax(value, (period_start, version)), max(period_start) "
              "FROM {db}.archive WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} "
              "AND nature = 'integral' AND parameter IN {counters:Array(String)} GROUP BY meter, channel, parameter")
_STATE_RECENT = ("SELECT meter, channel, parameter, argMax(value, (period_start, version)), max(period_start) "
                 "FROM {db}.archive WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} "
                 "AND nature = 'integral' AND parameter IN {counters:Array(String)} "
                 "AND period_start >= {since:DateTime} AND period_start >= ("
                 "SELECT min(newest) FROM (SELECT max(period_start) AS newest "
                 "FROM {db}.archive WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} "
                 "AND nature = 'integral' AND parameter IN {counters:Array(String)} "
                 "AND period_start >= {since:DateTime} GROUP BY meter)) GROUP BY meter, channel, parameter")


@dataclass(frozen=True, slots=True)
class JournalEvent:
    key: str  # site:epoch:id, unique within the company (the notifier's event_key adds the company)
    at: datetime  # local time of the building
    at_utc: datetime
    meter_type: str  # individual (ИПУ) or common (ОДПУ)
    effect: str  # integrity, interference, limit, other
    severity: str  # info, warning, alarm
    code: str  # as stored: an effect name for a device's own event, else the edge's or cloud's code
    device_code: int | None  # the device's event code (0x0101 ...), when it sent one
    source: str  # device, edge or cloud
    description: str  # Russian
    description_en: str
    detail: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class MeterReading:
    channel: int
    parameter: str
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class MeterState:
    """What a meter is now: its status by the lifecycle dates, its newest archive period (local) and
    its counter readings of that period; ``last_archive_at`` null when nothing was ever stored."""

    status: str  # commissioning, in_service, decommissioned
    last_archive_at: datetime | None
    readings: tuple[MeterReading, ...]


@dataclass(frozen=True, slots=True)
class MeterEvents:
    meter: MeterInfo
    events: tuple[JournalEvent, ...]  # in time order
    state: MeterState


@dataclass(frozen=True, slots=True)
class EventJournal:
    building: BuildingSummary
    first: date  # local days, inclusive
    last: date
    meter_types: tuple[str, ...]  # the filters as applied: every value let through
    effects: tuple[str, ...]
    severities: tuple[str, ...]
    meters: tuple[MeterEvents, ...]  # meters with events in the period: building meters first
    total: int  # events shown
    truncated: bool  # more matched than MAX_EVENTS: the newest MAX_EVENTS are shown


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    meter_types: tuple[str, ...]
    effects: tuple[str, ...]
    severities: tuple[str, ...]
    method: str  # "email" (manual 4.6.13)
    email: str
    created_at: datetime  # UTC
    updated_at: datetime


# --- rules ---------------------------------------------------------------------------------------

def filter_values(kind: type[StrEnum], values: Iterable[str] | None, name: str) -> frozenset[str]:
    """A journal filter: nothing chosen = everything chosen; an unknown value is InvalidInput."""
    try:
        return ec.chosen(kind, values, name)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


_CHARACTERISTICS = (("meter_types", ec.MeterType, "meter type (individual, common)"),
                    ("effects", ec.EventEffect, "effect (integrity, interference, limit, other)"),
                    ("severities", ec.EventSeverity, "kind (info, warning, alarm)"))


def subscription_values(meter_types: Iterable[str], effects: Iterable[str], severities: Iterable[str]
                        ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The three characteristics of a subscription, each sorted and without repeats; each needs at
    least one value (manual 4.6.13): InvalidInput names the one that has none, or an unknown value."""
    out = []
    for (name, kind, what), given in zip(_CHARACTERISTICS, (meter_types, effects, severities), strict=True):
        values = {str(v) for v in given}
        if not values:
            raise InvalidInput(f"{name}: choose at least one {what}")
        allowed = {m.value for m in kind}
        unknown = sorted(values - allowed)
        if unknown:
            raise InvalidInput(f"{name}: unknown value {unknown[0]!r}, one of {', '.join(sorted(allowed))}")
        out.append(tuple(sorted(values)))
    return out[0], out[1], out[2]


def check_email(value: str) -> str:
    """The address, trimmed, when it is one mail can go to; else InvalidInput (no header tricks)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise InvalidInput(f"email: not an e-mail address: {str(value)[:80]!r}")
    return text


def journal_days(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The local days of a journal: by default the last DEFAULT_DAYS days up to ``today``."""
    last_ = last or (today if first is None else min(today, first + timedelta(days=DEFAULT_DAYS - 1)))
    first_ = first or last_ - timedelta(days=DEFAULT_DAYS - 1)
    check_day("from", first_)
    check_day("to", last_)
    if last_ < first_:
        raise InvalidInput(f"to: {last_} is before from: {first_}")
    if (last_ - first_).days >= MAX_DAYS:
        raise InvalidInput(f"to: at most {MAX_DAYS} days per journal")
    return first_, last_


def _detail(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return {"text": text}
    return doc if isinstance(doc, dict) else {"value": doc}


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _subscription(row: Any) -> Subscription:
    return Subscription(row["id"], tuple(row["meter_roles"].split(",")), tuple(row["effects"].split(",")),
                        tuple(row["severities"].split(",")), "email", row["email"],
                        datetime.fromisoformat(row["created_at"]), datetime.fromisoformat(row["updated_at"]))


def _audit_view(s: Subscription) -> dict[str, Any]:
    return {"meter_types": list(s.meter_types), "effects": list(s.effects), "severities": list(s.severities),
            "email": s.email}


class EventsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope and role checks
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- journal (4.2.2) -------------------------------------------------------------------------
    async def journal(self, token: str, building_id: int, first: date | None = None, last: date | None = None, *,
                      meter_types: Iterable[str] | None = None, effects: Iterable[str] | None = None,
                      severities: Iterable[str] | None = None) -> EventJournal:
        """The building's meter events over the local days first..last (default: the last week)."""
        types = filter_values(ec.MeterType, meter_types, "meter_role")
        effects_ = filter_values(ec.EventEffect, effects, "effect")
        kinds = filter_values(ec.EventSeverity, severities, "severity")
        building = await self.accounting.building(token, building_id)
        company = (await self.auth.user(token)).company_id
        tz = zone(building.time_zone)
        first_, last_ = journal_days(first, last, utc_to_local(self.clock(), tz).date())
        lo = local_to_utc(datetime(first_.year, first_.month, first_.day), tz)
        hi = local_to_utc(datetime(last_.year, last_.month, last_.day) + timedelta(days=1), tz)
        meters = [m for m in await self.accounting.meters(token, building_id) if m.role.value in types]
        by_serial = {m.serial: m for m in meters}
        found: dict[str, list[JournalEvent]] = defaultdict(list)
        matched = 0
        if meters:
            rows = await self.ch.query(
                "SELECT site, epoch, id, meter, at, code, severity, source, detail FROM {db}.device_events FINAL "
                "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND severity IN {sev:Array(String)} "
                "AND at >= {lo:DateTime64(3)} AND at < {hi:DateTime64(3)} ORDER BY at DESC, site, epoch, id "
                "LIMIT {limit:UInt32}",
                {"co": company, "meters": sorted(by_serial), "sev": sorted(kinds), "lo": lo,
                 "hi": hi, "limit": MAX_SCAN})
            for site, epoch, ident, serial, at, code, severity, source, detail in rows:
                meter = by_serial[serial]
                doc = _detail(detail)
                kind = ec.classify(code, doc)
                if kind.effect.value not in effects_:
                    continue
                matched += 1
                if matched > MAX_EVENTS:
                    continue
                moment = _aware(at)
                found[serial].append(JournalEvent(
                    f"{site}:{epoch}:{ident}", utc_to_local(moment, tz), moment, meter.role.value, kind.effect.value,
                    str(severity), code, kind.device_code, str(source), kind.description_ru, kind.description_en,
                    doc))
        shown = [m for m in meters if m.serial in found]
        states = await self._states(company, shown, tz)
        groups = tuple(MeterEvents(m, tuple(reversed(found[m.serial])), states[m.serial]) for m in shown)
        return EventJournal(building, first_, last_, tuple(sorted(types)), tuple(sorted(effects_)),
                            tuple(sorted(kinds)), groups, min(matched, MAX_EVENTS), matched > MAX_EVENTS)

    async def _states(self, company: int, meters: list[MeterInfo], tz: Any) -> dict[str, MeterState]:
        """Each meter's status now, newest archive period and its counter readings then."""
        if not meters:
            return {}
        # A reporting meter's newest period is recent: look at the archive from STATE_RECENT_DAYS ago on
        # first (a few granules, not the meter's whole history), aggregating only rows from the oldest
        # of the meters' newest periods on (the subquery reads key columns only, so archives stored
        # ahead of the clock cost little too), and at the whole history only for the meters without a
        # period there. A (channel, parameter) whose newest period is older than that cannot be of the
        # meter's newest period, so the answer is the whole history's. argMax by (period_start, version)
        # picks the row FINAL would keep, whether or not ClickHouse has merged the duplicates yet.
        since = (self.clock().astimezone(UTC) - timedelta(days=STATE_RECENT_DAYS)).replace(tzinfo=None)
        serials = sorted(m.serial for m in meters)
        rows = await self.ch.query(_STATE_RECENT, {"co": company, "meters": serials, "counters": COUNTERS,
                                                   "since": since})
        seen = {row[0] for row in rows}
        older = [serial for serial in serials if serial not in seen]
        if older:
            rows = [*rows, *await self.ch.query(_STATE_ALL, {"co": company, "meters": older, "counters": COUNTERS})]
        latest: dict[str, datetime] = {}
        values: dict[str, list[tuple[datetime, int, str, float]]] = defaultdict(list)
        for serial, channel, parameter, value, start in rows:
            moment = _aware(start)
            latest[serial] = max(latest.get(serial, moment), moment)
            values[serial].append((moment, int(channel), str(parameter), float(value)))
        now = self.clock()
        out = {}
        for m in meters:
            newest = latest.get(m.serial)
            readings = tuple(MeterReading(ch, p, v, PARAMETERS[p].unit) for at, ch, p, v in sorted(
                values[m.serial], key=lambda r: (r[1], r[2])) if at == newest)
            out[m.serial] = MeterState(meter_status(m.commissioned_at, m.decommissioned_at, now, m.status),
                                       utc_to_local(newest, tz) if newest is not None else None, readings)
        return out

    # --- subscriptions (4.6.13) ------------------------------------------------------------------
    async def _viewer(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "event subscriptions are not available to administrators")

    async def _owner(self, token: str) -> UserInfo:
        """A user who may own subscriptions: a dispatcher or engineer without reader status."""
        return require_writer(await self._viewer(token))

    async def subscriptions(self, token: str) -> list[Subscription]:
        """The caller's own subscriptions, oldest first."""
        user = await self._viewer(token)
        rows = await asyncio.to_thread(self.registry.all, "SELECT * FROM event_subscriptions WHERE user_id = ? "
                                       "ORDER BY id", user.id)
        return [_subscription(r) for r in rows]

    async def create_subscription(self, token: str, meter_types: Iterable[str], effects: Iterable[str],
                                  severities: Iterable[str], email: str, method: str = "email") -> Subscription:
        user = await self._owner(token)
        values = subscription_values(meter_types, effects, severities)
        address = self._method_address(method, email)
        return await asyncio.to_thread(self._create, user, values, address)

    def _create(self, user: UserInfo, values: tuple[tuple[str, ...], ...], email: str) -> Subscription:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            count = db.execute("SELECT count(*) FROM event_subscriptions WHERE user_id = ?", (user.id,)).fetchone()[0]
            if count >= MAX_SUBSCRIPTIONS:
                raise InvalidInput(f"at most {MAX_SUBSCRIPTIONS} subscriptions per user")
            ident = db.execute(
                "INSERT INTO event_subscriptions (user_id, meter_roles, effects, severities, email, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user.id, *(",".join(v) for v in values), email, now, now)).lastrowid
            created = _subscription(db.execute("SELECT * FROM event_subscriptions WHERE id = ?", (ident,)).fetchone())
            audit.record(db, user, "event_subscription.create", f"event_subscription:{ident}", None,
                         _audit_view(created))
        return created

    async def update_subscription(self, token: str, subscription_id: int, meter_types: Iterable[str],
                                  effects: Iterable[str], severities: Iterable[str], email: str,
                                  method: str = "email") -> Subscription:
        user = await self._owner(token)
        check_id("subscription_id", subscription_id)
        values = subscription_values(meter_types, effects, severities)
        address = self._method_address(method, email)
        return await asyncio.to_thread(self._update, user, subscription_id, values, address)

    def _update(self, user: UserInfo, ident: int, values: tuple[tuple[str, ...], ...], email: str) -> Subscription:
        with self.registry.connect() as db:
            before = self._own(db, user, ident)
            db.execute("UPDATE event_subscriptions SET meter_roles = ?, effects = ?, severities = ?, email = ?, "
                       "updated_at = ? WHERE id = ?",
                       (*(",".join(v) for v in values), email, self.clock().astimezone(UTC).isoformat(), ident))
            after = _subscription(db.execute("SELECT * FROM event_subscriptions WHERE id = ?", (ident,)).fetchone())
            audit.record(db, user, "event_subscription.update", f"event_subscription:{ident}", _audit_view(before),
                         _audit_view(after))
        return after

    async def delete_subscription(self, token: str, subscription_id: int) -> None:
        user = await self._owner(token)
        check_id("subscription_id", subscription_id)
        await asyncio.to_thread(self._delete, user, subscription_id)

    def _delete(self, user: UserInfo, ident: int) -> None:
        with self.registry.connect() as db:
            before = self._own(db, user, ident)
            db.execute("DELETE FROM event_notifications WHERE subscription_id = ?", (ident,))
            db.execute("DELETE FROM event_subscriptions WHERE id = ?", (ident,))
            audit.record(db, user, "event_subscription.delete", f"event_subscription:{ident}", _audit_view(before),
                         None)

    @staticmethod
    def _own(db: Any, user: UserInfo, ident: int) -> Subscription:
        row = db.execute("SELECT * FROM event_subscriptions WHERE id = ? AND user_id = ?", (ident, user.id)).fetchone()
        if row is None:
            raise NotFound(f"subscription {ident} not found")
        return _subscription(row)

    @staticmethod
    def _method_address(method: str, email: str) -> str:
        if method != "email":
            raise InvalidInput(f"method: only 'email' is offered, got {str(method)[:32]!r}")
        return check_email(email)
