"""Deviation monitoring (manual 4.2.1, «Мониторинг отклонений») and its rules per building and
parameter (4.6.7, «Настройка допустимых отклонений»; registry table ``deviation_rules``).

A rule binds one parameter of one resource (a mnemonic the building meters' channels record: heat
Q, V1, V2, T1, T2; water V; electricity E) in one building. No row means off (the manual: "по
умолчанию мониторинг отключен"). A rule compares each period's value of every building meter
(ОДПУ) in service with a reference:

- ``mean3d``: the mean of the same parameter's values over the three local days before the
  period's day, at the same archive kind (an hourly value against the mean of the 72 hourly values
  of the three previous days, by the local clock; a daily value against the three previous daily
  values). Every one of those values must be known: with fewer the mean cannot be
  computed, and the check says so instead of showing a tile;
- ``constant``: the dispatcher's reference value.

The allowed deviation is ``tolerance`` in percent of |reference| or absolute in the parameter's
unit; ``direction`` says which side is limited (both, above = only a value above the reference
is a violation, below = only a value below it). A value exactly at the limit is allowed.

Values come from the archive (``archive FINAL``) by the metering rules of
cloud/services/consumption.py: a counter's value of a period is the difference of consecutive
integral records (or the interval record), across a wrap and recorded breaks, only inside the
meter's service period; mean parameters (T1, T2) are taken as stored. A missing value is no
violation ("no_data"), an implausible increment is left out ("suspect"). Electricity: only the
total channel is checked (tariff zones are other quantities, DESIGN.md section 5). Periods that
have not closed by the service clock are not checked. Reads: dispatchers, engineers, readers of
the company (administrators: not found); writes: a dispatcher, audit-logged.
Tests: tests/unit/cloud/test_deviation_rules.py, tests/integration/test_deviations.py.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import audit, counters
from cloud.services import consumption as calc
from cloud.services.accounting import AccountingService, _ever_in_service, _source
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import (
    MAX_VALUE,
    BuildingSummary,
    ChannelInfo,
    Granularity,
    InvalidInput,
    MeterInfo,
    NotFound,
    UserInfo,
    check_day,
    check_id,
    check_number,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, next_period, period_start, previous_period, zone
from protocol.vocabulary import PARAMETERS, ArchiveKind, Resource

RULES = ("mean3d", "constant")
DIRECTIONS = ("both", "above", "below")
TOLERANCE_UNITS = ("percent", "absolute")
KINDS = ("hour", "day")
MEAN_DAYS = 3  # "среднее значение за предыдущие три дня"
MAX_PERIODS = 744  # periods of one report: a month of hours
DEFAULT_TOLERANCE = 10.0  # what the settings page offers for a parameter never configured (it stays off)
STATUSES = ("violation", "no_data", "no_mean", "suspect")
_GRANULARITY = {"hour": Granularity.HOUR, "day": Granularity.DAY}


# --- the rule itself, pure ---------------------------------------------------------------------------


def mean(values: Sequence[float | None]) -> float | None:
    """The mean of the previous values, or None when there are none or one of them is not known."""
    if not values or any(v is None for v in values):
        return None
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 9)


def allowed_deviation(reference: float, tolerance: float, tolerance_unit: str) -> float:
    """The allowed deviation in the parameter's unit: ``tolerance`` % of |reference|, or ``tolerance`` itself."""
    if tolerance_unit == "percent":
        return round(abs(reference) * tolerance / 100, 9)
    return round(tolerance, 9)


@dataclass(frozen=True, slots=True)
class Verdict:
    violated: bool
    deviation: float  # value - reference, in the parameter's unit
    deviation_pct: float | None  # of |reference|; None when the reference is 0
    allowed: float  # the allowed deviation, in the parameter's unit


