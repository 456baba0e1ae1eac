"""LoRa monitoring (manual 4.2.4, "мониторинг активности информационного обмена с Конечными
LoRa-Устройствами"): per meter of a building with a LoRa end device, its last packet (time,
function code, packet number, SNR, RSSI, gateway) and PER over the last 10 days (at most 2,000
packets, not computed across a restart of the numbering); per device, the packet log of the last
5 days (at most 2,000 packets), uplinks or downlinks, with the raw payload and the averages.

Reads ``radio_packets`` (the edge's packet log, cloud/ingest_rows.py). That table has no company
column, so the scope is built from the registry: a meter's end device is its registry
communicator of kind "lora" (its DevEUI, unique in the registry) or, for meters registered with
the older text form, ``LoRaWAN <DevEUI>`` in its communicator field; and only rows that came
through one of the company's own edge sites count, so a DevEUI typed into two companies' text
fields never shows one company the other's packets. The rules (copies of one packet, PER, the
windows, the multi-select) are in cloud/services/lora_rules.py. Roles as in the accounting
section: dispatchers, engineers and readers; administrators not at all. "Now" is ``self.clock``.
Tests: tests/integration/test_lora_monitoring.py, tests/unit/cloud/test_lora_rules.py.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import lora_rules as rules
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.models import BuildingSummary, InvalidInput, MeterInfo, NotFound, UserInfo
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

DIRECTIONS = ("up", "down")
MAX_PAGE = rules.MAX_PACKETS
_DEV_EUI = re.compile(r"^[0-9a-f]{16}$")
_TEXT_EUI = re.compile(r"^\s*LoRaWAN\s+([0-9A-Fa-f]{16})\s*$")
_COLUMNS = "dev_eui, at, direction, f_cnt, f_port, rssi, snr, gateway, frequency, payload, error"
_ORDER = "ORDER BY dev_eui, at DESC, site DESC, epoch DESC, id DESC"  # newest first; equal times by the edge's order


@dataclass(frozen=True, slots=True)
class LoraDevice:
    """One meter of the building and the end device it reports through (manual 4.2.4, one table row)."""

    meter_id: int
    serial: str
    model: str
    role: MeterRole
    premise_id: int | None
    premise_number: str | None  # None: a building meter
    resources: tuple[Resource, ...]
    dev_eui: str
    last: rules.Packet | None  # the newest uplink ever received (building local time); None: never heard
    per: rules.Per  # over the last 10 days, at most 2,000 packets (``first`` in local time)


@dataclass(frozen=True, slots=True)
class LoraDevices:
    building: BuildingSummary
    now: datetime  # the service's "now" in the building's local time: the windows end here
    resources: tuple[Resource, ...]  # the resource buttons: those of the building's LoRa meters
    roles: tuple[MeterRole, ...]  # the meter-type buttons
    resource_filter: tuple[Resource, ...]  # applied; () = none (nothing or everything selected)
    role_filter: tuple[MeterRole, ...]
    devices: tuple[LoraDevice, ...]
    per_days: int = rules.PER_DAYS
    max_packets: int = rules.MAX_PACKETS


@dataclass(frozen=True, slots=True)
class LoraPacketLog:
    """One device's packets of the last 5 days (at most 2,000), newest first, one page of them."""

    dev_eui: str
    meters: tuple[str, ...]  # serials of the company's meters that report through it
    time_zone: str
    direction: str  # "up" or "down"
    since: datetime  # local time: the window is (since, until]
    until: datetime
    total: int  # packets of the direction in the window
    offset: int
    limit: int
    packets: tuple[rules.Packet, ...]  # the page; times local
    per: rules.Per  # over the window's uplinks, whichever direction is shown
    snr_avg: float | None  # dB, mean over the window's uplinks with a figure
    rssi_avg: float | None  # dBm
    log_days: int = rules.LOG_DAYS
    max_packets: int = rules.MAX_PACKETS


