"""Power limitation of premises through the 941LW relay (manual 4.5.8) and relay thresholds (4.6.11).

A limitation (``power_limitations``) records the dispatcher's request, a debt (amount) or repairs
(start date of the works) with an optional notice through ЭК (notification and control dates),
and the relay commands that carry it out: ``CommandService.issue(token, "relay", meter_id=...,
args={"on": True, "limit_w": threshold})`` sets the premise's KARAT-941LW relay to LIMIT at the
building's threshold, else the city's default (cloud/services/power_rules.py); lifting sends
``{"on": True, "limit_w": 0}`` (relay ON). The edge carries each out by downlink and reports the
device's answer; the limitation's state is read from that command's state (sending, limited,
failed, timed_out; lifting, lifted, lift_failed, lift_timed_out), so a failed or timed-out relay
command is never shown as limiting.

Rights (manual 2.3, 4.5.8, 4.6.11): a dispatcher without reader status starts, lifts and retries
limitations and edits the thresholds (the relay command is the dispatcher's, commands.ALLOWED);
a service engineer and a reader see the pages read-only; an administrator sees none (NotFound).
Another company's premise, building, city or limitation is NotFound. Every change writes an audit
entry in the transaction that makes it (the relay command's own "command.issue" entry besides).
Times are given in the building's local time. Tests: tests/unit/cloud/test_power_rules.py,
tests/integration/test_power.py, tests/integration/test_power_relay.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cloud.services import audit
from cloud.services import power_rules as rules
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_day, check_id
from cloud.services.power_rules import PowerRuleError, Threshold
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.catalogue import ELECTRICITY_941
from protocol.periods import zone

if TYPE_CHECKING:
    from cloud.services.commands import CommandInfo, CommandService

MAX_CHANGES = 1000  # building thresholds in one request
_REFUSAL = "power limitation is not available to administrators"


# --- what the callers get ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Limitation:
    """One limitation of a premise with the state its relay command is in."""

    id: int
    premise_id: int
    premise_number: str
    building_id: int
    address: str
    meter_id: int
    meter_serial: str
    reason: str  # "debt" or "repairs"
    debt_amount: float | None  # roubles
    repairs_from: date | None
    notify: bool  # the resident is told through ЭК
    notify_on: date | None
    control_on: date | None
    threshold_w: int
    threshold_source: str  # "building" or "city"
    state: str  # power_rules.STATES
    command_id: str  # the relay command of the current phase
    command_state: str  # its state: created, sent, acknowledged, done, failed, timed_out
    command_detail: str  # the edge's reason when it failed, else ""
    created_by: str | None  # the dispatcher's full name
    created_at: datetime  # local time of the building
    lifted_by: str | None
    lifted_at: datetime | None  # when the lift was asked for (local time)
    finished_at: datetime | None  # when the current command ended (local time)
    actions: tuple[str, ...]  # what may be done now: "lift", "retry" (power_rules.ACTIONS)


@dataclass(frozen=True, slots=True)
class PremisePower:
    """A premise with a relay meter on the «Ограничение потребления» page."""

    premise_id: int
    premise_number: str
    account: str
    building_id: int
    address: str
    city: str
    meter_id: int
    meter_serial: str
    threshold_w: int | None  # the threshold a new limitation would use; None: none set
    threshold_source: str | None  # "building", "city" or None
    limitation: Limitation | None  # the latest one unless it was lifted (the manual: then it is not shown)
    may_start: bool  # no limitation in force and a threshold is known


@dataclass(frozen=True, slots=True)
class CityThreshold:
    city_id: int
    city: str
    threshold_w: int | None  # the city's default; None: not set
    updated_by: str | None
    updated_at: datetime | None  # local time of the city


@dataclass(frozen=True, slots=True)
class BuildingThreshold:
    building_id: int
    address: str
    city_id: int
    city: str
    own_w: int | None  # the building's own threshold; None: it follows the city's
    threshold_w: int | None  # in force: own, else the city's, else None
    source: str | None  # "building", "city" or None


@dataclass(frozen=True, slots=True)
class RelayThresholds:
    """The «Реле мощности» settings (manual 4.6.11): city defaults and each building's value, in W."""

    cities: tuple[CityThreshold, ...]
    buildings: tuple[BuildingThreshold, ...]
    min_w: int = rules.MIN_THRESHOLD_W
    max_w: int = rules.MAX_THRESHOLD_W