def judge(value: float, reference: float, direction: str, tolerance: float, tolerance_unit: str) -> Verdict:
    """Whether ``value`` breaks the rule: its deviation from ``reference`` beyond the allowed one on the
    limited side (both; above: only upwards; below: only downwards). Exactly at the limit is allowed."""
    deviation = round(value - reference, 9)
    allowed = allowed_deviation(reference, tolerance, tolerance_unit)
    if direction == "above":
        violated = deviation > allowed
    elif direction == "below":
        violated = -deviation > allowed
    else:
        violated = abs(deviation) > allowed
    pct = round(deviation / abs(reference) * 100, 2) if reference else None
    return Verdict(violated, deviation, pct, allowed)


def mean_periods(kind: str, label: datetime) -> list[datetime]:
    """Local starts of the periods whose mean is the reference of the period ``label``: every period
    of ``kind`` in the MEAN_DAYS local days before the day of ``label``."""
    day = date(label.year, label.month, label.day)
    out: list[datetime] = []
    for back in range(MEAN_DAYS, 0, -1):
        out += calc.period_starts(_GRANULARITY[kind], day - timedelta(days=back)) if kind == "hour" \
            else [datetime.combine(day - timedelta(days=back), datetime.min.time())]
    return out


# --- what the service hands out ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviationRule:
    """The rule of one parameter of one building (4.6.7); ``configured`` False: never set, shown off."""

    building_id: int
    resource: Resource
    parameter: str
    unit: str  # the parameter's unit code ("Gcal", "m3", "degC", "kWh"): the unit of an absolute tolerance
    enabled: bool
    rule: str  # "mean3d" or "constant"
    reference: float | None  # the constant of rule "constant" (kept, unused, under "mean3d")
    direction: str  # "both", "above" or "below"
    tolerance: float  # >= 0
    tolerance_unit: str  # "percent" (of |reference|) or "absolute" (in ``unit``)
    configured: bool = False
    updated_by: str | None = None  # the login that last set it
    updated_at: datetime | None = None  # UTC


@dataclass(frozen=True, slots=True)
class DeviationCheck:
    """One rule applied to one meter channel in one period that did not simply pass: a violation
    (a tile), or a note why it could not be judged (no value, no mean, an implausible value)."""

    period: datetime  # local start, the building's time
    resource: Resource
    parameter: str
    channel: int
    unit: str
    status: str  # one of STATUSES
    value: float | None  # the period's value; None: no data (or left out as suspect)
    reference: float | None  # the mean of the previous days, or the constant; None: no mean
    deviation: float | None  # value - reference
    deviation_pct: float | None  # of |reference|
    allowed: float | None  # the allowed deviation, in ``unit``
    rule: str
    direction: str
    tolerance: float
    tolerance_unit: str
    mean_needed: int = 0  # rule mean3d: previous values the mean needs
    mean_known: int = 0  # of them, those known
    derived: bool = False  # a daily value built from hourly records (the meter keeps no daily archive)


@dataclass(frozen=True, slots=True)
class MeterDeviations:
    meter: MeterInfo
    checked: int  # rule x channel x period checks made (passed ones included)
    violations: tuple[DeviationCheck, ...]
    notes: tuple[DeviationCheck, ...]  # no_data, no_mean, suspect


@dataclass(frozen=True, slots=True)
class BuildingDeviations:
    building: BuildingSummary
    kind: str  # "hour" or "day"
    first: datetime  # local starts of the first and the last period checked
    last: datetime
    rules: tuple[DeviationRule, ...]  # the enabled rules
    meters: tuple[MeterDeviations, ...]  # the building meters in service in the range


@dataclass(frozen=True, slots=True)
class DeviationsReport:
    kind: str
    buildings: tuple[BuildingDeviations, ...]

    @property
    def violations(self) -> int:
        return sum(len(m.violations) for b in self.buildings for m in b.meters)


# --- the service ---------------------------------------------------------------------------------------