def dev_eui_of(communicator: str) -> str | None:
    """The DevEUI in a meter's communicator text ``LoRaWAN <16 hex>`` (lower case), else None."""
    found = _TEXT_EUI.match(communicator)
    return found[1].lower() if found else None


def check_dev_eui(value: str) -> str:
    """A DevEUI as stored (16 lower-case hex digits; ':' and '-' allowed), or InvalidInput naming it."""
    clean = value.strip().lower().replace(":", "").replace("-", "")
    if not _DEV_EUI.match(clean):
        raise InvalidInput(f"dev_eui: 16 hexadecimal digits, got {value!r}")
    return clean


def _in_service(meter: MeterInfo, now: datetime) -> bool:
    """Installed at ``now``: not decommissioned yet (a decommissioned meter's device is gone)."""
    if meter.decommissioned_at is not None:
        return meter.decommissioned_at > now
    return meter.status != "decommissioned"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _row(r: tuple) -> tuple[str, rules.Row]:
    dev_eui, at, direction, f_cnt, f_port, rssi, snr, gateway, frequency, payload, error = r
    return dev_eui.lower(), rules.Row(
        _aware(at), str(direction), int(f_cnt), int(f_port), None if rssi is None else int(rssi),
        None if snr is None else round(float(snr), 2), gateway, int(frequency), payload, error)


def _local_packet(packet: rules.Packet, tz: ZoneInfo) -> rules.Packet:
    """The packet with its time in the building's zone (the services' convention for what is shown)."""
    return rules.with_time(packet, utc_to_local(packet.at, tz))


def _local_per(figure: rules.Per, tz: ZoneInfo) -> rules.Per:
    return figure if figure.first is None else replace(figure, first=utc_to_local(figure.first, tz))


