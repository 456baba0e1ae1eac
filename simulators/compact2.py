"""KARAT-Compact-2-223 apartment meter on LoRaWAN, as its network server reports it.

Each closed hour the meter sends its hourly integral archive (protocol/lorawan.py); the
simulated network server publishes it as a ChirpStack v4 ``up`` event, built with
ChirpStack's own protobuf definitions so the JSON is exactly what ChirpStack emits.
"""

from __future__ import annotations

import random
from datetime import datetime

from chirpstack_api import common, gw, integration
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from protocol import lorawan
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.scenario import ApartmentPlan
from simulators.world import World

RU864_CHANNELS_HZ = (868_900_000, 869_100_000, 864_100_000, 864_300_000, 864_500_000)
GATEWAYS = ("0016c001ff10a235", "0016c001ff10a236")


def up_topic(application_id: str, dev_eui: str) -> str:
    return f"application/{application_id}/device/{dev_eui}/event/up"


class Compact2:
    def __init__(self, world: World, apartment: ApartmentPlan, application_id: str) -> None:
        self.world = world
        self.apartment = apartment
        self.application_id = application_id

    @property
    def topic(self) -> str:
        return up_topic(self.application_id, self.apartment.dev_eui)

    def archive_payload(self, index: int) -> bytes:
        """The hourly archive uplink for hour ``index`` (sent when that hour closes)."""
        counters = self.world.apartment_counters(self.apartment, index)
        start_local = utc_to_local(self.world.hour_start(index), self.world.tz)
        return lorawan.encode(lorawan.CompactArchive(
            kind=ArchiveKind.HOUR, period=to_device_seconds(start_local),
            heat_kcal=counters.heat_kcal % 2**32, input1_litres=counters.hot_litres % 2**32,
            input2_litres=counters.cold_litres % 2**32,
        ))

    def up_event(self, index: int, sent_at: datetime) -> str:
        """ChirpStack v4 JSON of the uplink that carries hour ``index``; fCnt counts hours sent."""
        seed = self.world.scenario.seed
        rng = random.Random(f"radio:{seed}:{self.apartment.dev_eui}:{index}")
        event = integration.UplinkEvent(
            deduplication_id=_uuid(rng),
            device_info=integration.DeviceInfo(
                tenant_id="52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
                tenant_name="domuchet",
                application_id=self.application_id,
                application_name="karat-apartments",
                device_profile_id="3c5d9a1e-0f6b-4a8e-9b1c-7d2e4f6a8b0c",
                device_profile_name="KARAT-Compact-2-223",
                device_name=f"apt-{self.apartment.number}",
                dev_eui=self.apartment.dev_eui,
                device_class_enabled=common.DeviceClass.CLASS_A,
            ),
            dev_addr=f"{int(self.apartment.dev_eui[-8:], 16) & 0x01FFFFFF:08x}",
            adr=True,
            dr=rng.choice((2, 3, 4, 5)),
            f_cnt=index,
            f_port=lorawan.FPORT,
            confirmed=False,
            data=self.archive_payload(index),
            rx_info=[gw.UplinkRxInfo(
                gateway_id=rng.choice(GATEWAYS),
                uplink_id=rng.randrange(1, 2**31),
                rssi=round(rng.gauss(-98, 8)),
                snr=round(rng.gauss(4.5, 3.0), 1),
                channel=rng.randrange(0, 5),
                context=b"\x00\x01",
                crc_status=gw.CRCStatus.CRC_OK,
            )],
            tx_info=gw.UplinkTxInfo(
                frequency=rng.choice(RU864_CHANNELS_HZ),
                modulation=gw.Modulation(lora=gw.LoraModulationInfo(
                    bandwidth=125000, spreading_factor=rng.choice((7, 8, 9, 10)),
                    code_rate=gw.CodeRate.CR_4_5)),
            ),
        )
        stamp = Timestamp()
        stamp.FromDatetime(sent_at)
        event.time.CopyFrom(stamp)
        # ChirpStack serialises integration events with default values included (pbjson emit_fields),
        # so the first uplink carries "fCnt": 0 and "confirmed": false rather than omitting them.
        return json_format.MessageToJson(event, indent=None, always_print_fields_with_no_presence=True)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