def _check_rule_values(enabled: object, rule: object, reference: object, direction: object, tolerance: object,
                       tolerance_unit: object) -> tuple[bool, str, float | None, str, float, str]:
    if not isinstance(enabled, bool):
        raise InvalidInput(f"enabled: true or false, got {enabled!r}")
    if rule not in RULES:
        raise InvalidInput(f"rule: one of {', '.join(RULES)}, got {rule!r}")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction: one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if tolerance_unit not in TOLERANCE_UNITS:
        raise InvalidInput(f"tolerance_unit: one of {', '.join(TOLERANCE_UNITS)}, got {tolerance_unit!r}")
    if isinstance(tolerance, int | float) and not isinstance(tolerance, bool) and tolerance < 0:
        raise InvalidInput(f"tolerance: the allowed deviation cannot be negative, got {tolerance!r}")
    allowed = check_number("tolerance", tolerance, 0.0, MAX_VALUE)
    ref = None if reference is None else check_number("reference", reference)
    if rule == "constant" and ref is None:
        raise InvalidInput("reference: the rule «deviation from a constant» needs the constant")
    return enabled, str(rule), ref, str(direction), allowed, str(tolerance_unit)


class DeviationsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # buildings and meters, scoped
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), "deviation monitoring is not available "
                                                                     "to administrators")

    def now_local(self, time_zone: str) -> datetime:
        """The service clock's "now" as naive local time of ``time_zone`` (the page's "today")."""
        return self.clock().astimezone(zone(time_zone)).replace(tzinfo=None)

    def default_period(self, kind: str, time_zone: str) -> datetime:
        """The period the page opens on: the last closed hour of today (or the last closed day)."""
        k = _kind(kind)
        return previous_period(k, period_start(k, self.now_local(time_zone)))

    # --- rules (4.6.7) ----------------------------------------------------------------------------------

    def _parameters(self, building_id: int) -> list[tuple[Resource, str]]:
        """(resource, parameter) the building meters' channels record, in the vocabulary's order."""
        rows = self.registry.all(
            "SELECT c.resource, c.parameters FROM meter_channels c JOIN meters m ON m.id = c.meter_id "
            "WHERE m.building_id = ? AND m.role = 'common'", building_id)
        found = {(Resource(r["resource"]), p) for r in rows for p in r["parameters"].split(",") if p in PARAMETERS}
        order = list(PARAMETERS)
        return sorted(found, key=lambda rp: (list(Resource).index(rp[0]), order.index(rp[1])))

    async def rules(self, token: str, building_id: int) -> list[DeviationRule]:
        """Every parameter the building meters record, with its rule (off when never set)."""
        user = await self._viewer(token)
        return await asyncio.to_thread(self._rules, user, building_id)

    def _rules(self, user: UserInfo, building_id: int) -> list[DeviationRule]:
        self.accounting._building(user, building_id)  # scope: another company's building is not found
        stored = {(r["resource"], r["parameter"]): r for r in self.registry.all(
            "SELECT d.*, u.login FROM deviation_rules d LEFT JOIN users u ON u.id = d.updated_by "
            "WHERE d.building_id = ?", building_id)}
        out = []
        for resource, parameter in self._parameters(building_id):
            row = stored.get((resource.value, parameter))
            out.append(_rule(building_id, resource, parameter, row))
        return out

    async def set_rule(self, token: str, building_id: int, resource: Resource | str, parameter: str, *,
                       enabled: bool, rule: str = "mean3d", reference: float | None = None,
                       direction: str = "both", tolerance: float = DEFAULT_TOLERANCE,
                       tolerance_unit: str = "percent") -> DeviationRule:
        """Set one parameter's rule (a dispatcher); the change is audit-logged with before and after."""
        user = require_dispatcher(await self.auth.user(token))
        values = _check_rule_values(enabled, rule, reference, direction, tolerance, tolerance_unit)
        return await asyncio.to_thread(self._set_rule, user, building_id, resource, parameter, values)

    def _set_rule(self, user: UserInfo, building_id: int, resource: Resource | str, parameter: str,
                  values: tuple[bool, str, float | None, str, float, str]) -> DeviationRule:
        self.accounting._building(user, building_id)
        try:
            res = Resource(resource)
        except ValueError:
            raise InvalidInput(f"resource: one of {', '.join(r.value for r in Resource)}, got {resource!r}") from None
        if (res, parameter) not in self._parameters(building_id):
            raise InvalidInput(f"parameter: the building meters of building {building_id} record no "
                               f"{parameter!r} of {res.value}")
        enabled, rule, reference, direction, tolerance, tolerance_unit = values
        now = datetime.now(UTC).isoformat()
        with self.registry.connect() as db:
            old = db.execute("SELECT * FROM deviation_rules WHERE building_id = ? AND resource = ? AND parameter = ?",
                             (building_id, res.value, parameter)).fetchone()
            db.execute(
                "INSERT INTO deviation_rules (building_id, resource, parameter, enabled, rule, reference, direction, "
                "tolerance, tolerance_unit, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (building_id, resource, parameter) DO UPDATE SET enabled = excluded.enabled, "
                "rule = excluded.rule, reference = excluded.reference, direction = excluded.direction, "
                "tolerance = excluded.tolerance, tolerance_unit = excluded.tolerance_unit, "
                "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (building_id, res.value, parameter, int(enabled), rule, reference, direction, tolerance,
                 tolerance_unit, user.id, now))
            after = {"enabled": enabled, "rule": rule, "reference": reference, "direction": direction,
                     "tolerance": tolerance, "tolerance_unit": tolerance_unit}
            before = None if old is None else {"enabled": bool(old["enabled"]), "rule": old["rule"],
                                               "reference": old["reference"], "direction": old["direction"],
                                               "tolerance": old["tolerance"], "tolerance_unit": old["tolerance_unit"]}
            audit.record(db, user, "deviation_rule.set", f"building:{building_id}:{res.value}:{parameter}",
                         before, after)
        row = self.registry.one("SELECT d.*, u.login FROM deviation_rules d LEFT JOIN users u ON u.id = d.updated_by "
                                "WHERE d.building_id = ? AND d.resource = ? AND d.parameter = ?",
                                building_id, res.value, parameter)
        return _rule(building_id, res, parameter, row)

    # --- monitoring (4.2.1) -----------------------------------------------------------------------------

    async def deviations(self, token: str, first: datetime | None = None, last: datetime | None = None, *,
                         kind: str = "hour", building_ids: Sequence[int] | None = None) -> DeviationsReport:
        """The violations of the enabled rules in the periods of ``kind`` whose local starts lie in
        first..last (naive: the building's local time; aware: converted to it; None: the period the
        page opens on, ``default_period``), per building of the company (or of ``building_ids``)
        and per building meter in service. A city's buildings take a fixed number of registry
        queries and one archive query, not some per building."""
        user = await self._viewer(token)
        kind_ = _kind(kind)
        ids = None if building_ids is None else [check_id("building_id", b) for b in building_ids]
        company = {b.id: b for b in await self.accounting.buildings(token)}
        for ident in ids or ():
            if ident not in company:
                raise NotFound(f"building {ident} not found")
        buildings = list(company.values()) if ids is None else [company[i] for i in dict.fromkeys(ids)]
        rules, meters = await asyncio.to_thread(self._monitored, user)
        moment = self.clock().astimezone(UTC)
        scopes = []
        for building in buildings:
            tz = zone(building.time_zone)
            labels = _labels(kind_, _local(first, tz), _local(last, tz),
                             self.default_period(kind_.value, building.time_zone))
            lo, hi = local_to_utc(labels[0], tz), local_to_utc(next_period(kind_, labels[-1]), tz)
            shown = [m for m in meters.get(building.id, []) if _ever_in_service(m) and _serves(m, lo, hi)]
            due = [label for label in labels if local_to_utc(next_period(kind_, label), tz) <= moment]
            scopes.append(_Scope(building, tz, labels, due, rules.get(building.id, []), shown))
        archives = await self._archives(user, scopes, kind_)
        every = [m for scope in scopes if scope.rules for m in scope.meters]
        breaks = await asyncio.to_thread(_breaks, self.registry, [m.id for m in every],
                                         [r for scope in scopes for r in scope.rules])
        return DeviationsReport(kind_.value, tuple(_report(scope, kind_, archives, breaks) for scope in scopes))

    def _monitored(self, user: UserInfo) -> tuple[dict[int, list[DeviationRule]], dict[int, list[MeterInfo]]]:
        """The company's enabled rules and building meters, by building."""
        rules: dict[int, list[DeviationRule]] = defaultdict(list)
        for row in self.registry.all(
                "SELECT d.*, u.login FROM deviation_rules d JOIN buildings b ON b.id = d.building_id "
                "LEFT JOIN users u ON u.id = d.updated_by WHERE b.company_id = ? AND d.enabled = 1",
                user.company_id):
            if row["parameter"] in PARAMETERS:
                rules[row["building_id"]].append(_rule(row["building_id"], Resource(row["resource"]),
                                                       row["parameter"], row))
        order = list(PARAMETERS)
        for found in rules.values():
            found.sort(key=lambda r: (list(Resource).index(r.resource), order.index(r.parameter)))
        meters: dict[int, list[MeterInfo]] = defaultdict(list)
        for meter in self.accounting._meters("m.company_id = ? AND m.role = 'common'", user.company_id):
            meters[meter.building_id].append(meter)
        return dict(rules), dict(meters)

    async def _archives(self, user: UserInfo, scopes: list[_Scope], kind: ArchiveKind
                        ) -> dict[tuple[str, int, str], calc.Archive]:
        """The records the checks need, from one query: the periods, the MEAN_DAYS days before them
        and the record before that (the opening reading), of the kind and the finer hourly kind."""
        wanted = [s for s in scopes if s.rules and s.meters and s.due]
        if not wanted:
            return {}
        windows = []
        for s in wanted:
            first_day = datetime(s.due[0].year, s.due[0].month, s.due[0].day) - timedelta(days=MEAN_DAYS + 1)
            windows.append((local_to_utc(first_day, s.tz), local_to_utc(next_period(kind, s.due[-1]), s.tz)))
        rows = await self.ch.query(
            "SELECT meter, channel, parameter, kind, nature, period_start, value FROM {db}.archive FINAL "
            "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND parameter IN {ps:Array(String)} "
            "AND kind IN {ks:Array(String)} AND period_start >= {lo:DateTime('UTC')} "
            "AND period_start < {hi:DateTime('UTC')}",
            {"co": user.company_id, "meters": sorted({m.serial for s in wanted for m in s.meters}),
             "ps": sorted({r.parameter for s in wanted for r in s.rules}),
             "ks": sorted({kind.value, ArchiveKind.HOUR.value}),
             "lo": min(w[0] for w in windows).replace(tzinfo=None),
             "hi": max(w[1] for w in windows).replace(tzinfo=None)})
        found: dict[tuple[str, int, str], dict[str, dict[ArchiveKind, dict[datetime, float]]]] = defaultdict(
            lambda: {"integral": defaultdict(dict), "interval": defaultdict(dict)})
        for meter, channel, parameter, k, nature, start, value in rows:
            found[(meter, int(channel), parameter)][nature][ArchiveKind(k)][calc.utc(start)] = float(value)
        return {key: calc.Archive(integral=dict(by["integral"]), interval=dict(by["interval"]))
                for key, by in found.items()}