@dataclass(frozen=True, slots=True)
class ThresholdChange:
    building_id: int
    threshold_w: int | None  # None: back to the city's default


# --- the service ---------------------------------------------------------------------------------

class PowerLimitsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # starts, lifts and retries one at a time: the "in force" check and the row it leads to
        # must not interleave with another request for the same premise (the command is issued between)
        self._lock = asyncio.Lock()

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    async def _dispatcher(self, token: str) -> UserInfo:
        return require_dispatcher(require_operational_view(await self.auth.user(token), _REFUSAL))

    # --- limitations (4.5.8) -----------------------------------------------------------------------

    async def premises(self, token: str, *, building_id: int | None = None, state: str | None = None,
                       reason: str | None = None) -> list[PremisePower]:
        """The company's premises with a 941LW relay meter and their limitation. ``state`` filters by
        the limitation's state ("none": no limitation shown), ``reason`` by its reason."""
        user = await self._viewer(token)
        if building_id is not None:
            check_id("building_id", building_id)
        if state is not None and state != "none" and state not in rules.STATES:
            raise InvalidInput(f"state: none or one of {', '.join(rules.STATES)}, got {state!r}")
        if reason is not None and reason not in rules.REASONS:
            raise InvalidInput(f"reason: one of {', '.join(rules.REASONS)}, got {reason!r}")
        rows = await asyncio.to_thread(self._premises, user, building_id)
        return [p for p in rows
                if (state is None or (p.limitation.state if p.limitation else "none") == state)
                and (reason is None or (p.limitation is not None and p.limitation.reason == reason))]

    def _premises(self, user: UserInfo, building_id: int | None) -> list[PremisePower]:
        now = self.clock()
        with self.registry.connect() as db:
            if building_id is not None and db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                                                      (building_id, user.company_id)).fetchone() is None:
                raise NotFound(f"building {building_id} not found")
            premises = _relay_premises(db, user.company_id, building_id, now)
            latest = _limitations(db, user.company_id, "l.id IN (SELECT max(id) FROM power_limitations "
                                  "WHERE company_id = ? GROUP BY premise_id)", (user.company_id,))
            thresholds = _thresholds(db, user.company_id)
        by_premise = {lim.premise_id: lim for lim in latest}
        out = []
        for p in premises:
            lim = by_premise.get(p["premise_id"])
            shown = None if lim is None or lim.state == "lifted" else lim
            found = thresholds(p["building_id"], p["city_id"])
            current = None if lim is None else lim.state
            out.append(PremisePower(
                p["premise_id"], p["number"], p["account"], p["building_id"], p["address"], p["city"], p["meter_id"],
                p["serial"], found.watts if found else None, found.source if found else None, shown,
                found is not None and current in rules.ACTIONS["start"]))
        return out

    async def history(self, token: str, premise_id: int) -> list[Limitation]:
        """Every limitation of the premise, newest first (manual 4.5.8: the history of a premise)."""
        user = await self._viewer(token)
        check_id("premise_id", premise_id)
        return await asyncio.to_thread(self._history, user, premise_id)

    def _history(self, user: UserInfo, premise_id: int) -> list[Limitation]:
        with self.registry.connect() as db:
            _premise(db, user.company_id, premise_id)
            return _limitations(db, user.company_id, "l.premise_id = ?", (premise_id,))

    async def premise(self, token: str, premise_id: int) -> PremisePower:
        """One premise with a relay meter as the list shows it (NotFound when it has none)."""
        user = await self._viewer(token)
        check_id("premise_id", premise_id)

        def one() -> PremisePower:
            with self.registry.connect() as db:
                building_id = _premise(db, user.company_id, premise_id)["building_id"]
            found = [p for p in self._premises(user, building_id) if p.premise_id == premise_id]
            if not found:
                raise NotFound(f"premise {premise_id} has no {ELECTRICITY_941} meter with a load relay")
            return found[0]
        return await asyncio.to_thread(one)

    async def get(self, token: str, limitation_id: int) -> Limitation:
        user = await self._viewer(token)
        check_id("limitation_id", limitation_id)
        return await asyncio.to_thread(self._get, user, limitation_id)

    def _get(self, user: UserInfo, limitation_id: int) -> Limitation:
        with self.registry.connect() as db:
            found = _limitations(db, user.company_id, "l.id = ?", (limitation_id,))
        if not found:
            raise NotFound(f"limitation {limitation_id} not found")
        return found[0]

    async def start(self, token: str, premise_id: int, reason: str, *, debt_amount: float | None = None,
                    repairs_from: date | None = None, notify: bool = False, notify_on: date | None = None,
                    control_on: date | None = None) -> Limitation:
        """Limit the premise's power: the relay command goes to its 941LW with the threshold in
        force; the limitation follows that command's state."""
        user = await self._dispatcher(token)
        check_id("premise_id", premise_id)
        for name, day in (("repairs_from", repairs_from), ("notify_on", notify_on), ("control_on", control_on)):
            if day is not None:
                check_day(name, day)
        async with self._lock:
            plan = await asyncio.to_thread(self._plan_start, user, premise_id, reason, debt_amount, repairs_from,
                                           notify, notify_on, control_on)
            command = await self.commands.issue(token, "relay", meter_id=plan["meter_id"],
                                                args={"on": True, "limit_w": plan["threshold"].watts})
            limitation_id = await asyncio.to_thread(self._insert, user, plan, command)
        return await asyncio.to_thread(self._get, user, limitation_id)

    def _plan_start(self, user: UserInfo, premise_id: int, reason: str, debt_amount: float | None,
                    repairs_from: date | None, notify: bool, notify_on: date | None,
                    control_on: date | None) -> dict[str, Any]:
        now = self.clock()
        with self.registry.connect() as db:
            premise = _premise(db, user.company_id, premise_id)
            request = rules.check_request(reason, debt_amount, repairs_from, notify, notify_on, control_on,
                                          now.astimezone(zone(premise["time_zone"])).date())
            meters = _relay_premises(db, user.company_id, premise["building_id"], now, premise_id)
            if not meters:
                raise PowerRuleError("no_relay", f"premise_id: premise {premise['number']} has no {ELECTRICITY_941} "
                                     "meter in service: there is no relay to limit", number=premise["number"])
            latest = _limitations(db, user.company_id, "l.premise_id = ? ORDER BY l.id DESC LIMIT 1", (premise_id,))
            rules.check_action("start", latest[0].state if latest else None)
            found = _thresholds(db, user.company_id)(premise["building_id"], premise["city_id"])
            if found is None:
                raise PowerRuleError("no_threshold", f"no relay threshold for {premise['address']} nor a default for "
                                     f"{premise['city']}: set one in the relay settings (4.6.11) first",
                                     address=premise["address"], city=premise["city"])
        return {"premise_id": premise_id, "meter_id": meters[0]["meter_id"], "request": request, "threshold": found}

    def _insert(self, user: UserInfo, plan: dict[str, Any], command: CommandInfo) -> int:
        request: rules.Request = plan["request"]
        found: Threshold = plan["threshold"]
        now = self.clock().astimezone(UTC).isoformat()
        after = {"reason": request.reason, "debt_amount": request.debt_amount,
                 "repairs_from": _iso(request.repairs_from), "notify": request.notify,
                 "notify_on": _iso(request.notify_on), "control_on": _iso(request.control_on),
                 "meter_id": plan["meter_id"], "threshold_w": found.watts, "threshold_source": found.source,
                 "command_id": command.id}
        with self.registry.connect() as db:
            limitation_id = db.execute(
                "INSERT INTO power_limitations (company_id, premise_id, meter_id, reason, debt_amount, repairs_from, "
                "notify, notify_on, control_on, threshold_w, threshold_source, limit_command_id, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user.company_id, plan["premise_id"], plan["meter_id"], request.reason, request.debt_amount,
                 _iso(request.repairs_from), int(request.notify), _iso(request.notify_on), _iso(request.control_on),
                 found.watts, found.source, command.id, user.id, now)).lastrowid
            audit.record(db, user, "power_limitation.start", f"premise:{plan['premise_id']}", None,
                         {"limitation_id": limitation_id, **after})
        return int(limitation_id or 0)

    async def lift(self, token: str, limitation_id: int) -> Limitation:
        """Lift the limitation: the relay command sets the relay back ON (manual 4.5.8)."""
        return await self._act(token, limitation_id, "lift")

    async def retry(self, token: str, limitation_id: int) -> Limitation:
        """Send the relay command of a limitation whose limit command failed or timed out again."""
        return await self._act(token, limitation_id, "retry")

    async def _act(self, token: str, limitation_id: int, action: str) -> Limitation:
        user = await self._dispatcher(token)
        check_id("limitation_id", limitation_id)
        async with self._lock:
            current = await asyncio.to_thread(self._get, user, limitation_id)
            rules.check_action(action, current.state)
            latest = await asyncio.to_thread(self._history, user, current.premise_id)
            if latest[0].id != limitation_id:  # an older one: a newer limitation of the premise governs
                raise PowerRuleError("not_latest", f"limitation {limitation_id} is not the premise's latest "
                                     f"({latest[0].id})", latest=latest[0].id)
            lifting = action == "lift" or current.state in ("lift_failed", "lift_timed_out")
            threshold = 0 if lifting else current.threshold_w
            command = await self.commands.issue(token, "relay", meter_id=current.meter_id,
                                                args={"on": True, "limit_w": threshold})
            await asyncio.to_thread(self._record_act, user, current, action, lifting, command)
        return await asyncio.to_thread(self._get, user, limitation_id)

    def _record_act(self, user: UserInfo, current: Limitation, action: str, lifting: bool,
                    command: CommandInfo) -> None:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            if lifting:
                db.execute("UPDATE power_limitations SET lift_command_id = ?, lifted_by = ?, lifted_at = ? "
                           "WHERE id = ?", (command.id, user.id, now, current.id))
            else:
                db.execute("UPDATE power_limitations SET limit_command_id = ? WHERE id = ?", (command.id, current.id))
            audit.record(db, user, f"power_limitation.{action}", f"premise:{current.premise_id}",
                         {"limitation_id": current.id, "state": current.state, "command_id": current.command_id},
                         {"limitation_id": current.id, "phase": "lift" if lifting else "limit",
                          "command_id": command.id, "limit_w": 0 if lifting else current.threshold_w})

    # --- relay thresholds (4.6.11) -----------------------------------------------------------------

    async def thresholds(self, token: str) -> RelayThresholds:
        """The city defaults of every city of the company and the value of each of its buildings."""
        user = await self._viewer(token)
        return await asyncio.to_thread(self._threshold_table, user)

    def _threshold_table(self, user: UserInfo) -> RelayThresholds:
        with self.registry.connect() as db:
            cities = db.execute(
                "SELECT c.id, c.name, c.time_zone, t.threshold_w, t.updated_at, u.full_name FROM cities c "
                "JOIN company_cities cc ON cc.city_id = c.id AND cc.company_id = ? "
                "LEFT JOIN city_relay_thresholds t ON t.city_id = c.id AND t.company_id = cc.company_id "
                "LEFT JOIN users u ON u.id = t.updated_by ORDER BY c.name", (user.company_id,)).fetchall()
            buildings = db.execute(
                "SELECT b.id, b.address, b.city_id, b.city, t.threshold_w FROM buildings b "
                "LEFT JOIN building_relay_thresholds t ON t.building_id = b.id WHERE b.company_id = ? "
                "ORDER BY b.city, b.address", (user.company_id,)).fetchall()
            defaults = {c["id"]: c["threshold_w"] for c in cities}
        city_rows = tuple(CityThreshold(c["id"], c["name"], c["threshold_w"], c["full_name"],
                                        _local(c["updated_at"], zone(c["time_zone"]))) for c in cities)
        building_rows = []
        for b in buildings:
            found = rules.threshold(b["threshold_w"], defaults.get(b["city_id"]))
            building_rows.append(BuildingThreshold(b["id"], b["address"], b["city_id"], b["city"], b["threshold_w"],
                                                   found.watts if found else None, found.source if found else None))
        return RelayThresholds(city_rows, tuple(building_rows))

    async def set_city_threshold(self, token: str, city_id: int, threshold_w: int | None) -> CityThreshold:
        """Set (None: remove) the city's default threshold; its buildings without their own follow it."""
        user = await self._dispatcher(token)
        check_id("city_id", city_id)
        watts = None if threshold_w is None else rules.check_threshold("threshold_w", threshold_w)
        return await asyncio.to_thread(self._set_city, user, city_id, watts)

    def _set_city(self, user: UserInfo, city_id: int, watts: int | None) -> CityThreshold:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            if db.execute("SELECT 1 FROM company_cities WHERE company_id = ? AND city_id = ?",
                          (user.company_id, city_id)).fetchone() is None:
                raise NotFound(f"city {city_id} not found")
            before = db.execute("SELECT threshold_w FROM city_relay_thresholds WHERE company_id = ? AND city_id = ?",
                                (user.company_id, city_id)).fetchone()
            old = None if before is None else before["threshold_w"]
            if old != watts:
                if watts is None:
                    db.execute("DELETE FROM city_relay_thresholds WHERE company_id = ? AND city_id = ?",
                               (user.company_id, city_id))
                else:
                    db.execute("INSERT INTO city_relay_thresholds (company_id, city_id, threshold_w, updated_by, "
                               "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (company_id, city_id) DO UPDATE SET "
                               "threshold_w = excluded.threshold_w, updated_by = excluded.updated_by, "
                               "updated_at = excluded.updated_at", (user.company_id, city_id, watts, user.id, now))
                audit.record(db, user, "relay_threshold.city", f"city:{city_id}", {"threshold_w": old},
                             {"threshold_w": watts})
        return next(c for c in self._threshold_table(user).cities if c.city_id == city_id)

    async def set_building_thresholds(self, token: str, changes: Sequence[ThresholdChange]
                                      ) -> list[BuildingThreshold]:
        """Set (None: back to the city's default) buildings' thresholds, singly or many at once;
        all or nothing. Returns the changed buildings."""
        user = await self._dispatcher(token)
        if not changes:
            raise InvalidInput("changes: at least one change")
        if len(changes) > MAX_CHANGES:
            raise InvalidInput(f"changes: at most {MAX_CHANGES} in one request, got {len(changes)}")
        checked: list[ThresholdChange] = []
        seen: set[int] = set()
        for index, change in enumerate(changes):
            building_id = check_id(f"changes[{index}].building_id", change.building_id)
            if building_id in seen:
                raise InvalidInput(f"changes[{index}].building_id: building {building_id} is changed twice")
            seen.add(building_id)
            watts = None if change.threshold_w is None else rules.check_threshold(f"changes[{index}].threshold_w",
                                                                                  change.threshold_w)
            checked.append(ThresholdChange(building_id, watts))
        return await asyncio.to_thread(self._set_buildings, user, checked)

    def _set_buildings(self, user: UserInfo, changes: list[ThresholdChange]) -> list[BuildingThreshold]:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            for index, change in enumerate(changes):
                if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                              (change.building_id, user.company_id)).fetchone() is None:
                    raise NotFound(f"changes[{index}].building_id: building {change.building_id} not found")
            for change in changes:
                before = db.execute("SELECT threshold_w FROM building_relay_thresholds WHERE building_id = ?",
                                    (change.building_id,)).fetchone()
                old = None if before is None else before["threshold_w"]
                if old == change.threshold_w:
                    continue
                if change.threshold_w is None:
                    db.execute("DELETE FROM building_relay_thresholds WHERE building_id = ?", (change.building_id,))
                else:
                    db.execute("INSERT INTO building_relay_thresholds (building_id, threshold_w, updated_by, "
                               "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (building_id) DO UPDATE SET "
                               "threshold_w = excluded.threshold_w, updated_by = excluded.updated_by, "
                               "updated_at = excluded.updated_at", (change.building_id, change.threshold_w, user.id,
                                                                    now))
                audit.record(db, user, "relay_threshold.building", f"building:{change.building_id}",
                             {"threshold_w": old}, {"threshold_w": change.threshold_w})
        ids = {c.building_id for c in changes}
        return [b for b in self._threshold_table(user).buildings if b.building_id in ids]


