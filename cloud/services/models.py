"""What the service layer hands to its callers (the UI and the HTTP API): plain frozen
dataclasses, no storage handles. Periods are naive local times of the building."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

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


class Forbidden(ServiceError):
    code = "forbidden"


class InvalidInput(ServiceError):
    code = "invalid_input"


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
    status: str  # "in_service", "commissioning", "decommissioned"

    @property
    def resources(self) -> tuple[Resource, ...]:
        return tuple(dict.fromkeys(c.resource for c in self.channels))


@dataclass(frozen=True, slots=True)
class ConsumptionPoint:
    """One period of the building consumption page (manual 4.1.2).

    ``apartments`` is the known sum; ``apartments_complete`` is False when some apartment
    meter had no archive for the period (shown as the partial sum marked ``*``, or ``–*``
    when nothing is known, manual 4.1.5). Imbalance is only given when both are complete.
    """

    period: datetime
    building: float | None
    apartments: float | None
    apartments_complete: bool
    imbalance: float | None
    imbalance_pct: float | None


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


@dataclass(frozen=True, slots=True)
class PremiseConsumption:
    premise: PremiseInfo
    resource: Resource
    unit: str
    granularity: Granularity
    period: date
    points: tuple[tuple[datetime, float | None], ...]
    meters: tuple[MeterInfo, ...]
    available_resources: tuple[Resource, ...]


@dataclass(frozen=True, slots=True)
class ArchiveRow:
    period: datetime
    values: dict[str, float | None] = field(hash=False)  # by parameter code


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


@dataclass(frozen=True, slots=True)
class DataStatus:
    """How much has arrived, for the demo's progress line and the page header."""

    archive_values: int
    latest_period: datetime | None  # local time of the newest archive period stored