@dataclass(frozen=True, slots=True)
class _Scope:
    """One building of a report: its periods (local starts), those that have closed, its enabled
    rules and its building meters in service in the range."""

    building: BuildingSummary
    tz: ZoneInfo
    labels: list[datetime]
    due: list[datetime]
    rules: list[DeviationRule]
    meters: list[MeterInfo]


def _report(scope: _Scope, kind: ArchiveKind, archives: dict[tuple[str, int, str], calc.Archive],
            breaks: dict[str, dict[tuple[str, int], list[calc.CounterBreak]]]) -> BuildingDeviations:
    """Every enabled rule on every channel of every meter in every closed period of one building."""
    result = []
    for meter in scope.meters:
        checked, found = 0, []
        for rule in scope.rules:
            for channel in _channels(meter, rule):
                src = _source(meter, channel, rule.parameter,
                              breaks.get(rule.parameter, {}).get((meter.serial, channel.number), ()))
                values = _Values(meter, channel, rule.parameter, src,
                                 archives.get((meter.serial, channel.number, rule.parameter), _EMPTY), kind, scope.tz)
                for label in scope.due:
                    check = values.check(rule, label)
                    if check is not None:
                        checked += 1
                        if check.status != "ok":
                            found.append(check)
        result.append(MeterDeviations(meter, checked, tuple(c for c in found if c.status == "violation"),
                                      tuple(c for c in found if c.status != "violation")))
    return BuildingDeviations(scope.building, kind.value, scope.labels[0], scope.labels[-1], tuple(scope.rules),
                              tuple(result))


