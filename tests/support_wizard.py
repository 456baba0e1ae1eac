"""Data for the add-meter wizard's tests: cloud_data's building (no heating season set) plus a service
engineer of each company, and a draft for every model the wizard knows, each valid as it stands
(tests/integration/test_wizard.py, tests/ui/test_wizard_ui.py)."""

# ruff: noqa: S106 - the admin passwords and their "set"/"factory" states here are test values
from __future__ import annotations

from datetime import date, datetime

from cloud.ingest_rows import RADIO_COLUMNS
from cloud.services.auth import hash_password
from cloud.services.communicators import CommunicatorSpec
from cloud.services.wizard_rules import Draft, KitPart, LineChoice
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import lorawan_up
from protocol.periods import to_device_seconds
from protocol.vocabulary import Resource
from tests import cloud_data

ENGINEERS = (("eng", "Инженер Тест", "eng-pass"),)
STRANGER_ENGINEER = ("stranger-eng", "Чужой инженер", "x-pass")
HEAT_KIT = (KitPart("flow_transducer", "PR-101", 1), KitPart("flow_transducer", "PR-102", 1),
            KitPart("temperature_sensor", "KT-201", 1), KitPart("temperature_sensor", "KT-202", 1))
PASSPORT_EUI = "70b3d5e75e2a0223"


def add_engineers(registry: Registry, seeded: cloud_data.Seeded) -> None:
    """A service engineer in the test company and one in the other company."""
    other = registry.one("SELECT company_id FROM buildings WHERE id = ?", seeded.other_building_id)["company_id"]
    with registry.connect() as db:
        for company, (login, name, password) in ((seeded.company_id, ENGINEERS[0]), (other, STRANGER_ENGINEER)):
            db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                       "(?, ?, ?, 'engineer', ?)", (company, login, name, hash_password(password)))


def premise(registry: Registry, building_id: int, number: str) -> int:
    return registry.one("SELECT id FROM premises WHERE building_id = ? AND number = ?", building_id, number)["id"]


def lora(eui: str) -> LineChoice:
    return LineChoice("builtin", spec=CommunicatorSpec("lora", "builtin", dev_eui=eui, lora_class="A",
                                                       lorawan_version="1.0.2"))


def drafts(building_id: int, flat: int) -> dict[str, Draft]:
    """One valid draft per model; flats in premise ``flat``, building meters in the building."""
    tcp = CommunicatorSpec("tcp", "external", name="МОХА подвал", host="10.0.0.5", port=502)
    gprs = CommunicatorSpec("gprs", "external", imei="356938035643809", iccid="8970101234567890123")
    return {
        "KARAT-Compact-2-223": Draft(role="individual", model="KARAT-Compact-2-223", building_id=building_id,
                                     premise_id=flat, serial="223W0001", barcode="223W0001",
                                     line=lora("70b3d5e75e2a0101")),
        "KARAT-Compact-2-213": Draft(role="individual", model="KARAT-Compact-2-213", building_id=building_id,
                                     premise_id=flat, serial="213W0001", line=lora("70b3d5e75e2a0102"),
                                     channel_resources={2: Resource.COLD_WATER.value}),
        "KARAT-926LW": Draft(role="individual", model="KARAT-926LW", building_id=building_id, premise_id=flat,
                             serial="926W0001", line=lora("70b3d5e75e2a0103"),
                             channel_resources={1: Resource.HOT_WATER.value}, verified_on=date(2025, 9, 1),
                             next_verification_on=date(2031, 9, 1), kit=(KitPart("water_meter", "SVK-15-0042", 1),)),
        "KARAT-941LW": Draft(role="individual", model="KARAT-941LW", building_id=building_id, premise_id=flat,
                             serial="941W0001", line=lora("70b3d5e75e2a0104"), tariffs=2, phases=1, phase="B",
                             admin_password="s3cret"),
        "KARAT-927LW": Draft(role="individual", model="KARAT-927LW", building_id=building_id, premise_id=flat,
                             serial="927W0001", line=lora("70b3d5e75e2a0105"), inputs=4,
                             channel_resources={4: Resource.GAS.value}),
        "KARAT-307": Draft(role="common", model="KARAT-307", building_id=building_id, serial="307W0001",
                           line=LineChoice("new", spec=tcp, unit=3), kit=HEAT_KIT,
                           commissioned_at=datetime(2026, 1, 14, 9, tzinfo=cloud_data.NOW.tzinfo)),
        "KARAT-306": Draft(role="common", model="KARAT-306", building_id=building_id, serial="306W0001",
                           line=LineChoice("new", spec=gprs), kit=(
                               KitPart("flow_transducer", "PR-301", 1), KitPart("flow_transducer", "PR-302", 1),
                               KitPart("temperature_sensor", "KT-301", 1), KitPart("temperature_sensor", "KT-302", 1))),
        "KARAT-929LW": Draft(role="common", model="KARAT-929LW", building_id=building_id, serial="307W0929",
                             line=lora("70b3d5e75e2a0929"), calculator="KARAT-307",
                             kit=(*(KitPart(p.kind, p.serial.replace("-", "-9"), p.channel) for p in HEAT_KIT),
                                  KitPart("radio_module", "929M0001"))),
    }


def passport_row(clickhouse: ClickHouse, site: str, at: datetime) -> None:
    """A Compact-2-223's passport uplink (serial 22300077, firmware 1.4, verified 2025-08-20 local midnight,
    inputs heat, hot, cold) from PASSPORT_EUI, received at ``at``."""
    frame = lorawan_up.Passport(model=2223, serial=22300077, firmware=0x0104,
                                verified=to_device_seconds(datetime(2025, 8, 20)),
                                device_time=to_device_seconds(datetime(2026, 1, 14, 14, 0)), battery_pct=97, status=0,
                                relay=0xFF, threshold_w=0,
                                inputs=(lorawan_up.Resource.HEAT, lorawan_up.Resource.HOT_WATER,
                                        lorawan_up.Resource.COLD_WATER))
    row = (site, "e1", 9001, round(at.timestamp() * 1000), PASSPORT_EUI, "up", 12, lorawan_up.FPORT_DATA, -100, 5.0,
           "gw-near", 868_900_000, lorawan_up.encode(frame).hex(), "")
    clickhouse.insert_sync("radio_packets", [row], RADIO_COLUMNS)