class LoraService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope and role checks
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "LoRa monitoring is not available to administrators")

    def _sites(self, company_id: int) -> list[str]:
        return [r["site"] for r in self.registry.all("SELECT site FROM edge_sites WHERE company_id = ? ORDER BY site",
                                                     company_id)]

    def _registered(self, company_id: int, building_id: int) -> dict[int, str]:
        """Meter id -> the DevEUI of its LoRa communicator (registry row, else its text form)."""
        rows = self.registry.all(
            "SELECT m.id, m.communicator, c.kind, c.dev_eui FROM meters m LEFT JOIN communicators c "
            "ON c.id = m.communicator_id AND c.company_id = m.company_id WHERE m.building_id = ? AND m.company_id = ?",
            building_id, company_id)
        out: dict[int, str] = {}
        for r in rows:
            eui = r["dev_eui"] if r["kind"] == "lora" and r["dev_eui"] else None
            eui = eui or (dev_eui_of(r["communicator"]) if r["kind"] is None else None)
            if eui:
                out[r["id"]] = eui.lower()
        return out

    # --- the device table (lora_devices) ----------------------------------------------------------

    async def devices(self, token: str, building_id: int, *, resources: Iterable[Resource] = (),
                      roles: Iterable[MeterRole] = ()) -> LoraDevices:
        """The building's meters that report through a LoRa end device, in service now, filtered by
        resource and meter type (multi-select: nothing selected = everything selected = no filter)."""
        user = await self._viewer(token)
        building = await self.accounting.building(token, building_id)
        meters = await self.accounting.meters(token, building_id)
        registered, sites = await asyncio.to_thread(
            lambda: (self._registered(user.company_id, building_id), self._sites(user.company_id)))
        now = _aware(self.clock())
        tz = zone(building.time_zone)
        lora = [m for m in meters if m.id in registered and _in_service(m, now)]
        offered_resources = tuple(r for r in Resource if any(r in m.resources for m in lora))
        offered_roles = (MeterRole.COMMON, MeterRole.INDIVIDUAL)
        by_resource = rules.chosen(resources, offered_resources)
        by_role = rules.chosen(roles, offered_roles)
        shown = [m for m in lora if (by_role is None or m.role in by_role)
                 and (by_resource is None or any(r in by_resource for r in m.resources))]
        shown.sort(key=lambda m: (m.role is not MeterRole.COMMON, _number_key(m.premise_number), m.serial))
        euis = sorted({registered[m.id] for m in shown})
        since = now - timedelta(days=rules.PER_DAYS)
        # PER needs only the numbers and times of ten days' uplinks; the last packet, the full newest rows
        numbers = await self._uplinks(euis, sites, since, now, rules.MAX_PACKETS * rules.ROWS_PER_PACKET,
                                      "dev_eui, at, f_cnt")
        newest = await self._uplinks(sorted(numbers), sites, since, now, rules.ROWS_PER_PACKET)
        silent = [eui for eui in euis if eui not in numbers]
        if silent:
            newest |= await self._uplinks(silent, sites, None, now, rules.ROWS_PER_PACKET)
        figures: dict[str, tuple[rules.Packet | None, rules.Per]] = {}
        for eui in euis:
            rows = numbers.get(eui, [])
            last = rules.packets(_row(r)[1] for r in newest.get(eui, []))
            per = rules.per_of_rows([r[2] for r in rows], [r[1] for r in rows])
            figures[eui] = (_local_packet(last[-1], tz) if last else None, _local_per(per, tz))
        devices = [LoraDevice(m.id, m.serial, m.model, m.role, m.premise_id, m.premise_number, m.resources,
                              registered[m.id], *figures[registered[m.id]]) for m in shown]
        return LoraDevices(building, utc_to_local(now, tz), offered_resources, offered_roles,
                           tuple(r for r in offered_resources if by_resource and r in by_resource),
                           tuple(r for r in offered_roles if by_role and r in by_role), tuple(devices))

    async def _uplinks(self, euis: list[str], sites: list[str], since: datetime | None, until: datetime,
                       per_device: int, columns: str = _COLUMNS) -> dict[str, list[tuple]]:
        """DevEUI -> its newest ``per_device`` uplink rows in (since, until], in time order, as the
        query gives them (``columns``, dev_eui and at first; turned into rules.Row only where needed:
        a building's ten days are tens of thousands of rows)."""
        if not euis or not sites:
            return {}
        where = "AND at > {lo:DateTime64(3, 'UTC')} " if since is not None else ""
        args = {"euis": _spellings(euis), "sites": sites, "hi": _naive(until), "n": per_device}
        if since is not None:
            args["lo"] = _naive(since)
        found = await self.ch.query(
            f"SELECT {columns} FROM {{db}}.radio_packets FINAL WHERE dev_eui IN {{euis:Array(String)}} "  # noqa: S608 - constants only
            f"AND site IN {{sites:Array(String)}} AND direction = 'up' {where}AND at <= {{hi:DateTime64(3, 'UTC')}} "
            f"{_ORDER} LIMIT {{n:UInt32}} BY dev_eui", args)
        out: dict[str, list[tuple]] = defaultdict(list)
        for r in found:
            out[r[0].lower()].append(r)
        for rows in out.values():  # newest first per spelling -> time order (stable: the edge's order kept)
            rows.reverse()
            rows.sort(key=lambda row: row[1])
        return dict(out)

    # --- the packet log (lora_packets) ------------------------------------------------------------

    async def packets(self, token: str, dev_eui: str, *, direction: str = "up", limit: int = 20,
                      offset: int = 0) -> LoraPacketLog:
        """The device's packets of the last 5 days (at most 2,000), newest first, ``limit`` from
        ``offset``; PER, mean SNR and mean RSSI over the window's uplinks."""
        user = await self._viewer(token)
        eui = check_dev_eui(dev_eui)
        if direction not in DIRECTIONS:
            raise InvalidInput(f"direction: up or down, got {direction!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit: 1 to {MAX_PAGE} packets per page, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= rules.MAX_PACKETS:
            raise InvalidInput(f"offset: 0 to {rules.MAX_PACKETS}, got {offset!r}")
        serials, time_zone, sites = await asyncio.to_thread(self._device, user, eui)
        tz = zone(time_zone)
        now = _aware(self.clock())
        since = now - timedelta(days=rules.LOG_DAYS)
        found = await self.ch.query(
            f"SELECT {_COLUMNS} FROM {{db}}.radio_packets FINAL WHERE dev_eui IN {{euis:Array(String)}} "  # noqa: S608 - constants only
            "AND site IN {sites:Array(String)} AND at > {lo:DateTime64(3, 'UTC')} AND at <= {hi:DateTime64(3, 'UTC')} "
            f"{_ORDER} LIMIT {{n:UInt32}} BY direction",
            {"euis": _spellings([eui]), "sites": sites, "lo": _naive(since), "hi": _naive(now),
             "n": rules.MAX_PACKETS * rules.ROWS_PER_PACKET})
        by_direction: dict[str, list[rules.Row]] = {"up": [], "down": []}
        for r in reversed(found):
            row = _row(r)[1]
            by_direction[row.direction].append(row)
        for rows in by_direction.values():
            rows.sort(key=lambda row: row.at)  # stable: the edge's order of equal times kept
        up = rules.window(rules.packets(by_direction["up"]), now, rules.LOG_DAYS)
        shown = up if direction == "up" else rules.window(rules.packets(by_direction["down"]), now, rules.LOG_DAYS)
        newest_first = shown[::-1]
        page = tuple(_local_packet(p, tz) for p in newest_first[offset:offset + limit])
        return LoraPacketLog(eui, serials, time_zone, direction, utc_to_local(since, tz), utc_to_local(now, tz),
                             len(shown), offset, limit, page, _local_per(rules.per(up), tz),
                             rules.mean(p.snr for p in up), rules.mean(p.rssi for p in up))

    def _device(self, user: UserInfo, eui: str) -> tuple[tuple[str, ...], str, list[str]]:
        """The company's meters on the device, the time zone to show it in and the company's sites;
        NotFound when the company has registered no such device."""
        company = user.company_id
        communicator = self.registry.one("SELECT id FROM communicators WHERE company_id = ? AND kind = 'lora' "
                                         "AND lower(dev_eui) = ?", company, eui)
        rows = self.registry.all(
            "SELECT m.serial, m.communicator, m.communicator_id, b.time_zone FROM meters m "
            "JOIN buildings b ON b.id = m.building_id WHERE m.company_id = ? "
            "AND (m.communicator_id = ? OR (m.communicator_id IS NULL AND m.communicator LIKE 'LoRaWAN%')) "
            "ORDER BY m.id", company, communicator["id"] if communicator else -1)
        mine = [r for r in rows if r["communicator_id"] is not None or dev_eui_of(r["communicator"]) == eui]
        if communicator is None and not mine:
            raise NotFound(f"LoRa device {eui} not found")
        if mine:
            time_zone = mine[0]["time_zone"]
        else:
            city = self.registry.one("SELECT c.time_zone FROM companies co JOIN cities c ON c.name = co.city "
                                     "WHERE co.id = ?", company)
            time_zone = city["time_zone"] if city else "UTC"
        return tuple(dict.fromkeys(r["serial"] for r in mine)), time_zone, self._sites(company)


def _spellings(euis: Iterable[str]) -> list[str]:
    """Each DevEUI as stored (lower case, as the edge writes it) and in upper case: DevEUIs match
    case-insensitively (docs/protocols.md), and the list stays a range of the sort key per device."""
    return sorted({form for eui in euis for form in (eui.lower(), eui.upper())})


def _number_key(number: str | None) -> tuple[int, int, str]:
    """Premises in number order (1, 2, 10, 10а), building meters (no premise) first."""
    if number is None:
        return (0, 0, "")
    digits = re.match(r"\d+", number)
    return (1, int(digits[0]) if digits else 0, number)
