"""Rows of the channel and verification report tests (manual 4.3.1, 4.3.4, 4.3.6, 4.3.10, 4.3.11), on
top of tests/cloud_data.seed (today 2026-01-14 in Europe/Moscow, UTC+3, no DST). Local times below are
Moscow; the registry keeps UTC (local - 3 h).

Building A «ул. Тестовая, 1» (seeded, meters without lifecycle dates: in service by their status):
- 307T0001 building meter, KARAT-307: heat, hot water, cold water; next verification 2026-03-10
  (verified 2022-03-10); sensors FT-1 (flow transducer, next 2026-02-05), TS-1 (temperature, next
  2026-07-01), TS-2 (temperature, no date); ИИК: heat 1 Q = FT-1 V1 + TS-1 T1 + TS-2 T2; hot water 1 V
  and cold water 1 V measured by the meter itself;
- 223T0001 premise 1, Compact-2-223 (heat, hot, cold), next 2026-01-14; ИИК heat 1 Q by the meter;
- 223T0002 premise 2, Compact-2-223, next 2027-01-14; ИИК heat 1 Q by the meter, hot water 1 V by its
  water meter WM-2 (next 2026-02-13);
- 926C0001 premise 3, cold water, commissioned 2025-12-01 00:00 (the first instant of December),
  next 2026-01-10 (overdue on the 14th); ИИК cold water 1 V by the meter;
- 926C0002 premise 4, cold water, commissioned 2025-11-30 23:59 (the last minute of November), next
  2026-02-13;
- 926H0001 premise 5, hot water, commissioned 2025-01-01, decommissioned 2025-12-31 23:00 and replaced
  by 926H0002 (hot water) commissioned the same instant, next 2026-01-20;
- 941E0001 premise 6, electricity (total + T1: one channel), commissioned 2026-01-01 00:00, next
  2026-01-31;
- 926C0003 premise 7, cold water, commissioned 2025-01-01, decommissioned 2025-12-01 00:00, next
  2026-01-20 (never due: decommissioned), ИИК cold water 1 V by the meter;
- 927G0001 premise 8, a pulse meter counting gas («другое»), commissioned 2025-12-15 12:00, next
  2026-02-14.
Building B «ул. Вторая, 5» (added): 307B0001 building meter, KARAT-307, commissioned 2025-01-01,
decommissioned 2025-12-10 12:00, next 2026-01-20, ИИК heat 1 Q by the meter.
Company «УК Чужая»: 307X0001, next 2026-01-20, ИИК heat 1 Q by the meter: never seen by the first.
"""

from __future__ import annotations

import io
import sqlite3
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from cloud.reports.service import xlsx_in_memory
from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data

BUILDING_B = "ул. Вторая, 5"


@dataclass(frozen=True)
class ChannelIds:
    building_a: int
    building_b: int
    other_building: int
    meters: dict[str, int]
    premises: dict[str, int]


def _meter(db: sqlite3.Connection, company: int, building: int, premise: int | None, serial: str, model: str,
           resources: tuple[tuple[str, str | None], ...], commissioned: str | None = None,
           decommissioned: str | None = None, next_on: str | None = None, replaces: int | None = None) -> int:
    meter_id = int(db.execute(
        "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
        "status, commissioned_at, decommissioned_at, next_verification_on, replaces_meter_id) "
        "VALUES (?, ?, ?, ?, ?, ?, 'test', 'hour, integral', ?, ?, ?, ?, ?)",
        (company, building, premise, serial, model, "individual" if premise else "common",
         "decommissioned" if decommissioned else "in_service", commissioned, decommissioned, next_on,
         replaces)).lastrowid or 0)
    for number, (resource, tariff) in enumerate(resources, start=1):
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) VALUES (?, ?, ?, ?, ?)",
                   (meter_id, number, resource, "E" if resource == "electricity" else "V", tariff))
    return meter_id


def _premise(db: sqlite3.Connection, building: int, number: str) -> int:
    return int(db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) VALUES "
                          "(?, ?, 'apartment', 40, 1)", (building, number)).lastrowid or 0)


def _channel(db: sqlite3.Connection, meter: int, resource: str, parameter: str, meter_quantity: str | None,
             sensors: tuple[tuple[int, str], ...] = ()) -> int:
    channel = int(db.execute(
        "INSERT INTO measuring_channels (meter_id, resource, resource_number, parameter, meter_quantity, updated_at) "
        "VALUES (?, ?, 1, ?, ?, '2025-01-01T00:00:00+00:00')", (meter, resource, parameter, meter_quantity)).lastrowid
        or 0)
    for sensor, quantity in sensors:
        db.execute("INSERT INTO measuring_channel_sensors (channel_id, sensor_id, quantity) VALUES (?, ?, ?)",
                   (channel, sensor, quantity))
    return channel


def _sensor(db: sqlite3.Connection, meter: int, kind: str, serial: str, verified: str | None,
            next_on: str | None) -> int:
    return int(db.execute(
        "INSERT INTO meter_sensors (meter_id, kind, model, serial, verified_on, next_verification_on, created_at) "
        "VALUES (?, ?, 'КТПТР-01', ?, ?, ?, '2025-01-01T00:00:00+00:00')",
        (meter, kind, serial, verified, next_on)).lastrowid or 0)


