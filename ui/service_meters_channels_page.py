"""Section «Сервис», a meter's measuring channels (manual 4.5.3): simple and composite channels, the
resource number, the sensors bound to each; a dispatcher changes them, each change confirmed.
Texts, the service protocol and the refusal wording are ui/service_meters_page.py's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound
from cloud.services.service_meters import MeasuringChannel, MeterChannels, SensorInfo
from cloud.services.service_meters_rules import Member

from . import auth, errors, fmt, pages, theme
from .i18n import t
from .ports import Services
from .service_meters_page import (
    PATH,
    RED,
    SENSOR_KINDS,
    ServiceMetersServices,
    closing_dialog,
    russian,
)


def register(services: Services) -> None:
    """Register /service/meters/{id}/channels."""
    mine = cast(ServiceMetersServices, services)

    @ui.page(PATH + "/{meter_id}/channels", response_timeout=30.0)
    async def service_meter_channels_page(request: Request, meter_id: int) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = ChannelsPage(mine, viewer, meter_id)
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=PATH):
            page.render()
        return None


# --- /service/meters/{id}/channels (4.5.3) --------------------------------------------------------

def _channel_name(c: MeasuringChannel) -> str:
    return f"{t('service_meters.ch.resource', resource=fmt.resource(c.resource), number=c.resource_number)}, " \
           f"{c.parameter}"


def _member_text(members: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{name} — {quantity}" for name, quantity in members)


class ChannelsPage:
    def __init__(self, services: ServiceMetersServices, viewer: auth.Viewer, meter_id: int) -> None:
        self.services = services
        self.viewer = viewer
        self.meter_id = meter_id
        self.data: MeterChannels | None = None
        self.dialogs: ui.element  # made by render()
        self.sensor_id: int | None = None  # the sensor tile opened
        self.channel_id: int | None = None  # the channel tile opened

    async def load(self) -> None:
        self.data = await self.services.service_meters.channels(self.viewer.token, self.meter_id)

    async def reload(self) -> None:
        async with theme.working():
            found = await auth.attempt(self.services.service_meters.channels(self.viewer.token, self.meter_id))
        if found is not None:
            self.data = found
        self.body.refresh()

    def render(self) -> None:
        data = self.data
        if data is None:
            return
        with theme.frame(t("service_meters.ch.title", serial=data.serial), self.viewer.user, active=PATH,
                         subtitle=t("service_meters.ch.subtitle"),
                         crumbs=[(t("service_meters.ch.crumb"), PATH),
                                 (t("service_meters.ch.meter", serial=data.serial), f"{PATH}/{data.meter_id}")]):
            self.dialogs = ui.element("div")  # dialogs live here, outside the body a refresh redraws
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if data is None:
            return
        with theme.card():
            ui.label(f"{data.model} · {t(f'service_meters.role.{data.role.value}')} · "
                     + (t("service_meters.ch.place", address=data.address, number=data.premise_number)
                        if data.premise_number else data.address)).classes("text-sm break-words")
            if data.status == "decommissioned":
                theme.message(t("service_meters.ch.decommissioned"), icon="block", color=RED)
            elif not data.may_edit:
                theme.message(t("service_meters.ch.readonly"), icon="lock")
        self._sensors(data)
        self._channels(data)

    # --- sensors ----------------------------------------------------------------------------------

    def _sensors(self, data: MeterChannels) -> None:
        with theme.card().mark("sm-sensors"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("service_meters.ch.sensors")).classes("du-card-title")
                if data.may_edit_sensors:
                    ui.button(t("service_meters.ch.add_sensor"), icon="add", on_click=self._sensor_dialog) \
                        .props("flat no-caps dense").mark("sm-add-sensor")
            if not data.sensors:
                theme.message(t("service_meters.ch.sensors.empty"))
                return
            with ui.element("div").classes("grid w-full gap-3 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3"):
                for s in data.sensors:
                    self._sensor_tile(s)
            opened = next((s for s in data.sensors if s.id == self.sensor_id), None)
            if opened is not None:
                self._binding(data, opened)

    def _sensor_tile(self, s: SensorInfo) -> None:
        chosen = s.id == self.sensor_id
        box = ui.card().classes("du-card du-plashka p-3 gap-1 min-w-0" + (" ring-2 ring-[#1d4f7c]" if chosen else "")) \
            .props("flat").mark(f"sm-sensor-{s.serial}")
        box.on("click", lambda _=None, i=s.id: self._open_sensor(i))
        with box:
            ui.label(t(f"service_meters.ch.sensor.kind.{s.kind}")).classes("text-xs font-semibold du-muted")
            ui.label(s.serial).classes("text-base font-semibold break-all")
            if s.model:
                ui.label(t("service_meters.ch.sensor.model", model=s.model)).classes("text-xs du-muted")
            if s.verified_on:
                ui.label(t("service_meters.ch.sensor.verified", day=fmt.day(s.verified_on))).classes("text-xs")
            if s.next_verification_on:
                late = s.verification_overdue
                ui.label(t("service_meters.next_overdue" if late else "service_meters.next",
                           day=fmt.day(s.next_verification_on))) \
                    .classes("text-xs" + (" text-[#c2413b]" if late else ""))
            ui.label(t("service_meters.ch.sensor.channels", count=len(s.channel_ids))).classes("text-xs du-muted")

    def _open_sensor(self, sensor_id: int) -> None:
        self.sensor_id = None if self.sensor_id == sensor_id else sensor_id
        self.channel_id = None
        self.body.refresh()

    def _binding(self, data: MeterChannels, sensor: SensorInfo) -> None:
        """The sensor's channels; a dispatcher ticks channels and quantities and saves after a confirmation."""
        allowed = data.sensor_quantities[sensor.kind]
        current = {m_channel.id: next(m.quantity for m in m_channel.members if m.sensor_id == sensor.id)
                   for m_channel in data.channels if any(m.sensor_id == sensor.id for m in m_channel.members)}
        with ui.column().classes("w-full gap-2 border-t pt-3").mark("sm-binding"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(f"{t('service_meters.ch.bound')}: {sensor.serial}").classes("font-semibold break-all")
                if data.may_edit_sensors and not sensor.channel_ids:
                    ui.button(t("service_meters.ch.remove_sensor"), icon="delete",
                              on_click=lambda: self._confirm_remove(sensor)) \
                        .props("flat no-caps dense color=negative").mark("sm-remove-sensor")
            if not data.may_edit:
                if not current:
                    theme.message(t("service_meters.ch.bound.none"))
                for c in data.channels:
                    if c.id in current:
                        ui.label(f"{_channel_name(c)} — {current[c.id]}").classes("text-sm")
                return
            if not data.channels:
                theme.message(t("service_meters.ch.channels.empty"))
                return
            ticks: dict[int, tuple[ui.checkbox, ui.select]] = {}
            for c in data.channels:
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    box = ui.checkbox(_channel_name(c), value=c.id in current).props("dense") \
                        .classes("min-w-0").mark(f"sm-bind-{c.id}")
                    quantity = ui.select(list(allowed), value=current.get(c.id, allowed[0])) \
                        .props("outlined dense").classes("w-24").mark(f"sm-bind-q-{c.id}")
                    ticks[c.id] = (box, quantity)

            def confirm() -> None:
                bindings = [(cid, str(q.value)) for cid, (box, q) in ticks.items() if box.value]
                names = ", ".join(f"{_channel_name(c)} ({dict(bindings)[c.id]})" for c in data.channels
                                  if c.id in dict(bindings)) or t("service_meters.ch.bind.none")
                self._confirm(t("service_meters.ch.bind.confirm", serial=sensor.serial, names=names),
                              lambda: self.services.service_meters.bind_sensor(self.viewer.token, sensor.id, bindings),
                              t("service_meters.ch.bind.saved"))
            ui.button(t("service_meters.ch.bind.save"), icon="link", on_click=confirm) \
                .props("unelevated no-caps").mark("sm-bind-save")

    def _sensor_dialog(self) -> None:
        with self.dialogs, closing_dialog() as dialog, theme.card().classes("max-w-md").mark("sm-sensor-dialog"):
            ui.label(t("service_meters.ch.add_sensor")).classes("du-card-title")
            kind = ui.select({k: t(f"service_meters.ch.sensor.kind.{k}") for k in SENSOR_KINDS},
                             label=t("service_meters.ch.sensor.form.kind")).props("outlined dense") \
                .classes("w-full").mark("sm-sensor-kind")
            serial = ui.input(t("service_meters.ch.sensor.form.serial")).props("outlined dense maxlength=32") \
                .classes("w-full").mark("sm-sensor-serial")
            model = ui.input(t("service_meters.ch.sensor.form.model")).props("outlined dense maxlength=64") \
                .classes("w-full").mark("sm-sensor-model")
            verified = ui.input(t("service_meters.ch.sensor.form.verified")).props("outlined dense type=date") \
                .classes("w-full").mark("sm-sensor-verified")
            upcoming = ui.input(t("service_meters.ch.sensor.form.next")).props("outlined dense type=date") \
                .classes("w-full").mark("sm-sensor-next")
            problem = ui.label("").classes("text-sm text-[#c2413b] break-words").mark("sm-sensor-problem")

            def day_of(field: ui.input) -> date | None:
                text = (field.value or "").strip()
                if not text:
                    return None
                try:
                    return date.fromisoformat(text)
                except ValueError:
                    field.props("error error-message='" + t("service_meters.ch.sensor.form.bad_date") + "'")
                    raise

            async def save() -> None:
                problem.text = ""
                if not kind.value:
                    problem.text = t("service_meters.ch.sensor.form.need_kind")
                    return
                if not (serial.value or "").strip():
                    problem.text = t("service_meters.ch.sensor.form.need_serial")
                    return
                try:
                    verified_on, next_on = day_of(verified), day_of(upcoming)
                except ValueError:
                    problem.text = t("service_meters.ch.sensor.form.bad_date")
                    return
                async with theme.working():
                    try:
                        await russian(self.services.service_meters.add_sensor(
                            self.viewer.token, self.meter_id, kind=str(kind.value), serial=serial.value.strip(),
                            model=(model.value or "").strip(), verified_on=verified_on,
                            next_verification_on=next_on))
                    except InvalidInput as error:
                        problem.text = str(error)
                        return
                ui.notify(t("service_meters.ch.sensor.added"), type="positive")
                await self.reload()
                dialog.close()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("service_meters.ch.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("service_meters.ch.form.save"), on_click=save).props("unelevated no-caps") \
                    .mark("sm-sensor-save")
        dialog.open()

    def _confirm_remove(self, sensor: SensorInfo) -> None:
        async def remove() -> None:
            await self.services.service_meters.remove_sensor(self.viewer.token, sensor.id)
            self.sensor_id = None
        self._confirm(t("service_meters.ch.remove_confirm", serial=sensor.serial), remove,
                      t("service_meters.ch.removed"), danger=True)

    # --- channels ---------------------------------------------------------------------------------

    def _channels(self, data: MeterChannels) -> None:
        with theme.card().mark("sm-channels"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("service_meters.ch.channels")).classes("du-card-title")
                if data.may_edit:
                    ui.button(t("service_meters.ch.add_channel"), icon="add",
                              on_click=lambda: self._channel_dialog(None)).props("flat no-caps dense") \
                        .mark("sm-add-channel")
            if not data.channels:
                theme.message(t("service_meters.ch.channels.empty"))
                return
            with ui.element("div").classes("grid w-full gap-3 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3"):
                for c in data.channels:
                    self._channel_tile(data, c)

    def _channel_tile(self, data: MeterChannels, c: MeasuringChannel) -> None:
        chosen = c.id == self.channel_id
        with ui.card().classes("du-card p-3 gap-1 min-w-0" + (" ring-2 ring-[#1d4f7c]" if chosen else "")) \
                .props("flat"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.label(t(f"service_meters.ch.kind.{c.kind}")).classes("text-xs font-semibold du-muted") \
                    .mark(f"sm-channel-kind-{c.id}-{c.kind}")
                if data.may_edit:
                    with ui.row().classes("gap-0 no-wrap"):
                        ui.button(icon="edit", on_click=lambda _=None, ch=c: self._channel_dialog(ch)) \
                            .props(f'flat round dense size=sm aria-label="{t("service_meters.ch.edit_channel")}"') \
                            .tooltip(t("service_meters.ch.edit_channel")) \
                            .mark(f"sm-edit-channel-{c.id}")
                        tip = t("service_meters.ch.delete_channel")
                        ui.button(icon="delete", on_click=lambda _=None, ch=c: self._confirm_delete(ch)) \
                            .props(f'flat round dense size=sm color=negative aria-label="{tip}"') \
                            .tooltip(tip).mark(f"sm-delete-channel-{c.id}")
            box = ui.column().classes("du-plashka w-full gap-1 cursor-pointer").mark(f"sm-channel-{c.id}")
            box.on("click", lambda _=None, i=c.id: self._open_channel(i))
            with box:
                ui.label(_channel_name(c)).classes("text-base font-semibold break-words")
                ui.label(t("service_meters.ch.device", number=c.device_channel) if c.device_channel is not None
                         else t("service_meters.ch.device_missing")) \
                    .classes("text-xs" + (" du-muted" if c.device_channel is not None else " text-[#c2413b]"))
                if chosen:
                    ui.label(t("service_meters.ch.instruments")).classes("text-xs font-semibold mt-1")
                    for m in c.members:
                        name = t("service_meters.ch.meter_itself") if m.sensor_id is None else m.serial
                        ui.label(f"{name} — {m.quantity}").classes("text-sm break-all") \
                            .mark(f"sm-member-of-{c.id}")

    def _open_channel(self, channel_id: int) -> None:
        self.channel_id = None if self.channel_id == channel_id else channel_id
        self.sensor_id = None
        self.body.refresh()

    def _channel_dialog(self, channel: MeasuringChannel | None) -> None:
        """Add (``channel`` None) or edit a channel; saved after an explicit confirmation."""
        data = self.data
        if data is None:
            return
        resources = {f"{d.resource.value}:{d.resource_number}": t("service_meters.ch.resource",
                                                                  resource=fmt.resource(d.resource),
                                                                  number=d.resource_number)
                     for d in data.device_channels}
        params = {f"{d.resource.value}:{d.resource_number}": list(d.parameters) for d in data.device_channels}
        current = {m.sensor_id: m.quantity for m in channel.members} if channel else {}
        with self.dialogs, closing_dialog() as dialog, theme.card().classes("max-w-lg").mark("sm-channel-dialog"):
            ui.label(t("service_meters.ch.edit_channel" if channel else "service_meters.ch.add_channel")) \
                .classes("du-card-title")
            key = f"{channel.resource.value}:{channel.resource_number}" if channel else None
            resource = ui.select(resources, value=key if key in resources else None,
                                 label=t("service_meters.ch.form.resource")).props("outlined dense") \
                .classes("w-full").mark("sm-channel-resource")
            parameter = ui.select(params.get(key or "", []), value=channel.parameter if channel else None,
                                  label=t("service_meters.ch.form.parameter")).props("outlined dense") \
                .classes("w-full").mark("sm-channel-parameter")
            resource.on_value_change(lambda e: (parameter.set_options(params.get(e.value or "", [])),
                                                parameter.set_value(None)))
            ui.label(t("service_meters.ch.form.instruments")).classes("text-sm font-semibold")
            rows: list[tuple[int | None, ui.checkbox, ui.select]] = []
            device_params = sorted({p for d in data.device_channels for p in d.parameters})
            instruments: list[tuple[int | None, str, list[str]]] = [
                (None, f"{t('service_meters.ch.meter_itself')} ({data.serial})", device_params)]
            instruments += [(s.id, f"{t(f'service_meters.ch.sensor.kind.{s.kind}')} {s.serial}",
                             list(data.sensor_quantities[s.kind])) for s in data.sensors]
            for sensor_id, name, quantities in instruments:
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    box = ui.checkbox(name, value=sensor_id in current).props("dense").classes("min-w-0 break-all") \
                        .mark(f"sm-member-{sensor_id or 'meter'}")
                    quantity = ui.select(quantities, value=current.get(sensor_id, quantities[0])) \
                        .props("outlined dense").classes("w-24").mark(f"sm-member-q-{sensor_id or 'meter'}")
                rows.append((sensor_id, box, quantity))
            problem = ui.label("").classes("text-sm text-[#c2413b] break-words").mark("sm-channel-problem")

            async def write(members: list[Member], chosen_resource: str, number: int, chosen_parameter: str) -> None:
                service = self.services.service_meters
                if channel is None:
                    await service.create_channel(self.viewer.token, self.meter_id, resource=chosen_resource,
                                                 resource_number=number, parameter=chosen_parameter, members=members)
                else:
                    await service.update_channel(self.viewer.token, channel.id, resource=chosen_resource,
                                                 resource_number=number, parameter=chosen_parameter, members=members)

            def save() -> None:
                problem.text = ""
                if not resource.value:
                    problem.text = t("service_meters.ch.form.need_resource")
                    return
                if not parameter.value:
                    problem.text = t("service_meters.ch.form.need_parameter")
                    return
                members = [Member(sid, str(q.value)) for sid, box, q in rows if box.value and q.value]
                if not members:
                    problem.text = t("service_meters.ch.form.need_member")
                    return
                chosen_resource, number = str(resource.value).split(":")
                names = {sid: name for sid, name, _ in instruments}
                text = t("service_meters.ch.confirm.channel",
                         name=f"{resources[str(resource.value)]}, {parameter.value}",
                         members=_member_text([(names[m.sensor_id], m.quantity) for m in members]))

                async def done() -> None:
                    await write(members, chosen_resource, int(number), str(parameter.value))
                    dialog.close()
                self._confirm(text, done, t("service_meters.ch.saved"), problem=problem)

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("service_meters.ch.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("service_meters.ch.form.save"), on_click=save).props("unelevated no-caps") \
                    .mark("sm-channel-save")
        dialog.open()

    def _confirm_delete(self, channel: MeasuringChannel) -> None:
        async def delete() -> None:
            await self.services.service_meters.delete_channel(self.viewer.token, channel.id)
            self.channel_id = None
        self._confirm(t("service_meters.ch.delete_confirm", name=_channel_name(channel)), delete,
                      t("service_meters.ch.deleted"), danger=True)

    def _confirm(self, text: str, action: Any, done: str, *, danger: bool = False,
                 problem: ui.label | None = None) -> None:
        """Ask before a change; run it on «Подтвердить»; a refusal is shown next to the form (or notified)."""
        with self.dialogs, closing_dialog() as dialog, theme.card().classes("max-w-md").mark("sm-confirm"):
            ui.label(t("service_meters.ch.confirm.title")).classes("du-card-title")
            ui.label(text).classes("break-words").mark("sm-confirm-text")

            async def yes() -> None:
                async with theme.working():
                    try:
                        await russian(action())
                    except InvalidInput as error:
                        if problem is not None:
                            problem.text = str(error)
                        else:
                            ui.notify(t("error.invalid_input", reason=errors.reason(str(error))), type="warning")
                        dialog.close()
                        return
                    except AuthError:
                        auth.session_ended()
                        return
                    except (NotFound, Forbidden) as error:
                        ui.notify(t("error.not_found") if isinstance(error, NotFound) else t("error.forbidden_text"),
                                  type="negative")
                        dialog.close()
                        return
                ui.notify(done, type="positive")
                await self.reload()
                dialog.close()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("service_meters.ch.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("service_meters.ch.confirm.yes"), on_click=yes) \
                    .props("unelevated no-caps" + (" color=negative" if danger else "")).mark("sm-confirm-yes")
        dialog.open()
