"""What the service layer hands to its callers (the UI and the HTTP API): plain frozen
dataclasses, no storage handles. Periods are naive local times of the building."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from protocol.vocabulary import MeterRole, Resource


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    DISPATCHER = "dispatcher"
    ENGINEER = "engineer"


class Granularity(StrEnum):
    HOUR = "hour"  # the hours of one day
    DAY = "day"  # the days of one month
    MONTH = "month"  # the months of one year


class ServiceError(Exception):
    """Base of the errors the service layer raises; ``code`` is stable for the API."""

    code = "error"


class NotFound(ServiceError):
    code = "not_found"  # also for objects of another company: their existence is not disclosed


class AuthError(ServiceError):
    code = "unauthorized"


class LoginThrottled(AuthError):
    """A login refused before its password was checked (cloud/services/login_guard.py): wait
    ``wait_s`` seconds, or, when ``locked``, until an administrator unlocks the account."""

    code = "throttled"

    def __init__(self, message: str, wait_s: int, locked: bool) -> None:
        super().__init__(message)
        self.wait_s, self.locked = wait_s, locked


class Forbidden(ServiceError):
    code = "forbidden"


class InvalidInput(ServiceError):
    code = "invalid_input"


# --- sane ranges (issue 12): one rule for the API's models and the services' own checks -------------
# Ids are SQLite INTEGERs (1 .. 2**63-1): a larger one overflows the driver instead of being "not found".
# Dates of periods, readings and the registry lie in FIRST_DAY..LAST_DAY: well inside ClickHouse's DateTime
# (1970-01-01 .. 2106-02-07 UTC) after a time zone's offset, and far enough from date.min/date.max that
# the services' "+1 month / +1 year / next period" arithmetic never overflows. No meter of this system
# reports before 2000, and 2100 leaves any plan room.
MAX_ID = 2**63 - 1
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_VALUE = 1e12  # |value| the archive column keeps exactly enough (= cloud/storage/clickhouse.py MAX_VALUE)


def check_id(field: str, value: object) -> int:
    """``value`` as a registry id, or InvalidInput naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{field}: an id from 1 to {MAX_ID}, got {value!r}")
    return value


def check_day(field: str, value: date | datetime) -> date | datetime:
    """``value`` when its calendar day is within FIRST_DAY..LAST_DAY, else InvalidInput naming ``field``."""
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{field}: a date from {FIRST_DAY} to {LAST_DAY}, got {value.isoformat()}")
    return value


def check_number(field: str, value: object, low: float = -MAX_VALUE, high: float = MAX_VALUE) -> float:
    """``value`` as a finite number within low..high, or InvalidInput naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not -math.inf < value < math.inf \
            or not low <= value <= high:
        raise InvalidInput(f"{field}: a finite number from {low:g} to {high:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    login: str
    full_name: str
    role: Role
    reader: bool  # read-only status that overrides the role (manual 2.3)
    company_id: int
    company_name: str
    city: str
    via_token: int | None = None  # the API token the call came with (the audit names it beside the user)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: UserInfo
    expires_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class BuildingSummary:
    id: int
    address: str
    city: str
    time_zone: str
    area_m2: float
    residents: int
    premises_count: int
    meters_count: int


@dataclass(frozen=True, slots=True)
class PremiseInfo:
    id: int
    building_id: int
    number: str
    kind: str  # "apartment" or "nonresidential"
    area_m2: float
    residents: int
    account: str  # personal account (ЛС)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    number: int
    resource: Resource
    parameters: tuple[str, ...]
    tariff: str | None = None  # electricity: "total", "T1".."T4"; None for other resources


@dataclass(frozen=True, slots=True)
class MeterInfo:
    id: int
    serial: str
    model: str
    role: MeterRole
    building_id: int
    premise_id: int | None
    premise_number: str | None
    channels: tuple[ChannelInfo, ...]
    communicator: str  # e.g. "Modbus TCP 127.0.0.1:5020 #1" or "LoRaWAN 70b3d5e75e2a0001"
    archives: str  # e.g. "hour, integral"
    status: str  # "in_service", "commissioning", "decommissioned": follows the dates (``meter_status``)
    # the lifecycle (registry migration 5, ``parse_lifecycle``): datetimes are UTC-aware period starts
    installed_on: date | None = None
    commissioned_at: datetime | None = None  # first hourly period expected; None: since its first archive
    decommissioned_at: datetime | None = None  # first period no longer expected; None: still in service
    reporting_day: int = 1  # the day of month its monthly archive closes
    ct_ratio: float = 1.0  # current-transformer multiplier (electricity)
    phase: str | None = None  # "A", "B" or "C" for a single-phase electricity meter
    tariffs: int = 0  # electricity tariff zones besides the total
    replaces_meter_id: int | None = None  # the meter this one replaced (its series continues here)
    initial_readings: dict[str, float] = field(default_factory=dict, hash=False)  # "channel:parameter" -> reading
    final_readings: dict[str, float] = field(default_factory=dict, hash=False)  # at commissioned_at / decommissioned_at

    @property
    def resources(self) -> tuple[Resource, ...]:
        return tuple(dict.fromkeys(c.resource for c in self.channels))


@dataclass(frozen=True, slots=True)
class ConsumptionPoint:
    """One period of the building consumption page (manual 4.1.2).

    ``building`` and ``apartments`` are known sums; ``*_complete`` is False when some meter
    expected to report had no (plausible) value for the period: shown as the partial sum
    marked ``*``, or ``–*`` when nothing is known (manual 4.1.5). Imbalance is only given
    when both are complete. The ``*_figure`` fields say also what was suspect or derived.
    """

    period: datetime
    building: float | None  # the known sum of the building meters (inputs); partial when not complete
    apartments: float | None
    apartments_complete: bool
    imbalance: float | None
    imbalance_pct: float | None
    building_complete: bool = True  # False: some building meter had no value (a partial sum, marked ``*``)
    building_figure: Figure = field(default_factory=lambda: Figure())  # the cells with all their marks
    apartments_figure: Figure = field(default_factory=lambda: Figure())


@dataclass(frozen=True, slots=True)
class BuildingConsumption:
    building: BuildingSummary
    resource: Resource
    unit: str
    granularity: Granularity
    period: date
    has_building_meter: bool
    has_apartment_meters: bool
    points: tuple[ConsumptionPoint, ...]
    available_resources: tuple[Resource, ...]
    building_tariffs: tuple[TariffSeries, ...] = ()  # electricity by tariff zone, aligned with ``points``
    apartment_tariffs: tuple[TariffSeries, ...] = ()
    derived_from: tuple[str, ...] = ()  # finer archive kinds ("hour", "day") some values were derived from


@dataclass(frozen=True, slots=True)
class PremiseConsumption:
    premise: PremiseInfo
    resource: Resource
    unit: str
    granularity: Granularity
    period: date
    points: tuple[tuple[datetime, float | None], ...]  # (period, the known sum: see ``figures``)
    meters: tuple[MeterInfo, ...]
    available_resources: tuple[Resource, ...]
    figures: tuple[Figure, ...] = ()  # aligned with ``points``: completeness, suspect and derived marks
    tariffs: tuple[TariffSeries, ...] = ()  # electricity by tariff zone
    derived_from: tuple[str, ...] = ()  # finer archive kinds ("hour", "day") some values were derived from


@dataclass(frozen=True, slots=True)
class ArchiveRow:
    period: datetime
    values: dict[str, float | None] = field(hash=False)  # by parameter code
    suspect: tuple[str, ...] = ()  # parameters whose increment into this period is implausible


@dataclass(frozen=True, slots=True)
class MeterArchive:
    """The archive table of one meter channel (manual 4.1.7): the device's own values."""

    meter: MeterInfo
    channel: ChannelInfo
    granularity: Granularity
    period: date
    nature: str  # "integral" or "interval", as the device stores them
    parameters: tuple[str, ...]
    units: dict[str, str] = field(hash=False)
    rows: tuple[ArchiveRow, ...] = ()
    derived_from: str | None = None  # "hour" or "day": the meter keeps no archive of this kind; rows built from it


