"""Rows of their own for the register and balance-group tests (slice H3), on top of tests.cloud_data:
daily and monthly archives (the seed has hourly ones only), more meters in the seeded building.

Archive keys as the devices store them: an integral day record keyed at local midnight of day D
reads the counter at the end of D; a month record keyed at the start of the meter's reporting
period reads it at the end of that period. Local times are Europe/Moscow (cloud_data.TZ).
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import count

from cloud.ingest import archive_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data

TZ = zone(cloud_data.TZ)
DAY, MONTH = ArchiveKind.DAY, ArchiveKind.MONTH
_SEQ = count(1000)


def record(serial: str, kind: ArchiveKind, local: datetime, value: float, channel: int = 1,
           parameter: str = "Q", nature: Nature = Nature.INTEGRAL) -> ArchiveRecord:
    start = int(local_to_utc(local, TZ).timestamp())
    return ArchiveRecord(serial, channel, kind, nature, start, {parameter: round(value, 6)}, received_at=start + 60.0)


def store(clickhouse: ClickHouse, company: int, records: list[ArchiveRecord]) -> None:
    """Write ``records`` into the archive under ``company`` (as the ingest keys them)."""
    seq = next(_SEQ)
    clickhouse.insert_archive_sync(archive_rows(Batch("test", seq, tuple(records)), company), f"support:{seq}")


def set_archives(registry: Registry, serials: tuple[str, ...], archives: str, reporting_day: int | None = None) -> None:
    """Let seeded meters give more archive kinds (and a reporting day of their own)."""
    with registry.connect() as db:
        for serial in serials:
            db.execute("UPDATE meters SET archives = ? WHERE serial = ?", (archives, serial))
            if reporting_day is not None:
                db.execute("UPDATE meters SET reporting_day = ? WHERE serial = ?", (reporting_day, serial))


def add_premise(registry: Registry, building_id: int, number: str) -> int:
    with registry.connect() as db:
        return int(db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                              "VALUES (?, ?, 'apartment', 40.0, 1)", (building_id, number)).lastrowid or 0)


def add_meter(registry: Registry, building_id: int, premise_id: int | None, serial: str,
              model: str = "KARAT-Compact-2-223", archives: str = "hour, day, month, integral", tariffs: int = 0,
              ct_ratio: float = 1.0, reporting_day: int = 1) -> int:
    """A meter of the building with its catalogue channels (``tariffs`` zones for electricity)."""
    spec = catalogue.model(model)
    if tariffs:
        spec = spec.with_tariffs(tariffs)
    with registry.connect() as db:
        company = db.execute("SELECT company_id FROM buildings WHERE id = ?", (building_id,)).fetchone()[0]
        meter_id = int(db.execute(
            "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
            "tariffs, ct_ratio, reporting_day, initial_readings, final_readings) "
            "VALUES (?, ?, ?, ?, ?, ?, 'test', ?, ?, ?, ?, ?, ?)",
            (company, building_id, premise_id, serial, model, "common" if premise_id is None else "individual",
             archives, tariffs, ct_ratio, reporting_day, json.dumps({}), json.dumps({}))).lastrowid or 0)
        for c in spec.channels:
            db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) "
                       "VALUES (?, ?, ?, ?, ?)", (meter_id, c.number, c.resource.value, ",".join(c.parameters),
                                                  c.tariff))
    return meter_id


def meter_ids(registry: Registry) -> dict[str, int]:
    return {r["serial"]: r["id"] for r in registry.all("SELECT id, serial FROM meters")}


def register_rows(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> None:
    """The seeded building with daily and monthly archives, apartment 3 with two heat meters and
    apartment 4 with an electricity meter (tests/integration/test_register.py works the numbers out)."""
    set_archives(registry, ("307T0001", "223T0001", "223T0002"), "hour, day, month, integral")
    set_archives(registry, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p3 = add_premise(registry, seeded.building_id, "3")
    add_meter(registry, seeded.building_id, p3, "223T0003")
    add_meter(registry, seeded.building_id, p3, "223T0004")
    p4 = add_premise(registry, seeded.building_id, "4")
    add_meter(registry, seeded.building_id, p4, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    d = datetime
    store(clickhouse, seeded.company_id, [
        # day records: the counter at the end of the day they are keyed by
        record("307T0001", DAY, d(2026, 1, 10), 200.0), record("307T0001", DAY, d(2026, 1, 11), 200.84),
        record("223T0001", DAY, d(2026, 1, 10), 50.0), record("223T0001", DAY, d(2026, 1, 11), 50.25),
        record("223T0002", DAY, d(2026, 1, 10), 70.0),  # its Jan 11 record is missing
        record("223T0003", DAY, d(2026, 1, 10), 10.0), record("223T0003", DAY, d(2026, 1, 11), 11.77),
        record("223T0004", DAY, d(2026, 1, 10), 5.0),  # its Jan 11 record is missing
        record("941T0001", DAY, d(2026, 1, 10), 1000.0, 1, "E"),
        record("941T0001", DAY, d(2026, 1, 11), 1012.5, 1, "E"),
        record("941T0001", DAY, d(2026, 1, 10), 600.0, 2, "E"),
        record("941T0001", DAY, d(2026, 1, 11), 608.0, 2, "E"),
        record("941T0001", DAY, d(2026, 1, 10), 400.0, 3, "E"),
        record("941T0001", DAY, d(2026, 1, 11), 404.5, 3, "E"),
        # month records: the counter at the end of the reporting period they are keyed by
        record("223T0001", MONTH, d(2025, 12, 1), 40.0), record("223T0001", MONTH, d(2026, 1, 1), 47.5),
        record("223T0002", MONTH, d(2025, 12, 15), 60.0), record("223T0002", MONTH, d(2026, 1, 15), 66.2),
        # KARAT-307 keeps no monthly archive: January comes from its day records of Dec 31 and Jan 31
        record("307T0001", DAY, d(2025, 12, 31), 150.0), record("307T0001", DAY, d(2026, 1, 31), 176.04),
    ])
