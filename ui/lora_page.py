"""Page "Мониторинг сетевых параметров сеансов связи КУ" (manual 4.2.4, menu "Мониторинг" → "LoRa"):
for a building, per premise and meter with a LoRa end device, the last packet (time, function
code, packet number), PER, SNR, RSSI and gateway, with multi-select resource and meter-type
buttons (all pressed = none pressed); a click on a row (not on the meter number, which opens the
meter) shows the device's packets of the last 5 days, uplinks or downlinks, with the raw payload,
the averages and paging with a chosen page size.

Every figure comes from cloud/services/lora.py (``lora_devices`` / ``lora_packets`` in the API);
this module only draws them. Route: /monitoring/lora?building=&resource=…&role=…&device=&direction=
&size=&page=. Tests: tests/ui/test_lora_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.lora import LoraDevice, LoraDevices, LoraPacketLog, check_dev_eui
from cloud.services.lora_rules import Packet, Per
from cloud.services.models import BuildingSummary, InvalidInput
from protocol.vocabulary import MeterRole, Resource

from . import auth, fmt, i18n, pages, selection, theme, widgets
from .i18n import t
from .ports import Services

PATH = "/monitoring/lora"
PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_SIZE = 20
DIRECTIONS = ("up", "down")
DASH = "—"
_ICONS = {Resource.HEAT: "local_fire_department", Resource.HOT_WATER: "hot_tub", Resource.COLD_WATER: "water_drop",
          Resource.GAS: "local_gas_station", Resource.ELECTRICITY: "bolt", Resource.SEWAGE: "plumbing"}
_ROLE_ICONS = {MeterRole.COMMON: "apartment", MeterRole.INDIVIDUAL: "door_front"}

i18n.extend({
    "lora.title": ("Мониторинг сетевых параметров сеансов связи КУ", "LoRa end-device session monitoring"),
    "lora.subtitle": ("Последний радиопакет каждого LoRa-КУ, PER, SNR, RSSI и базовая станция",
                      "Each LoRa end device's last packet, PER, SNR, RSSI and gateway"),
    "lora.building": ("Объект", "Building"),
    "lora.resources": ("Ресурсы", "Resources"),
    "lora.roles": ("Типы ПУ", "Meter types"),
    "lora.multi_hint": ("Можно выбрать несколько; все нажатые кнопки равнозначны ни одной нажатой.",
                        "Several may be chosen; all pressed is the same as none pressed."),
    "lora.devices": ("КУ объекта", "End devices of the building"),
    "lora.no_devices": ("нет данных: у выбранных ПУ объекта нет LoRa-КУ",
                        "no data: the chosen meters of the building have no LoRa end device"),
    "lora.click_hint": ("Нажмите на строку, чтобы открыть пакеты КУ за последние {days} дн. (номер ПУ открывает "
                        "страницу прибора).",
                        "Click a row for the device's packets of the last {days} days (the meter number opens the "
                        "meter's page)."),
    "lora.scroll_hint": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
    "lora.col.premise": ("Помещение", "Premise"),
    "lora.col.meter": ("№ ПУ", "Meter"),
    "lora.col.dev_eui": ("DevEUI", "DevEUI"),
    "lora.col.at": ("Дата и время пакета", "Packet time"),
    "lora.col.function": ("Код функции", "Function code"),
    "lora.col.f_cnt": ("№ пакета", "Packet no."),
    "lora.col.per": ("PER, %", "PER, %"),
    "lora.col.snr": ("SNR, дБ", "SNR, dB"),
    "lora.col.rssi": ("RSSI, дБм", "RSSI, dBm"),
    "lora.col.gateway": ("GW-MAC", "GW-MAC"),
    "lora.col.frequency": ("Частота, МГц", "Frequency, MHz"),
    "lora.col.payload": ("Payload", "Payload"),
    "lora.col.note": ("Примечание", "Note"),
    "lora.never": ("пакетов не было", "never heard"),
    "lora.per.reset": ("нумерация пакетов сброшена", "packet numbering restarted"),
    "lora.per.none": ("нет данных", "no data"),
    "lora.per.hint": ("PER за последние {days} дн., не более {packets} пакетов: потеряно {lost} из {expected}",
                      "PER over the last {days} days, at most {packets} packets: {lost} lost of {expected}"),
    "lora.per.reset_hint": ("За период сменилась нумерация пакетов (например, перерегистрация КУ): PER не "
                            "рассчитывается", "The packet numbering restarted in the period (e.g. the device "
                            "re-registered): PER is not computed"),
    "lora.log": ("Пакеты КУ {dev_eui} ({meters}) за последние {days} дн.",
                 "Packets of {dev_eui} ({meters}) over the last {days} days"),
    "lora.log.pick": ("Выберите строку таблицы, чтобы увидеть пакеты КУ.", "Pick a table row to see the device's "
                      "packets."),
    "lora.log.empty": ("нет данных: за последние {days} дн. пакетов нет",
                       "no data: no packets in the last {days} days"),
    "lora.direction.up": ("Восходящие (от КУ)", "Uplinks (from the device)"),
    "lora.direction.down": ("Нисходящие (к КУ)", "Downlinks (to the device)"),
    "lora.avg.per": ("PER за период", "PER of the period"),
    "lora.avg.snr": ("SNR среднее, дБ", "Mean SNR, dB"),
    "lora.avg.rssi": ("RSSI среднее, дБм", "Mean RSSI, dBm"),
    "lora.avg.hint": ("по восходящим пакетам периода", "over the period's uplinks"),
    "lora.total": ("Пакетов: {count} (показаны {first}–{last})", "Packets: {count} (showing {first}–{last})"),
    "lora.page_size": ("Строк на странице", "Rows per page"),
    "lora.copies": ("принят через {count} БС; показана БС с лучшим SNR", "heard through {count} gateways; the one "
                    "with the best SNR is shown"),
    "lora.close": ("Скрыть пакеты", "Hide packets"),
})


class LoraService(Protocol):
    async def devices(self, token: str, building_id: int, *, resources: Iterable[Resource] = (),
                      roles: Iterable[MeterRole] = ()) -> LoraDevices: ...

    async def packets(self, token: str, dev_eui: str, *, direction: str = "up", limit: int = 20,
                      offset: int = 0) -> LoraPacketLog: ...


class LoraServices(Services, Protocol):
    @property
    def lora(self) -> LoraService: ...


@dataclass(frozen=True, slots=True)
class State:
    """What the page shows: the address bar's parameters, parsed."""

    building: int
    resources: tuple[Resource, ...] = ()  # the pressed buttons, as pressed
    roles: tuple[MeterRole, ...] = ()
    device: str | None = None  # the DevEUI whose packets are open
    direction: str = "up"
    size: int = DEFAULT_SIZE
    page: int = 1


