"""Pages «Приборы» (manual 4.5.1, menu "Сервис") and «Информационно-измерительные каналы ПУ» (4.5.3).

/service/meters: the company's meters with the filters of 4.5.1, tiles grouped by premise (building
meters first), each opening the meter view (/service/meters/{id}); «Добавить ПУ» (the wizard,
/service/meters/new) only for a service engineer. /service/meters/{id}/channels: the meter's sensors
and measuring channels, simple and composite; a dispatcher adds, edits and deletes channels and edits
a sensor's bindings, each change confirmed in a dialog; a dispatcher or engineer registers and removes
sensors. Readers see both read-only; administrators get the forbidden page. The verification page
(4.5.4) is ui/service_meters_verification_page.py, registered from here.

Data and rules: cloud/services/service_meters.py. Tests: tests/ui/test_service_meters_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.models import InvalidInput
from cloud.services.service_meters import (
    MeasuringChannel,
    MeterChannels,
    MeterFilter,
    MeterTile,
    SensorInfo,
    ServiceMeters,
)
from cloud.services.service_meters_rules import Member, RuleError
from protocol.vocabulary import MeterRole, Resource

from . import auth, fmt, pages, theme, widgets
from .i18n import extend, t
from .ports import Services

PATH = "/service/meters"
NEW_PATH = "/service/meters/new"
RED = "#c2413b"
T = TypeVar("T")
LINE_TYPES = ("tcp", "gprs", "lora", "unknown")
SENSOR_KINDS = ("flow_transducer", "temperature_sensor", "water_meter", "pulse_meter")

extend({
    "service_meters.title": ("Приборы", "Meters"),
    "service_meters.subtitle": ("Приборы учёта компании в разрезе помещений: выберите прибор, чтобы посмотреть его "
                                "и выполнить сервисную операцию.",
                                "The company's meters by premise: choose one to view it and run a service "
                                "operation."),
    "service_meters.add": ("Добавить ПУ", "Add a meter"),
    "service_meters.f.building": ("Объект", "Building"),
    "service_meters.f.premise": ("Помещение", "Premise"),
    "service_meters.f.model": ("Модель ПУ", "Model"),
    "service_meters.f.number": ("Номер ПУ", "Meter number"),
    "service_meters.f.barcode": ("Штрихкод", "Barcode"),
    "service_meters.f.role": ("ИПУ / ОДПУ", "Apartment / building"),
    "service_meters.f.resource": ("Ресурс", "Resource"),
    "service_meters.f.line": ("Тип линии связи", "Line type"),
    "service_meters.f.active": ("Активность", "Activity"),
    "service_meters.f.all": ("все, если ничего не выбрано", "all when nothing is chosen"),
    "service_meters.f.reset": ("Сбросить фильтры", "Reset filters"),
    "service_meters.active.all": ("все", "all"),
    "service_meters.active.yes": ("только активные", "active only"),
    "service_meters.active.no": ("только неактивные", "inactive only"),
    "service_meters.line.tcp": ("TCP/IP", "TCP/IP"),
    "service_meters.line.gprs": ("GPRS", "GPRS"),
    "service_meters.line.lora": ("LoRaWAN", "LoRaWAN"),
    "service_meters.line.unknown": ("не указана", "not recorded"),
    "service_meters.role.individual": ("ИПУ", "Apartment meter"),
    "service_meters.role.common": ("ОДПУ", "Building meter"),
    "service_meters.group.common": ("Общедомовые приборы", "Building meters"),
    "service_meters.group.premise": ("Помещение {number}", "Premise {number}"),
    "service_meters.shown": ("Показано приборов: {shown} из {total}", "Meters shown: {shown} of {total}"),
    "service_meters.more": ("Показаны первые {shown}: уточните фильтр, чтобы увидеть остальные.",
                            "The first {shown} are shown: narrow the filter to see the rest."),
    "service_meters.empty": ("Нет приборов, подходящих под выбранные условия.", "No meters match the filters."),
    "service_meters.none": ("В компании нет зарегистрированных приборов.", "The company has no meters."),
    "service_meters.next": ("Поверка: {day}", "Verification: {day}"),
    "service_meters.next_overdue": ("Поверка просрочена: {day}", "Verification overdue: {day}"),
    "service_meters.channels": ("ИИК", "Channels"),
    "service_meters.channels.tip": ("Информационно-измерительные каналы", "Measuring channels"),
    # channels page (4.5.3)
    "service_meters.ch.title": ("Информационно-измерительные каналы ПУ {serial}", "Measuring channels of {serial}"),
    "service_meters.ch.subtitle": ("Простые каналы измеряют один параметр одним средством измерения, составные — "
                                   "вычисляют его по нескольким измеренным величинам. Поверка ИИК не отменяет "
                                   "поверку приборов учёта.",
                                   "A simple channel measures one parameter by one instrument, a composite one "
                                   "computes it from several measured quantities. Verifying a channel does not "
                                   "replace verifying the meters."),
    "service_meters.ch.crumb": ("Приборы", "Meters"),
    "service_meters.ch.meter": ("ПУ {serial}", "Meter {serial}"),
    "service_meters.ch.place": ("{address}, помещение {number}", "{address}, premise {number}"),
    "service_meters.ch.decommissioned": ("Прибор выведен из эксплуатации: каналы и датчики сохранены без изменений.",
                                         "The meter is decommissioned: its channels and sensors are kept as they "
                                         "were."),
    "service_meters.ch.readonly": ("Настройка ИИК доступна диспетчеру.", "Channels are set up by a dispatcher."),
    "service_meters.ch.sensors": ("Датчики", "Sensors"),
    "service_meters.ch.sensors.empty": ("К прибору не подключено ни одного датчика.", "No sensors are connected."),
    "service_meters.ch.channels": ("Каналы", "Channels"),
    "service_meters.ch.channels.empty": ("У прибора нет информационно-измерительных каналов.",
                                         "The meter has no measuring channels."),
    "service_meters.ch.kind.simple": ("простой", "simple"),
    "service_meters.ch.kind.composite": ("составной", "composite"),
    "service_meters.ch.resource": ("{resource} {number}", "{resource} {number}"),
    "service_meters.ch.device": ("канал прибора {number}", "device channel {number}"),
    "service_meters.ch.device_missing": ("у прибора больше нет такого канала", "the meter has no such channel now"),
    "service_meters.ch.meter_itself": ("сам ПУ", "the meter itself"),
    "service_meters.ch.bound": ("Каналы датчика", "The sensor's channels"),
    "service_meters.ch.bound.none": ("Датчик не привязан ни к одному каналу.", "The sensor is bound to no channel."),
    "service_meters.ch.instruments": ("Средства измерения канала", "The channel's instruments"),
    "service_meters.ch.sensor.kind.flow_transducer": ("Преобразователь расхода", "Flow transducer"),
    "service_meters.ch.sensor.kind.temperature_sensor": ("Термопреобразователь", "Temperature sensor"),
    "service_meters.ch.sensor.kind.water_meter": ("Счётчик воды", "Water meter"),
    "service_meters.ch.sensor.kind.pulse_meter": ("Счётчик с импульсным выходом", "Pulse-output meter"),
    "service_meters.ch.sensor.model": ("Модель: {model}", "Model: {model}"),
    "service_meters.ch.sensor.verified": ("Поверен: {day}", "Verified: {day}"),
    "service_meters.ch.sensor.channels": ("Каналов: {count}", "Channels: {count}"),
    "service_meters.ch.add_channel": ("Добавить ИИК", "Add a channel"),
    "service_meters.ch.edit_channel": ("Изменить ИИК", "Edit the channel"),
    "service_meters.ch.delete_channel": ("Удалить ИИК", "Delete the channel"),
    "service_meters.ch.delete_confirm": ("Удалить канал «{name}»? Датчики останутся у прибора.",
                                         "Delete the channel “{name}”? The sensors stay with the meter."),
    "service_meters.ch.deleted": ("Канал удалён", "Channel deleted"),
    "service_meters.ch.form.resource": ("Измеряемый ресурс и его номер", "Resource and its number"),
    "service_meters.ch.form.parameter": ("Параметр канала", "The channel's parameter"),
    "service_meters.ch.form.instruments": ("Средства измерения и регистрируемые ими параметры",
                                           "Instruments and what each registers"),
    "service_meters.ch.form.need_resource": ("Выберите ресурс.", "Choose the resource."),
    "service_meters.ch.form.need_parameter": ("Выберите параметр.", "Choose the parameter."),
    "service_meters.ch.form.need_member": ("Выберите хотя бы одно средство измерения и его параметр.",
                                           "Choose at least one instrument and its parameter."),
    "service_meters.ch.form.save": ("Сохранить", "Save"),
    "service_meters.ch.form.cancel": ("Отмена", "Cancel"),
    "service_meters.ch.confirm.title": ("Подтвердите изменение", "Confirm the change"),
    "service_meters.ch.confirm.channel": ("Сохранить канал «{name}»: {members}?", "Save the channel “{name}”: "
                                          "{members}?"),
    "service_meters.ch.confirm.yes": ("Подтвердить", "Confirm"),
    "service_meters.ch.saved": ("Канал сохранён", "Channel saved"),
    "service_meters.ch.bind.save": ("Сохранить привязку", "Save the binding"),
    "service_meters.ch.bind.confirm": ("Привязать датчик {serial} к каналам: {names}?",
                                       "Bind sensor {serial} to the channels: {names}?"),
    "service_meters.ch.bind.none": ("ни к одному", "none"),
    "service_meters.ch.bind.saved": ("Привязка сохранена", "Binding saved"),
    "service_meters.ch.add_sensor": ("Добавить датчик", "Add a sensor"),
    "service_meters.ch.sensor.form.kind": ("Тип датчика", "Sensor kind"),
    "service_meters.ch.sensor.form.serial": ("Серийный номер", "Serial number"),
    "service_meters.ch.sensor.form.model": ("Модель", "Model"),
    "service_meters.ch.sensor.form.verified": ("Дата поверки", "Verified on"),
    "service_meters.ch.sensor.form.next": ("Дата следующей поверки", "Next verification"),
    "service_meters.ch.sensor.form.need_kind": ("Выберите тип датчика.", "Choose the sensor kind."),
    "service_meters.ch.sensor.form.need_serial": ("Укажите серийный номер.", "Give the serial number."),
    "service_meters.ch.sensor.form.bad_date": ("Дата в формате ГГГГ-ММ-ДД.", "A date as YYYY-MM-DD."),
    "service_meters.ch.sensor.added": ("Датчик добавлен", "Sensor added"),
    "service_meters.ch.remove_sensor": ("Удалить датчик", "Remove the sensor"),
    "service_meters.ch.remove_confirm": ("Удалить датчик {serial} из состава прибора?",
                                         "Remove sensor {serial} from the meter?"),
    "service_meters.ch.removed": ("Датчик удалён", "Sensor removed"),
    # refusals of cloud/services/service_meters_rules.py
    "service_meters.refused.resource_unknown": ("неизвестный ресурс «{resource}».", "unknown resource “{resource}”."),
    "service_meters.refused.resource_number": ("номер ресурса — от 1 до 16.", "the resource number is 1 to 16."),
    "service_meters.refused.no_such_resource": ("у прибора каналов ресурса «{resource}»: {count}, номера {number} "
                                                "нет.", "the meter has {count} channel(s) of {resource}, no number "
                                                "{number}."),
    "service_meters.refused.parameter_not_reported": ("канал прибора передаёт {known}, а не {parameter}.",
                                                      "the device channel reports {known}, not {parameter}."),
    "service_meters.refused.no_members": ("в канале должно быть хотя бы одно средство измерения.",
                                          "a channel needs at least one instrument."),
    "service_meters.refused.instrument_twice": ("средство измерения указано дважды.",
                                                "an instrument is listed twice."),
    "service_meters.refused.quantity_unknown": ("неизвестный параметр «{quantity}».", "unknown quantity "
                                                "“{quantity}”."),
    "service_meters.refused.meter_quantity": ("прибор передаёт по этому каналу {known}, а не {quantity}.",
                                              "the meter reports {known} on this channel, not {quantity}."),
    "service_meters.refused.sensor_not_of_meter": ("датчик {sensor} не подключён к этому прибору.",
                                                   "sensor {sensor} is not connected to this meter."),
    "service_meters.refused.quantity_of_kind": ("датчик {serial} регистрирует {allowed}, а не {quantity}.",
                                                "sensor {serial} registers {allowed}, not {quantity}."),
    "service_meters.refused.quantity_twice": ("параметр {quantity} регистрируют два средства измерения.",
                                              "two instruments register {quantity}."),
    "service_meters.refused.simple_mismatch": ("средство измерения простого канала должно регистрировать его "
                                               "параметр {parameter}, а не {quantity}.",
                                               "a simple channel's instrument registers its parameter {parameter}, "
                                               "not {quantity}."),
    "service_meters.refused.composite_measures_parameter": (
        "составной канал вычисляет {parameter} по измеренным величинам: ни одно его средство не должно "
        "регистрировать {parameter} само (одно такое средство — это простой канал).",
        "a composite channel computes {parameter} from measured quantities: none of its instruments may register "
        "{parameter} itself (one that does makes a simple channel)."),
    "service_meters.refused.channel_exists": ("у прибора уже есть канал {resource} {number} {parameter}.",
                                              "the meter has a channel {resource} {number} {parameter} already."),
    "service_meters.refused.meter_decommissioned": ("прибор {serial} выведен из эксплуатации: его каналы и датчики "
                                                    "не изменяются.", "meter {serial} is decommissioned: its "
                                                    "channels and sensors are not changed."),
    "service_meters.refused.sensor_bound": ("датчик {serial} привязан к каналам ({count}): сначала отвяжите его.",
                                            "sensor {serial} is bound to {count} channel(s): unbind it first."),
    "service_meters.refused.kind_breaks_binding": ("датчик такого типа не может регистрировать {quantity}, а "
                                                   "канал использует его для этого.", "a sensor of that kind cannot "
                                                   "register {quantity}, which a channel uses it for."),
})


class ServiceMetersService(Protocol):
    async def meters(self, token: str, filters: MeterFilter | None = None) -> ServiceMeters: ...

    async def channels(self, token: str, meter_id: int) -> MeterChannels: ...

    async def create_channel(self, token: str, meter_id: int, *, resource: str, resource_number: int,
                             parameter: str, members: Sequence[Member]) -> MeasuringChannel: ...

    async def update_channel(self, token: str, channel_id: int, *, resource: str, resource_number: int,
                             parameter: str, members: Sequence[Member]) -> MeasuringChannel: ...

    async def delete_channel(self, token: str, channel_id: int) -> None: ...

    async def bind_sensor(self, token: str, sensor_id: int, bindings: Sequence[tuple[int, str]]) -> MeterChannels: ...

    async def add_sensor(self, token: str, meter_id: int, *, kind: str, serial: str, model: str = "",
                         verified_on: date | None = None, next_verification_on: date | None = None
                         ) -> SensorInfo: ...

    async def remove_sensor(self, token: str, sensor_id: int) -> None: ...


class ServiceMetersServices(Services, Protocol):
    @property
    def service_meters(self) -> ServiceMetersService: ...


def refusal(error: RuleError) -> str:
    """A rule's refusal in the page's language (the service's message is the API's English)."""
    params: dict[str, Any] = dict(error.params)
    if params.get("resource") in {r.value for r in Resource}:
        params["resource"] = fmt.resource(Resource(params["resource"]))
    text = t(f"service_meters.refused.{error.reason}", **params)
    return text[0].upper() + text[1:]


async def russian(call: Awaitable[T]) -> T:
    try:
        return await call
    except RuleError as error:
        raise InvalidInput(refusal(error)) from error


async def attempt(call: Awaitable[T]) -> T | None:
    """``auth.attempt`` with the rules' refusals worded in the page's language."""
    return await auth.attempt(russian(call))


def register(services: Services) -> None:
    """Register /service/meters, /service/meters/{id}/channels and /service/verification."""
    from . import service_meters_channels_page, service_meters_verification_page

    mine = cast(ServiceMetersServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def service_meters_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = MetersPage(mine, viewer)
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=PATH):
            page.render()
        return None

    service_meters_channels_page.register(services)
    service_meters_verification_page.register(services)


def closing_dialog() -> ui.dialog:
    """A dialog removed from the page once closed: a closed one's buttons must not answer a later click."""
    dialog = ui.dialog()
    dialog.on_value_change(lambda e: None if e.value else dialog.delete())
    return dialog


