"""The export to billing centres' world (slice H5) on top of tests.cloud_data, one premise per
reconciliation case of manual 4.4.2, and the billing-centre simulator's book that goes with it.

Building «ул. Тестовая, 1» (Europe/Moscow), each apartment meter keeps its heat channel only:
кв.1 100-1 223T0001: matched first-time; its newest reading is the seeded hour 2026-01-12 23:00 local
     (ends 2026-01-13 00:00): 100 + 0.01 × 72 = 100.72 → accepted.
кв.2 100-2 223T0002: matched first-time; 100 + 0.02 × 72 = 101.44, the centre's last value is 500 →
     rejected «показание меньше переданного ранее».
кв.3 100-3: the centre does not know the account → «ЛС отсутствует в РИЦ».
кв.4 (no account) → «ЛС не указан».
кв.5 100-5 223T0005: the centre has 223T0005-X under the account → «№ ПУ не найден».
кв.6 100-6 223T0006: the centre has 223T0006 under cold water → the serial under another resource.
кв.7 100-7 223T0007: matched, the last run linked it to device «D7-old», now «D7» → re-linked; its
     newest reading is the day 2025-12-20 (ends 2025-12-21): 33.3, older than 10 days → rejected.
кв.8 100-8 223T0008: matched, linked to «D8» before (the same): neither first-time nor re-linked; no
     reading in the look-back → a preparation error of heat.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests import support_register as sr

TOKEN = "ric-secret-token-1234"  # noqa: S105 - the simulator's test token
TODAY = cloud_data.NOW.date()  # the centre's today: 2026-01-14


def today() -> date:
    return TODAY


def export_world(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> dict[str, int]:
    """Premises 3..8 and meters 223T0005..8 beside the seeded ones; the meters' ids by serial."""
    b = seeded.building_id
    premises = {n: sr.add_premise(registry, b, n) for n in ("3", "4", "5", "6", "7", "8")}
    for n in ("5", "6", "7", "8"):
        sr.add_meter(registry, b, premises[n], f"223T000{n}")
    with registry.connect() as db:
        for number in ("1", "2", "3", "5", "6", "7", "8"):
            db.execute("UPDATE premises SET account = ? WHERE building_id = ? AND number = ?",
                       (f"100-{number}", b, number))
        db.execute("DELETE FROM meter_channels WHERE resource <> 'heat'")
    sr.store(clickhouse, seeded.company_id, [sr.record("223T0007", sr.DAY, datetime(2025, 12, 20), 33.3)])
    return sr.meter_ids(registry)


def link_before(registry: Registry, centre_id: int, ids: dict[str, int]) -> None:
    """What an earlier run stored: 223T0007 on «D7-old», 223T0008 on «D8»."""
    with registry.connect() as db:
        for serial, device in (("223T0007", "D7-old"), ("223T0008", "D8")):
            db.execute("INSERT INTO billing_device_links (centre_id, meter_id, resource, device_id) "
                       "VALUES (?, ?, 'heat', ?)", (centre_id, ids[serial], device))


def book() -> dict[str, Any]:
    def dev(device_id: str, serial: str, resource: str = "heat") -> dict[str, str]:
        return {"device_id": device_id, "serial": serial, "resource": resource}
    return {"token": TOKEN, "accounts": {
        "100-1": [dev("D1", "223T0001")], "100-2": [dev("D2", "223T0002")],
        "100-5": [dev("D5", "223T0005-X")], "100-6": [dev("D6", "223T0006", "cold_water")],
        "100-7": [dev("D7", "223T0007")], "100-8": [dev("D8", "223T0008")], "999-9": [dev("D9", "X")]},
        "last": {"D2": {"T1": 500.0}}}