def register(services: Services) -> None:
    """Register the pages: /monitoring/lora."""
    lora = cast(LoraServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def lora_page(request: Request, building: str | None = None, device: str | None = None,
                        direction: str | None = None, size: str | None = None,
                        page: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = await services.accounting.buildings(viewer.token)
        problems: list[str] = []
        params = request.query_params
        state = parse(buildings, building, params.getlist("resource"), params.getlist("role"), device, direction,
                      size, page, problems)
        if state is None:
            if not buildings:
                with theme.frame(t("lora.title"), viewer.user, active=PATH), theme.card():
                    theme.message(t("buildings.empty"))
            else:
                pages.problem_page(viewer.user, t("error.not_found"), t("error.building_not_found"), active=PATH)
            return None
        view = LoraPage(lora, viewer, buildings, problems)
        if not await pages.explained(viewer.user, view.load(state), not_found=t("error.building_not_found"),
                                     active=PATH):
            return None
        selection.remember(building_id=view.state.building)
        view.render()
        return None


def parse(buildings: Sequence[BuildingSummary], building: str | None, resources: Sequence[str],
          roles: Sequence[str], device: str | None, direction: str | None, size: str | None, page: str | None,
          problems: list[str]) -> State | None:
    """The page's state from its address; a bad value is named in ``problems`` and replaced by the
    default. None when the building asked for is not one of the company's (or there is none)."""
    asked: int | None = None
    if building:
        if not (building.isascii() and building.isdigit() and len(building) < 19):
            return None
        asked = int(building)
        if asked not in {b.id for b in buildings}:
            return None
    chosen = selection.building(buildings, asked)
    if chosen is None:
        return None
    return State(chosen.id, _parsed(Resource, "resource", resources, problems),
                 _parsed(MeterRole, "role", roles, problems), _device(device, problems),
                 _choice("direction", direction, DIRECTIONS, "up", problems),
                 int(_choice("size", size, tuple(map(str, PAGE_SIZES)), str(DEFAULT_SIZE), problems)),
                 _page(page, problems))


def _parsed(kind: Callable[[str], Any], name: str, values: Sequence[str], problems: list[str]) -> tuple:
    out = []
    for value in values:
        try:
            item = kind(value)
        except ValueError:
            problems.append(t("error.bad_parameter", name=name, value=value))
            continue
        if item not in out:
            out.append(item)
    return tuple(out)


def _device(value: str | None, problems: list[str]) -> str | None:
    if not value:
        return None
    try:
        return check_dev_eui(value)
    except InvalidInput:
        problems.append(t("error.bad_parameter", name="device", value=value))
        return None


def _choice(name: str, value: str | None, allowed: tuple[str, ...], default: str, problems: list[str]) -> str:
    if value and value not in allowed:
        problems.append(t("error.bad_parameter", name=name, value=value))
    return value if value in allowed else default


def _page(value: str | None, problems: list[str]) -> int:
    if not value:
        return 1
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 2000:
        return int(value)
    problems.append(t("error.bad_parameter", name="page", value=value))
    return 1


def url(state: State) -> str:
    """The page's address for ``state`` (resources and roles repeated, as the API takes them)."""
    pairs: list[tuple[str, str | int]] = [("building", state.building)]
    pairs += [("resource", r.value) for r in state.resources] + [("role", r.value) for r in state.roles]
    if state.device:
        pairs += [("device", state.device), ("direction", state.direction), ("size", state.size),
                  ("page", state.page)]
    return f"{PATH}?{urlencode(pairs)}"


# --- cell texts ---------------------------------------------------------------------------------------

def moment(at: datetime) -> str:
    """A packet's local time to the second."""
    return f"{fmt.day(at)} {at:%H:%M:%S}"


def code(value: int | None) -> str:
    return DASH if value is None else f"0x{value:02X}"


def per_text(per: Per) -> str:
    """PER in %, or why there is none: the numbering restarted, or nothing was received."""
    if per.reset:
        return t("lora.per.reset")
    if per.per_pct is None:
        return t("lora.per.none")
    return fmt.number(per.per_pct, 2)


def per_hint(per: Per, days: int, packets: int) -> str:
    if per.reset:
        return t("lora.per.reset_hint")
    if per.per_pct is None:
        return t("lora.per.none")
    return t("lora.per.hint", days=days, packets=fmt.integer(packets), lost=per.lost, expected=per.expected)


def decibels(value: float | None, places: int = 1) -> str:
    return DASH if value is None else fmt.number(value, places)


def premise_text(device: LoraDevice) -> str:
    if device.premise_number is None:
        return fmt.meter_role(MeterRole.COMMON)
    return t("premise.short", number=device.premise_number)


def device_row(device: LoraDevice, per_days: int, max_packets: int) -> dict[str, object]:
    last = device.last
    row: dict[str, object] = {
        "id": device.meter_id, "dev_eui": device.dev_eui, "premise": premise_text(device), "meter": device.serial,
        "href": f"/meters/{device.meter_id}", "per": per_text(device.per),
        "per_hint": per_hint(device.per, per_days, max_packets), "reset": device.per.reset}
    if last is None:
        row.update(at=t("lora.never"), function=DASH, f_cnt=DASH, snr=DASH, rssi=DASH, gateway=DASH)
    else:
        row.update(at=moment(last.at), function=code(last.function_code),
                   f_cnt=DASH if last.f_cnt is None else str(last.f_cnt), snr=decibels(last.snr),
                   rssi=decibels(last.rssi, 0), gateway=last.gateway or DASH)
    return row


def packet_row(index: int, packet: Packet) -> dict[str, object]:
    return {"key": index, "at": moment(packet.at), "f_cnt": DASH if packet.f_cnt is None else str(packet.f_cnt),
            "function": code(packet.function_code), "snr": decibels(packet.snr), "rssi": decibels(packet.rssi, 0),
            "gateway": packet.gateway or DASH,
            "gateway_hint": t("lora.copies", count=packet.copies) if packet.copies > 1 else "",
            "frequency": DASH if packet.frequency is None else fmt.number(packet.frequency / 1e6, 1),
            "payload": packet.payload, "note": packet.error}


_CSS = """
.du-lora-table .q-table th:first-child, .du-lora-table .q-table td:first-child {
  position: sticky; left: 0; z-index: 1; background: #fff; }
.du-lora-table .q-table thead th:first-child { background: #f7f9fb; z-index: 2; }
.du-lora-table .q-table td { white-space: nowrap; }
.du-lora-table .du-payload { max-width: 16rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  font-family: ui-monospace, monospace; font-size: 12px; }
.du-lora-table .du-note { max-width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.du-lora-reset { color: #b44d12; }
"""


class LoraPage:
    def __init__(self, services: LoraServices, viewer: auth.Viewer, buildings: list[BuildingSummary],
                 problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.problems = problems
        self.state = State(buildings[0].id)
        self.table: LoraDevices | None = None
        self.log: LoraPacketLog | None = None
        self._request = 0

    async def load(self, state: State) -> None:
        """Fetch the device table and, when a device is open, its packets (services may refuse)."""
        table = await self.services.lora.devices(self.viewer.token, state.building, resources=state.resources,
                                                 roles=state.roles)
        log = None
        if state.device is not None:
            if state.device in {d.dev_eui for d in table.devices}:
                log, state = await self._packets(state)
            else:
                state = replace(state, device=None)
        self.state, self.table, self.log = state, table, log

    async def _packets(self, state: State) -> tuple[LoraPacketLog, State]:
        """The open device's page of packets; a page past the end gives the last page."""
        def fetch(page: int) -> Awaitable[LoraPacketLog]:
            return self.services.lora.packets(self.viewer.token, state.device or "", direction=state.direction,
                                              limit=state.size, offset=(page - 1) * state.size)
        log = await fetch(state.page)
        if log.total and (state.page - 1) * state.size >= log.total:
            state = replace(state, page=(log.total - 1) // state.size + 1)
            log = await fetch(state.page)
        return log, state

    # --- drawing -------------------------------------------------------------------------------------

    def render(self) -> None:
        ui.add_css(_CSS)
        with theme.frame(t("lora.title"), self.viewer.user, active=PATH, subtitle=t("lora.subtitle")):
            for problem in self.problems:
                widgets.warning(problem)
            self.controls()
            self.devices()
            self.packets()

    @ui.refreshable_method
    def controls(self) -> None:
        table, state = self.table, self.state
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            with ui.column().classes("gap-1"):
                ui.label(t("lora.building")).classes("du-kpi-label")
                ui.select({b.id: b.address for b in selection.city_buildings(self.buildings)} | (
                    {table.building.id: table.building.address} if table else {}), value=state.building,
                    on_change=lambda e: self._go(building=e.value) if e.value != self.state.building else None) \
                    .props("outlined dense").classes("min-w-[16rem] max-w-full").mark("lora-building")
            resources = table.resources if table else ()
            with ui.column().classes("gap-1"):
                ui.label(t("lora.resources")).classes("du-kpi-label")
                with ui.row().classes("gap-1"):
                    for resource in resources:
                        pressed = resource in state.resources
                        button = ui.button(fmt.resource(resource), icon=_ICONS[resource],
                                           on_click=lambda _e, r=resource: self._toggle_resource(r))
                        button.props("no-caps dense unelevated" + (" color=primary" if pressed else
                                                                   " outline color=grey-8"))
                        button.props(f'aria-pressed="{str(pressed).lower()}"').mark(f"lora-resource-{resource.value}")
            with ui.column().classes("gap-1"):
                ui.label(t("lora.roles")).classes("du-kpi-label")
                with ui.row().classes("gap-1"):
                    for role in (MeterRole.COMMON, MeterRole.INDIVIDUAL):
                        pressed = role in state.roles
                        ui.button(fmt.meter_role(role), icon=_ROLE_ICONS[role],
                                  on_click=lambda _e, r=role: self._toggle_role(r)).props(
                            "no-caps dense unelevated" + (" color=primary" if pressed else " outline color=grey-8")) \
                            .props(f'aria-pressed="{str(pressed).lower()}"').mark(f"lora-role-{role.value}")
            ui.label(t("lora.multi_hint")).classes("text-xs du-muted")

    @ui.refreshable_method
    def devices(self) -> None:
        table = self.table
        if table is None:
            return
        with theme.card(t("lora.devices")).mark("lora-devices"):
            if not table.devices:
                theme.message(t("lora.no_devices"))
                return
            ui.label(t("lora.click_hint", days=table.per_days)).classes("text-xs du-muted")
            ui.label(t("lora.scroll_hint")).classes("text-xs du-muted sm:hidden")
            columns = [_column("premise", t("lora.col.premise")), _column("meter", t("lora.col.meter")),
                       _column("dev_eui", t("lora.col.dev_eui")), _column("at", t("lora.col.at")),
                       _column("function", t("lora.col.function")), _column("f_cnt", t("lora.col.f_cnt"), True),
                       _column("per", t("lora.col.per"), True), _column("snr", t("lora.col.snr"), True),
                       _column("rssi", t("lora.col.rssi"), True), _column("gateway", t("lora.col.gateway"))]
            rows = [{**device_row(d, table.per_days, table.max_packets), "selected": d.dev_eui == self.state.device}
                    for d in table.devices]
            grid = ui.table(columns=columns, rows=rows, row_key="id", pagination=0).props(
                "flat dense separator=horizontal hide-pagination "
                """:table-row-class-fn="row => row.selected ? 'du-selected' : ''" """).classes(
                "du-table du-lora-table du-clickable w-full").mark("lora-table")
            grid.add_slot("body-cell-meter", '<q-td :props="props"><a class="du-link" :href="props.row.href" '
                                             '@click.stop>{{ props.value }}</a></q-td>')
            grid.add_slot("body-cell-per", '<q-td :props="props" :title="props.row.per_hint" '
                                           ':class="props.row.reset ? \'du-lora-reset\' : \'\'">'
                                           "{{ props.value }}</q-td>")
            grid.on("rowClick", self._row_click)

    @ui.refreshable_method
    def packets(self) -> None:
        log, state = self.log, self.state
        with theme.card().mark("lora-log"):
            if log is None:
                theme.message(t("lora.log.pick"), icon="touch_app")
                return
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(t("lora.log", dev_eui=log.dev_eui, meters=", ".join(log.meters) or DASH,
                           days=log.log_days)).classes("du-card-title").mark("lora-log-title")
                ui.button(t("lora.close"), icon="close", on_click=lambda: self._go(device="")).props(
                    "flat dense no-caps")
            ui.radio({d: t(f"lora.direction.{d}") for d in DIRECTIONS}, value=state.direction,
                     on_change=lambda e: self._go(direction=e.value, page=1) if e.value != self.state.direction
                     else None).props("inline").mark("lora-direction")
            with ui.row().classes("w-full gap-4"):
                widgets.kpi(t("lora.avg.per"), per_text(log.per), hint=per_hint(log.per, log.log_days,
                                                                                   log.max_packets),
                            marker="lora-avg-per")
                widgets.kpi(t("lora.avg.snr"), decibels(log.snr_avg, 2), hint=t("lora.avg.hint"),
                            marker="lora-avg-snr")
                widgets.kpi(t("lora.avg.rssi"), decibels(log.rssi_avg, 2), hint=t("lora.avg.hint"),
                            marker="lora-avg-rssi")
            if not log.total:
                theme.message(t("lora.log.empty", days=log.log_days))
                return
            first = log.offset + 1
            ui.label(t("lora.total", count=fmt.integer(log.total), first=first,
                       last=log.offset + len(log.packets))).classes("text-sm du-muted").mark("lora-total")
            ui.label(t("lora.scroll_hint")).classes("text-xs du-muted sm:hidden")
            columns = [_column("at", t("lora.col.at")), _column("f_cnt", t("lora.col.f_cnt"), True),
                       _column("function", t("lora.col.function")), _column("snr", t("lora.col.snr"), True),
                       _column("rssi", t("lora.col.rssi"), True), _column("gateway", t("lora.col.gateway")),
                       _column("frequency", t("lora.col.frequency"), True),
                       _column("payload", t("lora.col.payload"))]
            if any(p.error for p in log.packets):
                columns.append(_column("note", t("lora.col.note")))
            rows = [packet_row(log.offset + i, p) for i, p in enumerate(log.packets)]
            grid = ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
                "flat dense separator=horizontal hide-pagination").classes("du-table du-lora-table w-full").mark(
                "lora-packets")
            grid.add_slot("body-cell-payload", '<q-td :props="props"><div class="du-payload" :title="props.value">'
                                               "{{ props.value }}</div></q-td>")
            grid.add_slot("body-cell-note", '<q-td :props="props"><div class="du-note" :title="props.value">'
                                            "{{ props.value }}</div></q-td>")
            grid.add_slot("body-cell-gateway", '<q-td :props="props" :title="props.row.gateway_hint">'
                                               "{{ props.value }}</q-td>")
            pages = (log.total - 1) // state.size + 1
            with ui.row().classes("w-full items-center justify-between gap-4"):
                ui.pagination(1, pages, direction_links=True, value=state.page,
                              on_change=lambda e: self._go(page=e.value) if e.value != self.state.page else None) \
                    .props("max-pages=7 boundary-numbers").mark("lora-pagination")
                with ui.row().classes("items-center gap-2"):
                    ui.label(t("lora.page_size")).classes("text-sm du-muted")
                    ui.select(list(PAGE_SIZES), value=state.size,
                              on_change=lambda e: self._go(size=e.value, page=1) if e.value != self.state.size
                              else None).props("outlined dense").mark("lora-page-size")

    # --- actions -------------------------------------------------------------------------------------

    async def _row_click(self, event: Any) -> None:
        row = event.args[1] if isinstance(event.args, list) and len(event.args) > 1 else None
        if isinstance(row, dict) and isinstance(row.get("dev_eui"), str):
            await self._go(device=row["dev_eui"], direction="up", page=1)

    async def _toggle_resource(self, resource: Resource) -> None:
        pressed = self.state.resources
        await self._go(resources=tuple(r for r in pressed if r != resource) if resource in pressed
                       else (*pressed, resource))

    async def _toggle_role(self, role: MeterRole) -> None:
        pressed = self.state.roles
        await self._go(roles=tuple(r for r in pressed if r != role) if role in pressed else (*pressed, role))

    async def _go(self, *, building: int | None = None, resources: tuple[Resource, ...] | None = None,
                  roles: tuple[MeterRole, ...] | None = None, device: str | None = None,
                  direction: str | None = None, size: int | None = None, page: int | None = None) -> None:
        """Show another state: load it (with the progress bar), redraw, and put it in the address bar."""
        s = self.state
        if building is not None and building != s.building:  # another building offers other resources
            s = State(s.building, roles=s.roles, size=s.size)
        new = State(building if building is not None else s.building,
                    s.resources if resources is None else resources, s.roles if roles is None else roles,
                    (None if building is not None else s.device) if device is None else (device or None),
                    direction or s.direction, size or s.size, page or s.page)
        self._request += 1
        request = self._request
        async with theme.working():
            loaded = await auth.attempt(self._load(new))
        if loaded is None or request != self._request:
            return
        self.problems = []
        selection.remember(building_id=self.state.building)
        self.controls.refresh()
        self.devices.refresh()
        self.packets.refresh()
        ui.navigate.history.replace(url(self.state))

    async def _load(self, state: State) -> bool:
        """``load`` for ``auth.attempt``, which tells a refusal apart by a None."""
        await self.load(state)
        return True


def _column(name: str, label: str, numeric: bool = False) -> dict[str, object]:
    return {"name": name, "label": label, "field": name, "align": "right" if numeric else "left"}