# --- /service/meters (4.5.1) ----------------------------------------------------------------------

def _chips(label: str, options: dict[Any, str], value: Sequence[Any], marker: str, on_change: Any) -> None:
    with ui.column().classes("gap-1 w-full sm:w-auto"):
        ui.label(label).classes("du-kpi-label")
        ui.select(options, multiple=True, value=list(value), on_change=on_change) \
            .props(f"outlined dense use-chips clearable hint='{t('service_meters.f.all')}'") \
            .classes("w-full sm:min-w-[13rem]").mark(marker)


class MetersPage:
    def __init__(self, services: ServiceMetersServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.filters = MeterFilter()
        self.data: ServiceMeters | None = None

    async def load(self) -> None:
        self.data = await self.services.service_meters.meters(self.viewer.token, self.filters)

    async def reload(self) -> None:
        # two filter changes in quick succession: the answer to the older one may come last, and
        # must not replace the newer one's (the list then disagreed with the filters shown)
        self._asked = asked = getattr(self, "_asked", 0) + 1
        async with theme.working():
            found = await auth.attempt(self.services.service_meters.meters(self.viewer.token, self.filters))
        if asked != self._asked:
            return
        if found is not None:
            self.data = found
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("service_meters.title"), self.viewer.user, active=PATH,
                         subtitle=t("service_meters.subtitle")):
            if self.data is not None and self.data.may_add:
                with ui.row().classes("w-full justify-end -mt-3"):
                    ui.link(t("service_meters.add"), NEW_PATH).classes("du-link").mark("service-meters-add") \
                        .props("role=button")
            self.body()

    async def _set(self, **changes: Any) -> None:
        values = {name: getattr(self.filters, name) for name in MeterFilter.__slots__}  # type: ignore[attr-defined]
        values.update(changes)
        self.filters = MeterFilter(**values)
        await self.reload()

    async def _reset(self) -> None:
        self.filters = MeterFilter()
        await self.reload()

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if data is None:
            return
        f, o = self.filters, data.options
        with theme.card().mark("service-meters-filters"), ui.row().classes("w-full items-start gap-3"):
            _chips(t("service_meters.f.building"), {b.id: b.label for b in o.buildings}, f.building_ids,
                   "sm-f-building", lambda e: self._set(building_ids=tuple(e.value or ())))
            premises = [p for p in o.premises if not f.building_ids or p.building_id in f.building_ids]
            _chips(t("service_meters.f.premise"), {p.id: p.label for p in premises}, f.premise_ids,
                   "sm-f-premise", lambda e: self._set(premise_ids=tuple(e.value or ())))
            _chips(t("service_meters.f.model"), {m: m for m in o.models}, f.models, "sm-f-model",
                   lambda e: self._set(models=tuple(e.value or ())))
            _chips(t("service_meters.f.role"), {r: t(f"service_meters.role.{r.value}") for r in MeterRole},
                   f.roles, "sm-f-role", lambda e: self._set(roles=tuple(e.value or ())))
            _chips(t("service_meters.f.resource"), {r: fmt.resource(r) for r in o.resources}, f.resources,
                   "sm-f-resource", lambda e: self._set(resources=tuple(e.value or ())))
            _chips(t("service_meters.f.line"), {k: t(f"service_meters.line.{k}") for k in LINE_TYPES},
                   f.line_types, "sm-f-line", lambda e: self._set(line_types=tuple(e.value or ())))
            with ui.column().classes("gap-1 w-full sm:w-auto"):
                ui.label(t("service_meters.f.active")).classes("du-kpi-label")
                ui.select({"all": t("service_meters.active.all"), "yes": t("service_meters.active.yes"),
                           "no": t("service_meters.active.no")},
                          value={None: "all", True: "yes", False: "no"}[f.active],
                          on_change=lambda e: self._set(active={"all": None, "yes": True, "no": False}[e.value])) \
                    .props("outlined dense").classes("w-full sm:min-w-[11rem]").mark("sm-f-active")
            ui.input(t("service_meters.f.number"), value=f.number,
                     on_change=lambda e: self._set(number=(e.value or "").strip())) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-40").mark("sm-f-number")
            ui.input(t("service_meters.f.barcode"), value=f.barcode,
                     on_change=lambda e: self._set(barcode=(e.value or "").strip())) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-44").mark("sm-f-barcode")
            if f != MeterFilter():
                ui.button(t("service_meters.f.reset"), icon="filter_alt_off", on_click=self._reset) \
                    .props("flat no-caps dense").mark("sm-f-reset")
        if not data.groups:
            with theme.card():
                theme.message(t("service_meters.empty") if o.models else t("service_meters.none"))
            return
        ui.label(t("service_meters.shown", shown=data.shown, total=data.total)).classes("text-sm du-muted") \
            .mark("service-meters-count")
        if data.shown < data.total:
            ui.label(t("service_meters.more", shown=data.shown)).classes("text-sm text-[#c2413b]")
        for group in data.groups:
            key = f"common-{group.building_id}" if group.premise_id is None else f"premise-{group.premise_id}"
            with theme.card().mark(f"sm-group-{key}"):
                title = t("service_meters.group.common") if group.premise_id is None else \
                    t("service_meters.group.premise", number=group.premise_number)
                with ui.row().classes("w-full items-baseline gap-2"):
                    ui.label(title).classes("du-card-title")
                    ui.label(group.address).classes("text-sm du-muted break-words")
                with ui.element("div").classes("grid w-full gap-3 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3"):
                    for tile in group.meters:
                        _tile(tile)