@dataclass(frozen=True, slots=True)
class Figure:
    """One consumption cell over the meters expected to report in a period (manual 4.1.5).

    ``value`` is the known sum (None when nothing is known); a meter is expected only inside
    its service period. Shown as ``–*`` when nothing is known, as the partial sum marked
    ``*`` when some meter is missing, with its own mark when a part was left out as suspect
    (an implausible increment) or derived from a finer archive.
    """

    value: float | None = None
    expected: int = 0  # meter channels expected to report in the period
    known: int = 0  # of them, those whose consumption is known
    suspect: int = 0  # of them, those left out because their increment is implausible
    derived: bool = False  # a known part came from a finer archive (the meter lacks the period's kind)

    @property
    def complete(self) -> bool:
        return self.known == self.expected

    @property
    def missing(self) -> bool:
        """Expected but nothing known: ``–*``."""
        return self.expected > 0 and self.known == 0


@dataclass(frozen=True, slots=True)
class TariffSeries:
    """Electricity of one tariff zone ("T1" day, "T2" night ...), never added to the total or to another zone."""

    tariff: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True, slots=True)
class DataStatus:
    """How much has arrived, for the demo's progress line and the page header."""

    archive_values: int
    latest_period: datetime | None  # local time of the newest archive period stored


METER_STATUSES = ("commissioning", "in_service", "decommissioned")


def meter_status(commissioned_at: datetime | None, decommissioned_at: datetime | None, now: datetime,
                 stored: str = "in_service") -> str:
    """The status the lifecycle dates give at ``now`` (aware): "decommissioned" from decommissioned_at on,
    "commissioning" before commissioned_at, else "in_service". With neither date (a legacy row) the
    ``stored`` status column stands: an old decommissioning whose date was never recorded."""
    if decommissioned_at is not None and now >= decommissioned_at:
        return "decommissioned"
    if commissioned_at is not None and now < commissioned_at:
        return "commissioning"
    if commissioned_at is None and decommissioned_at is None:
        return stored
    return "in_service"


def _aware(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"registry datetime {text!r} has no UTC offset")
    return value.astimezone(UTC)


def parse_lifecycle(row: Any) -> dict[str, Any]:
    """The lifecycle columns of a ``meters`` row (sqlite3.Row or mapping) as MeterInfo's typed keyword
    arguments: ``MeterInfo(..., status=..., **parse_lifecycle(row))``."""
    return {
        "installed_on": date.fromisoformat(row["installed_on"]) if row["installed_on"] else None,
        "commissioned_at": _aware(row["commissioned_at"]),
        "decommissioned_at": _aware(row["decommissioned_at"]),
        "reporting_day": int(row["reporting_day"]),
        "ct_ratio": float(row["ct_ratio"]),
        "phase": row["phase"],
        "tariffs": int(row["tariffs"]),
        "replaces_meter_id": row["replaces_meter_id"],
        "initial_readings": {k: float(v) for k, v in json.loads(row["initial_readings"] or "{}").items()},
        "final_readings": {k: float(v) for k, v in json.loads(row["final_readings"] or "{}").items()},
    }
