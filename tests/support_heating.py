"""Temperature schedule data over tests.cloud_data's building (Europe/Moscow, building heat meter
307T0001, "today" 2026-01-14 15:00 local): coordinates and two weather stations, the city's
schedule, hourly outdoor temperatures and hourly T1/T2 of the meter, chosen so that every figure
can be worked out by hand (tests/integration/test_heating.py, tests/ui/test_heating_ui.py).

Schedule of Казань: +8 → 43/37, 0 → 55/45, −10 → 69/54 (supply/return, degC).
Local days, outdoor / T1 / T2 (hourly; the daily means in brackets):
- 01-10: −5 all day (prescribed 62.0/49.5); T1 63.8 (+1.8 = +2.90 %: ok); T2 52.0 (+2.5 = +5.05 %: return violation)
- 01-11: −2 and −3 alternating (−2.5: 58.5/47.25); T1 60 and 61 (60.5: +2.0 = +3.42 %: supply violation);
  T2 40 (−7.25 = −15.3 %: a lower return, ok)
- 01-12: −5 (62.0/49.5); T1 62.0 but the 05:00 hour missing (23 of 24: not judged); T2 49.5 (0 %: ok)
- 01-13: no outdoor observation at all (Tнв missing: nothing prescribed, not judged); T1 70, T2 50
- 01-14: today, hours 00..14 closed: −5, T1 75 (a partial day: not judged)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cloud.ingest import archive_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data

TZ = zone(cloud_data.TZ)
SCHEDULE = ((8, 43.0, 37.0), (0, 55.0, 45.0), (-10, 69.0, 54.0))
STATION = "KZN"


def _hours(day: date, count: int = 24) -> list[tuple[int, datetime]]:
    return [(h, local_to_utc(datetime(day.year, day.month, day.day, h), TZ)) for h in range(count)]


def outdoor(day: date, hour: int) -> float | None:
    if day == date(2026, 1, 11):
        return -2.0 if hour % 2 == 0 else -3.0
    if day == date(2026, 1, 13):
        return None
    return -5.0


def temperatures(day: date, hour: int) -> tuple[float | None, float | None]:
    if day == date(2026, 1, 10):
        return 63.8, 52.0
    if day == date(2026, 1, 11):
        return (60.0 if hour % 2 == 0 else 61.0), 40.0
    if day == date(2026, 1, 12):
        return (None if hour == 5 else 62.0), 49.5
    if day == date(2026, 1, 13):
        return 70.0, 50.0
    return 75.0, 50.0


DAYS = [date(2026, 1, 10) + timedelta(days=n) for n in range(5)]


def seed_temperatures(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded, *,
                      city_schedule: bool = True) -> None:
    """Coordinates, stations, the city's schedule, outdoor observations and the meter's T1/T2."""
    with registry.connect() as db:
        db.execute("UPDATE buildings SET latitude = 55.79, longitude = 49.12 WHERE id = ?", (seeded.building_id,))
        db.execute("INSERT INTO weather_stations (code, name, latitude, longitude) VALUES "
                   "('MSK', 'Москва, ВДНХ', 55.83, 37.63), (?, 'Казань, Опорная', 55.73, 49.20)", (STATION,))
        if city_schedule:
            city = db.execute("SELECT city_id FROM buildings WHERE id = ?", (seeded.building_id,)).fetchone()[0]
            db.executemany("INSERT INTO city_temperature_schedule (city_id, outdoor_c, supply_c, return_c) "
                           "VALUES (?, ?, ?, ?)", [(city, *p) for p in SCHEDULE])
    now = cloud_data.NOW
    weather, records = [], []
    for day in DAYS:
        for hour, at in _hours(day):
            if at + timedelta(hours=1) > now:
                break
            value = outdoor(day, hour)
            if value is not None:
                weather.append((STATION, at.replace(tzinfo=None), value, datetime(2026, 1, 14, tzinfo=UTC)))
            t1, t2 = temperatures(day, hour)
            values = {k: v for k, v in (("T1", t1), ("T2", t2)) if v is not None}
            records.append(ArchiveRecord("307T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, int(at.timestamp()),
                                         values, received_at=at.timestamp() + 60))
    clickhouse.insert_sync("weather_observations", weather, ("station", "at", "temperature_c", "received_at"))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, tuple(records)), seeded.company_id), "test:temps")


def set_heating(registry: Registry, building_id: int, starts_on: str = "2025-10-01",
                set_at: str = "2025-09-30T08:00:00+00:00") -> None:
    """A heating season set by the dispatcher on an earlier day (no undo possible any more)."""
    with registry.connect() as db:
        user = db.execute("SELECT id FROM users WHERE login = 'disp'").fetchone()[0]
        db.execute("INSERT INTO heating_seasons (building_id, season, starts_on, set_by, set_at) "
                   "VALUES (?, 'heating', ?, ?, ?)", (building_id, starts_on, user, set_at))
