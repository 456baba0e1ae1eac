"""LoRa end devices and their packet log on top of tests.cloud_data's building, for the LoRa
monitoring tests (manual 4.2.4; tests/integration/test_lora_monitoring.py, tests/ui/test_lora_ui.py).

"Now" is cloud_data.NOW = 2026-01-14 12:00 UTC (15:00 in Moscow). Rows go into ``radio_packets``
as the ingest writes them (cloud/ingest_rows.py RADIO_COLUMNS). The figures the tests expect are
worked out here, next to the rows they come from:

- APT1 = 0000000000000001, apartment 1's 223T0001 (communicator text "LoRaWAN …"): uplinks 0..299
  one an hour, number n at NOW − 30 min − (299 − n) h, numbers 295 and 297 lost. Packet 299 came
  twice: via gw-far (SNR 2.0, RSSI −112) and a second later via gw-near (SNR 8.0, RSSI −90); every
  other packet via gw-near at SNR 5.0, RSSI −100, 868.9 MHz. Two downlinks: NOW − 2 h (template
  0x35, current readings) and NOW − 6 days (0x34, passport: outside the 5-day log).
  Last packet: 299 at 11:30 UTC = 14.01.2026 14:30 Moscow, function code 0x11, gw-near, 8.0 dB, −90 dBm.
  PER, 10 days: the window (NOW − 240 h, NOW] holds n with 30 min + (299 − n) h < 240 h, i.e.
  n ≥ 60: expected 299 − 60 + 1 = 240, received 240 − 2 = 238, lost 2 → 2/240 = 0.8333 % → 0.83.
  Log, 5 days: n ≥ 180 (30 min + (299 − n) h < 120 h → n > 179.5): expected 120, received 118,
  lost 2 → 1.6667 % → 1.67; SNR mean (117 × 5.0 + 8.0) / 118 = 593 / 118 = 5.0254 → 5.03;
  RSSI mean (117 × −100 − 90) / 118 = −11790 / 118 = −99.915 → −99.92.
- APT2 = 0000000000000002, apartment 2's 223T0002: numbers 500..549 one an hour, the last at
  NOW − 51 h, then, re-registered, 0..49 one an hour, the last at NOW − 1 h: the numbering
  restarted inside 10 days, PER not computed; last packet 49 at 11:00 UTC = 14:00 Moscow.
- BLDG = 00000000000000aa, a registered LoRa communicator (communicators table) of the building
  meter 941E0001 (KARAT-941LW, electricity, added here): one uplink only, 20 days ago (number 7,
  25.12.2025 15:00 Moscow): last packet shown, no PER (nothing in 10 days).
- The other company: its meter X0000001 on DevEUI 00000000000000ff at its site "other" (one
  uplink), and a row of APT1's DevEUI heard through the other company's site (number 9999, a
  minute before NOW), which is none of the first company's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.ingest_rows import RADIO_COLUMNS
from cloud.seed import channel_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import lorawan, lorawan_down
from protocol.vocabulary import ArchiveKind
from tests.cloud_data import NOW, Seeded

APT1, APT2, BLDG, OTHER = "0000000000000001", "0000000000000002", "00000000000000aa", "00000000000000ff"
LOST = (295, 297)
GW_NEAR, GW_FAR = "0016c001ff10a236", "0016c001ff10a999"


@dataclass(frozen=True)
class LoraSeeded:
    building_meter_id: int  # 941E0001
    other_meter_id: int


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def archive_payload(n: int) -> str:
    return lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, 0x67808D30 + 3600 * n, 1000 + n, 500, 300)).hex()


def up_row(site: str, row_id: int, at: datetime, eui: str, f_cnt: int, *, snr: float = 5.0, rssi: int = -100,
        gateway: str = GW_NEAR, payload: str | None = None) -> tuple:
    return (site, "e1", row_id, _ms(at), eui, "up", f_cnt, lorawan.FPORT, rssi, snr, gateway, 868_900_000,
            payload if payload is not None else archive_payload(f_cnt), "")


def _down(site: str, row_id: int, at: datetime, eui: str, payload: bytes) -> tuple:
    return (site, "e1", row_id, _ms(at), eui, "down", 0, lorawan_down.FPORT_COMMAND, None, None, "", 0, payload.hex(),
            "")


def radio_rows() -> list[tuple]:
    rows: list[tuple] = []
    ids = iter(range(1, 10_000))
    last = NOW - timedelta(minutes=30)
    for n in range(300):
        if n in LOST:
            continue
        at = last - timedelta(hours=299 - n)
        if n == 299:
            rows.append(up_row("test", next(ids), at, APT1, n, snr=2.0, rssi=-112, gateway=GW_FAR))
            rows.append(up_row("test", next(ids), at + timedelta(seconds=1), APT1, n, snr=8.0, rssi=-90))
        else:
            rows.append(up_row("test", next(ids), at, APT1, n))
    rows.append(_down("test", next(ids), NOW - timedelta(hours=2), APT1,
                      lorawan_down.encode(lorawan_down.CurrentRequest())))
    rows.append(_down("test", next(ids), NOW - timedelta(days=6), APT1,
                      lorawan_down.encode(lorawan_down.PassportRequest())))
    for i, n in enumerate(range(500, 550)):
        rows.append(up_row("test", next(ids), NOW - timedelta(hours=51 + 49 - i), APT2, n))
    for i in range(50):
        rows.append(up_row("test", next(ids), NOW - timedelta(hours=1 + 49 - i), APT2, i))
    rows.append(up_row("test", next(ids), NOW - timedelta(days=20), BLDG, 7, payload="4201"))
    rows.append(up_row("other", next(ids), NOW - timedelta(minutes=1), APT1, 9999, snr=-20.0,
                       gateway="00000000000bad00"))
    rows.append(up_row("other", next(ids), NOW - timedelta(hours=3), OTHER, 42))
    return rows


def seed_lora(registry: Registry, clickhouse: ClickHouse, seeded: Seeded) -> LoraSeeded:
    """The building meter 941E0001 on a registered LoRa communicator, the other company's LoRa
    meter, and the packet log above."""
    other_company = registry.one("SELECT company_id FROM buildings WHERE id = ?", seeded.other_building_id)[
        "company_id"]
    with registry.connect() as db:
        communicator = db.execute(
            "INSERT INTO communicators (company_id, kind, placement, dev_eui, lora_class, lorawan_version) "
            "VALUES (?, 'lora', 'builtin', ?, 'A', '1.0.3')", (seeded.company_id, BLDG)).lastrowid
        meter = _meter(db, seeded.company_id, seeded.building_id, "941E0001", "KARAT-941LW", "Modbus TCP", communicator)
        other = _meter(db, other_company, seeded.other_building_id, "X0000001", "KARAT-926LW", f"LoRaWAN {OTHER}",
                       None)
    clickhouse.insert_sync("radio_packets", radio_rows(), RADIO_COLUMNS)
    return LoraSeeded(meter, other)


def _meter(db, company: int, building: int, serial: str, model: str, text: str, communicator: int | None) -> int:
    meter = db.execute(
        "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
        "communicator_id) VALUES (?, ?, NULL, ?, ?, 'common', ?, 'hour, integral', ?)",
        (company, building, serial, model, text, communicator)).lastrowid
    for number, resource, parameters in channel_rows(model):
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, ?, ?, ?)",
                   (meter, number, resource, parameters))
    return int(meter or 0)

