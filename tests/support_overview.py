"""Two more buildings of "УК Тест" in Казань for the 4.1.1 / 4.6.10 tests (besides tests/cloud_data.py's).

Hourly integral archives from 2026-01-10 00:00 local for three days, reading(h) = 100 + rate x (h + 1),
so a full day (Jan 11: the readings at 23:00 of Jan 10 and of Jan 11) is 24 x rate.

"ул. Балансовая, 3" (area 200 m², 8 residents): building heat meter 307B0001 (0.05 Gcal/h), apartments
1 (223B0001, 0.01), 2 (223B0002, 0.02), 3 (223B0003, 0.005, balance sign "-"), 4 (223B0004, 0.1,
excluded from the balance). Jan 11: building 1.2, Σ apartments by sign 0.24 + 0.48 - 0.12 = 0.6,
imbalance 0.6 Gcal = 50 %, specific 1.2 / 200 = 0.006 Gcal/m². Its building meter's reading at
2026-01-12 23:00 is missing: Jan 12 has no building figure.

"ул. Квартирная, 5" (area 300 m², 10 residents), no building meter: premise 1 (50 m², 2 residents,
223C0001: heat 0.01 Gcal/h, cold water 0.01 m³/h), premise 2 (70 m², 3 residents, 223C0002: heat
0.02, cold water 0.02), premise 3 (90 m², 4 residents, no meter). Jan 11: heat 0.72 Gcal over the
120 m² of the metered premises = 0.006 Gcal/m²; cold water 0.72 m³ over their 5 residents = 0.144.
The reading of 223C0002 at 2026-01-12 23:00 is missing: Jan 12 knows only premise 1 (partial).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.ingest import archive_rows
from cloud.seed import channel_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from tests.cloud_data import HOURS, START_LOCAL, TZ

# serial -> (channel -> rate per hour)
RATES = {
    "307B0001": {1: 0.05},
    "223B0001": {1: 0.01}, "223B0002": {1: 0.02}, "223B0003": {1: 0.005}, "223B0004": {1: 0.1},
    "223C0001": {1: 0.01, 3: 0.01}, "223C0002": {1: 0.02, 3: 0.02},
}
MISSING = {("307B0001", datetime(2026, 1, 12, 23)), ("223C0002", datetime(2026, 1, 12, 23))}
PARAMETER = {1: "Q", 3: "V"}


@dataclass(frozen=True)
class Extra:
    balance_id: int  # "ул. Балансовая, 3"
    apartments_id: int  # "ул. Квартирная, 5"


def _building(db, company: int, address: str, area: float, residents: int) -> int:
    return db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                      "VALUES (?, 'test', ?, 'Казань', ?, ?, ?)", (company, address, TZ, area, residents)).lastrowid


def _meter(db, company: int, building: int, premise: int | None, serial: str, model: str, role: str,
           sign: str = "+") -> None:
    meter = db.execute("INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, "
                       "archives, balance_sign) VALUES (?, ?, ?, ?, ?, ?, 'Modbus TCP', 'hour, integral', ?)",
                       (company, building, premise, serial, model, role, sign)).lastrowid
    for number, resource, parameters in channel_rows(model):
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, ?, ?, ?)",
                   (meter, number, resource, parameters))


def _premise(db, building: int, number: str, area: float, residents: int) -> int:
    return db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) VALUES "
                      "(?, ?, 'apartment', ?, ?)", (building, number, area, residents)).lastrowid


def seed_extra(registry: Registry, clickhouse: ClickHouse, company: int) -> Extra:
    with registry.connect() as db:
        balance = _building(db, company, "ул. Балансовая, 3", 200.0, 8)
        _meter(db, company, balance, None, "307B0001", "KARAT-307", "common")
        for number, sign in (("1", "+"), ("2", "+"), ("3", "-"), ("4", "excluded")):
            premise = _premise(db, balance, number, 50.0, 2)
            _meter(db, company, balance, premise, f"223B000{number}", "KARAT-Compact-2-223", "individual", sign)
        apartments = _building(db, company, "ул. Квартирная, 5", 300.0, 10)
        for number, area, residents in (("1", 50.0, 2), ("2", 70.0, 3), ("3", 90.0, 4)):
            premise = _premise(db, apartments, number, area, residents)
            if number != "3":
                _meter(db, company, apartments, premise, f"223C000{number}", "KARAT-Compact-2-223", "individual")
    tz = zone(TZ)
    records = []
    for serial, channels in RATES.items():
        for channel, rate in channels.items():
            for h in range(HOURS):
                local = START_LOCAL + timedelta(hours=h)
                if (serial, local) in MISSING:
                    continue
                start = int(local_to_utc(local, tz).timestamp())
                records.append(ArchiveRecord(serial, channel, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                             {PARAMETER[channel]: round(100 + rate * (h + 1), 6)},
                                             received_at=start + 60.0))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, tuple(records)), company), "test:2")
    return Extra(balance, apartments)