_EMPTY = calc.Archive()


class _Values:
    """One meter channel's values of one parameter, period by period, and the rule checks on them."""

    def __init__(self, meter: MeterInfo, channel: ChannelInfo, parameter: str, src: calc.Source,
                 archive: calc.Archive, kind: ArchiveKind, tz: ZoneInfo) -> None:
        self.meter, self.channel, self.parameter = meter, channel, parameter
        self.src, self.archive, self.kind, self.tz = src, archive, kind, tz
        self.summable = PARAMETERS[parameter].summable
        self._cache: dict[datetime, calc.Amount] = {}
        self._means: dict[date, tuple[float | None, int, int]] = {}

    def amount(self, label: datetime) -> calc.Amount:
        """The value of the period labelled ``label`` (local start) with its state."""
        if label not in self._cache:
            self._cache[label] = self._amount(label)
        return self._cache[label]

    def _amount(self, label: datetime) -> calc.Amount:
        granularity = _GRANULARITY[self.kind.value]
        if self.summable:
            return calc.amount(self.src, self.archive, granularity, label, self.tz)
        lo, hi = local_to_utc(label, self.tz), local_to_utc(next_period(self.kind, label), self.tz)
        if not _serves(self.meter, lo, hi):
            return calc.Amount(calc.State.NOT_EXPECTED)
        source, derived = calc.source_kind(self.kind, self.src.kinds)
        if source is None:
            return calc.Amount(calc.State.MISSING)
        records = {**self.archive.interval.get(source, {}), **self.archive.integral.get(source, {})}
        if not derived:
            value = records.get(lo)
            return calc.Amount(calc.State.MISSING) if value is None else calc.Amount(calc.State.MEASURED, value)
        inside, cur = [], label  # a daily mean from the hours: every hour of the day must be there
        while cur < next_period(self.kind, label):
            inside.append(records.get(local_to_utc(cur, self.tz)))
            cur = next_period(source, cur)
        value = mean(inside)
        return calc.Amount(calc.State.MISSING, derived=True) if value is None else \
            calc.Amount(calc.State.MEASURED, round(value, 2), derived=True)

    def mean_of(self, label: datetime) -> tuple[float | None, int, int]:
        """(the mean of the MEAN_DAYS previous days, values needed, values known) for the period's day."""
        day = date(label.year, label.month, label.day)
        if day not in self._means:
            amounts = [self.amount(p) for p in mean_periods(self.kind.value, label)]
            values = [a.value if a.state is calc.State.MEASURED else None for a in amounts]
            self._means[day] = (mean(values), len(values), sum(1 for v in values if v is not None))
        return self._means[day]

    def check(self, rule: DeviationRule, label: datetime) -> DeviationCheck | None:
        """The rule on the period; None when the meter was not in service then (nothing to check)."""
        got = self.amount(label)
        if got.state is calc.State.NOT_EXPECTED:
            return None
        needed = known = 0
        if rule.rule == "constant":
            reference = rule.reference
        else:
            reference, needed, known = self.mean_of(label)
        value = got.value if got.state is calc.State.MEASURED else None
        base = {"period": label, "resource": rule.resource, "parameter": rule.parameter,
                "channel": self.channel.number, "unit": rule.unit, "value": value, "reference": reference,
                "rule": rule.rule, "direction": rule.direction, "tolerance": rule.tolerance,
                "tolerance_unit": rule.tolerance_unit, "mean_needed": needed, "mean_known": known,
                "derived": got.derived}
        if value is None:
            status = "suspect" if got.state is calc.State.SUSPECT else "no_data"
            return DeviationCheck(status=status, deviation=None, deviation_pct=None, allowed=None, **base)
        if reference is None:
            return DeviationCheck(status="no_mean", deviation=None, deviation_pct=None, allowed=None, **base)
        verdict = judge(value, reference, rule.direction, rule.tolerance, rule.tolerance_unit)
        return DeviationCheck(status="violation" if verdict.violated else "ok", deviation=verdict.deviation,
                              deviation_pct=verdict.deviation_pct, allowed=verdict.allowed, **base)