# --- reading the registry -----------------------------------------------------------------------------

def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A stored UTC time as the naive local time of ``tz``."""
    return None if text is None else datetime.fromisoformat(text).astimezone(tz).replace(tzinfo=None)


def _premise(db: sqlite3.Connection, company_id: int, premise_id: int) -> sqlite3.Row:
    row = db.execute("SELECT p.id, p.number, p.building_id, b.address, b.city, b.city_id, b.time_zone FROM premises p "
                     "JOIN buildings b ON b.id = p.building_id WHERE p.id = ? AND b.company_id = ?",
                     (premise_id, company_id)).fetchone()
    if row is None:
        raise NotFound(f"premise {premise_id} not found")
    return row


def _relay_premises(db: sqlite3.Connection, company_id: int, building_id: int | None, now: datetime,
                    premise_id: int | None = None) -> list[sqlite3.Row]:
    """Premises with a 941LW meter in service (its relay is what a limitation switches), one row
    per premise: its newest such meter."""
    where, params = ["m.company_id = ?", "m.model = ?", "m.premise_id IS NOT NULL",
                     "m.status != 'decommissioned'", "(m.decommissioned_at IS NULL OR m.decommissioned_at > ?)"], \
        [company_id, ELECTRICITY_941, now.astimezone(UTC).isoformat()]
    if building_id is not None:
        where.append("m.building_id = ?")
        params.append(building_id)
    if premise_id is not None:
        where.append("m.premise_id = ?")
        params.append(premise_id)
    sql = ("SELECT p.id AS premise_id, p.number, p.account, b.id AS building_id, b.address, b.city, b.city_id, "  # noqa: S608 - our own clauses
           "m.id AS meter_id, m.serial FROM meters m JOIN premises p ON p.id = m.premise_id "
           f"JOIN buildings b ON b.id = m.building_id WHERE {' AND '.join(where)} "
           "ORDER BY b.city, b.address, p.id, m.id DESC")
    rows = db.execute(sql, params).fetchall()
    seen: set[int] = set()
    out = []
    for r in rows:
        if r["premise_id"] not in seen:
            seen.add(r["premise_id"])
            out.append(r)
    return sorted(out, key=lambda r: (r["city"], r["address"], _number_key(r["number"])))


def _number_key(number: str) -> tuple[int, int, str]:
    """Premise numbers in the order people count them: 2 before 10, names after numbers."""
    return (0, int(number), "") if number.isdigit() else (1, 0, number)


def _thresholds(db: sqlite3.Connection, company_id: int) -> Callable[[int, int | None], Threshold | None]:
    """The threshold in force for (building id, city id), read once for the company."""
    own = {r["building_id"]: r["threshold_w"] for r in db.execute(
        "SELECT t.building_id, t.threshold_w FROM building_relay_thresholds t JOIN buildings b ON b.id = t.building_id "
        "WHERE b.company_id = ?", (company_id,))}
    city = {r["city_id"]: r["threshold_w"] for r in db.execute(
        "SELECT city_id, threshold_w FROM city_relay_thresholds WHERE company_id = ?", (company_id,))}
    return lambda building_id, city_id: rules.threshold(own.get(building_id), city.get(city_id))


_LIMITATIONS = """
SELECT l.*, p.number, b.id AS building_id, b.address, b.time_zone, m.serial,
       lc.state AS limit_state, lc.finished_at AS limit_finished, lc.result AS limit_result,
       fc.state AS lift_state, fc.finished_at AS lift_finished, fc.result AS lift_result,
       cu.full_name AS creator, fu.full_name AS lifter,
       (SELECT max(x.id) FROM power_limitations x WHERE x.premise_id = l.premise_id) AS latest_id
