"""/api/v1 routes of LoRa monitoring (4.2.4);
every figure the page shows is an answer here: ``lora_devices`` (the building's table) and
``lora_packets`` (one device's packet log). The service is cloud/services/lora.py; the rules,
with the PER formula, cloud/services/lora_rules.py. Tests: tests/integration/test_lora_monitoring.py.
"""

# no "from __future__ import annotations": the routes' annotations name cloud.api's types imported
# inside ``routes``, which FastAPI can resolve only when they are evaluated at definition
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from cloud.services.container import Services
from cloud.services.lora import MAX_PAGE, LoraDevices, LoraPacketLog
from cloud.services.lora_rules import LOG_DAYS, MAX_PACKETS, PER_DAYS
from protocol.vocabulary import MeterRole, Resource

_PACKET_FIELDS = (
    "A packet: `at` (local time of the building, when the network server received it; for a downlink, "
    "when the edge handed it over), `f_cnt` (packet number counted on the device; null for a downlink), "
    "`f_port`, `function_code` (the payload's template number, its first byte; null for an empty payload), "
    "`snr` (dB) and `rssi` (dBm) (null when unknown: always for a downlink), `gateway` (GW-MAC; \"\" when "
    "unknown), `frequency` (Hz; null when unknown), `payload` (raw, before decoding, lower-case hex), "
    "`error` (why the edge could not use it, \"\" when it could), `copies` (rows that were this packet: "
    "copies heard through several gateways are one packet, shown with the gateway of the best SNR, then "
    "RSSI, which is the one the network server sends downlinks through).")
_PER = (
    "`per` = {per_pct, received, expected, lost, reset, first}: PER in % = lost / expected × 100 with "
    "expected = last − first packet number + 1 and lost = expected − distinct numbers received; `per_pct`, "
    "`expected` and `lost` are null with `reset` true when the numbering restarted inside the window (a "
    "number lower than the one before: re-registration), and null with `received` 0 when nothing was "
    "received; `first` is the local time of the window's oldest packet.")


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import PathId, Token, _service

    @api.get("/buildings/{building_id}/lora-devices", response_model=LoraDevices, tags=["monitoring"],
             description="LoRa monitoring (manual 4.2.4): every meter of the building, in service now, that "
                         "reports through a LoRa end device, with the device's `dev_eui`, its last received "
                         f"packet `last` (null: never heard) and PER over the last {PER_DAYS} days but at most "
                         f"the last {MAX_PACKETS} packets. `resource` and `role` may each be repeated "
                         "(multi-select); selecting none and selecting every offered value are the same "
                         "choice: no filter (`resource_filter` / `role_filter` are then empty). `resources` "
                         "and `roles` are the offered values. " + _PACKET_FIELDS + " " + _PER)
    async def lora_devices(building_id: PathId, token: Token,
                           resource: Annotated[list[Resource] | None, Query(max_length=16)] = None,
                           role: Annotated[list[MeterRole] | None, Query(max_length=4)] = None) -> LoraDevices:
        return await _service(services.lora.devices(token, building_id, resources=resource or (),
                                                    roles=role or ()))

    @api.get("/lora-devices/{dev_eui}/packets", response_model=LoraPacketLog, tags=["monitoring"],
             description=f"The packet log of one LoRa end device of the company: the last {LOG_DAYS} days "
                         f"but at most the last {MAX_PACKETS} packets of `direction` (up: sent by the device; "
                         "down: commands sent to it), newest first, `limit` from `offset`; `total` counts "
                         "the window's packets. `per`, `snr_avg` (dB) and `rssi_avg` (dBm) are over the "
                         "window's uplinks whichever direction is shown (null when none has a figure). "
                         "A device the company has not registered is 404. " + _PACKET_FIELDS + " " + _PER)
    async def lora_packets(dev_eui: Annotated[str, Path(pattern="^[0-9A-Fa-f]{16}$")], token: Token,
                           direction: Literal["up", "down"] = "up",
                           limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
                           offset: Annotated[int, Query(ge=0, le=MAX_PACKETS)] = 0) -> LoraPacketLog:
        return await _service(services.lora.packets(token, dev_eui, direction=direction, limit=limit,
                                                    offset=offset))
