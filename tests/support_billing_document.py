"""Rows of the billing document's tests (slice H4), on top of tests.cloud_data: premises with personal
accounts, meters with numbers in ГИС ЖКХ and the December 2025 archives that
tests/integration/test_billing_document.py works out by hand (its docstring lists them)."""

from __future__ import annotations

from datetime import datetime

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests import support_register as sr

D = datetime


def billing_world(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded) -> None:
    b = seeded.building_id
    sr.set_archives(registry, ("307T0001",), "hour, day, integral")
    sr.set_archives(registry, ("223T0001", "223T0002"), "hour, day, month, integral")
    p3, p4, p5, p6 = (sr.add_premise(registry, b, n) for n in ("3", "4", "5", "6"))
    sr.add_meter(registry, b, p3, "223T0003")
    sr.add_meter(registry, b, p4, "941T0001", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    sr.add_meter(registry, b, p5, "223T0005")
    m6 = sr.add_meter(registry, b, p6, "223T0006")
    with registry.connect() as db:
        for number, account in (("1", "100-1"), ("2", "100-2"), ("3", "100-3"), ("4", "100-4"), ("6", "100-6")):
            db.execute("UPDATE premises SET account = ? WHERE building_id = ? AND number = ?", (account, b, number))
        for serial, gis in (("307T0001", "ГИС-ОДПУ"), ("223T0001", "ГИС-1"), ("223T0002", "ГИС-2"),
                            ("941T0001", "ГИС-Э"), ("223T0005", "ГИС-5"), ("223T0006", "ГИС-6")):
            db.execute("UPDATE meters SET gis_number = ? WHERE serial = ?", (gis, serial))
        db.execute("UPDATE meters SET commissioned_at = '2025-11-10T00:00:00+00:00' WHERE id = ?", (m6,))
        # the registry says which channels a meter has: here the heat one (223T0001 also cold water)
        db.execute("DELETE FROM meter_channels WHERE resource IN ('hot_water', 'cold_water') AND meter_id IN "
                   "(SELECT id FROM meters WHERE serial <> '223T0001')")
        db.execute("DELETE FROM meter_channels WHERE resource = 'hot_water'")
    sr.store(clickhouse, seeded.company_id, [
        sr.record("307T0001", sr.DAY, D(2025, 12, 31), 176.04),
        sr.record("223T0001", sr.MONTH, D(2025, 12, 1), 47.123456),
        sr.record("223T0001", sr.MONTH, D(2025, 12, 1), 12.5, 3, "V"),
        sr.record("223T0002", sr.DAY, D(2025, 9, 30), 60.0),
        sr.record("223T0003", sr.MONTH, D(2025, 12, 1), 11.77), sr.record("223T0003", sr.DAY, D(2025, 12, 31), 11.77),
        sr.record("941T0001", sr.DAY, D(2025, 12, 31), 1012.5, 1, "E"),
        sr.record("941T0001", sr.DAY, D(2025, 12, 31), 608.0, 2, "E"),
        sr.record("941T0001", sr.DAY, D(2025, 12, 31), 404.5, 3, "E"),
        sr.record("223T0005", sr.MONTH, D(2025, 12, 1), 5.5),
    ])
