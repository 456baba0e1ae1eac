"""Archive rows the deviation-monitoring tests add to tests/cloud_data.py's building.

cloud_data gives the building meter 307T0001 hourly integral Q readings 100 + 0.035·(h + 1) for the
hours h = 0..71 from 2026-01-10 00:00 Moscow (through 2026-01-12 23:00, reading 102.52). ``extend``
continues them at 0.035 Gcal/h through 2026-01-14 13:00 (reading 100 + 0.035·110 = 103.85) and adds
the hour 2026-01-14 14:00 with 0.050 Gcal (reading 103.90): the last closed hour of "today" at
cloud_data.NOW (2026-01-14 12:00 UTC = 15:00 Moscow). It also stores T1 = 80 °C for that hour.
``with_opening`` adds the reading before the first seeded hour (2026-01-09 23:00: 100.0), without
which the hour 2026-01-10 00:00 has no value and a mean over 2026-01-10 cannot be computed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cloud.ingest import archive_rows
from cloud.storage.clickhouse import ClickHouse
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data

SERIAL = "307T0001"
LAST_HOUR = datetime(2026, 1, 14, 14)  # the hour the page opens on at cloud_data.NOW
LAST_HOUR_Q = 0.050
RATE = 0.035


def add(clickhouse: ClickHouse, company: int, rows: dict[datetime, dict[str, float]], token: str,
        serial: str = SERIAL) -> None:
    """Hourly integral records of ``serial`` channel 1, by local hour (Moscow)."""
    tz = zone(cloud_data.TZ)
    records = []
    for local, values in sorted(rows.items()):
        start = int(local_to_utc(local, tz).timestamp())
        records.append(ArchiveRecord(serial, 1, ArchiveKind.HOUR, Nature.INTEGRAL, start, values,
                                     received_at=start + 60.0))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 900, tuple(records)), company), token)


def extend(clickhouse: ClickHouse, company: int, *, with_opening: bool = False) -> None:
    rows: dict[datetime, dict[str, float]] = {}
    for h in range(72, 110):  # 2026-01-13 00:00 .. 2026-01-14 13:00
        rows[cloud_data.START_LOCAL + timedelta(hours=h)] = {"Q": round(100 + RATE * (h + 1), 6)}
    rows[LAST_HOUR] = {"Q": round(100 + RATE * 110 + LAST_HOUR_Q, 6), "T1": 80.0}
    if with_opening:
        rows[cloud_data.START_LOCAL - timedelta(hours=1)] = {"Q": 100.0}
    add(clickhouse, company, rows, f"deviations:{with_opening}")