def _breaks(registry: Registry, meter_ids: list[int], rules: list[DeviationRule]
            ) -> dict[str, dict[tuple[str, int], list[calc.CounterBreak]]]:
    """Parameter -> (serial, channel) -> the recorded counter breaks the differences bridge."""
    counted = sorted({r.parameter for r in rules if PARAMETERS[r.parameter].summable})
    return {p: counters.load(registry, meter_ids, p) for p in counted}


def _channels(meter: MeterInfo, rule: DeviationRule) -> list[ChannelInfo]:
    """The meter's channels the rule looks at: of its resource, recording its parameter; for
    electricity only the total (a tariff zone is another quantity)."""
    return [c for c in meter.channels if c.resource is rule.resource and rule.parameter in c.parameters
            and (c.resource is not Resource.ELECTRICITY
                 or calc.channel_tariff(meter.model, meter.tariffs, c.number, c.tariff) == calc.TOTAL)]


def _serves(meter: MeterInfo, lo: datetime, hi: datetime) -> bool:
    """Whether the meter's service period overlaps [lo, hi) (UTC); a legacy row without dates counts
    by its stored status."""
    if meter.commissioned_at is None and meter.decommissioned_at is None:
        return meter.status == "in_service"
    begin, end = meter.commissioned_at, meter.decommissioned_at
    return (begin is None or begin < hi) and (end is None or end > lo)


