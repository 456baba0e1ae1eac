"""Section «Настройки», page «Реле мощности» (manual 4.6.11): a city's default relay threshold and each
building's own, in watts; the power limitation (ui/power_page.py) sends the one in force. Texts are
ui/power_page.py's."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.power_limits import BuildingThreshold, CityThreshold, RelayThresholds, ThresholdChange
from cloud.services.power_rules import MAX_THRESHOLD_W, MIN_THRESHOLD_W

from . import access, auth, fmt, pages, theme
from .i18n import t
from .power_page import SETTINGS_PATH, TABLE_CSS, PowerServices, attempt, header_row, problem


def register(services: PowerServices) -> None:
    """Register /settings/relays."""

    @ui.page(SETTINGS_PATH, response_timeout=30.0)
    async def relays_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=SETTINGS_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = RelaysPage(services, viewer)
        if await pages.explained(viewer.user, page.load(), not_found=t("power.relays.no_buildings"),
                                 active=SETTINGS_PATH):
            page.render()
        return None


# --- /settings/relays ----------------------------------------------------------------------------------

def _watts(text: object) -> int | str | None:
    """A field's value as whole watts, None when empty, or "bad"."""
    raw = str(text if text is not None else "").strip().replace("\u00a0", "").replace(" ", "")
    if not raw:
        return None
    if not raw.isdigit():
        return "bad"
    value = int(raw)
    return value if MIN_THRESHOLD_W <= value <= MAX_THRESHOLD_W else "bad"


