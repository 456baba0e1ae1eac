"""A small, hand-checkable building for service and UI tests.

Company "УК Тест" in Europe/Moscow: building meter 307T0001 (heat +0.035 Gcal/h), apartment 1
(+0.01 Gcal/h) and apartment 2 (+0.02 Gcal/h), hourly integral archives from 2026-01-10 00:00
local for three days. So each full day: building 0.84, apartments 0.72, imbalance 0.12 Gcal
(14.29 %). The reading of apartment 2 at the end of 2026-01-11 (hour 23:00) is missing, so
2026-01-11 and 2026-01-12 have an incomplete apartments sum. A second company "УК Чужая" has
a building of its own that the first must never see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.ingest import archive_rows
from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

TZ = "Europe/Moscow"
START_LOCAL = datetime(2026, 1, 10)
HOURS = 72
RATES = {"307T0001": 0.035, "223T0001": 0.01, "223T0002": 0.02}
MISSING = ("223T0002", datetime(2026, 1, 11, 23))
# "now" for the services that judge time against the archive depth (a backfill asks only for what a
# device still keeps): the seeded days lie within every model's depth
NOW = datetime(2026, 1, 14, 12, tzinfo=UTC)
USERS = (UserSeed("disp", "Диспетчер Тест", "dispatcher", "disp-pass"),
         UserSeed("admin", "Админ Тест", "administrator", "admin-pass"),
         UserSeed("reader", "Читатель Тест", "engineer", "reader-pass", reader=True))


@dataclass(frozen=True)
class Seeded:
    building_id: int
    other_building_id: int
    company_id: int = 0  # the company of ``building_id``: it keys the series in ClickHouse


def seed(registry: Registry, clickhouse: ClickHouse) -> Seeded:
    company = seed_company(registry, "УК Тест", "Казань", USERS)
    building = seed_building(registry, company, BuildingSeed(
        site="test", address="ул. Тестовая, 1", city="Казань", time_zone=TZ, heat_meter_serial="307T0001",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP 127.0.0.1:5020 #1",
        premises=(PremiseSeed("1", 50.0, 2, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 0000000000000001"),
                  PremiseSeed("2", 70.0, 3, "223T0002", "KARAT-Compact-2-223", "LoRaWAN 0000000000000002"))))
    other = seed_company(registry, "УК Чужая", "Казань", (UserSeed("stranger", "Чужой", "dispatcher", "x-pass"),))
    other_building = seed_building(registry, other, BuildingSeed(
        site="other", address="ул. Чужая, 2", city="Казань", time_zone=TZ, heat_meter_serial="307X0001",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP", premises=()))
    tz = zone(TZ)
    records = []
    for serial, rate in RATES.items():
        for h in range(HOURS):
            local = START_LOCAL + timedelta(hours=h)
            if (serial, local) == MISSING:
                continue
            start = int(local_to_utc(local, tz).timestamp())
            records.append(ArchiveRecord(serial, 1, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                         {"Q": round(100 + rate * (h + 1), 6)}, received_at=start + 60.0))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 1, tuple(records)), company), "test:1")
    return Seeded(building, other_building, company)


# the passwords of every user the service tests seed (cloud_data.USERS, and the companies the API tests add)
PASSWORDS = {"disp": "disp-pass", "admin": "admin-pass", "reader": "reader-pass", "stranger": "x-pass",
             "stranger-eng": "x-pass", "eng": "eng-pass", "b-admin": "b-pass"}


async def own_tokens(services, registry: Registry, logins) -> dict[str, str]:
    """An API token per login, each created by its user for themself (an administrator creates
    tokens only for integration accounts, cloud/services/api_tokens.py)."""
    tokens = {}
    for login in logins:
        session = (await services.auth.login(login, PASSWORDS[login])).token
        user_id = registry.one("SELECT id FROM users WHERE login = ?", login)["id"]
        tokens[login] = (await services.api_tokens.create(session, user_id, f"{login} integration")).token
    return tokens