def _tile(m: MeterTile) -> None:
    colour = {"in_service": "#2f9e44", "commissioning": "#e39b1b"}.get(m.status, "#9aa5b1")
    with ui.card().classes("du-card p-4 gap-2 h-full min-w-0").props("flat").mark(f"sm-tile-{m.serial}"):
        with ui.row().classes("w-full items-center justify-between no-wrap"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                widgets.status_dot(m.status, colour)
                ui.label(t(f"service_meters.role.{m.role.value}")).classes("text-xs font-semibold du-muted")
            ui.link(t("service_meters.channels"), f"{PATH}/{m.id}/channels").classes("du-link text-xs") \
                .tooltip(t("service_meters.channels.tip")).mark(f"sm-channels-{m.serial}")
        ui.link(m.serial, f"{PATH}/{m.id}").classes("du-link text-base font-semibold break-all") \
            .mark(f"sm-open-{m.serial}")
        ui.label(m.model).classes("text-xs du-muted -mt-2")
        widgets.status_words(m.status)
        with ui.row().classes("gap-1"):
            for r in m.resources:
                ui.badge(fmt.resource(r)).props("outline color=primary").classes("text-xs")
        with ui.row().classes("items-center gap-2 no-wrap text-xs"):
            ui.icon("cell_tower", size="16px").classes("du-muted")
            ui.label(t(f"service_meters.line.{m.line_type}")).classes("text-[#334e68]")
        if m.barcode:
            with ui.row().classes("items-center gap-2 no-wrap text-xs"):
                ui.icon("qr_code_2", size="16px").classes("du-muted")
                ui.label(m.barcode).classes("text-[#334e68] break-all")
        if m.next_verification_on is not None:
            late = m.verification_overdue
            ui.label(t("service_meters.next_overdue" if late else "service_meters.next",
                       day=fmt.day(m.next_verification_on))).classes("text-xs" + (" text-[#c2413b]" if late else
                                                                                   " du-muted"))