FROM power_limitations l
JOIN premises p ON p.id = l.premise_id JOIN buildings b ON b.id = p.building_id JOIN meters m ON m.id = l.meter_id
JOIN commands lc ON lc.id = l.limit_command_id LEFT JOIN commands fc ON fc.id = l.lift_command_id
LEFT JOIN users cu ON cu.id = l.created_by LEFT JOIN users fu ON fu.id = l.lifted_by
"""


def _limitations(db: sqlite3.Connection, company_id: int, where: str, params: tuple[Any, ...]) -> list[Limitation]:
    """Limitations of the company matching ``where`` (ours, with placeholders), newest first unless
    ``where`` orders them itself."""
    order = "" if "ORDER BY" in where else " ORDER BY l.id DESC"
    rows = db.execute(_LIMITATIONS + f" WHERE l.company_id = ? AND {where}{order}",
                      (company_id, *params)).fetchall()
    return [_limitation(r) for r in rows]


def _limitation(r: sqlite3.Row) -> Limitation:
    tz = zone(r["time_zone"])
    lifting = r["lift_command_id"] is not None
    phase, command_state = ("lift", r["lift_state"]) if lifting else ("limit", r["limit_state"])
    result = r["lift_result"] if lifting else r["limit_result"]
    detail = json.loads(result) if result else {}
    current = rules.state(phase, command_state)
    return Limitation(
        id=r["id"], premise_id=r["premise_id"], premise_number=r["number"], building_id=r["building_id"],
        address=r["address"], meter_id=r["meter_id"], meter_serial=r["serial"], reason=r["reason"],
        debt_amount=r["debt_amount"], repairs_from=_day(r["repairs_from"]), notify=bool(r["notify"]),
        notify_on=_day(r["notify_on"]), control_on=_day(r["control_on"]), threshold_w=r["threshold_w"],
        threshold_source=r["threshold_source"], state=current,
        command_id=r["lift_command_id"] if lifting else r["limit_command_id"], command_state=command_state,
        command_detail=str(detail.get("reason", "")) if command_state == "failed" else "",
        created_by=r["creator"], created_at=_local(r["created_at"], tz) or datetime.min, lifted_by=r["lifter"],
        lifted_at=_local(r["lifted_at"], tz), finished_at=_local(r["lift_finished"] if lifting else r["limit_finished"],
                                                                 tz),
        actions=tuple(a for a in ("lift", "retry") if r["latest_id"] == r["id"] and current in rules.ACTIONS[a]))
