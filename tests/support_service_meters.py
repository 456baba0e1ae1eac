"""Rows of the service meters list, measuring channels and verification calendar tests, on top of
tests/cloud_data.seed (today is 2026-01-14 in Europe/Moscow, cloud_data.NOW).

Company "УК Тест", building "ул. Тестовая, 1":
- 307T0001, building heat meter (KARAT-307: heat 1 Q,V1,V2,T1,T2; hot water 1 V; cold water 1 V),
  Modbus TCP, next verification 2026-01-20; its sensors FT-1 (flow transducer, next 2026-01-13:
  overdue), TS-1 (temperature sensor, next 2026-01-14: due today, not overdue), TS-2 (temperature
  sensor, next 2026-02-01);
- 223T0001 in premise 1 (LoRaWAN), barcode 4600000000017, next 2025-12-01: overdue;
- 223T0002 in premise 2, its text says LoRaWAN but it is linked to a GPRS communicator (line type
  gprs), next 2026-03-15;
- 926X0010 in premise 10 (KARAT-926LW, cold water, LoRaWAN), decommissioned since 2025-12-01 UTC,
  next 2026-01-05: never due.
Company "УК Чужая": 307X0001, next 2026-01-20: never listed for the first company.
Users added: "eng" (a service engineer of УК Тест).
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.services.auth import hash_password
from cloud.storage.registry import Registry
from tests import cloud_data


@dataclass(frozen=True)
class ServiceIds:
    m307: int
    m223_1: int
    m223_2: int
    m926: int
    other: int
    ft1: int
    ts1: int
    ts2: int
    premise1: int
    premise2: int
    premise10: int


def seed_service(registry: Registry, seeded: cloud_data.Seeded) -> ServiceIds:
    with registry.connect() as db:
        def meter(serial: str) -> int:
            return db.execute("SELECT id FROM meters WHERE serial = ?", (serial,)).fetchone()[0]

        if db.execute("SELECT 1 FROM users WHERE login = 'eng'").fetchone() is None:
            db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                       "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
        b = seeded.building_id
        premise = {r["number"]: r["id"] for r in db.execute("SELECT id, number FROM premises WHERE building_id = ?",
                                                             (b,))}
        premise["10"] = int(db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) VALUES "
                                       "(?, '10', 'apartment', 40, 1)", (b,)).lastrowid or 0)
        m926 = int(db.execute(
            "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
            "status, commissioned_at, decommissioned_at, next_verification_on) VALUES (?, ?, ?, '926X0010', "
            "'KARAT-926LW', 'individual', 'LoRaWAN 0000000000000010', 'hour, interval', 'decommissioned', "
            "'2025-01-01T00:00:00+00:00', '2025-12-01T00:00:00+00:00', '2026-01-05')",
            (seeded.company_id, b, premise["10"])).lastrowid or 0)
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, 1, 'cold_water', "
                   "'V')", (m926,))
        gprs = db.execute("INSERT INTO communicators (company_id, kind, placement, imei) VALUES (?, 'gprs', "
                          "'external', '490154203237518')", (seeded.company_id,)).lastrowid
        ids = {s: meter(s) for s in ("307T0001", "223T0001", "223T0002", "307X0001")}
        db.execute("UPDATE meters SET next_verification_on = '2026-01-20', verified_on = '2022-01-20' WHERE id = ?",
                   (ids["307T0001"],))
        db.execute("UPDATE meters SET next_verification_on = '2025-12-01', barcode = '4600000000017' WHERE id = ?",
                   (ids["223T0001"],))
        db.execute("UPDATE meters SET next_verification_on = '2026-03-15', communicator_id = ? WHERE id = ?",
                   (gprs, ids["223T0002"]))
        db.execute("UPDATE meters SET next_verification_on = '2026-01-20' WHERE id = ?", (ids["307X0001"],))

        def sensor(kind: str, serial: str, next_on: str) -> int:
            return int(db.execute(
                "INSERT INTO meter_sensors (meter_id, kind, model, serial, next_verification_on, created_at) VALUES "
                "(?, ?, 'КТПТР-01', ?, ?, '2025-01-01T00:00:00+00:00')",
                (ids["307T0001"], kind, serial, next_on)).lastrowid or 0)

        ft1 = sensor("flow_transducer", "FT-1", "2026-01-13")
        ts1 = sensor("temperature_sensor", "TS-1", "2026-01-14")
        ts2 = sensor("temperature_sensor", "TS-2", "2026-02-01")
    return ServiceIds(ids["307T0001"], ids["223T0001"], ids["223T0002"], m926, ids["307X0001"], ft1, ts1, ts2,
                      premise["1"], premise["2"], premise["10"])
