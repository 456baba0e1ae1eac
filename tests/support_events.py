"""Events for the journal and e-mail tests, stored the way the ingest stores an edge batch's events
(cloud.ingest_rows.event_rows) over tests/cloud_data.py's building, and a suspect value the
plausibility check finds itself. Times are the building's local time (Europe/Moscow, UTC+3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloud.ingest_rows import archive_rows, event_rows
from cloud.services.plausibility import PlausibilityCheck
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, DeviceEvent
from tests import cloud_data

TZ = zone(cloud_data.TZ)
COLUMNS = ("company", "site", "epoch", "id", "meter", "at", "code", "severity", "source", "detail")


@dataclass(frozen=True, slots=True)
class Ev:
    id: int
    meter: str
    local: datetime
    code: str
    severity: str
    source: str = "device"
    detail: dict[str, Any] | None = None


# the building's events (site "test"); a device event carries its effect as the code, its own code in detail
TAMPER = Ev(1, "223T0001", datetime(2026, 1, 11, 10, 0), "integrity", "alarm",
            detail={"event_code": "0x0101", "channel": 0, "device_time": "2026-01-11T10:00:00"})
MAGNET = Ev(2, "307T0001", datetime(2026, 1, 11, 12, 30), "interference", "warning",
            detail={"event_code": "0x0201", "channel": 1})
LEAK = Ev(3, "223T0002", datetime(2026, 1, 12, 3, 0), "limit", "warning", detail={"event_code": "0x0301"})
CLOCK = Ev(4, "307T0001", datetime(2026, 1, 10, 9, 0), "clock_corrected", "info", source="edge",
           detail={"count": 1, "offset_before_s": 12.5})
ODD = Ev(5, "223T0001", datetime(2026, 1, 12, 8, 15), "other", "info", detail={"event_code": "0x0499"})
EDGE_ONLY = Ev(6, "", datetime(2026, 1, 11, 1, 0), "disk_budget", "warning", source="edge")  # no meter: not shown
BUILDING_EVENTS = (TAMPER, MAGNET, LEAK, CLOCK, ODD, EDGE_ONLY)
# the other company's building meter, tampered with at the same moment
FOREIGN = Ev(1, "307X0001", datetime(2026, 1, 11, 10, 0), "integrity", "alarm", detail={"event_code": "0x0101"})
# the suspect value: apartment 2's counter jumps by 50 Gcal into the hour that starts at 2026-01-13 00:00
SUSPECT_LOCAL = datetime(2026, 1, 13, 0, 0)
SUSPECT_VALUE = 150.0


def store(clickhouse: ClickHouse, company: int, site: str, events: tuple[Ev, ...], epoch: str = "e1") -> None:
    """Store events as the ingest does with an edge batch that carries them."""
    batch = Batch(site, 1, (), events=tuple(
        DeviceEvent(e.id, e.meter, local_to_utc(e.local, TZ).timestamp(), e.code, e.severity, e.source,
                    dict(e.detail or {})) for e in events), epoch=epoch)
    clickhouse.insert_sync("device_events", event_rows(batch, company), COLUMNS)


async def add_suspect(registry: Registry, clickhouse: ClickHouse, company: int) -> None:
    """Apartment 2's jump, stored as received, and the plausibility check's event about it."""
    start = int(local_to_utc(SUSPECT_LOCAL, TZ).timestamp())
    record = ArchiveRecord("223T0002", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"Q": SUSPECT_VALUE},
                           received_at=start + 60.0)
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, (record,)), company), "test:2")
    found = await PlausibilityCheck(registry, clickhouse).scan()
    assert [(f.meter, f.start.replace(tzinfo=None)) for f in found] == [
        ("223T0002", SUSPECT_LOCAL - timedelta(hours=3))]


def seed_events(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> int:
    """The building's and the other company's events; returns the other company's id."""
    store(clickhouse, seeded.company_id, "test", BUILDING_EVENTS)
    other = registry.one("SELECT company_id FROM buildings WHERE id = ?", seeded.other_building_id)["company_id"]
    store(clickhouse, other, "other", (FOREIGN,))
    return other