def seed_channels(registry: Registry, seeded: cloud_data.Seeded) -> ChannelIds:
    with registry.connect() as db:
        company, a = seeded.company_id, seeded.building_id
        if db.execute("SELECT 1 FROM users WHERE login = 'eng'").fetchone() is None:
            db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                       "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (company, hash_password("eng-pass")))
        meters = {r["serial"]: r["id"] for r in db.execute("SELECT id, serial FROM meters")}
        premises = {r["number"]: r["id"] for r in db.execute("SELECT id, number FROM premises WHERE building_id = ?",
                                                             (a,))}
        for number in "345678":
            premises[number] = _premise(db, a, number)
        db.execute("UPDATE meters SET next_verification_on = '2026-03-10', verified_on = '2022-03-10' WHERE id = ?",
                   (meters["307T0001"],))
        db.execute("UPDATE meters SET next_verification_on = '2026-01-14' WHERE id = ?", (meters["223T0001"],))
        db.execute("UPDATE meters SET next_verification_on = '2027-01-14' WHERE id = ?", (meters["223T0002"],))
        db.execute("UPDATE meters SET next_verification_on = '2026-01-20' WHERE id = ?", (meters["307X0001"],))
        cold, hot = (("cold_water", None),), (("hot_water", None),)
        new = {
            "926C0001": _meter(db, company, a, premises["3"], "926C0001", "KARAT-926LW", cold,
                               "2025-11-30T21:00:00+00:00", next_on="2026-01-10"),
            "926C0002": _meter(db, company, a, premises["4"], "926C0002", "KARAT-926LW", cold,
                               "2025-11-30T20:59:00+00:00", next_on="2026-02-13"),
            "926H0001": _meter(db, company, a, premises["5"], "926H0001", "KARAT-926LW", hot,
                               "2024-12-31T21:00:00+00:00", "2025-12-31T20:00:00+00:00"),
            "941E0001": _meter(db, company, a, premises["6"], "941E0001", "KARAT-941LW",
                               (("electricity", "total"), ("electricity", "T1")), "2025-12-31T21:00:00+00:00",
                               next_on="2026-01-31"),
            "926C0003": _meter(db, company, a, premises["7"], "926C0003", "KARAT-926LW", cold,
                               "2024-12-31T21:00:00+00:00", "2025-11-30T21:00:00+00:00", next_on="2026-01-20"),
            "927G0001": _meter(db, company, a, premises["8"], "927G0001", "KARAT-927LW", (("gas", None),),
                               "2025-12-15T09:00:00+00:00", next_on="2026-02-14"),
        }
        new["926H0002"] = _meter(db, company, a, premises["5"], "926H0002", "KARAT-926LW", hot,
                                 "2025-12-31T20:00:00+00:00", next_on="2026-01-20", replaces=new["926H0001"])
        city = db.execute("SELECT city, city_id, time_zone FROM buildings WHERE id = ?", (a,)).fetchone()
        b = int(db.execute(
            "INSERT INTO buildings (company_id, site, address, city, city_id, time_zone, area_m2, residents) "
            "VALUES (?, 'b', ?, ?, ?, ?, 1000, 10)",
            (company, BUILDING_B, city["city"], city["city_id"], city["time_zone"])).lastrowid or 0)
        new["307B0001"] = _meter(db, company, b, None, "307B0001", "KARAT-307",
                                 (("heat", None), ("hot_water", None), ("cold_water", None)),
                                 "2024-12-31T21:00:00+00:00", "2025-12-10T09:00:00+00:00", next_on="2026-01-20")
        meters.update(new)
        m307 = meters["307T0001"]
        ft1 = _sensor(db, m307, "flow_transducer", "FT-1", "2022-02-05", "2026-02-05")
        ts1 = _sensor(db, m307, "temperature_sensor", "TS-1", "2022-07-01", "2026-07-01")
        ts2 = _sensor(db, m307, "temperature_sensor", "TS-2", None, None)
        wm2 = _sensor(db, meters["223T0002"], "water_meter", "WM-2", "2020-02-13", "2026-02-13")
        _channel(db, m307, "heat", "Q", None, ((ft1, "V1"), (ts1, "T1"), (ts2, "T2")))
        _channel(db, m307, "hot_water", "V", "V")
        _channel(db, m307, "cold_water", "V", "V")
        _channel(db, meters["223T0001"], "heat", "Q", "Q")
        _channel(db, meters["223T0002"], "heat", "Q", "Q")
        _channel(db, meters["223T0002"], "hot_water", "V", None, ((wm2, "V"),))
        _channel(db, meters["926C0001"], "cold_water", "V", "V")
        _channel(db, meters["926C0003"], "cold_water", "V", "V")
        _channel(db, meters["307B0001"], "heat", "Q", "Q")
        _channel(db, meters["307X0001"], "heat", "Q", "Q")
    return ChannelIds(a, b, seeded.other_building_id, meters, premises)


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    ids: ChannelIds
    tokens: dict[str, str]  # login -> session token


async def channels_world(registry: Registry, clickhouse: ClickHouse) -> World:
    seeded = cloud_data.seed(registry, clickhouse)
    ids = seed_channels(registry, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, seeded, ids, tokens)


async def sheet(world: World, key: str, login: str = "disp", **raw: object) -> list[list[Any]]:
    """The report's first sheet as written to XLSX and read back with openpyxl: every row, as cell values
    (empty cells None; the rows shorter than the widest are padded)."""
    report = await world.services.reports.report(world.tokens[login], key, {k: str(v) for k, v in raw.items()})
    book = load_workbook(io.BytesIO(xlsx_in_memory(report)))
    ws = book.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    width = max(len(r) for r in rows)
    return [r + [None] * (width - len(r)) for r in rows]


def body(rows: list[list[Any]], first_header: str) -> tuple[list[Any], list[list[Any]]]:
    """(the header row, the rows under it) of a sheet whose header starts with ``first_header``."""
    at = next(i for i, r in enumerate(rows) if r[0] == first_header)
    return rows[at], rows[at + 1:]