def _kind(kind: str) -> ArchiveKind:
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}, got {kind!r}")
    return ArchiveKind(kind)


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(tz).replace(tzinfo=None)


def _labels(kind: ArchiveKind, first: datetime | None, last: datetime | None, default: datetime) -> list[datetime]:
    """Local starts of the periods of ``kind`` from first to last (inclusive); both default to ``default``."""
    first = period_start(kind, first if first is not None else (last if last is not None else default))
    last = period_start(kind, last if last is not None else first)
    check_day("from", first)
    check_day("to", last)
    if last < first:
        raise InvalidInput(f"to: {last.isoformat()} is before from: {first.isoformat()}")
    out, cur = [], first
    while cur <= last:
        out.append(cur)
        if len(out) > MAX_PERIODS:
            raise InvalidInput(f"to: at most {MAX_PERIODS} {kind.value} periods per report")
        cur = next_period(kind, cur)
    return out


def _rule(building_id: int, resource: Resource, parameter: str, row) -> DeviationRule:
    unit = PARAMETERS[parameter].unit
    if row is None:
        return DeviationRule(building_id, resource, parameter, unit, False, "mean3d", None, "both",
                             DEFAULT_TOLERANCE, "percent")
    return DeviationRule(building_id, resource, parameter, unit, bool(row["enabled"]), row["rule"], row["reference"],
                         row["direction"], float(row["tolerance"]), row["tolerance_unit"], True, row["login"],
                         datetime.fromisoformat(row["updated_at"]))