class RelaysPage:
    def __init__(self, services: PowerServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.table: RelayThresholds | None = None
        self.edits: dict[int, str] = {}  # building id -> the typed text, while not saved
        self.city_edits: dict[int, str] = {}

    @property
    def may_change(self) -> bool:
        return access.may_change_settings(self.viewer.user)

    async def load(self) -> None:
        self.table = await self.services.power.thresholds(self.viewer.token)

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("power.relays.title"), self.viewer.user, active=SETTINGS_PATH,
                         subtitle=t("power.relays.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        table = self.table
        if table is None:
            return
        ui.add_css(TABLE_CSS)
        bounds = t("power.relays.bounds", low=fmt.integer(table.min_w), high=fmt.integer(table.max_w))
        with theme.card(t("power.relays.cities")):
            if not table.cities:
                theme.message(t("power.relays.no_cities"))
            for city in table.cities:
                self._city(city)
        with theme.card(t("power.relays.buildings")):
            if self.may_change:
                ui.label(bounds).classes("text-xs du-muted")
            if not table.buildings:
                theme.message(t("power.relays.no_buildings"))
                return
            self.error = ui.label("").classes("text-sm text-[#c2413b] break-words").mark("relays-error")
            self.error.visible = False
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-power w-full min-w-[520px]").mark("relays-table"):
                header_row(("power.relays.col.building", "power.relays.col.own", "power.relays.col.in_force"))
                for b in table.buildings:
                    self._building(b)
            if self.may_change:
                with ui.row().classes("w-full justify-end gap-2 items-center"):
                    ui.label(t("power.relays.changed", count=len(self.edits))).classes("text-sm du-muted") \
                        .mark("relays-changed")
                    ui.button(t("power.relays.revert"), on_click=self._revert).props("flat no-caps")
                    ui.button(t("power.relays.save_all"), icon="save", on_click=self._confirm_buildings) \
                        .props("unelevated no-caps").mark("relays-save")

    def _city(self, city: CityThreshold) -> None:
        with ui.row().classes("w-full items-center gap-3 flex-wrap").mark(f"relays-city-{city.city_id}"):
            ui.label(city.city).classes("font-medium min-w-[8rem]")
            if not self.may_change:
                ui.label(fmt.integer(city.threshold_w) if city.threshold_w else t("power.relays.unset")) \
                    .mark(f"relays-city-value-{city.city_id}")
            else:
                field = ui.input(t("power.relays.col.default"), value=self.city_edits.get(
                    city.city_id, str(city.threshold_w) if city.threshold_w else "")) \
                    .props("outlined dense inputmode=numeric").classes("w-40").mark(f"relays-city-input-{city.city_id}")
                error = ui.label("").classes("text-xs text-[#c2413b]")
                error.visible = False
                ui.button(t("power.relays.save"), on_click=lambda: self._save_city(city, field, error)) \
                    .props("unelevated dense no-caps").mark(f"relays-city-save-{city.city_id}")
            if city.updated_at is not None:
                ui.label(f"{t('power.relays.col.updated')}: {fmt.moment(city.updated_at)}, {city.updated_by or '—'}") \
                    .classes("text-xs du-muted")

    def _building(self, b: BuildingThreshold) -> None:
        with ui.element("tr").mark(f"relays-row-{b.building_id}"):
            with ui.element("td").classes("max-w-[16rem]"):
                ui.label(b.address).classes("truncate").tooltip(b.address)
                ui.label(b.city).classes("text-xs du-muted")
            with ui.element("td"):
                if self.may_change:
                    typed = self.edits.get(b.building_id, str(b.own_w) if b.own_w else "")
                    field = ui.input(placeholder=t("power.relays.placeholder"), value=typed,
                                     on_change=lambda e, i=b.building_id, own=b.own_w: self._edit(i, own, e.value)) \
                        .props("outlined dense inputmode=numeric").classes("w-36") \
                        .mark(f"relays-input-{b.building_id}")
                    field.props["aria-label"] = f"{t('power.relays.col.own')}: {b.address}"  # its column, its row
                else:
                    ui.label(fmt.integer(b.own_w) if b.own_w else t("power.relays.placeholder")) \
                        .classes("" if b.own_w else "du-muted")
            with ui.element("td"):
                ui.label(fmt.integer(b.threshold_w) if b.threshold_w else t("power.relays.unset")) \
                    .classes("" if b.source == "building" else "du-muted").mark(f"relays-in-force-{b.building_id}")

    def _edit(self, building_id: int, own: int | None, text: str) -> None:
        if (text or "").strip() == (str(own) if own else ""):
            self.edits.pop(building_id, None)
        else:
            self.edits[building_id] = text or ""

    def _revert(self) -> None:
        self.edits.clear()
        self.body.refresh()

    async def _save_city(self, city: CityThreshold, field: ui.input, error: ui.label) -> None:
        value = _watts(field.value)
        if value == "bad":
            problem(error, t("power.relays.bad", field=city.city, low=MIN_THRESHOLD_W, high=MAX_THRESHOLD_W))
            return
        error.visible = False
        async with theme.working():
            done = await attempt(self.services.power.set_city_threshold(
                self.viewer.token, city.city_id, value if isinstance(value, int) else None), error)
        if done is not None:
            ui.notify(t("power.relays.saved"), type="positive")
            await self.reload()

    def _confirm_buildings(self) -> None:
        table = self.table
        if table is None:
            return
        names = {b.building_id: b.address for b in table.buildings}
        changes: list[ThresholdChange] = []
        for building_id, text in self.edits.items():
            value = _watts(text)
            if value == "bad":
                problem(self.error, t("power.relays.bad", field=names.get(building_id, building_id),
                                       low=MIN_THRESHOLD_W, high=MAX_THRESHOLD_W))
                return
            changes.append(ThresholdChange(building_id, value if isinstance(value, int) else None))
        if not changes:
            return
        self.error.visible = False
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("relays-confirm"):
            ui.label(t("power.relays.confirm")).classes("break-words")

            async def save() -> None:
                async with theme.working():
                    done = await attempt(self.services.power.set_building_thresholds(self.viewer.token, changes),
                                         self.error)
                dialog.close()
                if done is not None:
                    self.edits.clear()
                    ui.notify(t("power.relays.saved"), type="positive")
                    await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("power.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("power.relays.save"), on_click=save).props("unelevated no-caps").mark("relays-confirm-yes")
        dialog.open()


# --- registration ------------------------------------------------------------------------------------
