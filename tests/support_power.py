"""Rows the power-limitation tests add to tests/cloud_data.py's seed: an engineer, a KARAT-941LW
electricity meter (with its load relay) in premise 1, a premise 3 with another, and in the other
company a premise with a 941LW of its own, which the first company must never see or limit.
Premise 2 has no 941LW, so it cannot be limited."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.seed import channel_rows
from cloud.services.auth import hash_password
from cloud.storage.registry import Registry
from protocol import catalogue
from tests import cloud_data

MODEL = catalogue.ELECTRICITY_941


@dataclass(frozen=True)
class PowerSeed:
    premise_1: int  # with meter 941T0001
    premise_2: int  # no relay meter
    premise_3: int  # with meter 941T0003
    other_premise: int  # the other company's, with meter 941X0001
    meter_1: int
    meter_3: int
    city_id: int


def add_meter(db, company_id: int, building_id: int, premise_id: int, serial: str, dev_eui: str) -> int:
    """A 941LW of the premise on LoRaWAN ``dev_eui``, with the catalogue's channels."""
    meter_id = db.execute(
        "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
        "tariffs) VALUES (?, ?, ?, ?, ?, 'individual', ?, 'hour, integral', ?)",
        (company_id, building_id, premise_id, serial, MODEL, f"LoRaWAN {dev_eui}",
         catalogue.model(MODEL).tariffs)).lastrowid
    for number, resource, parameters in channel_rows(MODEL):
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, ?, ?, ?)",
                   (meter_id, number, resource, parameters))
    return meter_id


def seed_power(registry: Registry, seeded: cloud_data.Seeded) -> PowerSeed:
    with registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
        premises = {r["number"]: r["id"] for r in db.execute("SELECT id, number FROM premises WHERE building_id = ?",
                                                              (seeded.building_id,))}
        premise_3 = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents, account) "
                               "VALUES (?, '3', 'apartment', 40.0, 1, 'TEST-0003')", (seeded.building_id,)).lastrowid
        meter_1 = add_meter(db, seeded.company_id, seeded.building_id, premises["1"], "941T0001", "70B3D5E75E2A0941")
        meter_3 = add_meter(db, seeded.company_id, seeded.building_id, premise_3, "941T0003", "70B3D5E75E2A0943")
        other_company = db.execute("SELECT company_id FROM buildings WHERE id = ?",
                                   (seeded.other_building_id,)).fetchone()[0]
        other_premise = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents, account) "
                                   "VALUES (?, '9', 'apartment', 40.0, 1, 'OTHER-0009')",
                                   (seeded.other_building_id,)).lastrowid
        add_meter(db, other_company, seeded.other_building_id, other_premise, "941X0001", "70B3D5E75E2A0999")
        city_id = db.execute("SELECT city_id FROM buildings WHERE id = ?", (seeded.building_id,)).fetchone()[0]
    return PowerSeed(premises["1"], premises["2"], premise_3, other_premise, meter_1, meter_3, city_id)
