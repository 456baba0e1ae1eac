"""Page «Связь» (manual 4.5.6): the company's communicators as tiles (name and serial, connection type,
built-in or external, the line's settings, building, meters served), filtered by building, connection
type and placement; dispatchers and engineers add and edit one in a dialog that asks TCP host and port,
GPRS two identifiers (and says which polling server address to set), or LoRa DevEUI, class and LoRaWAN
version, and shows the service's refusal of a field next to the form. Route (registered by
ui/wizard_page.py): /service/communicators. Tests: tests/ui/test_wizard_ui.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nicegui import ui

from cloud.services.communicators import CommunicatorInfo, CommunicatorSpec
from cloud.services.models import BuildingSummary

from . import auth, theme
from .i18n import extend, t
from .wizard_common import (
    COMMUNICATORS_PATH,
    WizardServices,
    attempt_here,
    error_label,
    line_fields,
    line_text,
    may_write,
    to_int,
)

extend({
    "lines.title": ("Связь", "Communication"),
    "lines.subtitle": ("Узлы связи с приборами учёта: TCP, GPRS и LoRa; встроенные и внешние.",
                       "The meters' communication nodes: TCP, GPRS and LoRa; built-in and external."),
    "lines.add": ("Добавить коммуникатор", "Add a communicator"),
    "lines.edit": ("Изменить коммуникатор", "Edit the communicator"),
    "lines.empty": ("Коммуникаторов нет.", "No communicators."),
    "lines.filter.building": ("Объект", "Building"),
    "lines.filter.kind": ("Тип соединения", "Connection"),
    "lines.filter.placement": ("Расположение", "Placement"),
    "lines.all": ("все", "all"),
    "lines.kind.tcp": ("TCP порт", "TCP port"),
    "lines.kind.gprs": ("GPRS", "GPRS"),
    "lines.kind.lora": ("LoRa", "LoRa"),
    "lines.placement.builtin": ("встроенный", "built-in"),
    "lines.placement.external": ("внешний", "external"),
    "lines.name": ("Название коммуникатора", "Name"),
    "lines.serial": ("Серийный номер", "Serial"),
    "lines.building.none": ("не привязан к объекту", "no building"),
    "lines.host": ("IP-адрес или имя хоста", "IP address or host"),
    "lines.port": ("TCP-порт", "TCP port"),
    "lines.imei": ("Идентификатор 1: IMEI модема", "Identifier 1: modem IMEI"),
    "lines.iccid": ("Идентификатор 2: ICCID SIM-карты", "Identifier 2: SIM ICCID"),
    "lines.phone": ("или номер SIM-карты", "or the SIM's number"),
    "lines.gprs_hint": ("Настройте GPRS-коммуникатор на адрес сервера опроса: {address}",
                        "Set the GPRS communicator to the polling server address: {address}"),
    "lines.dev_eui": ("DevEUI", "DevEUI"),
    "lines.class": ("Класс устройства", "Device class"),
    "lines.version": ("Версия LoRaWAN", "LoRaWAN version"),
    "lines.meters": ("Приборов: {count}", "Meters: {count}"),
    "lines.save": ("Сохранить", "Save"),
    "lines.saved": ("Коммуникатор сохранён", "Communicator saved"),
})


# --- communicators (4.5.6) -------------------------------------------------------------------------------

class CommunicatorsPage:
    def __init__(self, services: WizardServices, viewer: auth.Viewer, host: str) -> None:
        self.services = services
        self.viewer = viewer
        self.host = host
        self.items: list[CommunicatorInfo] = []
        self.buildings: list[BuildingSummary] = []
        self.building: int | None = None
        self.kind: str | None = None
        self.placement: str | None = None

    async def load(self) -> None:
        self.items = await self.services.communicators.list(self.viewer.token)
        self.buildings = await self.services.accounting.buildings(self.viewer.token)

    def render(self) -> None:
        with theme.frame(t("lines.title"), self.viewer.user, active=COMMUNICATORS_PATH, subtitle=t("lines.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        with theme.card(), ui.row().classes("w-full items-end gap-2"):
            ui.select({0: t("lines.all"), **{b.id: b.address for b in self.buildings}},
                      label=t("lines.filter.building"), value=self.building or 0,
                      on_change=lambda e: self._filter("building", e.value or None)) \
                .props("outlined dense").classes("flex-1 min-w-[12rem]").mark("lines-building")
            ui.select({"": t("lines.all"), **{k: t(f"lines.kind.{k}") for k in ("tcp", "gprs", "lora")}},
                      label=t("lines.filter.kind"), value=self.kind or "",
                      on_change=lambda e: self._filter("kind", e.value or None)).props("outlined dense") \
                .classes("min-w-[8rem]").mark("lines-kind")
            ui.select({"": t("lines.all"), **{p: t(f"lines.placement.{p}") for p in ("builtin", "external")}},
                      label=t("lines.filter.placement"), value=self.placement or "",
                      on_change=lambda e: self._filter("placement", e.value or None)).props("outlined dense") \
                .classes("min-w-[8rem]").mark("lines-placement")
            if may_write(self.viewer):
                ui.button(t("lines.add"), icon="add", on_click=lambda: self._dialog(None)) \
                    .props("unelevated no-caps").mark("lines-add")
        shown = [c for c in self.items if (self.building is None or c.spec.building_id == self.building)
                 and (self.kind is None or c.spec.kind == self.kind)
                 and (self.placement is None or c.spec.placement == self.placement)]
        if not shown:
            with theme.card():
                theme.message(t("lines.empty"))
            return
        addresses = {b.id: b.address for b in self.buildings}
        with ui.element("div").classes("grid w-full gap-3 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3"):
            for c in shown:
                self._tile(c, addresses)

    def _tile(self, c: CommunicatorInfo, addresses: dict[int, str]) -> None:
        s = c.spec
        icon = {"tcp": "lan", "gprs": "sim_card", "lora": "cell_tower"}[s.kind]
        with ui.card().classes("du-card p-4 gap-1").props("flat").mark(f"line-{c.id}"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                    ui.icon(icon, size="20px").classes("text-primary")
                    ui.label(s.name or s.serial or f"#{c.id}").classes("font-semibold truncate")
                if may_write(self.viewer):
                    ui.button(icon="edit", on_click=lambda x=c: self._dialog(x)) \
                        .props(f'flat round dense aria-label="{t("lines.edit")}"') \
                        .tooltip(t("lines.edit")).mark(f"line-edit-{c.id}")
            ui.label(f"{t(f'lines.kind.{s.kind}')} · {t(f'lines.placement.{s.placement}')}"
                     + (f" · № {s.serial}" if s.serial else "")).classes("text-xs du-muted")
            ui.label(line_text(c)).classes("text-sm break-words")
            ui.label(addresses.get(s.building_id or 0, t("lines.building.none"))).classes("text-xs du-muted")
            ui.label(t("lines.meters", count=len(c.meter_ids))).classes("text-xs du-muted")

    async def _filter(self, name: str, value: Any) -> None:
        setattr(self, name, value)
        self.body.refresh()

    def _dialog(self, current: CommunicatorInfo | None) -> None:
        spec = current.spec if current else CommunicatorSpec("tcp", "external")
        values: dict[str, Any] = {k: getattr(spec, k) if getattr(spec, k) is not None else ""
                                  for k in CommunicatorSpec.__slots__}  # type: ignore[attr-defined]
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("lines-dialog"):
            ui.label(t("lines.edit") if current else t("lines.add")).classes("du-card-title")

            def field(key: str, label: str, *, number: bool = False) -> None:
                ui.input(label, value=str(values.get(key) or ""),
                         on_change=lambda e: values.__setitem__(key, e.value or "")) \
                    .props("outlined dense" + (" type=number" if number else "")).classes("w-full") \
                    .mark(f"lines-{key}")

            def kind(value: str) -> None:
                values["kind"] = value
                form.refresh()

            @ui.refreshable
            def form() -> None:
                ui.select({b.id: b.address for b in self.buildings}, label=t("lines.filter.building"),
                          value=values.get("building_id") or None, clearable=True,
                          on_change=lambda e: values.__setitem__("building_id", e.value)) \
                    .props("outlined dense").classes("w-full").mark("lines-form-building")
                field("name", t("lines.name"))
                field("serial", t("lines.serial"))
                ui.select({p: t(f"lines.placement.{p}") for p in ("builtin", "external")},
                          label=t("lines.filter.placement"), value=values["placement"],
                          on_change=lambda e: values.__setitem__("placement", e.value)).props("outlined dense") \
                    .classes("w-full").mark("lines-form-placement")
                ui.select({k: t(f"lines.kind.{k}") for k in ("tcp", "gprs", "lora")}, label=t("lines.filter.kind"),
                          value=values["kind"], on_change=lambda e: kind(e.value)) \
                    .props("outlined dense").classes("w-full").mark("lines-form-kind")
                line_fields(values, values["kind"], field)
                if values["kind"] == "gprs":
                    ui.label(t("lines.gprs_hint", address=self.host)).classes("text-xs du-muted break-words")

            form()
            error = error_label("lines-error")

            async def save() -> None:
                clean = CommunicatorSpec(
                    values["kind"], values["placement"], serial=str(values.get("serial") or ""),
                    host=values.get("host") or None, port=to_int(values.get("port")), imei=values.get("imei") or None,
                    iccid=values.get("iccid") or None, phone=values.get("phone") or None,
                    dev_eui=values.get("dev_eui") or None, lora_class=values.get("lora_class") or None,
                    lorawan_version=values.get("lorawan_version") or None, name=str(values.get("name") or ""),
                    building_id=values.get("building_id") or None)
                if values["kind"] == "lora":
                    clean = replace(clean, lora_class=clean.lora_class or "A",
                                    lorawan_version=clean.lorawan_version or "1.0.2")
                call = self.services.communicators.update(self.viewer.token, current.id, clean) if current \
                    else self.services.communicators.create(self.viewer.token, clean)
                async with theme.working():
                    done = await attempt_here(call, error)
                if done is None:
                    return
                dialog.close()
                ui.notify(t("lines.saved"), type="positive")
                self.items = await self.services.communicators.list(self.viewer.token)
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("wizard.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("lines.save"), on_click=save).props("unelevated no-caps").mark("lines-save")
        dialog.open()
